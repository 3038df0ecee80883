"""Rate accounting: a continuously refilling token bucket, a sliding window, and an async ``take``.

All classes are pure (``now`` passed in) and answer ``try_take(now) -> seconds to wait`` (0 = taken).
Which to use: Discord's per-channel "5 per 5 s" is a FIXED window that opens with the first message and
resets ``period`` later: :class:`actors.FixedWindow` models it exactly. :class:`SlidingWindow` never lets
more than ``limit`` events into ANY ``period``-long span (stricter: no 2*limit burst across a window edge).
:class:`TokenBucket` allows a burst of ``capacity`` then a steady rate, which models neither exactly::

    bucket = TokenBucket(capacity=5, refill_per_second=1.0)
    await take(bucket)   # sleeps on trio.current_time() until a token is there
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import trio

__all__ = ["RateLimit", "SlidingWindow", "TokenBucket", "take"]


class RateLimit(Protocol):
    def try_take(self, now: float) -> float: ...


class TokenBucket:
    def __init__(self, capacity: float, refill_per_second: float, *, now: float | None = None) -> None:
        if capacity < 1 or refill_per_second <= 0:
            raise ValueError("a token bucket needs capacity >= 1 and refill_per_second > 0")
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        self.tokens = float(capacity)
        self._stamp = now

    def _refill(self, now: float) -> None:
        if self._stamp is not None and now > self._stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self._stamp) * self.refill_per_second)
        if self._stamp is None or now > self._stamp:
            self._stamp = now

    def try_take(self, now: float, n: float = 1.0) -> float:
        """Take ``n`` tokens and return 0, or return the seconds until ``n`` tokens will be there."""
        if n > self.capacity:
            raise ValueError(f"cannot take {n} tokens from a bucket of {self.capacity}")
        self._refill(now)
        if self.tokens >= n:
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / self.refill_per_second


class SlidingWindow:
    """At most ``limit`` events in any half-open span of ``period`` seconds."""

    def __init__(self, limit: int, period: float) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a window needs limit >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self._events: deque[float] = deque()

    def try_take(self, now: float) -> float:
        while self._events and self._events[0] <= now - self.period:
            self._events.popleft()
        if len(self._events) < self.limit:
            self._events.append(now)
            return 0.0
        return self._events[0] + self.period - now


async def take(limit: RateLimit) -> None:
    """Wait (on ``trio.current_time()``) until ``limit`` lets one event through, then take it."""
    while True:
        wait = limit.try_take(trio.current_time())
        if wait <= 0:
            return
        await trio.sleep(wait)
