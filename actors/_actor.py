"""An actor: a bounded mailbox and one task that handles one message at a time.

Subclass :class:`Actor` and override :meth:`Actor.handle` (and optionally ``on_start``/``on_stop``). The
caller owns the task::

    class Counter(Actor[int, int]):
        total = 0
        async def handle(self, msg: int) -> int:
            self.total += msg
            return self.total

    async with trio.open_nursery() as nursery:
        counter = Counter(mailbox_size=8)
        await nursery.start(counter.run)
        await counter.tell(1)            # waits while the mailbox is full (backpressure)
        assert await counter.ask(2) == 3
        counter.stop()

Shutdown policy: :meth:`stop` closes the mailbox to new messages; messages already queued are DRAINED
(handled) before ``on_stop`` runs. Cancelling the owner's nursery instead abandons the queue: every pending
``ask`` fails with :class:`ActorDead`. If ``handle`` raises, the actor crashes: the exception leaves
``run`` (to a supervisor), the asker of that message and all queued askers get ``ActorDead``.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import trio

from actors._errors import ActorDead, MailboxFull

__all__ = ["Actor"]

Msg = TypeVar("Msg")
R = TypeVar("R")


@dataclass(eq=False)
class _Reply(Generic[R]):
    done: trio.Event = field(default_factory=trio.Event)
    value: R | None = None
    error: BaseException | None = None

    def fail(self, error: BaseException) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


class Actor(Generic[Msg, R]):
    """One mailbox of ``mailbox_size`` messages (``math.inf`` allowed but defeats backpressure)."""

    def __init__(self, *, mailbox_size: int | float = 16, name: str | None = None) -> None:
        if mailbox_size != math.inf and (not isinstance(mailbox_size, int) or mailbox_size < 0):
            raise ValueError("mailbox_size must be an int >= 0 or math.inf")
        self.name = name or type(self).__name__
        send, receive = trio.open_memory_channel[tuple[Msg, _Reply[R] | None]](mailbox_size)
        self._send = send
        self._receive = receive
        self._current: _Reply[R] | None = None
        self._busy = False
        self._dead = False
        self.handled = 0
        self.last_activity = -math.inf

    async def handle(self, msg: Msg) -> R:
        raise NotImplementedError

    async def on_start(self) -> None:
        """Runs in the actor's task before the first message; ``nursery.start`` returns after it."""

    async def on_stop(self) -> None:
        """Runs after a clean stop (mailbox drained). Not run on crash or cancellation."""

    @property
    def depth(self) -> int:
        """Messages waiting in the mailbox (not counting the one being handled)."""
        return self._send.statistics().current_buffer_used

    @property
    def alive(self) -> bool:
        return not self._dead

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing being handled."""
        return not self._busy and self.depth == 0

    def _touch(self) -> None:
        with contextlib.suppress(RuntimeError):  # told from outside trio: keep the old stamp
            self.last_activity = trio.current_time()

    async def tell(self, msg: Msg) -> None:
        """Queue ``msg``; waits while the mailbox is full. Raises ActorDead if the actor is gone."""
        await self._put((msg, None))

    def tell_nowait(self, msg: Msg) -> None:
        """Queue ``msg`` or raise :class:`MailboxFull` at once."""
        try:
            self._send.send_nowait((msg, None))
        except trio.WouldBlock:
            raise MailboxFull(f"{self.name}: mailbox full ({self.depth} queued)") from None
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise ActorDead(f"{self.name} is not running") from exc
        self._touch()

    async def ask(self, msg: Msg) -> R:
        """Queue ``msg`` and wait for what ``handle`` returns; ActorDead if it stops or crashes first."""
        reply: _Reply[R] = _Reply()
        await self._put((msg, reply))
        await reply.done.wait()
        if reply.error is not None:
            raise reply.error
        return reply.value  # type: ignore[return-value]  # R may itself be None; set when done

    async def _put(self, item: tuple[Msg, _Reply[R] | None]) -> None:
        if self._dead:
            raise ActorDead(f"{self.name} is not running")
        try:
            await self._send.send(item)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise ActorDead(f"{self.name} is not running") from exc
        self._touch()

    def stop(self) -> None:
        """Accept no more messages; the queue is drained, then ``on_stop`` runs and ``run`` returns."""
        self._send.close()

    async def run(self, *, task_status: trio.TaskStatus[Actor[Msg, R]] = trio.TASK_STATUS_IGNORED) -> None:
        """Handle messages until stopped; an Actor runs once (a supervisor's ChildSpec builds a fresh one)."""
        if self._dead:
            raise RuntimeError(f"{self.name} already ran; create a new actor to restart it")
        try:
            await self.on_start()
            task_status.started(self)
            async for msg, reply in self._receive:
                self._busy = True
                self._current = reply
                try:
                    value = await self.handle(msg)
                except Exception as exc:
                    if reply is not None:
                        reply.fail(ActorDead(f"{self.name} crashed handling this message: {exc!r}"))
                    raise
                self.handled += 1
                self._busy = False
                self._current = None
                self._touch()
                if reply is not None:
                    reply.value = value
                    reply.done.set()
            await self.on_stop()
        finally:
            self._die()

    def _die(self) -> None:
        self._dead = True
        self._busy = False
        self._send.close()
        dead = ActorDead(f"{self.name} stopped before answering")
        if self._current is not None:
            self._current.fail(dead)
        while True:
            try:
                _, reply = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
            if reply is not None:
                reply.fail(dead)
        self._receive.close()
