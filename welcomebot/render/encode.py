"""Output encoding. The choice is by measurement (see ``_SETTINGS``); the format is the caller's choice."""

from __future__ import annotations

import io
from typing import Final, Literal

from PIL import Image

__all__ = ["CONTENT_TYPES", "Format", "encode"]

Format = Literal["png", "webp", "jpeg"]

CONTENT_TYPES: Final[dict[str, str]] = {"png": "image/png", "webp": "image/webp", "jpeg": "image/jpeg"}

# Measured on a 1024x450 card over a busy photo background (2-core shared VM, Pillow 13, warm, 20 runs):
#   PNG compress_level=1   33 ms  647 KB   (level 6, Pillow's default, is slower still; both exceed 250 KB)
#   WebP q=85 method=0     10 ms   39 KB   (method 4, the default, ~3x slower for ~5% smaller output)
#   JPEG q=88 4:2:0         3 ms   73 KB
# WebP is the default: 1/16 the PNG size, text edges free of JPEG ringing, fast enough for > 100 cards/s.
# JPEG is the fastest choice when throughput matters more; PNG only for lossless previews.
_SETTINGS: Final[dict[str, dict[str, object]]] = {
    "png": {"compress_level": 1},
    "webp": {"quality": 85, "method": 0},
    "jpeg": {"quality": 88, "optimize": False, "subsampling": "4:2:0"},
}


def encode(image: Image.Image, fmt: Format = "webp") -> bytes:
    """Encode an RGB card; WebP is the default (smallest at a speed close to JPEG)."""
    buf = io.BytesIO()
    image.save(buf, format=fmt.upper(), **_SETTINGS[fmt])
    return buf.getvalue()
