"""A name FreeType cannot rasterise (U+FDFD in bold Noto Sans Arabic: "raster overflow") still gets a card."""

from __future__ import annotations

import io

import pytest
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
