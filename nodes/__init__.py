"""The PersonaLive ComfyUI nodes (classic V1 node API). Imported by the pack's top-level __init__.py
inside ComfyUI only: these modules import ComfyUI's own `comfy`, `folder_paths` and `latent_preview`."""

from . import model_folder
from .decode import ChunkedVAEDecode
from .encoders import EncodeReference, MotionEncode
from .frame_stream import PersonaLiveFrameByFrame
from .keypoints import ExtractLivePortraitKeypoints, RenderPoseMap
from .loader import LoadPersonaLiveModels
from .paste_back import PersonaLiveFaceCrop, PersonaLivePasteBack
from .sampler import PersonaLiveSampler4Step

model_folder.register()

# Node ids are part of every saved workflow: never rename them.
NODE_CLASS_MAPPINGS = {
    "LoadPersonaLiveModels": LoadPersonaLiveModels,
    "ExtractLivePortraitKeypoints": ExtractLivePortraitKeypoints,
    "RenderPoseMap": RenderPoseMap,
    "EncodeReference": EncodeReference,
    "MotionEncode": MotionEncode,
    "PersonaLiveSampler4Step": PersonaLiveSampler4Step,
    "ChunkedVAEDecode": ChunkedVAEDecode,
    "PersonaLiveFaceCrop": PersonaLiveFaceCrop,
    "PersonaLivePasteBack": PersonaLivePasteBack,
    "PersonaLiveFrameByFrame": PersonaLiveFrameByFrame,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "LoadPersonaLiveModels": "Load PersonaLive Models",
    "ExtractLivePortraitKeypoints": "Extract LivePortrait Keypoints",
    "RenderPoseMap": "Render Pose Map",
    "EncodeReference": "Encode Reference (PersonaLive)",
    "MotionEncode": "Motion Encode (PersonaLive)",
    "PersonaLiveSampler4Step": "PersonaLive Sampler (4 steps)",
    "ChunkedVAEDecode": "Chunked VAE Decode (PersonaLive)",
    "PersonaLiveFaceCrop": "Face Crop (PersonaLive paste-back)",
    "PersonaLivePasteBack": "Paste Back (PersonaLive)",
    "PersonaLiveFrameByFrame": "Frame by Frame (PersonaLive live, one frame per run)",
}
