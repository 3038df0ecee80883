"""Animated cards: an animated WebP when the background or the avatar moves and the design asks for it.

Bounded on every side: at most :attr:`Limits.frames` frames (evenly sampled from longer sources, the skipped
frames' time folded into the kept ones), at most :attr:`Limits.duration_ms` in total, no frame under
:attr:`Limits.min_frame_ms` (browsers slow such GIF frames down anyway), and at most :attr:`Limits.max_bytes`
encoded (well under Discord's 10 MiB upload limit): when the first encoding is larger, it is redone with
fewer frames, then at a lower quality, then smaller; if nothing fits, the card is the first frame, static.

The work is split into steps so the render pool can interleave it with static cards: :meth:`AnimatedCard.start`
(open the sources, plan the frames), one :meth:`AnimatedCard.frame` per output frame, :meth:`AnimatedCard.finish`
(encode). Each step is one pool job; a static card waits for at most one step, never for a whole animation.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Final

from PIL import Image, ImageOps

from welcomebot.render.avatars import open_image
from welcomebot.render.card import CardSpec, Renderer, cover
from welcomebot.render.design import ImageBackground
from welcomebot.render.encode import encode
from welcomebot.render.errors import ImageRejectedError
from welcomebot.render.layout import CardLayout

__all__ = ["AnimatedCard", "Limits", "is_animated"]

#: Frames of an animated source we are willing to look at (beyond them the source is cut short).
_SCAN_FRAMES: Final = 400
#: Animated sources are decoded frame by frame: each frame at most this many pixels.
_MAX_FRAME_PIXELS: Final = 2048 * 2048


@dataclass(frozen=True, slots=True)
class Limits:
    frames: int = 48
    duration_ms: int = 12_000
    min_frame_ms: int = 20
    max_bytes: int = 4 * 1024 * 1024
    quality: int = 80


def _open(data: bytes) -> Image.Image:
    return open_image(data, max_pixels=_MAX_FRAME_PIXELS)


def is_animated(data: bytes | None) -> bool:
    """True when ``data`` is an image with more than one frame (reads the header and the second frame's)."""
    if data is None:
        return False
    try:
        return bool(getattr(_open(data), "is_animated", False))
    except (ImageRejectedError, OSError, ValueError, SyntaxError):
        return False


@dataclass(slots=True)
class _Source:
    """One animated layer: the open image, and for each of its frames when it starts and how long it lasts."""

    image: Image.Image
    starts: list[int]
    durations: list[int]
    current: int = -1

    @classmethod
    def open(cls, data: bytes, limits: Limits) -> _Source:
        image = _open(data)
        starts: list[int] = []
        durations: list[int] = []
        t = 0
        for index in range(min(getattr(image, "n_frames", 1), _SCAN_FRAMES)):
            try:
                image.seek(index)
            except (EOFError, OSError) as exc:
                if not durations:
                    raise ImageRejectedError(f"animated image is corrupt: {exc}") from exc
                break
            if image.format == "WEBP":
                image.load()  # Pillow reads a WebP frame's duration when it decodes the frame
            duration = max(limits.min_frame_ms, int(image.info.get("duration") or 100))
            if t + duration > limits.duration_ms and durations:
                break
            starts.append(t)
            durations.append(duration)
            t += duration
        image.seek(0)
        return cls(image, starts, durations)

    @property
    def total(self) -> int:
        return self.starts[-1] + self.durations[-1]

    def index_at(self, t: int) -> int:
        """The frame shown at ``t`` ms (looping)."""
        t %= self.total
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= t:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def frame(self, index: int) -> Image.Image:
        # GIF and WebP decode forward from a keyframe: seeking in order (as the plan does) is incremental.
        if index != self.current:
            try:
                self.image.seek(index)
                self.image.load()
            except (EOFError, OSError, ValueError) as exc:
                raise ImageRejectedError(f"animated image is corrupt at frame {index}: {exc}") from exc
            self.current = index
        return self.image.convert("RGBA")


def _plan(base: _Source, limits: Limits) -> tuple[list[int], list[int]]:
    """Output frame times and durations: the base layer's frames, evenly thinned to at most ``limits.frames``."""
    n = len(base.starts)
    keep = sorted({i * n // limits.frames for i in range(limits.frames)}) if n > limits.frames else list(range(n))
    times = [base.starts[i] for i in keep]
    ends = [*times[1:], base.total]
    return times, [end - start for start, end in zip(times, ends, strict=True)]


@dataclass
class AnimatedCard:
    """One animated card, rendered in steps: ``start()``, ``frame(i)`` for each i, ``finish()``."""

    renderer: Renderer
    spec: CardSpec
    limits: Limits = field(default_factory=Limits)
    frames: list[Image.Image] = field(default_factory=list, init=False)
    _layout: CardLayout | None = field(default=None, init=False)
    _background: _Source | None = field(default=None, init=False)
    _avatar: _Source | None = field(default=None, init=False)
    _times: list[int] = field(default_factory=list, init=False)
    _durations: list[int] = field(default_factory=list, init=False)

    def start(self) -> int:
        """Open the animated layers and plan the output; the number of frames to render (0: go static)."""
        self._layout = self.renderer.card_layout(self.spec)
        if isinstance(self.spec.design.background, ImageBackground) and is_animated(self.spec.background):
            assert self.spec.background is not None
            self._background = _Source.open(self.spec.background, self.limits)
        if self._layout.avatar.w and is_animated(self.spec.avatar):
            assert self.spec.avatar is not None
            self._avatar = _Source.open(self.spec.avatar, self.limits)
        base = self._background or self._avatar
        if base is None or len(base.starts) < 2:
            return 0
        self._times, self._durations = _plan(base, self.limits)
        return len(self._times)

    def frame(self, index: int) -> None:
        """Compose output frame ``index`` (call in order: animated sources decode forward)."""
        spec, layout, t = self.spec, self._layout, self._times[index]
        assert layout is not None, "start() first"
        if self._background is not None:
            moving = self._background.frame(self._background.index_at(t))
            # Bilinear: a moving frame shown for ~50 ms does not need Lanczos, and it is 3x cheaper.
            moving = cover(moving, spec.width, spec.height, Image.Resampling.BILINEAR)
            card = self.renderer.scrimmed(moving, spec.design)
        else:
            card = self.renderer.background(spec).copy()
        if layout.avatar.w:
            if self._avatar is not None:
                face = self._avatar.frame(self._avatar.index_at(t))
                size = (layout.avatar.w, layout.avatar.w)
                disc = self.renderer.shaped(ImageOps.fit(face, size, Image.Resampling.LANCZOS), layout, spec.design)
            else:
                disc = self.renderer.avatar(spec.avatar, layout, spec.design)
            card.paste(disc, (layout.avatar.x, layout.avatar.y), disc)
        self.renderer.overlay(card, spec, layout)
        self.frames.append(card)

    def finish(self) -> bytes:
        """Encode within the limits: fewer frames, then lower quality, then smaller, until it fits."""
        frames, durations, quality = self.frames, self._durations, self.limits.quality
        for _ in range(8):
            data = _encode(frames, durations, quality)
            if len(data) <= self.limits.max_bytes:
                return data
            if len(frames) > 12:
                # Every other frame, each lasting as long as the pair it replaces: the timing is kept.
                frames, durations = frames[::2], [sum(durations[i : i + 2]) for i in range(0, len(durations), 2)]
            elif quality > 50:
                quality -= 15
            else:
                frames = [f.resize((f.width * 3 // 4, f.height * 3 // 4), Image.Resampling.BILINEAR) for f in frames]
        return encode(self.frames[0], "webp")

    def render(self) -> bytes:
        """All steps in this thread (the CLI and tests); the first frame, static, when nothing moves."""
        count = self.start()
        if count == 0:
            return self.renderer.render(self.spec)
        for i in range(count):
            self.frame(i)
        return self.finish()


def _encode(frames: list[Image.Image], durations: list[int], quality: int) -> bytes:
    out = io.BytesIO()
    frames[0].save(
        out,
        format="WEBP",
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=0,
        quality=quality,
        method=0,
    )
    return out.getvalue()
