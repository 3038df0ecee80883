"""Backgrounds the project draws itself: built-ins (gradients, patterns, noise textures), solid colours,
angled gradients and a gradient from the member's avatar colour. No stock images.

Everything here is deterministic (noise comes from seeded ``random.Random``, never from Pillow's
``effect_noise``, which uses the C library's unseeded ``rand``) and pure: a function of its arguments to a
new RGB image. The renderer caches the results per (background, size).
"""

from __future__ import annotations

import colorsys
import enum
import math
import random
from collections.abc import Callable, Sequence
from typing import Final, TypeAlias

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

__all__ = [
    "RGB",
    "Builtin",
    "builtin_background",
    "dominant_color",
    "from_color",
    "gradient",
    "solid",
]

RGB: TypeAlias = tuple[int, int, int]
# Fields are computed at this many pixels on the long side, then scaled up (smooth gradients need no more).
_FIELD: Final = 160


class Builtin(enum.StrEnum):
    """The built-in backgrounds, selected as ``builtin:NAME``."""

    TWILIGHT = "twilight"
    AURORA = "aurora"
    SUNSET = "sunset"
    OCEAN = "ocean"
    FOREST = "forest"
    MIDNIGHT = "midnight"
    CANDY = "candy"
    EMBER = "ember"
    MINT = "mint"
    SLATE = "slate"
    NEBULA = "nebula"
    BLUEPRINT = "blueprint"
    DOTS = "dots"
    STRIPES = "stripes"
    SAND = "sand"
    CARBON = "carbon"


def _hex(value: str) -> RGB:
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def _field(width: int, height: int, fn: Callable[[float, float], float]) -> Image.Image:
    """An L image of ``fn(u, v)`` (u, v in 0..1, result 0..1) computed small and scaled up smoothly."""
    scale = _FIELD / max(width, height)
    w, h = max(2, round(width * scale)), max(2, round(height * scale))
    data = bytes(max(0, min(255, round(255 * fn(x / (w - 1), y / (h - 1))))) for y in range(h) for x in range(w))
    return Image.frombytes("L", (w, h), data).resize((width, height), Image.Resampling.BICUBIC)


def _colorize(field: Image.Image, stops: Sequence[RGB]) -> Image.Image:
    """Map an L image through evenly spaced colour ``stops`` (a multi-stop gradient lookup)."""
    n = len(stops) - 1
    luts: list[list[int]] = [[], [], []]
    for v in range(256):
        t = v / 255 * n
        i = min(n - 1, int(t))
        f = t - i
        for c in range(3):
            luts[c].append(round(stops[i][c] + (stops[i + 1][c] - stops[i][c]) * f))
    return Image.merge("RGB", [field.point(lut) for lut in luts])


def _noise(width: int, height: int, seed: int, octaves: Sequence[tuple[int, float]]) -> Image.Image:
    """Value noise: random cells of each (cells on the long side, weight) octave, smoothly upscaled, summed."""
    rng = random.Random(seed)
    out = Image.new("L", (width, height), 0)
    total = 0.0
    for cells, weight in octaves:
        w = max(2, round(cells * width / max(width, height)))
        h = max(2, round(cells * height / max(width, height)))
        layer = Image.frombytes("L", (w, h), rng.randbytes(w * h)).resize((width, height), Image.Resampling.BICUBIC)
        total += weight
        out = Image.blend(out, layer, weight / total)
    return ImageOps.autocontrast(out, cutoff=1)


def solid(color: RGB, width: int, height: int) -> Image.Image:
    return Image.new("RGB", (width, height), color)


def gradient(stops: Sequence[RGB], angle: int, width: int, height: int) -> Image.Image:
    """A linear gradient through 2-3 ``stops``; ``angle`` in degrees like CSS (0: upwards, 90: to the right)."""
    rad = math.radians(angle)
    dx, dy = math.sin(rad), -math.cos(rad)
    # Project the corners so the first stop sits on the first corner the line meets and the last on the last.
    aspect = width / height
    corners = [(u * aspect * dx + v * dy) for u in (0, 1) for v in (0, 1)]
    lo, hi = min(corners), max(corners)
    return _colorize(_field(width, height, lambda u, v: (u * aspect * dx + v * dy - lo) / (hi - lo)), stops)


def _radial(width: int, height: int, cx: float, cy: float, reach: float) -> Image.Image:
    """An L glow: 1 at (cx, cy) falling to 0 at ``reach`` (fractions of the height)."""
    aspect = width / height
    return _field(width, height, lambda u, v: max(0.0, 1 - math.hypot((u - cx) * aspect, v - cy) / reach) ** 1.6)


def _glow(base: Image.Image, color: RGB, cx: float, cy: float, reach: float, strength: float) -> Image.Image:
    mask = _radial(base.width, base.height, cx, cy, reach).point(lambda v: round(v * strength / 255))
    return Image.composite(Image.new("RGB", base.size, color), base, mask)


