"""Helpers for tests and benchmarks: procedural images (no stock photos in the repo) and image comparison."""

from __future__ import annotations

import io
import random
from functools import cache
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

from welcomebot.render.fonts import default_font_dirs

__all__ = [
    "GOLDEN_MAX_BAD_PIXELS",
    "GOLDEN_MAX_MEAN_DIFF",
    "busy_photo",
    "compare_golden",
    "dark_background",
    "garbage_glyf_font",
    "image_bytes",
    "image_diff",
    "latin_only_font",
    "light_background",
    "sample_avatar",
]

#: Golden tolerances: FreeType/libwebp versions may move a pixel, not a layout.
GOLDEN_MAX_MEAN_DIFF = 2.0
GOLDEN_MAX_BAD_PIXELS = 0.005


def image_bytes(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


def dark_background(width: int = 1600, height: int = 900) -> Image.Image:
    grad = Image.linear_gradient("L").resize((width, height))
    return Image.merge(
        "RGB",
        (grad.point(lambda v: 10 + v // 8), grad.point(lambda v: 12 + v // 10), grad.point(lambda v: 30 + v // 5)),
    )


def light_background(width: int = 1600, height: int = 900) -> Image.Image:
    grad = Image.linear_gradient("L").rotate(90).resize((width, height))
    return Image.merge(
        "RGB",
        (grad.point(lambda v: 255 - v // 12), grad.point(lambda v: 240 - v // 10), grad.point(lambda v: 220 - v // 20)),
    )


def busy_photo(width: int = 1600, height: int = 900, seed: int = 7) -> Image.Image:
    """A high-detail, high-contrast image standing in for a holiday photo: the scrim's worst case."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (120, 160, 200))
    draw = ImageDraw.Draw(image)
    for _ in range(400):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(10, 160)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        else:
            draw.rectangle((x - r, y - r // 2, x + r, y + r // 2), fill=colour)
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    return Image.blend(image.filter(ImageFilter.GaussianBlur(1)), noise, 0.15)


def sample_avatar(size: int = 256, seed: int = 3) -> Image.Image:
    rng = random.Random(seed)
    image = Image.new("RGB", (size, size), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(image)
    for i in range(6):
        c = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((i * size // 14, i * size // 14, size - i * size // 9, size - i * size // 9), fill=c)
    return image


def image_diff(a: Image.Image, b: Image.Image) -> tuple[float, float]:
    """(mean absolute difference over all channels 0..255, fraction of pixels differing by more than 64)."""
    if a.size != b.size:
        return 255.0, 1.0
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    mean = sum(ImageStat.Stat(diff).mean) / 3
    worst = diff.convert("L").point(lambda v: 255 if v > 64 else 0)
    frac = ImageStat.Stat(worst).mean[0] / 255
    return mean, frac


def compare_golden(card: Image.Image, path: Path, *, scale: int = 2, update: bool = False) -> str | None:
    """Compare ``card``, shrunk by ``scale``, with the golden PNG at ``path``; None when it matches, else why.

    With ``update`` (or no golden yet, reported as a failure) the golden is (re)written for review.
    """
    small = card.convert("RGB").resize((card.width // scale, card.height // scale), Image.Resampling.BOX)
    if update or not path.exists():
        if not update:
            return f"{path.name} missing: run with WELCOMEBOT_UPDATE_GOLDEN=1 and review the image"
        path.parent.mkdir(parents=True, exist_ok=True)
        small.save(path, optimize=True)
        return None
    with Image.open(path) as golden:
        mean, bad = image_diff(small, golden)
    if mean > GOLDEN_MAX_MEAN_DIFF:
        return f"{path.stem}: mean abs diff {mean:.2f}"
    if bad > GOLDEN_MAX_BAD_PIXELS:
        return f"{path.stem}: {bad:.2%} pixels differ by more than 64"
    return None


@cache
def latin_only_font(file: str = "NotoSans-Italic[wght].ttf") -> bytes:
    """A Noto font of our install cut down to printable ASCII (fontTools.subset): an upload that lacks CJK."""
    path = next(d / file for d in default_font_dirs() if (d / file).is_file())
    font = TTFont(str(path))
    subsetter = subset.Subsetter(subset.Options())
    subsetter.populate(unicodes=range(0x20, 0x7F))
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def garbage_glyf_font() -> bytes:
    """:func:`latin_only_font` with its ``glyf`` table overwritten: fontTools still parses it, FreeType cannot
    rasterise it (``invalid composite glyph``), the upload #18 saw crash-loop the bot."""
    data = bytearray(latin_only_font())
    entry = TTFont(io.BytesIO(bytes(data))).reader.tables["glyf"]
    data[entry.offset : entry.offset + entry.length] = b"\xff" * entry.length
    return bytes(data)
