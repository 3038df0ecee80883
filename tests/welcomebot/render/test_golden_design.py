"""Golden cards for the design options: every theme x avatar shape, on a light and a dark background.

Same mechanism and tolerance as test_golden.py (regenerate with WELCOMEBOT_UPDATE_GOLDEN=1 and review).
The light case is a light design (dark text, no scrim, coloured accent) on a light uploaded image; the dark
case is the default colours on a dark one. Built-in backgrounds get one contact sheet.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest
from PIL import Image

from welcomebot.render import CardSpec, Renderer
from welcomebot.render.backgrounds import Builtin
from welcomebot.render.design import BuiltinBackground, CardDesign
from welcomebot.render.shapes import Shape
from welcomebot.render.testing import compare_golden, dark_background, image_bytes, light_background, sample_avatar
from welcomebot.render.themes import THEME_SIZES, Theme

GOLDEN = Path(__file__).parent / "golden" / "design"
UPDATE = os.environ.get("WELCOMEBOT_UPDATE_GOLDEN") == "1"


@cache
def inputs() -> dict[str, bytes]:
    return {
        "light": image_bytes(light_background()),
        "dark": image_bytes(dark_background()),
        "avatar": image_bytes(sample_avatar()),
    }


def design_for(theme: Theme, shape: Shape, tone: str) -> CardDesign:
    if tone == "light":
        return CardDesign(theme=theme, shape=shape, text_color="#1a1a2e", accent_color="#5865f2", scrim=0, ring=5)
    return CardDesign(theme=theme, shape=shape, accent_color="#ffcc00" if theme is not Theme.CENTERED else "#ffffff")


def check(renderer: Renderer, size: tuple[int, int], design: CardDesign, golden: str, tone: str | None = None):
    """Render Alice's card at ``size`` with ``design`` (on the ``tone`` image, if any) against ``golden``."""
    spec = CardSpec(
        name="Alice Wonder 🌸",
        server="Trio Lovers",
        member_count=1234,
        avatar=inputs()["avatar"],
        background=None if tone is None else inputs()[tone],
        background_key=tone,
        width=size[0],
        height=size[1],
        design=design,
    )
    card = renderer.compose(spec)
    assert card.size == size
    problem = compare_golden(card, GOLDEN / f"{golden}.png", update=UPDATE)
    assert problem is None, problem


@pytest.mark.parametrize("tone", ["light", "dark"])
@pytest.mark.parametrize("shape", list(Shape))
@pytest.mark.parametrize("theme", list(Theme))
def test_theme_shape_golden(renderer: Renderer, theme: Theme, shape: Shape, tone: str):
    check(renderer, THEME_SIZES[theme], design_for(theme, shape, tone), f"{theme.value}_{shape.value}_{tone}", tone)


def test_builtin_backgrounds_golden(renderer: Renderer):
    """All built-ins on one sheet (each a small centred card), so a change to any generator shows."""
    tiles = [
        renderer.compose(
            CardSpec(
                name=name.value, lines=(), width=400, height=176, design=CardDesign(background=BuiltinBackground(name))
            )
        )
        for name in Builtin
    ]
    sheet = Image.new("RGB", (400 * 4, 176 * ((len(tiles) + 3) // 4)))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, (400 * (i % 4), 176 * (i // 4)))
    problem = compare_golden(sheet, GOLDEN / "builtins.png", scale=4, update=UPDATE)
    assert problem is None, problem


OTHER_SIZES = {Theme.CENTERED: (800, 300), Theme.SIDE: (1280, 500), Theme.BANNER: (800, 200)}


@pytest.mark.parametrize("theme", list(Theme))
def test_theme_at_another_size_golden(renderer: Renderer, theme: Theme):
    """Each theme away from its natural size (wider, smaller): the layout scales, nothing is cut off."""
    design = CardDesign(theme=theme, background=BuiltinBackground(Builtin.SUNSET), accent_color="#ffcc00")
    width, height = OTHER_SIZES[theme]
    check(renderer, (width, height), design, f"{theme.value}_{width}x{height}")
