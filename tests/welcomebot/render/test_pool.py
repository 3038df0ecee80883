from __future__ import annotations

import io

import pytest
import trio
from PIL import Image

from welcomebot.render import CardSpec, Renderer, RenderPool, TemplateError


async def test_pool_renders_many_cards_from_trio(renderer: Renderer):
    pool = RenderPool(renderer, threads=2)
    assert pool.limiter.total_tokens == 2
    results: dict[int, bytes] = {}

    async def one(i: int) -> None:
        results[i] = await pool.render(CardSpec(name=f"Member {i}", member_count=i, format="png"))

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for i in range(6):
                nursery.start_soon(one, i)
    assert pool.limiter.borrowed_tokens == 0
    assert len(results) == 6
    assert len(set(results.values())) == 6  # each card has its own name
    for data in results.values():
        with Image.open(io.BytesIO(data)) as card:
            assert card.size == (1024, 450)


async def test_pool_raises_render_errors(renderer: Renderer):
    with trio.fail_after(60), pytest.raises(TemplateError):
        await RenderPool(renderer, threads=1).render(CardSpec(name="x", lines=("{nope}",)))
