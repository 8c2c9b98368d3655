#!/usr/bin/env bash
# Create ./.venv with everything the core library and its command line need.
# Usage: bash scripts/setup.sh [--test]     (--test adds the test tools)
# Environment: PYTHON (default python3), TORCH_SPEC (default torch==2.13.0; set it to the torch
# build you want, e.g. a CUDA one; an already installed torch is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --disable-pip-version-check -q)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "[setup] installing $TORCH_SPEC"
  "${PIP[@]}" "$TORCH_SPEC"
fi
echo "[setup] installing requirements"
"${PIP[@]}" -r requirements.txt
if [ "${1:-}" = "--test" ]; then
  # playwright: the Python package only; the browser tests drive the system's Chromium.
  "${PIP[@]}" "pytest>=8" "websocket-client>=1.7" "playwright>=1.40" "ray>=2.40"
  # The optional face-mesh crops; 0.10.14 ships the legacy face-mesh model and keeps numpy 2.
  if .venv/bin/python -c "import sys; sys.exit(sys.version_info >= (3, 13))"; then
    "${PIP[@]}" "mediapipe==0.10.14"
  fi
fi
.venv/bin/python -c "import torch, diffusers, transformers; print(f'[setup] torch {torch.__version__}, diffusers {diffusers.__version__}, transformers {transformers.__version__}')"
