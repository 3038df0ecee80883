"""The welcome card: :class:`CardSpec` says what to draw (with its :class:`CardDesign`), :class:`Renderer`
draws it fast.

Everything that does not depend on the member is computed once and kept: the background (uploaded image,
built-in, colour, gradient, or the avatar's colour) cover-cropped, scaled and darkened by the scrim per
(background, size, scrim) in a bounded LRU; the supersampled shape and ring masks per (shape, diameter);
each avatar decoded, scaled, shaped and ringed; each guild's fixed text lines; each uploaded font's fallback
chain. A render is then a copy of a cached background, one paste, the text, and the encoder.
``Renderer.render`` is synchronous and safe to call from several worker threads (the caches are guarded by
locks; work happens outside them).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from math import ceil
from typing import Final, Generic, TypeAlias, TypeVar

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from welcomebot.render import backgrounds
from welcomebot.render.avatars import decode_image
from welcomebot.render.backgrounds import RGB, Builtin
from welcomebot.render.design import (
    AvatarBackground,
    BuiltinBackground,
    CardDesign,
    GradientBackground,
    ImageBackground,
    SolidBackground,
    background_label,
    rgb,
)
from welcomebot.render.encode import Format, encode
from welcomebot.render.errors import ImageRejectedError, RenderError
from welcomebot.render.fonts import FontSet, font_digest, load_font
from welcomebot.render.layout import Box, CardLayout, TextSlot, fit_text
from welcomebot.render.shapes import Shape, shape_masks
from welcomebot.render.template import Template, parse_template
from welcomebot.render.text import Run, TextDrawer, sanitize
from welcomebot.render.themes import Theme, layout_for

__all__ = ["DEFAULT_LINES", "CardSpec", "Renderer", "display_name"]

DEFAULT_LINES: Final = ("Welcome to {server}", "Member #{count}")
_PLACEHOLDER_BG: Final = (88, 101, 242)
_SHADOW_ALPHA: Final = [v * 150 // 255 for v in range(256)]
# Lines under the name: 88 % of the text colour with a cool tint (white text gives the original #e1e4f0).
_SUBTEXT_TINT: Final = (1, 4, 16)
# The scrim ramps from this share of its opacity (far from the text) to all of it (behind the text).
_SCRIM_FAR: Final = 97 / 178

# A drawn text line: RGBA glyphs, shadow mask, x, y of the top-left corner on the card.
_Line: TypeAlias = tuple[Image.Image, Image.Image, int, int]

_log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


def display_name(global_name: str | None, username: str) -> str:
    """What Discord shows: the global display name when set, else the username."""
    return global_name if global_name and global_name.strip() else username


@dataclass(frozen=True, slots=True)
class CardSpec:
    """One card. ``avatar``/``background`` are encoded image bytes (None: placeholder / generated gradient).

    ``background_key`` names the background for the cache (e.g. its asset hash); without it the bytes are
    hashed; it is drawn when ``design.background`` is "image". ``lines`` are template lines with
    ``{user}``, ``{server}``, ``{count}``. ``font`` is an uploaded TTF/OTF (``font_key``: its cache key).
    """

    name: str
    server: str = ""
    member_count: int = 0
    lines: tuple[str, ...] = DEFAULT_LINES
    avatar: bytes | None = None
    background: bytes | None = None
    background_key: str | None = None
    width: int = 1024
    height: int = 450
    format: Format = "webp"
    design: CardDesign = field(default_factory=CardDesign)
    font: bytes | None = None
    font_key: str | None = None


class _LRU(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def values(self) -> list[V]:
        with self._lock:
            return list(self._data.values())


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def cover(
    image: Image.Image, width: int, height: int, resample: Image.Resampling = Image.Resampling.LANCZOS
) -> Image.Image:
    """Scale and centre-crop ``image`` to fill ``width`` x ``height`` (CSS ``object-fit: cover``)."""
    return ImageOps.fit(image.convert("RGB"), (width, height), resample)


def default_background(width: int, height: int) -> Image.Image:
    """The card's background when nothing else is chosen: the built-in twilight gradient."""
    return backgrounds.builtin_background(Builtin.TWILIGHT, width, height)


