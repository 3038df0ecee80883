"""Avatar shapes as anti-aliased masks: the face mask and the ring around it, drawn supersampled once per
(shape, diameter, ring) and cached by the renderer."""

from __future__ import annotations

import enum
from typing import Final

from PIL import Image, ImageChops, ImageDraw

__all__ = ["Shape", "shape_masks"]

_SUPERSAMPLE: Final = 4
#: Corner radius of the rounded square, as a fraction of its side.
_CORNER: Final = 0.22


class Shape(enum.StrEnum):
    CIRCLE = "circle"
    ROUNDED = "rounded"
    SQUARE = "square"
    #: No avatar at all: the theme gives its room to the text.
    HIDDEN = "hidden"


def _mask(shape: Shape, diameter: int, inset: float) -> Image.Image:
    big = diameter * _SUPERSAMPLE
    mask = Image.new("L", (big, big), 0)
    pad = inset * _SUPERSAMPLE
    box = (pad, pad, big - 1 - pad, big - 1 - pad)
    draw = ImageDraw.Draw(mask)
    if shape is Shape.CIRCLE:
        draw.ellipse(box, fill=255)
    elif shape is Shape.ROUNDED:
        # Keep the ring's inner and outer corners concentric: the inner radius shrinks by the inset.
        radius = max(0.0, big * _CORNER - pad)
        draw.rounded_rectangle(box, radius=radius, fill=255)
    else:
        draw.rectangle(box, fill=255)
    return mask.resize((diameter, diameter), Image.Resampling.LANCZOS)


def shape_masks(shape: Shape, diameter: int, ring: int) -> tuple[Image.Image, Image.Image]:
    """(face mask, ring mask) for an avatar ``diameter`` px wide with a ``ring`` px border (0: no ring)."""
    outer = _mask(shape, diameter, 0.0)
    if ring <= 0:
        return outer, Image.new("L", (diameter, diameter), 0)
    inner = _mask(shape, diameter, ring)
    return inner, ImageChops.subtract(outer, inner)
