"""Exponential backoff with full jitter, as a pure iterator (randomness injected, no sleeping).

Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): each delay is
``uniform(0, min(cap, base * factor**n))``, which spreads a herd of shards reconnecting after an outage.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

__all__ = ["ExponentialBackoff"]


class ExponentialBackoff(Iterator[float]):
    """``next()`` gives the next delay in seconds; :meth:`reset` starts over after a success."""

    def __init__(
        self, base: float = 1.0, factor: float = 2.0, cap: float = 60.0, *, rng: random.Random | None = None
    ) -> None:
        if base <= 0 or factor < 1 or cap < base:
            raise ValueError("backoff needs base > 0, factor >= 1 and cap >= base")
        self.base = base
        self.factor = factor
        self.cap = cap
        self._rng = rng or random.Random()
        self.tries = 0

    def ceiling(self) -> float:
        """The largest delay the next ``next()`` can return."""
        return min(self.cap, self.base * self.factor ** min(self.tries, 64))

    def __next__(self) -> float:
        ceiling = self.ceiling()
        self.tries += 1
        return self._rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.tries = 0
