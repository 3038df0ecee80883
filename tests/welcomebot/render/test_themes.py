"""Theme layouts as plain numbers: everything inside the card, the avatar clear of the text, at many sizes."""

from __future__ import annotations

import itertools

import pytest

from welcomebot.render.layout import Box, CardLayout, TextSlot, ring_width
from welcomebot.render.themes import THEME_SIZES, Theme, layout_for

SIZES = [(1024, 450), (1024, 400), (1024, 256), (800, 300), (600, 600), (1600, 500), (1920, 1080)]


def text_box(slot: TextSlot) -> Box:
    """The box a line can cover: max_width wide, from cap height (~0.75 em) to the descenders (~0.25 em)."""
    left = slot.center_x if slot.align == "left" else slot.center_x - slot.max_width // 2
    top = slot.baseline - round(slot.max_size * 0.75)
    return Box(left, top, slot.max_width, round(slot.max_size * 1.0))


def overlaps(a: Box, b: Box) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def inside(box: Box, lay: CardLayout) -> bool:
    return box.x >= 0 and box.y >= 0 and box.x + box.w <= lay.width and box.y + box.h <= lay.height


@pytest.mark.parametrize("theme", list(Theme))
@pytest.mark.parametrize(("w", "h"), SIZES)
@pytest.mark.parametrize("avatar", [True, False])
def test_everything_inside_and_apart(theme, w, h, avatar):
    lay = layout_for(theme)(w, h, 2, avatar=avatar)
    slots = [lay.name, *lay.lines]
    boxes = [text_box(s) for s in slots]
    for box in boxes:
        assert inside(box, lay), (theme, box)
    for upper, lower in itertools.pairwise(slots):
        assert lower.baseline - lower.max_size * 0.75 >= upper.baseline, "lines must not overlap"
    assert lay.name.max_size > lay.lines[0].max_size
    if avatar:
        assert lay.avatar.w == lay.avatar.h > 0
        assert inside(lay.avatar, lay)
        assert not any(overlaps(lay.avatar, b) for b in boxes)
    else:
        assert lay.avatar.w == 0
    if lay.accent is not None:
        assert inside(lay.accent, lay)
        assert not any(overlaps(lay.accent, b) for b in boxes)


@pytest.mark.parametrize("theme", list(Theme))
def test_hidden_avatar_gives_the_text_room(theme):
    w, h = THEME_SIZES[theme]
    shown = layout_for(theme)(w, h, 2)
    hidden = layout_for(theme)(w, h, 2, avatar=False)
    assert hidden.name.max_width >= shown.name.max_width
    assert hidden.name.max_size >= shown.name.max_size


def test_side_and_banner_put_the_avatar_left_of_left_aligned_text():
    for theme in (Theme.SIDE, Theme.BANNER):
        lay = layout_for(theme)(*THEME_SIZES[theme], 2)
        assert lay.name.align == "left"
        assert lay.avatar.x + lay.avatar.w < lay.name.center_x
        assert lay.accent is not None
    centered = layout_for(Theme.CENTERED)(1024, 450, 2)
    assert centered.name.align == "center"
    assert centered.avatar.y + centered.avatar.h < centered.name.baseline - centered.name.max_size * 0.7


def test_ring_scales_with_the_avatar():
    assert ring_width(7, 200) == 7
    assert ring_width(7, 100) == 4
    assert ring_width(0, 200) == 0
    assert ring_width(1, 20) == 1  # never rounds a requested ring away
    thin = layout_for(Theme.SIDE)(1024, 400, 2, ring=2)
    thick = layout_for(Theme.SIDE)(1024, 400, 2, ring=12)
    assert 0 < thin.ring < thick.ring


@pytest.mark.parametrize("theme", list(Theme))
def test_sizes_out_of_range_refused(theme):
    with pytest.raises(ValueError, match="too small"):
        layout_for(theme)(150, 100)
    with pytest.raises(ValueError, match="too large"):
        layout_for(theme)(5000, 450)
