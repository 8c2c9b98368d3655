"""The `personalive` model folder (models/personalive/ plus any extra_model_paths.yaml entries), the
optional download of missing official files from Hugging Face, and MediaPipe's face model in its
`mediapipe/` sub-folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import folder_paths

from personalive_core.errors import WeightsError
from personalive_core.face_landmarker_file import MODEL_SUBFOLDER, FaceLandmarkerModel

FOLDER_KEY = "personalive"
DEFAULT_WEIGHTS_FOLDER = "pretrained_weights"  # the name the original download script creates


def register() -> None:
    """Register models/personalive without dropping paths that extra_model_paths.yaml already added
    (ComfyUI reads that file before it imports custom nodes)."""
    folder_paths.add_model_folder_path(FOLDER_KEY, os.path.join(folder_paths.models_dir, FOLDER_KEY))


def search_paths() -> list[Path]:
    return [Path(p) for p in folder_paths.get_folder_paths(FOLDER_KEY)]


def weights_folder_names() -> list[str]:
    """Every sub-folder of every registered personalive folder, the default name first."""
    names = {DEFAULT_WEIGHTS_FOLDER}
    for base in search_paths():
        if base.is_dir():
            names.update(p.name for p in base.iterdir()
                         if p.is_dir() and not p.name.startswith(".") and p.name != MODEL_SUBFOLDER)
    return sorted(names, key=lambda n: (n != DEFAULT_WEIGHTS_FOLDER, n.lower()))


def face_model() -> FaceLandmarkerModel:
    """MediaPipe's face-landmarker model for crop_method 'mediapipe': models/personalive/mediapipe/ (or that
    folder under an extra_model_paths.yaml root), downloaded there on first use (3.6 MB)."""
    return FaceLandmarkerModel.under(search_paths(), allow_download=True)


def name_problem(name: str) -> str | None:
    if not name or name in (".", "..") or "/" in name or "\\" in name or os.path.isabs(name):
        return (
            f"weights_folder must be the name of a folder inside models/{FOLDER_KEY}/ "
            f"(e.g. '{DEFAULT_WEIGHTS_FOLDER}'); got {name!r}"
        )
    return None


def find(name: str) -> Path | None:
    """The first registered personalive folder that holds a sub-folder `name`."""
    for base in search_paths():
        if (base / name).is_dir():
            return base / name
    return None


def new_location(name: str) -> Path:
    """Where a weights folder that does not exist yet is created (the first registered path)."""
    return search_paths()[0] / name


def not_found_message(name: str) -> str:
    where = ", ".join(str(p) for p in search_paths()) or f"models/{FOLDER_KEY}"
    return (
        f"PersonaLive weights folder '{name}' not found (looked in: {where}). Either put the official weights "
        f"in {new_location(name)} (layout: personalive/*.pth, sd-image-variations-diffusers/unet + image_encoder, "
        f"sd-vae-ft-mse), point a 'personalive:' entry of extra_model_paths.yaml at the folder that holds it, "
        "or turn on auto_download to fetch them from Hugging Face."
    )


def missing_message(root: Path, missing) -> str:
    shown = "\n".join(f"  - {root / m.relpath}  (download: {getattr(m, 'url', m.repo_id)})" for m in missing[:6])
    more = f"\n  ... and {len(missing) - 6} more" if len(missing) > 6 else ""
    return (
        f"{len(missing)} PersonaLive weights file(s) missing in {root}:\n{shown}{more}\n"
        "Download them to those paths, or turn on auto_download."
    )


class DownloadError(WeightsError):
    """Missing official files could not be downloaded."""


def download_missing(root: Path, missing, on_file: Callable[[int, int], None] | None = None) -> list[Path]:
    """Fetch each missing official file with huggingface_hub and place it at root/relpath."""
    if not missing:
        return []
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:
        raise DownloadError("auto_download needs the huggingface_hub package: pip install huggingface_hub") from exc
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise DownloadError(
            "auto_download is on but HF_HUB_OFFLINE is set, so nothing can be downloaded. "
            + missing_message(root, missing)
        )
    placed = []
    staging = root / ".download"
    for i, spec in enumerate(missing):
        target = root / spec.relpath
        try:
            fetched = hf_hub_download(
                repo_id=spec.repo_id, filename=spec.repo_path, local_dir=staging / spec.repo_id.replace("/", "--")
            )
        except Exception as exc:  # network, auth, missing file: all end the same way for the user
            raise DownloadError(
                f"Could not download {spec.repo_path} from the Hugging Face repository {spec.repo_id} "
                f"({type(exc).__name__}: {exc}). If this computer is offline or the repository cannot be reached, "
                f"download the file by hand from {getattr(spec, 'url', spec.repo_id)} to {target}."
            ) from exc
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(fetched, target)
        placed.append(target)
        if on_file is not None:
            on_file(i + 1, len(missing))
    return placed
