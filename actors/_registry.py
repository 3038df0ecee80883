"""One supervised worker per key (e.g. per guild), each draining its own bounded mailbox.

::

    async def work(guild_id: int, mailbox: trio.MemoryReceiveChannel[Join]) -> None:
        ...  # take messages one at a time or in batches; return (when idle, say) to retire the key

    registry = KeyedRegistry(work, mailbox_size=2048, max_restarts=3, window=60.0, on_crash=noted)
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        await registry.tell(guild_id, join)  # spawns the key's worker; waits while its mailbox is full
        registry.close()                     # no more tells; every worker finishes its mailbox, run returns

A key's worker is spawned by the first ``tell`` and retired when it returns (its mailbox then holds nothing:
the worker returns only once it found it empty, and the mailbox closes before anything else runs, so the
next ``tell`` spawns a fresh one). Each key runs under its own one-child :class:`Supervisor`, so a crash
tears down that key's worker only: ``on_crash(key, exc)`` runs, then after a backoff the worker restarts on
the same mailbox (what was queued stays queued). A key whose worker needs more than ``max_restarts`` restarts
within ``window`` seconds is PARKED instead of escalating: its mailbox is dropped, :attr:`parked` says why,
and ``tell`` raises :class:`KeyParked` until :meth:`unpark`. Nothing a key's worker raises cancels or delays
another key's, except exceptions of the ``fatal`` types: those leave ``run`` (a fault of the whole process).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import trio

from actors._errors import KeyParked, SupervisorEscalation
from actors._supervisor import ChildSpec, Restart, Supervisor

__all__ = ["KeyedRegistry"]

log = logging.getLogger(__name__)

K = TypeVar("K")
Msg = TypeVar("Msg")


class KeyedRegistry(Generic[K, Msg]):
    def __init__(
        self,
        work: Callable[[K, trio.MemoryReceiveChannel[Msg]], Awaitable[None]],
        *,
        mailbox_size: int,
        max_restarts: int = 3,
        window: float = 60.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        on_crash: Callable[[K, Exception], Awaitable[None]] | None = None,
        fatal: tuple[type[BaseException], ...] = (),
        rng: random.Random | None = None,
    ) -> None:
        if mailbox_size < 0:
            raise ValueError("a registry needs mailbox_size >= 0")
        self._work = work
        self.mailbox_size = mailbox_size
        self._max_restarts = max_restarts
        self._window = window
        self._backoff = (backoff_base, backoff_cap)
        self._on_crash = on_crash
        self._fatal = fatal
        self._rng = rng or random.Random()
        self._mailboxes: dict[K, tuple[trio.MemorySendChannel[Msg], trio.MemoryReceiveChannel[Msg]]] = {}
        #: Parked keys and why (the crash that used up their restarts).
        self.parked: dict[K, str] = {}
        self._nursery: trio.Nursery | None = None
        self._closing = trio.Event()
        self.spawned = 0
        self.restarts = 0

    async def run(self, *, task_status: trio.TaskStatus[KeyedRegistry[K, Msg]] = trio.TASK_STATUS_IGNORED) -> None:
        """Host the workers until :meth:`close` and every worker finished its mailbox (or until cancelled)."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started(self)
                await self._closing.wait()
        finally:
            self._nursery = None

    def close(self) -> None:
        """Take no more messages; each worker handles what its mailbox holds and returns."""
        self._closing.set()
        for send, _ in self._mailboxes.values():
            send.close()

    def __len__(self) -> int:
        return len(self._mailboxes)

    def __contains__(self, key: object) -> bool:
        return key in self._mailboxes

    def depths(self) -> dict[K, int]:
        """Mailbox depth per live key, for metrics."""
        return {key: send.statistics().current_buffer_used for key, (send, _) in self._mailboxes.items()}

    def unpark(self, key: K) -> None:
        """Let ``key`` have a worker again: the next ``tell`` spawns one."""
        self.parked.pop(key, None)

    async def tell(self, key: K, msg: Msg) -> None:
        """Queue ``msg`` for ``key``'s worker, spawning it; waits while its mailbox is full.

        Raises :class:`KeyParked` for a parked key and ``trio.ClosedResourceError`` once closed."""
        while True:
            if key in self.parked:
                raise KeyParked(f"{key!r} is parked: {self.parked[key]}")
            mailbox = self._mailboxes.get(key)
            if mailbox is None:
                if self._closing.is_set():
                    raise trio.ClosedResourceError("the registry is closed")
                mailbox = self._spawn(key)
            try:
                await mailbox[0].send(msg)
                return
            except trio.BrokenResourceError:
                pass  # the worker retired (idle) while we waited: the loop spawns a fresh one
            except trio.ClosedResourceError:
                if key not in self.parked:
                    raise  # closed by close()
            if self._mailboxes.get(key) is mailbox:
                del self._mailboxes[key]

    def _spawn(self, key: K) -> tuple[trio.MemorySendChannel[Msg], trio.MemoryReceiveChannel[Msg]]:
        if self._nursery is None:
            raise RuntimeError("KeyedRegistry.run is not running; start it with nursery.start(registry.run)")
        mailbox = self._mailboxes[key] = trio.open_memory_channel[Msg](self.mailbox_size)
        self.spawned += 1
        self._nursery.start_soon(self._host, key, mailbox)
        return mailbox

    def _retire(self, key: K, mailbox: tuple[trio.MemorySendChannel[Msg], trio.MemoryReceiveChannel[Msg]]) -> None:
        # Synchronous, so nothing can be queued between the worker's last look and the close: a sender
        # waiting on a full mailbox gets BrokenResourceError and spawns a fresh worker.
        if self._mailboxes.get(key) is mailbox:
            del self._mailboxes[key]
        mailbox[1].close()

    async def _host(self, key: K, mailbox: tuple[trio.MemorySendChannel[Msg], trio.MemoryReceiveChannel[Msg]]) -> None:
        async def worker(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            task_status.started()
            await self._work(key, mailbox[1])
            self._retire(key, mailbox)

        async def crashed(_: str, exc: Exception) -> None:
            self.restarts += 1
            if self._on_crash is not None:
                await self._on_crash(key, exc)

        supervisor = Supervisor([ChildSpec(repr(key), worker, Restart.TRANSIENT)], max_restarts=self._max_restarts,
                                window=self._window, backoff_base=self._backoff[0], backoff_cap=self._backoff[1],
                                rng=self._rng, on_crash=crashed, fatal=self._fatal)  # fmt: skip
        escalation: SupervisorEscalation | None = None
        try:
            await supervisor.run()
        except SupervisorEscalation as exc:
            escalation = exc
        finally:
            self._retire(key, mailbox)
        if escalation is not None:
            cause = escalation.__cause__
            self.parked[key] = f"{type(cause).__name__}: {cause}" if cause is not None else str(escalation)
            log.error("keyed worker parked: it kept crashing", extra={"key": repr(key), "reason": self.parked[key]})
