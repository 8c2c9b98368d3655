"""`python -m personalive_core <command> ...` (see `--help` and `personalive_core.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
