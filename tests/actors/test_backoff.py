"""Exponential backoff with full jitter: bounded, growing ceilings, reset."""

import random

import pytest

from actors import ExponentialBackoff


def test_full_jitter_under_a_growing_ceiling_capped_at_60() -> None:
    backoff = ExponentialBackoff(1.0, 2.0, 60.0, rng=random.Random(4))
    ceilings = []
    for _ in range(12):
        ceiling = backoff.ceiling()
        delay = next(backoff)
        assert 0 <= delay <= ceiling
        ceilings.append(ceiling)
    assert ceilings == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60]


def test_jitter_spreads_delays() -> None:
    delays = set()
    for seed in range(20):
        backoff = ExponentialBackoff(rng=random.Random(seed))
        for _ in range(5):
            next(backoff)
        delays.add(round(next(backoff), 3))
    assert len(delays) == 20


def test_reset_starts_over_and_huge_counts_do_not_overflow() -> None:
    backoff = ExponentialBackoff(rng=random.Random(0))
    for _ in range(5000):
        next(backoff)
    assert backoff.ceiling() == 60
    backoff.reset()
    assert backoff.ceiling() == 1


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="backoff"):
        ExponentialBackoff(0.0)
    with pytest.raises(ValueError, match="backoff"):
        ExponentialBackoff(2.0, cap=1.0)
