"""A fixed-window rate limit: ``limit`` events per window of ``period`` seconds. Pure accounting.

The window opens with its first event and resets ``period`` later, whatever happened in between. This is
how Discord counts per-route buckets and the gateway's 120 sends per 60 s; a continuously refilling token
bucket would allow an event too early there.
"""

from __future__ import annotations

__all__ = ["FixedWindow"]


class FixedWindow:
    def __init__(self, limit: int, period: float) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a window needs limit >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self._opened_at: float | None = None
        self._used = 0

    def try_take(self, now: float) -> float:
        """Take one event at ``now`` and return 0, or return how long to wait before trying again."""
        if self._opened_at is None or now >= self._opened_at + self.period:
            self._opened_at = now
            self._used = 0
        if self._used < self.limit:
            self._used += 1
            return 0.0
        return self._opened_at + self.period - now

    def remaining(self, now: float) -> int:
        if self._opened_at is None or now >= self._opened_at + self.period:
            return self.limit
        return self.limit - self._used
