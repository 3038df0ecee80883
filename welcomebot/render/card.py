"""The welcome card: :class:`CardSpec` says what to draw, :class:`Renderer` draws it fast.

Everything that does not depend on the member is computed once and kept: the background cover-cropped,
scaled and darkened by the scrim per (background, size) in a bounded LRU; the supersampled circle and ring
masks per diameter; each avatar decoded, scaled and ringed per (avatar bytes, diameter). A render is then a
copy of a cached background, one paste, the text, and the encoder. ``Renderer.render`` is synchronous and
safe to call from several worker threads (the caches are guarded by one lock; work happens outside it).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from math import ceil
from typing import Final, Generic, TypeAlias, TypeVar

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from welcomebot.render.avatars import decode_image
from welcomebot.render.encode import Format, encode
from welcomebot.render.errors import ImageRejectedError, RenderError
from welcomebot.render.fonts import FontSet
from welcomebot.render.layout import CardLayout, TextSlot, centered_layout, fit_text
from welcomebot.render.template import Template, parse_template
from welcomebot.render.text import Run, TextDrawer, sanitize

__all__ = ["DEFAULT_LINES", "CardSpec", "Renderer", "display_name"]

DEFAULT_LINES: Final = ("Welcome to {server}", "Member #{count}")
_SUPERSAMPLE: Final = 4
_TEXT: Final = (255, 255, 255)
_SUBTEXT: Final = (225, 228, 240)
_RING: Final = (255, 255, 255)
_PLACEHOLDER_BG: Final = (88, 101, 242)
_SHADOW_ALPHA: Final = [v * 150 // 255 for v in range(256)]

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
    hashed. ``lines`` are template lines with ``{user}``, ``{server}``, ``{count}``.
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


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale and centre-crop ``image`` to fill ``width`` x ``height`` (CSS ``object-fit: cover``)."""
    return ImageOps.fit(image.convert("RGB"), (width, height), Image.Resampling.LANCZOS)


