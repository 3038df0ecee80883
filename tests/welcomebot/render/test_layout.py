from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welcomebot.render.layout import ELLIPSIS, centered_layout, fit_text


def mono(text: str, size: int) -> float:
    """A fake font: every character is 0.6 em wide."""
    return len(text) * size * 0.6


@pytest.mark.parametrize(("w", "h"), [(1024, 450), (800, 300), (600, 600), (1600, 500)])
def test_layout_inside_card(w, h):
    lay = centered_layout(w, h, 2)
    a = lay.avatar
    assert a.w == a.h
    assert a.x >= 0
    assert a.y >= 0
    assert a.x + a.w <= w
    assert a.y + a.h < lay.name.baseline - lay.name.max_size * 0.7
    prev = lay.name.baseline
    for slot in lay.lines:
        assert slot.baseline > prev
        prev = slot.baseline
    assert prev <= h
    assert lay.name.max_width < w
    assert lay.name.min_size < lay.name.max_size


def test_too_small_or_large_card_refused():
    with pytest.raises(ValueError, match="too small"):
        centered_layout(100, 50)
    with pytest.raises(ValueError, match="too large"):
        centered_layout(5000, 450)


def test_short_text_keeps_max_size():
    f = fit_text("Ann", mono, 500, 50, 20)
    assert (f.text, f.size) == ("Ann", 50)


def test_medium_text_shrinks_but_fits():
    text = "x" * 20  # 600 px at 50
    f = fit_text(text, mono, 500, 50, 20)
    assert f.text == text
    assert 20 <= f.size < 50
    assert f.width <= 500
    assert mono(text, f.size + 1) > 500 or f.size == 50


def test_long_text_ellipsizes_at_min_size():
    text = "y" * 200
    f = fit_text(text, mono, 500, 50, 20)
    assert f.size == 20
    assert f.text.endswith(ELLIPSIS)
    assert f.width <= 500
    assert mono(f.text[:-1] + "y" + ELLIPSIS, 20) > 500  # it is the longest prefix that fits


def test_ellipsis_does_not_split_clusters():
    text = "e\u0301" * 100  # e + combining acute
    f = fit_text(text, mono, 300, 30, 20)
    body = f.text[: -len(ELLIPSIS)]
    assert body.endswith("\u0301")


def test_min_above_max_refused():
    with pytest.raises(ValueError, match="min_size"):
        fit_text("a", mono, 10, 10, 20)


@given(
    text=st.text(alphabet=st.sampled_from("abc XYZ\u0301\u200d"), min_size=1, max_size=120),
    max_width=st.integers(40, 900),
    max_size=st.integers(20, 80),
)
def test_fit_text_always_fits_or_is_min_size(text, max_width, max_size):
    min_size = max(10, max_size // 2)
    f = fit_text(text, mono, max_width, max_size, min_size)
    assert min_size <= f.size <= max_size
    if f.text == text:
        assert f.width <= max_width
    else:
        assert f.size == min_size
        assert f.text.endswith(ELLIPSIS)
        assert f.width <= max_width or f.text == ELLIPSIS
        assert text.startswith(f.text[: -len(ELLIPSIS)])
