"""Finding, safely reading and checking the official PersonaLive checkpoints."""

from .checked_load import LoadReport, load_into
from .official import BY_KEY, OFFICIAL_FILES, OfficialFile, locate
from .safe_load import load_state_dict_file

__all__ = ["LoadReport", "load_into", "BY_KEY", "OFFICIAL_FILES", "OfficialFile", "locate", "load_state_dict_file"]
