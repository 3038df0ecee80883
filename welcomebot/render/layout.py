"""Card geometry and text fitting, as pure math: no Pillow here, so it is tested with plain numbers.

A layout function maps a card size to boxes (the avatar square, one slot per text line). Only the centred
layout exists now; themes (issue 14) add more functions of the same shape. :func:`fit_text` picks the largest
font size that fits a slot, shrinking to the slot's minimum and then ellipsizing, given a ``measure``
callback that returns a string's width at a size.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["ELLIPSIS", "Box", "CardLayout", "Fitted", "TextSlot", "centered_layout", "fit_text"]

ELLIPSIS: Final = "…"


@dataclass(frozen=True, slots=True)
class Box:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True, slots=True)
class TextSlot:
    """A line of text: centred on ``center_x``, its baseline at ``baseline``, at most ``max_width`` wide."""

    center_x: int
    baseline: int
    max_width: int
    max_size: int
    min_size: int
    bold: bool


@dataclass(frozen=True, slots=True)
class CardLayout:
    width: int
    height: int
    avatar: Box
    ring: int
    name: TextSlot
    lines: tuple[TextSlot, ...]


def centered_layout(width: int, height: int, n_lines: int = 2) -> CardLayout:
    """Avatar centred in the upper part, the name under it, then up to ``n_lines`` smaller lines."""
    if width < 200 or height < 120:
        raise ValueError(f"card size {width}x{height} is too small (minimum 200x120)")
    if width > 4096 or height > 4096:
        raise ValueError(f"card size {width}x{height} is too large (maximum 4096x4096)")
    unit = min(height, width * 0.5)
    margin = round(unit * 0.07)
    text_w = width - 2 * round(width * 0.05)
    name_size = round(unit * 0.12)
    line_size = round(unit * 0.065)
    gap = round(unit * 0.03)
    lines_h = n_lines * round(line_size * 1.35)
    diameter = max(32, height - 2 * margin - round(name_size * 1.3) - lines_h - gap)
    diameter = min(diameter, round(unit * 0.42))
    block = diameter + gap + round(name_size * 1.3) + lines_h
    top = max(margin, (height - block) // 2)
    cx = width // 2
    avatar = Box(cx - diameter // 2, top, diameter, diameter)
    name_baseline = top + diameter + gap + round(name_size * 1.05)
    name = TextSlot(cx, name_baseline, text_w, name_size, max(12, round(name_size * 0.55)), bold=True)
    lines = tuple(
        TextSlot(
            cx,
            name_baseline + round(name_size * 0.25) + (i + 1) * round(line_size * 1.35),
            text_w,
            line_size,
            max(10, round(line_size * 0.7)),
            bold=False,
        )
        for i in range(n_lines)
    )
    return CardLayout(width, height, avatar, max(2, round(diameter * 0.035)), name, lines)


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
