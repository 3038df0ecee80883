"""Admin-image decodes share a byte budget: never more than its capacity held at once, in arrival order."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from PIL import Image

from welcomebot.images import (
    DEFAULT_DECODE_BUDGET,
    DecodeBudget,
    FetchPolicy,
    ImageRejected,
    decode_cost,
    normalize_within,
)
from welcomebot.images.testing import png_header_only
from welcomebot.images.validate import _reduce
from welcomebot.render.testing import busy_photo, image_bytes


async def test_holds_never_exceed_the_capacity_and_are_admitted_in_order():
    budget = DecodeBudget(100)
    admitted: list[str] = []
    release = {name: trio.Event() for name in "abcd"}

    async def decode(name: str, cost: int) -> None:
        async with budget.hold(cost):
            admitted.append(name)
            assert budget.held <= budget.capacity
            await release[name].wait()

    async with trio.open_nursery() as nursery:
        for name, cost in [("a", 60), ("b", 60), ("c", 10), ("d", 30)]:
            nursery.start_soon(decode, name, cost)
            await trio.testing.wait_all_tasks_blocked()
        assert admitted == ["a"], "b does not fit beside a; c and d wait behind b instead of overtaking it"
        release["a"].set()
        await trio.testing.wait_all_tasks_blocked()
        assert sorted(admitted) == ["a", "b", "c", "d"], "b, c and d fit together once a is done"
        assert budget.held == 100
        for event in release.values():
            event.set()
    assert (budget.held, budget.peak) == (0, 100)


async def test_a_decode_bigger_than_the_budget_runs_alone():
    budget = DecodeBudget(100)
    inside = trio.Event()
    done = trio.Event()

    async def big() -> None:
        async with budget.hold(500):
            inside.set()
            await done.wait()

    async def small() -> None:
        async with budget.hold(1):
            pass

    async with trio.open_nursery() as nursery:
        nursery.start_soon(big)
        await inside.wait()
        nursery.start_soon(small)
        await trio.testing.wait_all_tasks_blocked()
        assert budget.held == 100, "counted as the whole budget, so nothing runs beside it"
        done.set()
    assert budget.peak == 100


async def test_a_cancelled_waiter_lets_the_next_one_in():
    budget = DecodeBudget(100)
    admitted: list[str] = []
    release = trio.Event()

    async def decode(name: str, cost: int) -> None:
        async with budget.hold(cost):
            admitted.append(name)
            await release.wait()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(decode, "a", 50)
        await trio.testing.wait_all_tasks_blocked()
        async with trio.open_nursery() as waiting:
            waiting.start_soon(decode, "b", 100)  # waits for a, and c waits behind it
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(decode, "c", 40)
            await trio.testing.wait_all_tasks_blocked()
            assert admitted == ["a"]
            waiting.cancel_scope.cancel()  # the admin gave up on b
        await trio.testing.wait_all_tasks_blocked()
        assert admitted == ["a", "c"]
        release.set()
    assert (budget.held, budget.peak) == (0, 90)


async def test_concurrent_uploads_are_decoded_within_the_budget():
    policy = FetchPolicy(max_output_pixels=256 * 256)
    data = image_bytes(busy_photo(1200, 900).convert("RGBA"), "PNG")
    cost = decode_cost(data, policy)
    assert cost >= 1200 * 900 * 4, "at least the decoded RGBA frame"
    budget = DecodeBudget(cost)  # room for exactly one at a time
    sizes: list[tuple[int, int]] = []

    async def upload() -> None:
        image = await normalize_within(data, policy, budget)
        sizes.append((image.width, image.height))

    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(upload)
    assert len(sizes) == 4
    assert budget.peak == cost, "the four ran one at a time"
    assert budget.held == 0


def test_the_default_budget_admits_one_40_megapixel_upload():
    cost = decode_cost(png_header_only(6300, 6300), FetchPolicy())
    assert 6300 * 6300 * 4 < cost <= DEFAULT_DECODE_BUDGET
    assert 2 * cost > DEFAULT_DECODE_BUDGET, "a second one waits"


async def test_a_decompression_bomb_is_refused_clearly_and_holds_nothing():
    budget = DecodeBudget()
    bomb = png_header_only(100_000, 100_000)
    assert decode_cost(bomb, FetchPolicy()) == 0, "refused from the header, before any pixel is decoded"
    with pytest.raises(ImageRejected, match=r"above the limit of 40 megapixels; upload a smaller one"):
        await normalize_within(bomb, FetchPolicy(), budget)
    assert (budget.held, budget.peak) == (0, 0)


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L"])
@pytest.mark.parametrize("factor", [2, 3, 7])
def test_reducing_in_bands_gives_the_pixels_reduce_gives(mode, factor):
    image = busy_photo(1001, 777).convert(mode)
    expected = image.reduce(factor)
    reduced = _reduce(image, factor)
    assert reduced.size == expected.size
    assert reduced.tobytes() == expected.tobytes()
    assert isinstance(reduced, Image.Image)
