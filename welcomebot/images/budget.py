"""A byte-weighted limit on concurrent image decodes, and handing freed decode memory back to the system.

Counting decodes is no bound on memory: one 40 MP RGBA upload needs 160 MB for its decoded frame alone, a
small photo 2 MB. :class:`DecodeBudget` admits a decode when the bytes it will hold (:func:`decode_cost`, read
from the header before any pixel is decoded) fit beside those already admitted. Waiters are admitted in
arrival order, so a big upload is not starved by a stream of small ones.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Final

import trio

from welcomebot.images.policy import MIB

__all__ = ["DEFAULT_DECODE_BUDGET", "DecodeBudget", "release_free_memory"]

#: What all concurrent admin-image decodes together may hold: one 40 MP RGBA upload (212 MB by
#: :func:`~welcomebot.images.validate.decode_cost`), so four hostile uploads at once run one after another
#: instead of side by side, and a bot at ~120 MB stays under 400 MB.
DEFAULT_DECODE_BUDGET: Final = 256 * MIB


class DecodeBudget:
    """A semaphore over bytes: :meth:`hold` waits until ``cost`` bytes fit under ``capacity``.

    A decode costing more than the whole capacity runs alone (it is admitted when nothing else is held), so a
    budget smaller than one permitted image delays it instead of refusing it.
    """

    def __init__(self, capacity: int = DEFAULT_DECODE_BUDGET) -> None:
        if capacity < 1:
            raise ValueError("DecodeBudget capacity must be at least 1 byte")
        self.capacity = capacity
        self.held = 0
        #: The most bytes ever held at once: what tests and the benchmark check against ``capacity``.
        self.peak = 0
        self._waiting: deque[tuple[int, trio.Event]] = deque()

    def _fits(self, cost: int) -> bool:
        return self.held == 0 or self.held + cost <= self.capacity

    @asynccontextmanager
    async def hold(self, cost: int) -> AsyncIterator[None]:
        cost = min(max(0, cost), self.capacity)
        if self._waiting or not self._fits(cost):
            turn = (cost, trio.Event())
            self._waiting.append(turn)
            try:
                await turn[1].wait()
            except BaseException:
                if turn[1].is_set():
                    self._release(cost)  # admitted and cancelled in the same instant: give it back
                else:
                    self._waiting.remove(turn)
                    self._admit()  # the head may have left: the next may fit now
                raise
        else:
            self._take(cost)
        try:
            yield
        finally:
            self._release(cost)

    def _take(self, cost: int) -> None:
        self.held += cost
        self.peak = max(self.peak, self.held)

    def _release(self, cost: int) -> None:
        self.held -= cost
        self._admit()

    def _admit(self) -> None:
        while self._waiting and self._fits(self._waiting[0][0]):
            cost, event = self._waiting.popleft()
            self._take(cost)
            event.set()


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
        return trim
    except (OSError, AttributeError):
        return None  # not glibc (musl, macOS): their allocators return big blocks on their own


_TRIM: Final = _malloc_trim()


def release_free_memory() -> None:
    """Hand the heap's free pages back to the system after a large decode.

    Pillow allocates a frame in 16 MB blocks; once one is freed, glibc raises its mmap threshold and keeps
    later blocks on the heap, where freed memory stays in the process (a 40 MP decode left 595 MB resident).
    ``malloc_trim(0)`` returns it (measured in docs/performance.md).
    """
    if _TRIM is not None:
        _TRIM(0)