def _scrim_mask(width: int, height: int, opacity: int, horizontal: bool) -> Image.Image:
    """Black overlay alpha, ``opacity`` percent where the text sits (bottom, or right for side layouts),
    fading to 55 % of that on the far side."""
    near = round(opacity * 255 / 100)
    far = round(near * _SCRIM_FAR)
    ramp = Image.linear_gradient("L").point(lambda v: far + (v * (near - far)) // 255)
    if horizontal:
        return ramp.rotate(90).transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((width, 1)).resize((width, height))
    return ramp.resize((1, height)).resize((width, height))


def subtext_color(text: RGB) -> RGB:
    r, g, b = (round(c * 0.88) + t for c, t in zip(text, _SUBTEXT_TINT, strict=True))
    return min(255, r), min(255, g), min(255, b)


def _shadow_color(text: RGB) -> RGB:
    """Dark text gets a light halo, light text a dark shadow: either way the glyphs stand off the picture."""
    luma = 0.299 * text[0] + 0.587 * text[1] + 0.114 * text[2]
    return (0, 0, 0) if luma >= 110 else (255, 255, 255)


@dataclass
class Renderer:
    """Holds fonts and caches; ``render(spec) -> bytes`` is the thread-pool entry point."""

    fonts: FontSet = field(default_factory=FontSet.discover)
    background_cache: int = 32
    #: Members join once, so shaped avatars are rarely drawn twice (a retried batch, repeated previews):
    #: a small cache, as each entry is a full-size RGBA image.
    avatar_cache: int = 64

    def __post_init__(self) -> None:
        self.avatar_fallbacks = 0
        self.text = TextDrawer(self.fonts)
        self._backgrounds: _LRU[tuple[str, int, int, int, bool], Image.Image] = _LRU(self.background_cache)
        self._avatars: _LRU[tuple[str, int, int, Shape, RGB], Image.Image] = _LRU(self.avatar_cache)
        self._masks: _LRU[tuple[Shape, int, int], tuple[Image.Image, Image.Image]] = _LRU(32)
        self._layouts: _LRU[tuple[Theme, int, int, int, bool, int], CardLayout] = _LRU(32)
        self._templates: _LRU[str, Template] = _LRU(1024)
        # Up to ~0.5 MB each (RGBA line + shadow), and a member's name line is rarely drawn twice: a guild's
        # fixed lines are what this saves, and only the active guilds' matter.
        self._lines: _LRU[tuple[str | None, str, TextSlot, RGB], _Line] = _LRU(64)
        self._drawers: _LRU[str, TextDrawer] = _LRU(8)
        self._colors: _LRU[str, RGB] = _LRU(1024)
        self._scrims: _LRU[tuple[int, int, int, bool], Image.Image] = _LRU(8)

    # -- cached pieces -------------------------------------------------------------------------------------
    def template(self, source: str) -> Template:
        parsed = self._templates.get(source)
        if parsed is None:
            parsed = parse_template(source)
            self._templates.put(source, parsed)
        return parsed

    def layout(self, width: int, height: int, n_lines: int, design: CardDesign | None = None) -> CardLayout:
        design = design or CardDesign()
        hidden = design.shape == Shape.HIDDEN
        key = (design.theme, width, height, n_lines, hidden, design.ring)
        found = self._layouts.get(key)
        if found is None:
            try:
                found = layout_for(design.theme)(width, height, n_lines, avatar=not hidden, ring=design.ring)
            except ValueError as exc:
                raise RenderError(str(exc)) from exc
            self._layouts.put(key, found)
        return found

    def avatar_color(self, data: bytes | None) -> RGB:
        """The avatar's dominant colour, computed on a thumbnail once per avatar (by digest)."""
        key = "placeholder" if data is None else _digest(data)
        found = self._colors.get(key)
        if found is None:
            try:
                image = _placeholder_avatar(64) if data is None else decode_image(data, draft=(64, 64))
            except ImageRejectedError:
                image = _placeholder_avatar(64)
            found = backgrounds.dominant_color(image)
            self._colors.put(key, found)
        return found

    def _background_source(self, spec: CardSpec) -> tuple[str, Callable[[int, int], Image.Image]]:
        """The cache name of the spec's background, and how to draw it at a size (before the scrim)."""
        match spec.design.background:
            case ImageBackground() if spec.background is not None:
                data = spec.background
                return spec.background_key or _digest(data), lambda w, h: cover(decode_image(data, draft=(w, h)), w, h)
            case ImageBackground():
                return f"builtin:{Builtin.TWILIGHT.value}", partial(backgrounds.builtin_background, Builtin.TWILIGHT)
            case AvatarBackground():
                color = self.avatar_color(spec.avatar)
                return f"avatar:{color}", partial(backgrounds.from_color, color)
            case BuiltinBackground(name=name) as chosen:
                return background_label(chosen), partial(backgrounds.builtin_background, name)
            case SolidBackground(color=color) as chosen:
                return background_label(chosen), partial(backgrounds.solid, rgb(color))
            case GradientBackground(stops=stops, angle=angle) as chosen:
                return background_label(chosen), partial(backgrounds.gradient, [rgb(s) for s in stops], angle)

    def scrimmed(self, image: Image.Image, design: CardDesign) -> Image.Image:
        """``image`` darkened where the text sits, as much as ``design.scrim`` asks."""
        if design.scrim == 0:
            return image
        key = (image.width, image.height, design.scrim, design.theme != Theme.CENTERED)
        mask = self._scrims.get(key)
        if mask is None:  # animated cards scrim every frame: the mask is made once
            mask = _scrim_mask(*key)
            self._scrims.put(key, mask)
        return Image.composite(Image.new("RGB", image.size), image, mask)

    def background(self, spec: CardSpec) -> Image.Image:
        """The scaled, cropped and scrimmed background (shared: callers must copy before drawing)."""
        name, draw = self._background_source(spec)
        cache_key = (name, spec.width, spec.height, spec.design.scrim, spec.design.theme != Theme.CENTERED)
        found = self._backgrounds.get(cache_key)
        if found is None:
            found = self.scrimmed(draw(spec.width, spec.height), spec.design)
            self._backgrounds.put(cache_key, found)
        return found

    def masks(self, shape: Shape, diameter: int, ring: int) -> tuple[Image.Image, Image.Image]:
        found = self._masks.get((shape, diameter, ring))
        if found is None:
            found = shape_masks(shape, diameter, ring)
            self._masks.put((shape, diameter, ring), found)
        return found

    def shaped(self, face: Image.Image, layout: CardLayout, design: CardDesign) -> Image.Image:
        """``face`` (already ``layout.avatar.w`` square) cut to the design's shape with its ring, as RGBA."""
        diameter = layout.avatar.w
        inner, ring = self.masks(design.shape, diameter, layout.ring)
        disc = Image.new("RGBA", (diameter, diameter), (0, 0, 0, 0))
        disc.paste(face.convert("RGB"), (0, 0), inner)
        disc.paste(Image.new("RGB", (diameter, diameter), rgb(design.accent_color)), (0, 0), ring)
        return disc

    def face(self, data: bytes | None, diameter: int) -> Image.Image:
        """The avatar scaled to ``diameter``; the placeholder when it is missing or refused."""
        if data is not None:
            try:
                return ImageOps.fit(
                    decode_image(data, draft=(diameter, diameter)), (diameter, diameter), Image.Resampling.LANCZOS
                )
            except ImageRejectedError as exc:
                # The member's avatar is not the admin's to fix: welcome them with the placeholder.
                self.avatar_fallbacks += 1
                _log.warning("avatar rejected, using the placeholder", extra={"reason": str(exc)})
        return _placeholder_avatar(diameter)

    def avatar(self, data: bytes | None, layout: CardLayout, design: CardDesign) -> Image.Image:
        """The avatar as an RGBA shape with its ring, ``layout.avatar.w`` px wide."""
        accent = rgb(design.accent_color)
        key = ("placeholder" if data is None else _digest(data), layout.avatar.w, layout.ring, design.shape, accent)
        found = self._avatars.get(key)
        if found is None:
            found = self.shaped(self.face(data, layout.avatar.w), layout, design)
            self._avatars.put(key, found)
        return found

    def drawer(self, font: bytes | None, key: str | None) -> tuple[str | None, TextDrawer]:
        """The text drawer for an uploaded ``font`` (its chain: the font, then Noto), or the default one."""
        if font is None:
            return None, self.text
        key = key or font_digest(font)
        found = self._drawers.get(key)
        if found is None:
            found = TextDrawer(self.fonts.with_first(load_font(font)))
            self._drawers.put(key, found)
        return key, found

    @property
    def run_fallbacks(self) -> int:
        """Text runs drawn with a fallback, over the default drawer and every uploaded font's drawer."""
        return self.text.run_fallbacks + sum(d.run_fallbacks for d in self._drawers.values())

    # -- drawing -------------------------------------------------------------------------------------------
    def line_image(
        self, text: str, slot: TextSlot, fill: RGB, drawer: TextDrawer | None = None, font_key: str | None = None
    ) -> _Line:
        """``text`` fitted to ``slot`` on a transparent image, its shadow mask, and its top-left corner.

        Cached: the guild's fixed lines ("Welcome to {server}") are drawn once, not once per card.
        """
        drawer = drawer or self.text
        key = (font_key, text, slot, fill)
        found = self._lines.get(key)
        if found is not None:
            return found
        shaped: dict[tuple[str, int], tuple[list[Run], list[float]]] = {}

        def measure(candidate: str, size: int) -> float:
            shaped[candidate, size] = drawer.shape(candidate, size, bold=slot.bold)
            return sum(shaped[candidate, size][1])

        fitted = fit_text(text, measure, slot.max_width, slot.max_size, slot.min_size)
        runs, widths = shaped.get((fitted.text, fitted.size)) or drawer.shape(fitted.text, fitted.size, bold=slot.bold)
        pad = fitted.size // 2
        above = round(fitted.size * 1.45)
        image = Image.new("RGBA", (ceil(fitted.width) + 2 * pad, above + round(fitted.size * 0.6)), (*fill, 0))
        drawer.draw(image, pad, above, runs, fitted.size, fill=fill, bold=slot.bold, widths=widths)
        # A soft shadow under the glyphs keeps text readable where a busy photo shows through the scrim.
        radius = max(1, fitted.size // 16)
        shadow = image.getchannel("A").filter(ImageFilter.BoxBlur(radius)).point(_SHADOW_ALPHA)
        left = slot.center_x if slot.align == "left" else round(slot.center_x - fitted.width / 2)
        found = (image, shadow, left - pad, slot.baseline - above)
        self._lines.put(key, found)
        return found

    def _draw_line(
        self, card: Image.Image, text: str, slot: TextSlot, fill: RGB, drawer: TextDrawer, font_key: str | None
    ) -> None:
        text = sanitize(text)
        if text:
            image, shadow, x, y = self.line_image(text, slot, fill, drawer, font_key)
            offset = max(1, slot.max_size // 24)
            card.paste(_shadow_color(fill), (x, y + offset, x + shadow.width, y + offset + shadow.height), shadow)
            card.paste(image, (x, y), image)

    def overlay(self, card: Image.Image, spec: CardSpec, layout: CardLayout) -> None:
        """Draw the accent bar and the text on ``card`` (everything but the background and the avatar)."""
        design = spec.design
        if layout.accent is not None:
            _fill(card, layout.accent, rgb(design.accent_color))
        font_key, drawer = self.drawer(spec.font, spec.font_key)
        text = rgb(design.text_color)
        name = sanitize(spec.name)
        self._draw_line(card, name, layout.name, text, drawer, font_key)
        for source, slot in zip(spec.lines, layout.lines, strict=True):
            line = self.template(source).render(user=name, server=spec.server, count=spec.member_count)
            self._draw_line(card, line, slot, subtext_color(text), drawer, font_key)

    def card_layout(self, spec: CardSpec) -> CardLayout:
        for line in spec.lines:
            self.template(line)  # a bad template fails before any pixel work
        return self.layout(spec.width, spec.height, len(spec.lines), spec.design)

    def compose(self, spec: CardSpec) -> Image.Image:
        """The card as a Pillow image (``render`` encodes it)."""
        layout = self.card_layout(spec)
        card = self.background(spec).copy()
        if layout.avatar.w:
            disc = self.avatar(spec.avatar, layout, spec.design)
            card.paste(disc, (layout.avatar.x, layout.avatar.y), disc)
        self.overlay(card, spec, layout)
        return card

    def render(self, spec: CardSpec) -> bytes:
        """Render and encode one card. Thread-safe; raises RenderError subclasses on bad input."""
        return encode(self.compose(spec), spec.format)


def _fill(card: Image.Image, box: Box, color: RGB) -> None:
    card.paste(color, (box.x, box.y, box.x + box.w, box.y + box.h))


def _placeholder_avatar(diameter: int) -> Image.Image:
    """Discord-blurple disc with a white silhouette, for members whose avatar could not be had."""
    big = diameter * 2
    image = Image.new("RGB", (big, big), _PLACEHOLDER_BG)
    draw = ImageDraw.Draw(image)
    head = big * 0.19
    cx, cy = big / 2, big * 0.40
    draw.ellipse((cx - head, cy - head, cx + head, cy + head), fill=(255, 255, 255))
    draw.ellipse((cx - big * 0.32, big * 0.66, cx + big * 0.32, big * 1.15), fill=(255, 255, 255))
    return image.resize((diameter, diameter), Image.Resampling.LANCZOS)
