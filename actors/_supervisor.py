"""A one-for-one supervisor: restart crashed children with backoff, escalate when they crash too often.

::

    async def worker(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        ...

    sup = Supervisor([ChildSpec("worker", worker)], max_restarts=3, window=5.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)   # returns once every child called task_status.started()

Each start of a child happens through ``nursery.start`` in a fresh inner nursery, so a crash tears down
only that child's tasks. Restart rules (Erlang's): PERMANENT children always restart, TRANSIENT ones only
after a crash, TEMPORARY ones never. Before a restart the supervisor sleeps the next
:class:`ExponentialBackoff` delay (reset after a child stayed up ``window`` seconds). More than
``max_restarts`` restarts within ``window`` seconds (counted on ``trio.current_time()`` across all
children) raise :class:`SupervisorEscalation` out of ``run``, chained to the last crash. Cancellation is
never caught: only ``Exception`` is handled, and exceptions of the ``fatal`` types are not handled either: they
leave ``run`` as they are (a fault of the whole process, not of the child). ``on_crash(name, exc)`` runs
before each restart (and before an escalation), in the child's place, so the owner can log and count it
and put right what the crash left behind.
"""

from __future__ import annotations

import enum
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import trio

from actors._backoff import ExponentialBackoff
from actors._errors import SupervisorEscalation

__all__ = ["ChildSpec", "Restart", "Supervisor"]

log = logging.getLogger(__name__)


class Restart(enum.Enum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


@dataclass(frozen=True)
class ChildSpec:
    """``fn(task_status=...)`` is awaited through ``nursery.start``; it must call ``task_status.started()``."""

    name: str
    fn: Callable[..., Awaitable[Any]]
    restart: Restart = Restart.PERMANENT


class Supervisor:
    def __init__(
        self,
        children: Sequence[ChildSpec],
        *,
        max_restarts: int = 3,
        window: float = 5.0,
        backoff_base: float = 0.1,
        backoff_cap: float = 10.0,
        rng: random.Random | None = None,
        on_crash: Callable[[str, Exception], Awaitable[None]] | None = None,
        fatal: tuple[type[BaseException], ...] = (),
    ) -> None:
        if max_restarts < 0 or window <= 0:
            raise ValueError("a supervisor needs max_restarts >= 0 and window > 0")
        self.children = list(children)
        self.max_restarts = max_restarts
        self.window = window
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._rng = rng or random.Random()
        self._on_crash = on_crash
        self._fatal = fatal
        self._restarts: deque[float] = deque()
        self.restart_count: dict[str, int] = {spec.name: 0 for spec in self.children}

    async def run(self, *, task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED) -> None:
        escalation: SupervisorEscalation | None = None
        try:
            async with trio.open_nursery() as nursery:
                for spec in self.children:
                    await nursery.start(self._supervise, spec)
                task_status.started(self)
        except* SupervisorEscalation as group:
            escalation = group.exceptions[0]  # type: ignore[assignment]  # the group holds only these
        # Raised bare, outside except*, so the parent can ``except SupervisorEscalation``: CPython before
        # 3.11.4 wraps whatever is raised inside an except* block in an ExceptionGroup. Keeps its __cause__.
        if escalation is not None:
            raise escalation

    def _note_restart(self, spec: ChildSpec, cause: Exception | None) -> None:
        now = trio.current_time()
        while self._restarts and self._restarts[0] <= now - self.window:
            self._restarts.popleft()
        if len(self._restarts) >= self.max_restarts:
            raise SupervisorEscalation(
                f"child {spec.name!r} needed more than {self.max_restarts} restarts within {self.window} s"
            ) from cause
        self._restarts.append(now)
        self.restart_count[spec.name] += 1

    async def _supervise(self, spec: ChildSpec, *, task_status: trio.TaskStatus[None]) -> None:
        backoff = ExponentialBackoff(self._backoff_base, 2.0, self._backoff_cap, rng=self._rng)
        announced = False
        while True:
            crash: Exception | None = None
            started_at = trio.current_time()
            try:
                async with trio.open_nursery() as inner:
                    await inner.start(spec.fn)
                    if not announced:
                        announced = True
                        task_status.started()
            except* Exception as group:  # noqa: BLE001  # crashes are what a supervisor handles
                crash = group.exceptions[0] if len(group.exceptions) == 1 else group
            # Raised outside except* so that it leaves bare on CPython before 3.11.4 too.
            if crash is not None and self._fatal and isinstance(crash, self._fatal):
                raise crash
            if trio.current_time() - started_at >= self.window:
                backoff.reset()
            if crash is None and spec.restart is not Restart.PERMANENT:
                break
            if crash is not None:
                log.warning("child crashed", extra={"child": spec.name, "error": repr(crash)})
                if self._on_crash is not None:
                    await self._on_crash(spec.name, crash)
                if spec.restart is Restart.TEMPORARY:
                    break
            self._note_restart(spec, crash)
            await trio.sleep(next(backoff))
        if not announced:
            task_status.started()