def _texture(base: Image.Image, seed: int, amount: float, cells: int = 400) -> Image.Image:
    """Fine grain over ``base`` (paper, film): high-frequency noise blended softly."""
    grain = _noise(base.width, base.height, seed, [(cells, 1.0)]).convert("RGB")
    return ImageChops.overlay(base, Image.blend(Image.new("RGB", base.size, (128, 128, 128)), grain, amount))


def _twilight(w: int, h: int) -> Image.Image:
    # The original default card: a deep blue-violet diagonal with a soft glow behind the avatar.
    diag = Image.linear_gradient("L").rotate(-35, resample=Image.Resampling.BILINEAR, expand=False)
    diag = diag.resize((w, h), Image.Resampling.BILINEAR)
    base = Image.composite(Image.new("RGB", (w, h), (64, 40, 130)), Image.new("RGB", (w, h), (22, 28, 72)), diag)
    glow = ImageOps.invert(Image.radial_gradient("L")).resize((w, h), Image.Resampling.BILINEAR)
    glow = glow.point(lambda v: v * 110 // 255)
    return Image.composite(Image.new("RGB", (w, h), (110, 120, 255)), base, glow)


def _aurora(w: int, h: int) -> Image.Image:
    base = gradient([(6, 12, 32), (10, 30, 60)], 180, w, h)
    bands = _noise(w, h, 11, [(3, 1.0), (7, 0.4)])
    # Curtains: bright where the noise is near its middle, like the ridges of a height map.
    ridges = bands.point(lambda v: max(0, 255 - abs(v - 128) * 5))
    green = _colorize(_noise(w, h, 12, [(4, 1.0)]), [(30, 220, 140), (40, 180, 220), (150, 80, 220)])
    return Image.composite(green, base, ridges.filter(ImageFilter.GaussianBlur(max(2, h // 60))))


def _sunset(w: int, h: int) -> Image.Image:
    return _glow(
        gradient([(255, 140, 60), (230, 60, 110), (70, 30, 110)], 180, w, h), (255, 220, 150), 0.5, 1.1, 0.8, 120
    )


def _ocean(w: int, h: int) -> Image.Image:
    base = gradient([(10, 40, 90), (0, 110, 140)], 160, w, h)
    draw = ImageDraw.Draw(base)
    # Gentle swell lines: one sine per band, slightly out of phase.
    for band in range(1, 9):
        y0 = h * band / 9
        points = [(x, y0 + h * 0.03 * math.sin(x / w * 6 * math.pi + band)) for x in range(0, w + 8, 8)]
        draw.line(points, fill=(40, 150, 180), width=max(1, h // 150))
    return base.filter(ImageFilter.GaussianBlur(max(1, h // 300)))


def _forest(w: int, h: int) -> Image.Image:
    field = _noise(w, h, 21, [(5, 1.0), (20, 0.35)])
    return _texture(_colorize(field, [(8, 36, 24), (24, 80, 48), (70, 120, 60)]), 22, 0.25)


def _midnight(w: int, h: int) -> Image.Image:
    base = gradient([(4, 6, 20), (20, 24, 56)], 200, w, h)
    rng = random.Random(31)
    draw = ImageDraw.Draw(base)
    for _ in range(w * h // 2500):
        x, y, r = rng.random() * w, rng.random() * h, rng.choice((0.6, 0.8, 1.0, 1.6)) * max(1, h / 450)
        shade = rng.randrange(150, 256)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(shade, shade, min(255, shade + 20)))
    return base


def _candy(w: int, h: int) -> Image.Image:
    return gradient([(255, 120, 180), (255, 180, 140), (170, 140, 255)], 120, w, h)


def _ember(w: int, h: int) -> Image.Image:
    base = gradient([(30, 6, 6), (70, 14, 10)], 180, w, h)
    base = _glow(base, (255, 110, 30), 0.5, 1.0, 1.0, 200)
    return _texture(base, 41, 0.3, cells=250)


def _mint(w: int, h: int) -> Image.Image:
    return _glow(gradient([(200, 245, 225), (150, 220, 210)], 135, w, h), (245, 255, 250), 0.3, 0.2, 0.9, 160)


def _slate(w: int, h: int) -> Image.Image:
    return _texture(gradient([(60, 66, 80), (32, 36, 46)], 160, w, h), 51, 0.35)


def _nebula(w: int, h: int) -> Image.Image:
    clouds = _noise(w, h, 61, [(3, 1.0), (8, 0.5), (24, 0.2)])
    base = _colorize(clouds, [(8, 6, 24), (60, 20, 90), (200, 60, 150), (255, 200, 230)][:3])
    return ImageChops.screen(base, _midnight(w, h).point(lambda v: max(0, v - 40)))


def _blueprint(w: int, h: int) -> Image.Image:
    base = gradient([(16, 50, 110), (10, 34, 80)], 180, w, h)
    draw = ImageDraw.Draw(base)
    step = max(8, h // 18)
    for i, x in enumerate(range(0, w, step)):
        draw.line([(x, 0), (x, h)], fill=(60, 100, 170) if i % 5 else (90, 140, 210), width=1)
    for i, y in enumerate(range(0, h, step)):
        draw.line([(0, y), (w, y)], fill=(60, 100, 170) if i % 5 else (90, 140, 210), width=1)
    return base


def _dots(w: int, h: int) -> Image.Image:
    base = gradient([(88, 60, 200), (140, 70, 200)], 135, w, h)
    overlay = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(overlay)
    step = max(10, h // 12)
    r = step * 0.18
    for row, y in enumerate(range(step // 2, h + step, step)):
        for x in range((step // 2) * (row % 2), w + step, step):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=60)
    return Image.composite(Image.new("RGB", (w, h), (255, 255, 255)), base, overlay)


def _stripes(w: int, h: int) -> Image.Image:
    base = gradient([(20, 120, 150), (30, 60, 120)], 90, w, h)
    overlay = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(overlay)
    step = max(12, h // 9)
    for x in range(-h, w + h, step):
        draw.polygon([(x, 0), (x + step // 2, 0), (x + step // 2 - h, h), (x - h, h)], fill=28)
    return Image.composite(Image.new("RGB", (w, h), (255, 255, 255)), base, overlay)


def _sand(w: int, h: int) -> Image.Image:
    return _texture(gradient([(245, 228, 200), (225, 196, 160)], 160, w, h), 71, 0.3, cells=500)


def _carbon(w: int, h: int) -> Image.Image:
    tile = max(4, h // 90)
    weave = Image.new("L", (2 * tile, 2 * tile), 30)
    draw = ImageDraw.Draw(weave)
    draw.rectangle((0, 0, tile - 1, tile - 1), fill=55)
    draw.rectangle((tile, tile, 2 * tile - 1, 2 * tile - 1), fill=55)
    pattern = Image.new("L", (w, h))
    for y in range(0, h, 2 * tile):
        for x in range(0, w, 2 * tile):
            pattern.paste(weave, (x, y))
    shade = _radial(w, h, 0.5, 0.4, 1.2)
    return Image.merge("RGB", [ImageChops.multiply(pattern, shade.point(lambda v: 140 + v * 115 // 255))] * 3)


_BUILTINS: Final[dict[Builtin, Callable[[int, int], Image.Image]]] = {
    Builtin.TWILIGHT: _twilight,
    Builtin.AURORA: _aurora,
    Builtin.SUNSET: _sunset,
    Builtin.OCEAN: _ocean,
    Builtin.FOREST: _forest,
    Builtin.MIDNIGHT: _midnight,
    Builtin.CANDY: _candy,
    Builtin.EMBER: _ember,
    Builtin.MINT: _mint,
    Builtin.SLATE: _slate,
    Builtin.NEBULA: _nebula,
    Builtin.BLUEPRINT: _blueprint,
    Builtin.DOTS: _dots,
    Builtin.STRIPES: _stripes,
    Builtin.SAND: _sand,
    Builtin.CARBON: _carbon,
}


def builtin_background(name: Builtin, width: int, height: int) -> Image.Image:
    """The built-in background ``name`` drawn at ``width`` x ``height`` (RGB)."""
    return _BUILTINS[name](width, height).convert("RGB")


def dominant_color(image: Image.Image) -> RGB:
    """The avatar's most telling colour: frequent, saturated, neither near-black nor near-white.

    Computed on a 32 px thumbnail quantized to 6 colours (well under a millisecond).
    """
    small = image.convert("RGB")
    small.thumbnail((32, 32), Image.Resampling.BILINEAR)
    quantized = small.quantize(colors=6, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    best: tuple[float, RGB] | None = None
    for count, index in quantized.getcolors() or []:
        assert isinstance(index, int)  # a palette image's colours are palette indexes
        r, g, b = palette[3 * index : 3 * index + 3]
        _, light, sat = colorsys.rgb_to_hls(r / 255, g / 255, b / 255)
        score = count * (0.25 + sat) * (0.2 if light < 0.12 or light > 0.92 else 1.0)
        if best is None or score > best[0]:
            best = (score, (r, g, b))
    return best[1] if best is not None else (88, 101, 242)


def from_color(color: RGB, width: int, height: int) -> Image.Image:
    """A background in the tone of ``color``: a diagonal from its deep shade to itself, lit in the middle."""
    hue, light, sat = colorsys.rgb_to_hls(*(c / 255 for c in color))

    def shade(lightness: float) -> RGB:
        r, g, b = colorsys.hls_to_rgb(hue, lightness, min(1.0, sat * 1.1))
        return round(r * 255), round(g * 255), round(b * 255)

    base = gradient([shade(0.12), shade(max(0.3, min(0.55, light)))], 120, width, height)
    return _glow(base, shade(0.7), 0.5, 0.35, 0.9, 70)


# Re-exported for design.py's colour parsing without a second parser.
parse_hex = _hex
