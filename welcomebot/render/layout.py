"""Card geometry and text fitting, as pure math: no Pillow here, so it is tested with plain numbers.

A layout function maps a card size to boxes (the avatar square, one slot per text line, an optional accent
bar). There is one per theme (see ``themes.py``): :func:`centered_layout` (avatar above the text),
:func:`side_layout` (avatar left, text right) and :func:`banner_layout` (a short, wide strip). A hidden avatar
is a zero-size box, and the text takes its room. :func:`fit_text` picks the largest
font size that fits a slot, shrinking to the slot's minimum and then ellipsizing, given a ``measure``
callback that returns a string's width at a size.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "DEFAULT_RING",
    "ELLIPSIS",
    "Align",
    "Box",
    "CardLayout",
    "Fitted",
    "TextSlot",
    "banner_layout",
    "centered_layout",
    "fit_text",
    "side_layout",
]

ELLIPSIS: Final = "…"
#: Ring width in pixels around a 200 px avatar; scaled with the avatar (:func:`ring_width`).
DEFAULT_RING: Final = 7
_RING_REFERENCE: Final = 200
_MIN_W, _MIN_H, _MAX_SIDE = 200, 120, 4096

Align = Literal["center", "left"]


@dataclass(frozen=True, slots=True)
class Box:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True, slots=True)
class TextSlot:
    """A line of text, its baseline at ``baseline``, at most ``max_width`` wide.

    ``center_x`` is where the line is anchored: its centre, or its left edge when ``align`` is "left".
    """

    center_x: int
    baseline: int
    max_width: int
    max_size: int
    min_size: int
    bold: bool
    align: Align = "center"


@dataclass(frozen=True, slots=True)
class CardLayout:
    width: int
    height: int
    avatar: Box
    ring: int
    name: TextSlot
    lines: tuple[TextSlot, ...]
    #: A bar drawn in the accent colour (side and banner themes), None for none.
    accent: Box | None = None


def _check_size(width: int, height: int) -> None:
    if width < _MIN_W or height < _MIN_H:
        raise ValueError(f"card size {width}x{height} is too small (minimum {_MIN_W}x{_MIN_H})")
    if width > _MAX_SIDE or height > _MAX_SIDE:
        raise ValueError(f"card size {width}x{height} is too large (maximum {_MAX_SIDE}x{_MAX_SIDE})")


def ring_width(ring: int, diameter: int) -> int:
    """The ring in pixels for an avatar ``diameter`` wide; ``ring`` is its width around a 200 px avatar."""
    if ring <= 0 or diameter <= 0:
        return 0
    return max(1, round(ring * diameter / _RING_REFERENCE))


def _text_block(
    x: int, top: int, width: int, name_size: int, line_size: int, n_lines: int, align: Align
) -> tuple[TextSlot, tuple[TextSlot, ...]]:
    """The name slot and ``n_lines`` smaller slots under it, the name's cap height starting at ``top``."""
    name_baseline = top + round(name_size * 1.05)
    name = TextSlot(x, name_baseline, width, name_size, max(12, round(name_size * 0.55)), bold=True, align=align)
    lines = tuple(
        TextSlot(
            x,
            name_baseline + round(name_size * 0.25) + (i + 1) * round(line_size * 1.35),
            width,
            line_size,
            max(10, round(line_size * 0.7)),
            bold=False,
            align=align,
        )
        for i in range(n_lines)
    )
    return name, lines


def _text_height(name_size: int, line_size: int, n_lines: int) -> int:
    return round(name_size * 1.3) + n_lines * round(line_size * 1.35)


