"""Golden cards, compared with a tolerance (FreeType/libwebp versions may move a pixel, not a layout).

Regenerate after an intended change with ``WELCOMEBOT_UPDATE_GOLDEN=1 .venv/bin/pytest tests/welcomebot/render``
and look at the PNGs before committing them. Goldens are stored at half size to keep the repository small.
"""

from __future__ import annotations

import io
import os
from functools import cache
from pathlib import Path

import pytest
from PIL import Image

from welcomebot.render import CardSpec, Renderer
from welcomebot.render.testing import (
    GOLDEN_MAX_BAD_PIXELS,
    GOLDEN_MAX_MEAN_DIFF,
    busy_photo,
    compare_golden,
    dark_background,
    image_bytes,
    image_diff,
    light_background,
    sample_avatar,
)

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("WELCOMEBOT_UPDATE_GOLDEN") == "1"


@cache
def backgrounds() -> dict[str, bytes | None]:
    return {
        "dark": image_bytes(dark_background()),
        "light": image_bytes(light_background()),
        "busy": image_bytes(busy_photo(), "JPEG", quality=90),
        "default": None,
    }


@cache
def animated_avatar() -> bytes:
    frames = [sample_avatar(128, seed=s).convert("RGB") for s in (5, 6, 7)]
    return image_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)


CASES = {
    "latin_dark": ("Alice Wonder", "dark", "png-avatar"),
    "latin_light": ("Alice Wonder", "light", "png-avatar"),
    "cjk_light": ("山田太郎 김민준", "light", "png-avatar"),
    "arabic_busy": ("محمد علي الأحمد", "busy", "png-avatar"),
    "hebrew_mixed_dark": ("Ben שלום 🎉", "dark", "png-avatar"),
    "emoji_dark": ("🌸 Sakura さくら ✨👍🏽", "dark", "png-avatar"),
    "long_name_busy": ("The Extraordinarily Long Display Name Of Someone Who Loves Typing", "busy", "png-avatar"),
    "missing_avatar_default": ("Nobody", "default", "none"),
    "animated_avatar_light": ("Gif Person", "light", "gif-avatar"),
}


def spec_for(case: str) -> CardSpec:
    name, background, avatar = CASES[case]
    avatar_data = {"png-avatar": image_bytes(sample_avatar()), "gif-avatar": animated_avatar(), "none": None}[avatar]
    return CardSpec(
        name=name,
        server="Trio Lovers",
        member_count=1234,
        avatar=avatar_data,
        background=backgrounds()[background],
        format="png",
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(renderer: Renderer, case: str):
    data = renderer.render(spec_for(case))
    card = Image.open(io.BytesIO(data))
    assert card.size == (1024, 450)
    problem = compare_golden(card, GOLDEN / f"{case}.png", update=UPDATE)
    assert problem is None, problem


def test_golden_comparison_can_fail(renderer: Renderer):
    """A different name must break the comparison, or the golden tests prove nothing."""
    spec = spec_for("latin_dark")
    other = CardSpec(**{**{f: getattr(spec, f) for f in spec.__slots__}, "name": "Bob Different"})
    a = Image.open(io.BytesIO(renderer.render(spec))).convert("RGB").resize((512, 225), Image.Resampling.BOX)
    b = Image.open(io.BytesIO(renderer.render(other))).convert("RGB").resize((512, 225), Image.Resampling.BOX)
    mean, bad = image_diff(a, b)
    assert mean > GOLDEN_MAX_MEAN_DIFF or bad > GOLDEN_MAX_BAD_PIXELS
