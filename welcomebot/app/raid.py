"""Raid detection for one guild: sans-IO, fed join times, asked whether the guild is being raided.

Raid mode starts when ``joins`` members arrive within ``window_s`` seconds and ends once the last
``window_s`` seconds hold fewer than half as many (the gap between the two keeps the mode from flapping at
the threshold). Times come from the caller (``trio.current_time()`` in the guild actor, a MockClock in tests).
"""

from __future__ import annotations

from collections import deque

__all__ = ["RaidDetector"]


class RaidDetector:
    def __init__(self, joins: int, window_s: float) -> None:
        if joins < 2 or window_s <= 0:
            raise ValueError("a raid needs at least 2 joins in a positive window")
        self.joins = joins
        self.window_s = window_s
        self._raiding = False
        self._times: deque[float] = deque()

    @property
    def raiding(self) -> bool:
        return self._raiding

    def feed(self, at: float) -> bool:
        """Record a join at ``at``; True when this switched the mode (read :attr:`raiding`)."""
        self._times.append(at)
        return self.update(at)

    def update(self, now: float) -> bool:
        """Re-evaluate at ``now`` (joins are not needed for a raid to calm down); True when the mode switched."""
        while self._times and self._times[0] <= now - self.window_s:
            self._times.popleft()
        before = self._raiding
        if len(self._times) >= self.joins:
            self._raiding = True
        elif len(self._times) < (self.joins + 1) // 2:
            self._raiding = False
        return self._raiding != before

    def calm_at(self) -> float | None:
        """When raid mode will end if nobody else joins (None when not raiding)."""
        if not self.raiding:
            return None
        keep = (self.joins + 1) // 2 - 1  # fewer than half the threshold left in the window
        index = len(self._times) - 1 - keep
        return self._times[max(index, 0)] + self.window_s
