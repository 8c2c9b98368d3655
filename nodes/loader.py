"""LoadPersonaLiveModels."""

from __future__ import annotations

import comfy.model_management as mm
import comfy.utils
from comfy_api.v0_0_2 import io

from personalive_core import api
from personalive_core.errors import InputError, WeightsError
from personalive_core.models.fast_linear import KERNELS

from . import model_folder
from .common import CATEGORY, log, node_errors
from .managed import PersonaLiveModelBundle
from .socket_types import Models

PRECISIONS = ["auto", "fp32", "fp16", "bf16"]


def resolve_precision(precision: str, device) -> str:
    """'auto' follows ComfyUI's view of the compute device: fp32 on the CPU, else fp16 or bf16 when the
    device handles them well, else fp32."""
    if precision != "auto":
        return precision
    if getattr(device, "type", str(device)) == "cpu":
        return "fp32"
    if mm.should_use_fp16(device):
        return "fp16"
    if mm.should_use_bf16(device):
        return "bf16"
    return "fp32"


class LoadPersonaLiveModels(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LoadPersonaLiveModels",
            display_name="Load PersonaLive Models",
            category=CATEGORY,
            description="Loads the PersonaLive networks (reference and denoising UNets, temporal module, pose guider, "
            "motion encoder and extractor, image encoder, VAE) from a folder in models/personalive/ laid out like "
            "the official release. ComfyUI's model manager moves them to the GPU only while a PersonaLive node runs.",
            inputs=[
                io.Combo.Input(
                    "weights_folder",
                    options=model_folder.weights_folder_names(),
                    default=model_folder.DEFAULT_WEIGHTS_FOLDER,
                    tooltip="A folder inside models/personalive/ (or inside a 'personalive' path of "
                    "extra_model_paths.yaml) holding personalive/*.pth, sd-image-variations-diffusers/ and "
                    "sd-vae-ft-mse/, the layout of the official download.",
                ),
                io.Combo.Input(
                    "precision",
                    options=PRECISIONS,
                    default="auto",
                    tooltip="Weight precision. auto: fp16 or bf16 on a GPU that handles it, fp32 on the CPU. "
                    "fp32 is the slowest and most exact; try it if the output is black or noisy.",
                ),
                io.Boolean.Input(
                    "auto_download",
                    default=False,
                    tooltip="Download missing files from the official Hugging Face repositories "
                    "(huaichang/PersonaLive, lambdalabs/sd-image-variations-diffusers, stabilityai/sd-vae-ft-mse) "
                    "into the weights folder. Several GB; needs internet.",
                ),
                io.Boolean.Input(
                    "low_vram",
                    default=False,
                    tooltip="Keep the networks needed only at the start (CLIP image encoder, VAE encoder, reference "
                    "UNet) off the GPU while sampling; they visit it for Encode Reference and for the few history "
                    "keyframes. Same output, about 1.7 GB less VRAM in fp16; no effect on a CPU-only machine.",
                    optional=True,
                ),
                io.Combo.Input(
                    "kernels",
                    options=list(KERNELS),
                    default="fast",
                    tooltip="fast: linear layers on faster kernels (on the CPU about 2x faster; the same output "
                    "within rounding). reference: the original code's PyTorch kernels, bit for bit.",
                    optional=True,
                ),
            ],
            outputs=[
                Models.Output(
                    display_name="models",
                    tooltip="All PersonaLive networks; connect to every other PersonaLive node.",
                )
            ],
        )

    @classmethod
    def validate_inputs(cls, weights_folder=None, auto_download=None):
        if weights_folder is None:  # the widget was converted to an input: checked at run time
            return True
        problem = model_folder.name_problem(weights_folder)
        if problem:
            return problem
        root = model_folder.find(weights_folder)
        if auto_download is None or auto_download:
            return True
        if root is None:
            return model_folder.not_found_message(weights_folder)
        missing = api.missing_files(root)
        if missing:
            return model_folder.missing_message(root, missing)
        return True

    @classmethod
    def fingerprint_inputs(cls, weights_folder, precision, auto_download, low_vram=False, kernels="fast"):
        """Reload when a file in the weights folder is replaced (size or modification time changes)."""
        root = model_folder.find(weights_folder) if not model_folder.name_problem(weights_folder) else None
        if root is None:
            return ""
        stats = sorted(
            (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*")
            if p.is_file() and ".download" not in p.parts
        )
        return repr(stats)

    @classmethod
    @node_errors
    def execute(cls, weights_folder: str, precision: str, auto_download: bool, low_vram: bool = False,
                kernels: str = "fast"):
        problem = model_folder.name_problem(weights_folder)
        if problem:
            raise InputError(problem)
        root = model_folder.find(weights_folder)
        if root is None:
            if not auto_download:
                raise WeightsError(model_folder.not_found_message(weights_folder))
            root = model_folder.new_location(weights_folder)
            root.mkdir(parents=True, exist_ok=True)
        if auto_download:
            missing = api.missing_files(root)
            if missing:
                log.info("downloading %d missing PersonaLive file(s) into %s", len(missing), root)
                pbar = comfy.utils.ProgressBar(len(missing))
                model_folder.download_missing(
                    root, missing, on_file=lambda done, total: pbar.update_absolute(done, total)
                )

        dtype = resolve_precision(precision, mm.get_torch_device())
        offload = mm.unet_offload_device()
        models = api.load_models(root, dtype=dtype, device=offload, low_vram=low_vram, offload_device=offload,
                                 kernels=kernels)
        log.info("loaded PersonaLive weights from %s (%s)", root, dtype)
        return io.NodeOutput(PersonaLiveModelBundle(models, root, dtype))