def default_background(width: int, height: int) -> Image.Image:
    """A deep blue-violet diagonal gradient with a soft glow behind the avatar."""
    diag = Image.linear_gradient("L").rotate(-35, resample=Image.Resampling.BILINEAR, expand=False)
    diag = diag.resize((width, height), Image.Resampling.BILINEAR)
    base = Image.composite(
        Image.new("RGB", (width, height), (64, 40, 130)), Image.new("RGB", (width, height), (22, 28, 72)), diag
    )
    glow = ImageOps.invert(Image.radial_gradient("L")).resize((width, height), Image.Resampling.BILINEAR)
    glow = glow.point(lambda v: v * 110 // 255)
    return Image.composite(Image.new("RGB", (width, height), (110, 120, 255)), base, glow)


def _scrim_mask(width: int, height: int) -> Image.Image:
    """Black overlay alpha: 38% everywhere, rising to 70% at the bottom where the text sits."""
    ramp = Image.linear_gradient("L").resize((1, height)).point(lambda v: 97 + (v * (178 - 97)) // 255)
    return ramp.resize((width, height))


@dataclass
class _Masks:
    circle: Image.Image
    ring: Image.Image


def _supersampled_circle(diameter: int, inset: float = 0.0) -> Image.Image:
    big = diameter * _SUPERSAMPLE
    mask = Image.new("L", (big, big), 0)
    pad = inset * _SUPERSAMPLE
    ImageDraw.Draw(mask).ellipse((pad, pad, big - 1 - pad, big - 1 - pad), fill=255)
    return mask.resize((diameter, diameter), Image.Resampling.LANCZOS)


@dataclass
class Renderer:
    """Holds fonts and caches; ``render(spec) -> bytes`` is the thread-pool entry point."""

    fonts: FontSet = field(default_factory=FontSet.discover)
    background_cache: int = 32
    avatar_cache: int = 512

    def __post_init__(self) -> None:
        self.avatar_fallbacks = 0
        self.text = TextDrawer(self.fonts)
        self._backgrounds: _LRU[tuple[str, int, int], Image.Image] = _LRU(self.background_cache)
        self._avatars: _LRU[tuple[str, int, int], Image.Image] = _LRU(self.avatar_cache)
        self._masks: _LRU[tuple[int, int], _Masks] = _LRU(16)
        self._layouts: _LRU[tuple[int, int, int], CardLayout] = _LRU(16)
        self._templates: _LRU[str, Template] = _LRU(1024)
        self._lines: _LRU[tuple[str, TextSlot, tuple[int, int, int]], _Line] = _LRU(256)

    # -- cached pieces -------------------------------------------------------------------------------------
    def template(self, source: str) -> Template:
        parsed = self._templates.get(source)
        if parsed is None:
            parsed = parse_template(source)
            self._templates.put(source, parsed)
        return parsed

    def layout(self, width: int, height: int, n_lines: int) -> CardLayout:
        key = (width, height, n_lines)
        found = self._layouts.get(key)
        if found is None:
            found = centered_layout(width, height, n_lines)
            self._layouts.put(key, found)
        return found

    def background(self, data: bytes | None, key: str | None, width: int, height: int) -> Image.Image:
        """The scaled, cropped and scrimmed background (shared: callers must copy before drawing)."""
        name = "default" if data is None else (key or _digest(data))
        cache_key = (name, width, height)
        found = self._backgrounds.get(cache_key)
        if found is None:
            if data is None:
                found = default_background(width, height)
            else:
                found = cover(decode_image(data, draft=(width, height)), width, height)
            found = Image.composite(Image.new("RGB", (width, height)), found, _scrim_mask(width, height))
            self._backgrounds.put(cache_key, found)
        return found

    def _masks_for(self, diameter: int, ring: int) -> _Masks:
        found = self._masks.get((diameter, ring))
        if found is None:
            outer = _supersampled_circle(diameter)
            inner = _supersampled_circle(diameter, inset=ring)
            found = _Masks(circle=inner, ring=ImageChops.subtract(outer, inner))
            self._masks.put((diameter, ring), found)
        return found

    def avatar(self, data: bytes | None, diameter: int, ring: int) -> Image.Image:
        """The avatar as an RGBA disc with its ring, ``diameter`` px wide."""
        key = ("placeholder" if data is None else _digest(data), diameter, ring)
        found = self._avatars.get(key)
        if found is None:
            masks = self._masks_for(diameter, ring)
            face = None
            if data is not None:
                try:
                    face = ImageOps.fit(
                        decode_image(data, draft=(diameter, diameter)), (diameter, diameter), Image.Resampling.LANCZOS
                    )
                except ImageRejectedError as exc:
                    # The member's avatar is not the admin's to fix: welcome them with the placeholder.
                    self.avatar_fallbacks += 1
                    _log.warning("avatar rejected, using the placeholder", extra={"reason": str(exc)})
            if face is None:
                face = _placeholder_avatar(diameter)
            disc = Image.new("RGBA", (diameter, diameter), (0, 0, 0, 0))
            disc.paste(face.convert("RGB"), (0, 0), masks.circle)
            disc.paste(Image.new("RGB", (diameter, diameter), _RING), (0, 0), masks.ring)
            found = disc
            self._avatars.put(key, found)
        return found

    # -- drawing -------------------------------------------------------------------------------------------
    def line_image(self, text: str, slot: TextSlot, fill: tuple[int, int, int]) -> _Line:
        """``text`` fitted to ``slot`` on a transparent image, its shadow mask, and its top-left corner.

        Cached: the guild's fixed lines ("Welcome to {server}") are drawn once, not once per card.
        """
        key = (text, slot, fill)
        found = self._lines.get(key)
        if found is not None:
            return found
        shaped: dict[tuple[str, int], tuple[list[Run], list[float]]] = {}

        def measure(candidate: str, size: int) -> float:
            shaped[candidate, size] = self.text.shape(candidate, size, bold=slot.bold)
            return sum(shaped[candidate, size][1])

        fitted = fit_text(text, measure, slot.max_width, slot.max_size, slot.min_size)
        runs, widths = shaped.get((fitted.text, fitted.size)) or self.text.shape(
            fitted.text, fitted.size, bold=slot.bold
        )
        pad = fitted.size // 2
        above = round(fitted.size * 1.45)
        image = Image.new("RGBA", (ceil(fitted.width) + 2 * pad, above + round(fitted.size * 0.6)), (*fill, 0))
        self.text.draw(image, pad, above, runs, fitted.size, fill=fill, bold=slot.bold, widths=widths)
        # A soft shadow under the glyphs keeps text readable where a busy photo shows through the scrim.
        radius = max(1, fitted.size // 16)
        shadow = image.getchannel("A").filter(ImageFilter.BoxBlur(radius)).point(_SHADOW_ALPHA)
        found = (image, shadow, round(slot.center_x - fitted.width / 2) - pad, slot.baseline - above)
        self._lines.put(key, found)
        return found

    def _draw_line(self, card: Image.Image, text: str, slot: TextSlot, fill: tuple[int, int, int]) -> None:
        text = sanitize(text)
        if text:
            image, shadow, x, y = self.line_image(text, slot, fill)
            offset = max(1, slot.max_size // 24)
            card.paste((0, 0, 0), (x, y + offset, x + shadow.width, y + offset + shadow.height), shadow)
            card.paste(image, (x, y), image)

    def compose(self, spec: CardSpec) -> Image.Image:
        """The card as a Pillow image (``render`` encodes it)."""
        templates = [self.template(line) for line in spec.lines]
        try:
            layout = self.layout(spec.width, spec.height, len(templates))
        except ValueError as exc:
            raise RenderError(str(exc)) from exc
        card = self.background(spec.background, spec.background_key, spec.width, spec.height).copy()
        disc = self.avatar(spec.avatar, layout.avatar.w, layout.ring)
        card.paste(disc, (layout.avatar.x, layout.avatar.y), disc)
        name = sanitize(spec.name)
        self._draw_line(card, name, layout.name, _TEXT)
        for template, slot in zip(templates, layout.lines, strict=True):
            line = template.render(user=name, server=spec.server, count=spec.member_count)
            self._draw_line(card, line, slot, _SUBTEXT)
        return card

    def render(self, spec: CardSpec) -> bytes:
        """Render and encode one card. Thread-safe; raises RenderError subclasses on bad input."""
        return encode(self.compose(spec), spec.format)


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
