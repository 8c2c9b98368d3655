"""Full-size RANDOM weights in the official layout, for benchmarks (never committed: about 12 GB).

The networks get the configurations of the official download (sd-image-variations-diffusers' SD 1.5 UNet
and CLIP ViT-L/14 image encoder, sd-vae-ft-mse, the full PersonaLive networks) and the full-size TAESD;
every file's shapes are checked against ../shared/personalive_weights_manifest.json (the state dicts the
original builds) before it is written.

    python bench/full_size_weights.py OUT_DIR [--manifest ../shared/personalive_weights_manifest.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from personalive_core import tiny_weights as tiny  # noqa: E402

# The tiny sets' configurations with the official sizes (the keys the official config.json files carry).
UNET = {**tiny.UNET_CONFIG, "block_out_channels": [320, 640, 1280, 1280], "cross_attention_dim": 768}
VAE = {**tiny.VAE_CONFIG, "block_out_channels": [128, 256, 512, 512], "layers_per_block": 2}
CLIP = {**tiny.CLIP_CONFIG, "hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
        "num_hidden_layers": 24, "projection_dim": 768}
TAESD = {"_class_name": "AutoencoderTiny"}  # diffusers' defaults are madebyollin/taesd's configuration
CONFIGS = {"base_unet_config": UNET, "vae_config": VAE, "image_encoder_config": CLIP}
# personalive_core's file keys -> the manifest's entries (the denoising entry is the whole 3D UNet, whose
# temporal modules go to temporal_module.pth)
MANIFEST_ENTRY = {
    "base_unet": "sd-image-variations-diffusers/unet",
    "reference_unet": "reference_unet.pth",
    "denoising_unet": "denoising_unet.pth",
    "temporal_module": "denoising_unet.pth",
    "pose_guider": "pose_guider.pth",
    "motion_encoder": "motion_encoder.pth",
    "motion_extractor": "motion_extractor.pth",
    "image_encoder": "sd-image-variations-diffusers/image_encoder",
    "vae": "sd-vae-ft-mse",
}


def shape_checker(manifest_path: Path):
    """check(key, state): every tensor's shape is the manifest's (keys the loader computes may be absent)."""
    files = json.loads(manifest_path.read_text())["files"]
    expected = {key: {name: list(shape) for name, shape, _ in files[entry]["state_dict"]}
                for key, entry in MANIFEST_ENTRY.items()}

    def check(key: str, state: dict) -> None:
        shapes = expected[key]
        wrong = [f"{name} {list(t.shape)} (manifest: {shapes.get(name)})" for name, t in state.items()
                 if shapes.get(name) != list(t.shape)]
        if wrong:
            raise SystemExit(f"{key}: {len(wrong)} tensor(s) differ from the manifest, e.g. {wrong[:3]}")
        print(f"  {key}: {len(state)} tensors, shapes as in the manifest", file=sys.stderr)

    return check


def write_full_size_weights(out_dir: Path, manifest: Path | None = None, seed: int = 0) -> Path:
    stamp = out_dir / ".full-size-random-weights"
    if stamp.is_file():
        return out_dir
    check = shape_checker(manifest) if manifest is not None and manifest.is_file() else None
    tiny.write_random_weights(out_dir, CONFIGS, TAESD, seed, check=check)
    stamp.write_text("full-size random weights, seed %d" % seed)
    return out_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--manifest", type=Path, default=REPO.parent / "shared" / "personalive_weights_manifest.json")
    args = parser.parse_args()
    write_full_size_weights(args.out_dir, args.manifest)
    print(args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
