"""Reading image files as the RGB pictures the pipeline expects, whatever their mode.

8-bit RGB and grayscale images are read as PIL converts them (as the original does). Other modes are
converted so the picture looks the same: 16-bit and 32-bit grayscale are scaled to 8 bits instead of
being clipped to white, and transparency (RGBA, LA, palette with a transparent colour) is
composited on `ALPHA_BACKGROUND`. Very large images are refused before they are decoded.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import InputError

MAX_IMAGE_PIXELS = 64_000_000  # far above any portrait; refuses decompression bombs with a clear message
ALPHA_BACKGROUND = (255, 255, 255)  # transparent pixels become white


def open_image(path: str | Path) -> Image.Image:
    """The image at `path` as an RGB PIL image (see the module docstring for the conversions)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"Image not found: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give an image file (.png, .jpg, .webp, ...)")
    return _decoded(path, f"the image {path}")


def image_from_bytes(data: bytes, what: str = "the image") -> Image.Image:
    """An uploaded image file's bytes as an RGB PIL image, with the same checks as `open_image`."""
    if not data:
        raise InputError(f"{what} is empty; give a PNG, JPEG or WebP image.")
    return _decoded(io.BytesIO(data), what)


def _decoded(source, name: str) -> Image.Image:
    try:
        with Image.open(source) as image:
            pixels = image.width * image.height
            if pixels > MAX_IMAGE_PIXELS:
                raise InputError(
                    f"{name[0].upper()}{name[1:]} is {image.width}x{image.height} ({pixels / 1e6:.0f} megapixels); the limit is "
                    f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels. Scale it down first (a portrait needs about 1 megapixel)."
                )
            image.load()
            return to_rgb(image)
    except InputError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        reason = "it is not an image file, or it is damaged" if isinstance(source, io.BytesIO) else exc
        raise InputError(f"Cannot read {name}: {reason}. Give a PNG, JPEG or WebP image.") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """An RGB image that looks like `image`: high-bit-depth gray scaled down, transparency composited."""
    if image.mode in ("RGB", "L"):
        return image.convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        if image.mode == "F" and values.max(initial=0) <= 1.0:
            top = 1.0
        gray = np.clip(np.round(values / top * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, ALPHA_BACKGROUND + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
