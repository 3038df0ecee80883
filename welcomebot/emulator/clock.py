"""The emulator's clock: trio's system clock, which the control API can move forward.

Everything time-based in the emulator reads ``trio.current_time()``: the nonce window, the rate-limit windows,
interaction deadlines, the gateway's heartbeat and resume windows, and the world's "now" that stamps new
messages and their snowflakes. Advancing this one clock therefore moves all of them together, as if the
time had passed; sleeps whose deadline it jumps over wake at once. A test uses it to be "down for 310 s"
without waiting 310 s.
"""

from __future__ import annotations

import time

import trio

__all__ = ["AdvanceableClock", "FixedClock", "advance"]


class FixedClock(RuntimeError):
    """The running trio clock cannot be moved forward."""


class AdvanceableClock(trio.abc.Clock):
    """Monotonic time plus an offset that only grows."""

    def __init__(self) -> None:
        self._offset = 0.0

    def start_clock(self) -> None:
        pass

    def current_time(self) -> float:
        return time.perf_counter() + self._offset

    def deadline_to_sleep_time(self, deadline: float) -> float:
        return deadline - self.current_time()

    def advance(self, seconds: float) -> None:
        self._offset += seconds


def advance(seconds: float) -> None:
    """Move the running trio clock forward; :class:`FixedClock` if it cannot move, ValueError for a negative
    or non-numeric ``seconds``."""
    if not seconds >= 0:
        raise ValueError("advance_s must be a number of seconds, 0 or more: the clock only moves forward")
    clock = trio.lowlevel.current_clock()
    if isinstance(clock, AdvanceableClock):
        clock.advance(seconds)
    elif isinstance(clock, trio.testing.MockClock):
        clock.jump(seconds)
    else:
        raise FixedClock(
            "this emulator runs on a clock that cannot be moved: run it with `welcomebot emulator`, or under "
            "welcomebot.emulator.clock.AdvanceableClock or trio.testing.MockClock"
        )
