"""The per-channel welcome limit, mirroring Discord's message bucket: 5 messages per 5 s per channel.

Discord's window is fixed: it starts with the first message and resets ``period`` seconds later, whatever
happened in between (``X-RateLimit-Reset-After`` counts down from the first request). A token bucket
that refills continuously would allow a sixth message too early and earn a 429, so this is a fixed
window (:class:`actors.FixedWindow` does the accounting); :class:`ChannelTurns` is the trio waiter.

A new process does not start with a full budget: a restart seconds after a raid would spend the slots its
predecessor already used and earn a 429. The first turn in a channel replays the welcome messages the store
knows were posted there within the last window (``recent``), so the window is where Discord's is, or later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

from actors import FixedWindow

__all__ = ["ChannelTurns", "RecentPosts"]

#: ``recent(channel_id, within)``: how many seconds ago each message of the last ``within`` s was posted there.
RecentPosts = Callable[[int, float], Awaitable[list[float]]]


class ChannelTurns:
    """One :class:`FixedWindow` per channel; ``await turns.turn(channel_id)`` waits for a free slot.

    A margin is added to every window so that our clock and Discord's never disagree about a reset.
    """

    def __init__(
        self, limit: int = 5, period: float = 5.0, margin: float = 0.25, *, recent: RecentPosts | None = None
    ) -> None:
        self._limit = limit
        self._period = period + margin
        self._windows: dict[int, FixedWindow] = {}
        self._recent = recent

    async def turn(self, channel_id: int) -> None:
        window = self._windows.get(channel_id)
        if window is None:
            window = self._windows[channel_id] = FixedWindow(self._limit, self._period)
            if self._recent is not None:
                now = trio.current_time()
                for age in sorted(await self._recent(channel_id, self._period), reverse=True):
                    window.try_take(now - age)  # oldest first, as they were taken
        wait = window.try_take(trio.current_time())
        while wait > 0:
            await trio.sleep(wait)
            wait = window.try_take(trio.current_time())

    def last_slot(self, channel_id: int) -> bool:
        """Whether the next message takes the window's last slot (the one after waits for the reset)."""
        window = self._windows.get(channel_id)
        return window is not None and window.remaining(trio.current_time()) == 1

    def forget(self, channel_id: int) -> None:
        """Drop a channel's window (its guild actor was evicted)."""
        self._windows.pop(channel_id, None)
