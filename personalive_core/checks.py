"""Checks of what a user hands the library, shared by the api, the ComfyUI nodes and the command line.

Each `check_*` raises `InputError` with a message that says what is wrong and what to do; callers
that show the message next to a widget or a node (ComfyUI) add their own name in front.
"""

from __future__ import annotations

import torch

from .errors import InputError, PersonaLiveError
from .window import LEAD_IN_FRAMES

SIZE_MIN, SIZE_MAX, SIZE_MULTIPLE = 64, 2048, 64  # UNets halve the 1/8-scale latent three times
CROP_METHODS = ("keypoints", "mediapipe")


def size_problem(value, name: str = "size") -> str | None:
    """Why a working size is unusable, or None when it is fine."""
    if not isinstance(value, int) or isinstance(value, bool):
        return f"{name} must be a whole number of pixels; got {value!r}"
    if value < SIZE_MIN or value > SIZE_MAX:
        return f"{name} must be between {SIZE_MIN} and {SIZE_MAX} pixels; got {value}"
    if value % SIZE_MULTIPLE:
        lower = max(SIZE_MIN, value - value % SIZE_MULTIPLE)
        upper = value - value % SIZE_MULTIPLE + SIZE_MULTIPLE
        return f"{name} must be a multiple of {SIZE_MULTIPLE} (512 as trained); got {value}: use {lower} or {upper}"
    return None


def check_size(size, name: str = "size") -> int:
    problem = size_problem(size, name)
    if problem:
        raise InputError(problem)
    return size


def check_image_batch(images, what: str) -> torch.Tensor:
    """A non-empty IMAGE batch (frames, height, width, 3 or 4) in [0, 1] as float (frames, H, W, 3)."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise InputError(f"{what} must be an IMAGE batch (frames, height, width, channels); got {shape}")
    if images.shape[-1] not in (3, 4):  # 4: RGBA from some loaders, the alpha is dropped
        raise InputError(f"{what} must have 3 color channels; got {images.shape[-1]}")
    if images.shape[0] == 0:
        raise InputError(
            f"{what} is an empty batch (0 frames). Check what produced it, e.g. that the video loaded and "
            "that frame selection (skip/cap) leaves at least one frame."
        )
    return images[..., :3].float()


def check_single_image(images, what: str) -> torch.Tensor:
    """An IMAGE batch holding exactly one image, as float (1, H, W, 3)."""
    images = check_image_batch(images, what)
    if images.shape[0] != 1:
        raise InputError(
            f"{what} must be one image, but a batch of {images.shape[0]} arrived. Pick one, e.g. with "
            "ComfyUI's 'ImageFromBatch' (batch_index = the frame you want, length = 1)."
        )
    return images


def check_same_frames(n_a: int, what_a: str, n_b: int, what_b: str) -> None:
    """Two per-frame inputs that must come from the same driving frames."""
    if n_a != n_b:
        raise InputError(
            f"{what_a} has {n_a} frame(s) but {what_b} has {n_b}. They must come from the same driving frames: "
            "give the same images to both, or trim one (e.g. with 'ImageFromBatch')."
        )


def check_crop_method(crop_method: str, face_model=None) -> str:
    """A known face-crop method whose dependencies are installed; for 'mediapipe' with only the Tasks API,
    also its model file in `face_model` (a `FaceLandmarkerModel`; None: the library's default folders)
    unless a download is allowed. Cheap: no network, no model load."""
    if crop_method not in CROP_METHODS:
        raise InputError(f"unknown crop_method {crop_method!r}; use one of {list(CROP_METHODS)}")
    if crop_method == "mediapipe":
        from .face_mesh import face_mesh_backend

        face_mesh_backend(face_model)  # raises FaceMeshUnavailable saying what to install or where the model goes
    return crop_method


def crop_method_problem(crop_method, face_model=None) -> str | None:
    """Why `check_crop_method` would refuse this method, or None."""
    try:
        check_crop_method(crop_method, face_model)
    except PersonaLiveError as exc:
        return str(exc)
    return None


def check_pose_maps(pose_maps, motion_frames: int, size: int) -> torch.Tensor:
    """Pose maps rendered with the lead-in, one per motion frame after it, at the reference's size."""
    pose_maps = check_image_batch(pose_maps, "pose_maps")
    count, expected = pose_maps.shape[0], motion_frames + LEAD_IN_FRAMES
    if count != expected:
        hint = (
            "the pose maps have no lead-in: render them with include_lead_in on"
            if count == motion_frames
            else "pose maps and motion tokens must come from the same driving frames"
        )
        raise InputError(
            f"expected {expected} pose maps ({LEAD_IN_FRAMES} lead-in + {motion_frames} driving frames, matching "
            f"the motion tokens) but got {count}; {hint}."
        )
    height, width = pose_maps.shape[1:3]
    if (height, width) != (size, size):
        raise InputError(
            f"pose maps are {width}x{height} but the reference was encoded at {size}x{size}; use the same size "
            "for the keypoints and the reference."
        )
    return pose_maps


def check_latents(latents) -> torch.Tensor:
    """SD latents (frames, 4, height/8, width/8) with at least one frame."""
    if not isinstance(latents, torch.Tensor) or latents.ndim != 4 or latents.shape[1] != 4:
        shape = tuple(latents.shape) if isinstance(latents, torch.Tensor) else type(latents).__name__
        raise InputError(
            f"expected SD latents shaped (frames, 4, height/8, width/8); got {shape}. Decode the PersonaLive "
            "sampler's latents (or other SD1.x latents)."
        )
    if latents.shape[0] == 0:
        raise InputError("the latents hold 0 frames")
    return latents


MIN_PORTRAIT_SIDE = 32  # pixels; below this there is no face to animate


def check_portrait(image, what: str = "the reference portrait"):
    """A PIL picture big enough to hold a face; returns it as RGB."""
    if image.width < MIN_PORTRAIT_SIDE or image.height < MIN_PORTRAIT_SIDE:
        raise InputError(f"{what} is {image.width}x{image.height} pixels; give a picture at least "
                         f"{MIN_PORTRAIT_SIDE}x{MIN_PORTRAIT_SIDE} (512x512 or more works best).")
    return image.convert("RGB")
