"""A bounded thread pool with backpressure and priority lanes, for blocking work (rendering, PIL).

::

    pool = ThreadPoolActor(threads=4, max_queued=64)
    image = await pool.run(render, member, priority=Priority.INTERACTIVE)   # /preview jumps the queue
    image = await pool.run(render, member)                                  # batch lane (default)

At most ``threads`` jobs run at once (``trio.to_thread.run_sync`` with a ``CapacityLimiter``,
``abandon_on_cancel=False``: a cancelled caller waits for its thread to finish, no orphan threads). Up to
``max_queued`` more wait in a priority queue (lower ``priority`` first, FIFO within a priority); callers
beyond that wait for room in ``run``. A caller cancelled while queued leaves the queue; the pool needs no
task of its own.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, TypeVarTuple, Unpack

import trio

__all__ = ["Priority", "ThreadPoolActor"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class Priority(enum.IntEnum):
    INTERACTIVE = 0
    BATCH = 10


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    granted: trio.Event = field(compare=False, default_factory=trio.Event)
    gone: bool = field(compare=False, default=False)


class ThreadPoolActor:
    def __init__(self, threads: int, *, max_queued: int = 64) -> None:
        if threads < 1 or max_queued < 0:
            raise ValueError("a thread pool needs threads >= 1 and max_queued >= 0")
        self.threads = threads
        self.max_queued = max_queued
        self._limiter = trio.CapacityLimiter(threads)
        self._heap: list[_Waiter] = []
        self._seq = itertools.count()
        self._room = trio.lowlevel.ParkingLot()
        self.running = 0
        self.queued = 0
        self.completed = 0

    def stats(self) -> dict[str, int]:
        return {"running": self.running, "queued": self.queued, "completed": self.completed}

    def _must_queue(self) -> bool:
        return self.running >= self.threads or self.queued > 0

    def _full(self) -> bool:
        return self._must_queue() and self.queued >= self.max_queued

    async def run(self, fn: Callable[[Unpack[Ts]], T], *args: *Ts, priority: int = Priority.BATCH) -> T:
        """Run ``fn(*args)`` in a worker thread; waits for a slot (and for queue room) first."""
        while self._full():
            await self._room.park()
        return await self._run(fn, *args, priority=priority)

    async def _run(self, fn: Callable[[Unpack[Ts]], T], *args: *Ts, priority: int) -> T:
        await self._acquire(priority)
        try:
            result = await trio.to_thread.run_sync(fn, *args, limiter=self._limiter, abandon_on_cancel=False)
        finally:
            self._release()
        self.completed += 1
        return result

    async def _acquire(self, priority: int) -> None:
        if not self._must_queue():
            self.running += 1
            return
        waiter = _Waiter(int(priority), next(self._seq))
        heapq.heappush(self._heap, waiter)
        self.queued += 1
        try:
            await waiter.granted.wait()
        except BaseException:
            if waiter.granted.is_set():
                self._release()  # the slot was handed to us as we were cancelled: pass it on
            else:
                waiter.gone = True
                self.queued -= 1
                self._room.unpark()
            raise

    def _release(self) -> None:
        self.running -= 1
        while self._heap:
            waiter = heapq.heappop(self._heap)
            if waiter.gone:
                continue
            self.queued -= 1
            self.running += 1
            waiter.granted.set()
            self._room.unpark()
            return
        self._room.unpark_all()