def centered_layout(
    width: int, height: int, n_lines: int = 2, *, avatar: bool = True, ring: int = DEFAULT_RING
) -> CardLayout:
    """Avatar centred in the upper part, the name under it, then up to ``n_lines`` smaller lines."""
    _check_size(width, height)
    unit = min(height, width * 0.5)
    margin = round(unit * 0.07)
    text_w = width - 2 * round(width * 0.05)
    name_size = round(unit * (0.12 if avatar else 0.15))
    line_size = round(unit * (0.065 if avatar else 0.08))
    gap = round(unit * 0.03)
    text_h = _text_height(name_size, line_size, n_lines)
    if avatar:
        diameter = max(32, height - 2 * margin - text_h - gap)
        diameter = min(diameter, round(unit * 0.42))
    else:
        diameter = gap = 0
    block = diameter + gap + text_h
    top = max(margin, (height - block) // 2)
    cx = width // 2
    name, lines = _text_block(cx, top + diameter + gap, text_w, name_size, line_size, n_lines, "center")
    box = Box(cx - diameter // 2, top, diameter, diameter)
    return CardLayout(width, height, box, max(2, ring_width(ring, diameter)) if ring else 0, name, lines)


def side_layout(
    width: int, height: int, n_lines: int = 2, *, avatar: bool = True, ring: int = DEFAULT_RING
) -> CardLayout:
    """Avatar on the left, vertically centred; the text left-aligned on the right, after an accent bar."""
    _check_size(width, height)
    unit = min(height, width * 0.45)
    margin = round(unit * 0.11)
    diameter = min(round(unit * 0.6), round(width * 0.32)) if avatar else 0
    gap = round(unit * 0.09) if avatar else 0
    bar_w = max(3, round(unit * 0.014))
    text_x = margin + diameter + gap + bar_w + round(unit * 0.05)
    text_w = width - text_x - margin
    name_size = round(unit * 0.14)
    line_size = round(unit * 0.07)
    text_h = _text_height(name_size, line_size, n_lines)
    top = (height - text_h) // 2
    name, lines = _text_block(text_x, top, text_w, name_size, line_size, n_lines, "left")
    box = Box(margin, (height - diameter) // 2, diameter, diameter)
    bar = Box(margin + diameter + gap, top + round(name_size * 0.2), bar_w, text_h - round(name_size * 0.2))
    return CardLayout(width, height, box, ring_width(ring, diameter), name, lines, bar)


def banner_layout(
    width: int, height: int, n_lines: int = 2, *, avatar: bool = True, ring: int = DEFAULT_RING
) -> CardLayout:
    """A compact strip: a small avatar on the left, the name big, the other lines on one or two rows under it,
    and an accent line along the bottom edge."""
    _check_size(width, height)
    unit = min(height, width * 0.3)
    stripe = max(3, round(unit * 0.035))
    inner = height - stripe
    margin = round(unit * 0.12)
    diameter = min(inner - 2 * margin, round(width * 0.25)) if avatar else 0
    gap = round(unit * 0.1) if avatar else 0
    text_x = margin + diameter + gap
    text_w = width - text_x - margin
    name_size = round(unit * 0.2)
    line_size = round(unit * 0.1)
    text_h = _text_height(name_size, line_size, n_lines)
    top = max(round(margin * 0.5), (inner - text_h) // 2)
    name, lines = _text_block(text_x, top, text_w, name_size, line_size, n_lines, "left")
    box = Box(margin, (inner - diameter) // 2, diameter, diameter)
    return CardLayout(width, height, box, ring_width(ring, diameter), name, lines, Box(0, inner, width, stripe))


@dataclass(frozen=True, slots=True)
class Fitted:
    text: str
    size: int
    width: float


def _cut_points(text: str) -> list[int]:
    """Indices where ``text`` may be cut without splitting a cluster (combining mark, ZWJ sequence)."""
    points = []
    for i in range(1, len(text)):
        ch, prev = text[i], text[i - 1]
        if unicodedata.category(ch) in ("Mn", "Mc", "Me") or ch in "\u200c\u200d" or prev == "\u200d":
            continue
        points.append(i)
    return points


def fit_text(text: str, measure: Callable[[str, int], float], max_width: float, max_size: int, min_size: int) -> Fitted:
    """The largest size in ``[min_size, max_size]`` at which ``text`` fits, else ``min_size`` ellipsized.

    Width grows about linearly with size, so one measurement at ``max_size`` predicts the size; a few more
    measurements correct for hinting and rounding.
    """
    if min_size > max_size:
        raise ValueError("min_size must not exceed max_size")
    width = measure(text, max_size)
    if width <= max_width:
        return Fitted(text, max_size, width)
    size = max(min_size, math.floor(max_size * max_width / width))
    width = measure(text, size)
    while width > max_width and size > min_size:
        size = max(min_size, size - max(1, size // 20))
        width = measure(text, size)
    if width <= max_width:
        return Fitted(text, size, width)
    # Ellipsize at min_size: binary search on the cut points for the longest prefix that fits.
    points = _cut_points(text)
    lo, hi = 0, len(points) - 1
    best = Fitted(ELLIPSIS, size, measure(ELLIPSIS, size))
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = text[: points[mid]].rstrip() + ELLIPSIS
        w = measure(candidate, size)
        if w <= max_width:
            best = Fitted(candidate, size, w)
            lo = mid + 1
        else:
            hi = mid - 1
    return best
