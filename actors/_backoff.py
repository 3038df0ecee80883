"""Exponential backoff with full jitter, as a pure iterator (randomness injected, no sleeping)."""

from __future__ import annotations

import random
from collections.abc import Iterator

__all__ = ["ExponentialBackoff"]


class ExponentialBackoff(Iterator[float]):
    """Delays ``uniform(0, min(cap, base * factor**n))``: full jitter spreads a herd of reconnects.

    ``next()`` gives the next delay; :meth:`reset` starts over after a success. With ``max_tries`` the
    iterator stops (``StopIteration``) once that many delays were handed out.
    """

    def __init__(
        self,
        base: float = 1.0,
        factor: float = 2.0,
        cap: float = 60.0,
        *,
        max_tries: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if base <= 0 or factor < 1 or cap < base:
            raise ValueError("backoff needs base > 0, factor >= 1 and cap >= base")
        self.base = base
        self.factor = factor
        self.cap = cap
        self.max_tries = max_tries
        self._rng = rng or random.Random()
        self.tries = 0

    def ceiling(self) -> float:
        """The largest delay the next ``next()`` can return."""
        return min(self.cap, self.base * self.factor ** min(self.tries, 64))  # the min keeps floats finite

    def __next__(self) -> float:
        if self.max_tries is not None and self.tries >= self.max_tries:
            raise StopIteration
        ceiling = self.ceiling()
        self.tries += 1
        return self._rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.tries = 0
