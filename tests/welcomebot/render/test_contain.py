"""A name FreeType cannot rasterise (U+FDFD in bold Noto Sans Arabic: "raster overflow") still gets a card."""

from __future__ import annotations

import io
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from welcomebot.render import CardDesign, CardSpec, Renderer, Shape, Theme


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize("theme", list(Theme))
@pytest.mark.parametrize("shape", list(Shape))
def test_bismillah_name_renders_a_card(renderer: Renderer, theme: Theme, shape: Shape) -> None:
    spec = CardSpec(name="Ada \ufdfd", server="Cozy \ufdfd", design=CardDesign(theme=theme, shape=shape))
    image = Image.open(io.BytesIO(renderer.render(spec)))
    assert image.size == (spec.width, spec.height)
    assert renderer.run_fallbacks > 0  # the run FreeType refused was counted, not raised (lines are cached)


_ASSIGNED = [cp for cp in range(0x110000) if unicodedata.category(chr(cp)) not in ("Cn", "Cs", "Co")]
_NAMES = st.text(
    st.one_of(
        st.sampled_from(_ASSIGNED).map(chr),
        st.sampled_from(["\u200d", "\u200c", "\u202e", "\u2067", "\u0301", "\ufdfd", "\U0001f469", "\U0001f3fd"]),
    ),
    max_size=64,  # Discord allows 32; the renderer must not care
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_NAMES, theme=st.sampled_from(list(Theme)), shape=st.sampled_from(list(Shape)))
def test_any_name_renders_in_any_theme_and_shape(renderer: Renderer, name: str, theme: Theme, shape: Shape) -> None:
    spec = CardSpec(name=name, server=name[:16], design=CardDesign(theme=theme, shape=shape))
    assert Image.open(io.BytesIO(renderer.render(spec))).size == (spec.width, spec.height)


@pytest.mark.slow
@pytest.mark.parametrize("bold", [True, False])
def test_every_assigned_code_point_draws(renderer: Renderer, bold: bool) -> None:
    # Batched: one line image per 64 code points, at the name's size, so the pass takes seconds, not hours.
    drawer = renderer.text
    canvas = Image.new("RGBA", (4096, 128))
    for start in range(0, len(_ASSIGNED), 64):
        text = "".join(chr(cp) for cp in _ASSIGNED[start : start + 64])
        runs, widths = drawer.shape(text, 40, bold=bold)
        drawer.draw(canvas, 0, 90, runs, 40, fill=(255, 255, 255), bold=bold, widths=widths)
