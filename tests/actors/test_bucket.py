from __future__ import annotations

import pytest
import trio
import trio.testing

from actors import ExponentialBackoff, FixedWindow, SlidingWindow, TokenBucket, take


def test_token_bucket_burst_then_steady_rate() -> None:
    bucket = TokenBucket(capacity=3, refill_per_second=2.0, now=0.0)
    assert [bucket.try_take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_take(0.0) == pytest.approx(0.5)
    assert bucket.try_take(0.25) == pytest.approx(0.25)
    assert bucket.try_take(0.5) == 0.0
    assert bucket.try_take(100.0) == 0.0
    assert bucket.tokens == pytest.approx(2.0)  # refilled to capacity, not beyond


def test_token_bucket_multi_token_take_and_validation() -> None:
    bucket = TokenBucket(capacity=4, refill_per_second=1.0, now=0.0)
    assert bucket.try_take(0.0, 3) == 0.0
    assert bucket.try_take(0.0, 3) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="cannot take"):
        bucket.try_take(0.0, 5)
    with pytest.raises(ValueError, match="capacity"):
        TokenBucket(capacity=0, refill_per_second=1.0)


def test_token_bucket_ignores_time_going_backwards() -> None:
    bucket = TokenBucket(capacity=1, refill_per_second=1.0, now=10.0)
    assert bucket.try_take(10.0) == 0.0
    assert bucket.try_take(5.0) > 0
    assert bucket.try_take(11.0) == 0.0


def test_sliding_window_never_allows_more_than_limit_in_any_period() -> None:
    window = SlidingWindow(limit=5, period=5.0)
    assert all(window.try_take(4.9) == 0.0 for _ in range(5))
    assert window.try_take(5.0) == pytest.approx(4.9)
    assert window.try_take(9.9) == 0.0


def test_fixed_window_allows_a_burst_at_the_edge_that_sliding_does_not() -> None:
    fixed, sliding = FixedWindow(5, 5.0), SlidingWindow(5, 5.0)
    for limit in (fixed, sliding):
        assert limit.try_take(0.0) == 0.0
        for _ in range(4):
            assert limit.try_take(4.9) == 0.0
    assert fixed.try_take(5.0) == 0.0  # the window reset 5 s after its FIRST message...
    assert fixed.try_take(5.0) == 0.0  # ...so 6 events fit in [4.9, 5.0]
    assert sliding.try_take(5.0) == 0.0  # only the event at 0.0 left the last 5 s
    assert sliding.try_take(5.0) == pytest.approx(4.9)


async def test_async_take_sleeps_until_a_token_is_there(autojump_clock: trio.testing.MockClock) -> None:
    bucket = TokenBucket(capacity=2, refill_per_second=1.0, now=trio.current_time())
    start = trio.current_time()
    stamps = []
    for _ in range(5):
        await take(bucket)
        stamps.append(trio.current_time() - start)
    assert stamps == pytest.approx([0, 0, 1, 2, 3])


async def test_async_take_on_a_fixed_window(autojump_clock: trio.testing.MockClock) -> None:
    window = FixedWindow(2, 5.0)
    start = trio.current_time()
    stamps = []
    for _ in range(5):
        await take(window)
        stamps.append(trio.current_time() - start)
    assert stamps == pytest.approx([0, 0, 5, 5, 10])


def test_backoff_full_jitter_bounds_and_reset() -> None:
    import random

    backoff = ExponentialBackoff(1.0, 2.0, 8.0, max_tries=6, rng=random.Random(3))
    delays = list(backoff)
    assert len(delays) == 6
    for n, delay in enumerate(delays):
        assert 0 <= delay <= min(8.0, 2.0**n)
    backoff.reset()
    assert next(backoff) <= 1.0


def test_token_bucket_first_take_without_a_start_time_is_full() -> None:
    bucket = TokenBucket(capacity=2, refill_per_second=1.0)
    assert bucket.try_take(1000.0) == 0.0
    assert bucket.try_take(1000.0) == 0.0
    assert bucket.try_take(1000.0) == pytest.approx(1.0)


def test_windows_and_backoff_validate_arguments() -> None:
    with pytest.raises(ValueError, match="limit"):
        SlidingWindow(0, 1.0)
    with pytest.raises(ValueError, match="limit"):
        FixedWindow(1, 0)
    with pytest.raises(ValueError, match="base"):
        ExponentialBackoff(base=0)
