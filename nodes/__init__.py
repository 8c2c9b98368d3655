"""The PersonaLive ComfyUI nodes, on ComfyUI's V3 node schema (`comfy_api.v0_0_2`). Imported by the pack's
top-level __init__.py inside ComfyUI only: these modules import ComfyUI's own `comfy`, `comfy_api`,
`folder_paths` and `latent_preview`.

Why `v0_0_2`: ComfyUI 0.3.75 and 0.30.0 both ship it, and a pinned version module keeps this pack on the
API it was written against while `latest` moves on.
"""

from comfy_api.v0_0_2 import ComfyExtension, io

from . import model_folder
from .decode import ChunkedVAEDecode
from .encoders import EncodeReference, MotionEncode
from .frame_stream import PersonaLiveFrameByFrame
from .keypoints import ExtractLivePortraitKeypoints, RenderPoseMap
from .loader import LoadPersonaLiveModels
from .paste_back import PersonaLiveFaceCrop, PersonaLivePasteBack
from .sampler import PersonaLiveSampler4Step

model_folder.register()

# Their schemas' node IDs are part of every saved workflow: never rename them.
NODES: list[type[io.ComfyNode]] = [
    LoadPersonaLiveModels,
    ExtractLivePortraitKeypoints,
    RenderPoseMap,
    EncodeReference,
    MotionEncode,
    PersonaLiveSampler4Step,
    ChunkedVAEDecode,
    PersonaLiveFaceCrop,
    PersonaLivePasteBack,
    PersonaLiveFrameByFrame,
]


class PersonaLiveExtension(ComfyExtension):
    """What ComfyUI's `comfy_entrypoint` hands over: the pack's node list."""

    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)
