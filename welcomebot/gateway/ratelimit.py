"""The gateway's send limit, 120 payloads per 60 s per connection (events/gateway.mdx, "Rate Limiting").

Heartbeats must never be starved by our own traffic (a late heartbeat gets the connection closed as a
zombie), so ordinary sends leave :data:`HEARTBEAT_RESERVE` of the 120 free and only heartbeats may use them.

Kept as a sliding log of the last send times rather than a refilling token bucket: a bucket of 120 that
refills at 2/s lets up to 240 sends through in the first minute (a full bucket, then the refill), which is
exactly how a client gets disconnected with 4008. With at most 120 timestamps the log is as cheap. Pure:
``now`` is passed in; the runner sleeps for what :meth:`SendLimiter.acquire` returns.
"""

from __future__ import annotations

from collections import deque

__all__ = ["HEARTBEAT_RESERVE", "SEND_LIMIT", "SEND_WINDOW", "SendLimiter"]

SEND_LIMIT = 120
SEND_WINDOW = 60.0
#: Sends only heartbeats may use. A 41.25 s interval means at most 2 beats per window; 5 leaves room for op 1.
HEARTBEAT_RESERVE = 5


class SendLimiter:
    def __init__(self, limit: int = SEND_LIMIT, window: float = SEND_WINDOW, reserve: int = HEARTBEAT_RESERVE) -> None:
        if limit < 1 or window <= 0 or not 0 <= reserve < limit:
            raise ValueError("a send limit needs limit >= 1, window > 0 and 0 <= reserve < limit")
        self.limit = limit
        self.window = window
        self.reserve = reserve
        self._sent: deque[float] = deque()

    def available(self, now: float, *, heartbeat: bool = False) -> int:
        """How many sends of this kind may go out at ``now``."""
        self._expire(now)
        return self.limit - (0 if heartbeat else self.reserve) - len(self._sent)

    def acquire(self, now: float, *, heartbeat: bool = False) -> float:
        """Record a send at ``now`` and return 0, or return how many seconds to wait before asking again."""
        allowed = self.limit - (0 if heartbeat else self.reserve)
        self._expire(now)
        if len(self._sent) < allowed:
            self._sent.append(now)
            return 0.0
        # the send that frees a slot for us is the (len - allowed)-th oldest one
        return self._sent[len(self._sent) - allowed] + self.window - now

    def _expire(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
