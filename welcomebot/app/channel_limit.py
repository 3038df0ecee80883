"""The per-channel welcome limit, mirroring Discord's message bucket: 5 messages per 5 s per channel.

Discord's window is fixed: it starts with the first message and resets ``period`` seconds later, whatever
happened in between (``X-RateLimit-Reset-After`` counts down from the first request). A token bucket
that refills continuously would allow a sixth message too early and earn a 429, so this is a fixed
window. :class:`FixedWindow` is the sans-IO accounting; :class:`ChannelTurns` is the trio waiter.
"""

from __future__ import annotations

import trio

__all__ = ["ChannelTurns", "FixedWindow"]


class FixedWindow:
    """``limit`` events per window of ``period`` seconds, the window opening at its first event."""

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


class ChannelTurns:
    """One :class:`FixedWindow` per channel; ``await turns.turn(channel_id)`` waits for a free slot.

    A margin is added to every window so that our clock and Discord's never disagree about a reset.
    """

    def __init__(self, limit: int = 5, period: float = 5.0, margin: float = 0.25) -> None:
        self._limit = limit
        self._period = period + margin
        self._windows: dict[int, FixedWindow] = {}

    async def turn(self, channel_id: int) -> None:
        window = self._windows.get(channel_id)
        if window is None:
            window = self._windows[channel_id] = FixedWindow(self._limit, self._period)
        wait = window.try_take(trio.current_time())
        while wait > 0:
            await trio.sleep(wait)
            wait = window.try_take(trio.current_time())

    def forget(self, channel_id: int) -> None:
        """Drop a channel's window (its guild actor was evicted)."""
        self._windows.pop(channel_id, None)
