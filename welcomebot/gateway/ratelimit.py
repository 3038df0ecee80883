"""The gateway's send limit, 120 payloads per 60 s per connection (events/gateway.mdx, "Rate Limiting").

A token bucket of 120 that refills continuously at 2/s. Heartbeats must never be starved by our own
traffic (a late heartbeat gets the connection closed as a zombie), so ordinary sends leave
:data:`HEARTBEAT_RESERVE` tokens in the bucket and only heartbeats may take them. Pure accounting: ``now``
is passed in; the runner sleeps for what :meth:`SendLimiter.acquire` returns.
"""

from __future__ import annotations

__all__ = ["HEARTBEAT_RESERVE", "SEND_LIMIT", "SEND_WINDOW", "SendLimiter"]

SEND_LIMIT = 120
SEND_WINDOW = 60.0
#: Tokens only heartbeats may use. A 41.25 s interval means at most 2 beats per window; 5 leaves room for op 1.
HEARTBEAT_RESERVE = 5


class SendLimiter:
    def __init__(self, limit: int = SEND_LIMIT, window: float = SEND_WINDOW, reserve: int = HEARTBEAT_RESERVE) -> None:
        if limit < 1 or window <= 0 or not 0 <= reserve < limit:
            raise ValueError("a send limit needs limit >= 1, window > 0 and 0 <= reserve < limit")
        self.limit = limit
        self.rate = limit / window
        self.reserve = reserve
        self._tokens = float(limit)
        self._at: float | None = None

    def tokens(self, now: float) -> float:
        self._refill(now)
        return self._tokens

    def acquire(self, now: float, *, heartbeat: bool = False) -> float:
        """Take a token and return 0, or return how many seconds to wait before asking again."""
        self._refill(now)
        floor = 0 if heartbeat else self.reserve
        if self._tokens - 1 >= floor:
            self._tokens -= 1
            return 0.0
        return (floor + 1 - self._tokens) / self.rate

    def _refill(self, now: float) -> None:
        if self._at is not None and now > self._at:
            self._tokens = min(float(self.limit), self._tokens + (now - self._at) * self.rate)
        if self._at is None or now > self._at:
            self._at = now
