"""One actor per key (e.g. per guild), spawned on first message and stopped when idle.

::

    registry = KeyedRegistry(lambda guild_id: GuildActor(guild_id), idle_timeout=300, max_actors=1000)
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        await registry.tell(guild_id, event)

An actor is idle when its mailbox is empty, it handles nothing, and nothing was sent to or finished by it
for ``idle_timeout`` seconds; it is then stopped and forgotten (the next message spawns a fresh one).
Bound: when ``max_actors`` are alive, spawning evicts the longest-idle IDLE actor (stopped cleanly, even
before its timeout); if every actor is busy, ``tell``/``ask`` raise :class:`RegistryFull` at once (the
caller decides whether to drop, retry or shed load; waiting could deadlock an actor telling another).
A per-key actor that crashes is logged and forgotten, so one key's bug never stops the others.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import trio

from actors._actor import Actor
from actors._errors import RegistryFull

__all__ = ["KeyedRegistry"]

log = logging.getLogger(__name__)

K = TypeVar("K")
Msg = TypeVar("Msg")


class KeyedRegistry(Generic[K, Msg]):
    def __init__(
        self, factory: Callable[[K], Actor[Msg, Any]], *, idle_timeout: float, max_actors: int = 10_000
    ) -> None:
        if idle_timeout <= 0 or max_actors < 1:
            raise ValueError("a registry needs idle_timeout > 0 and max_actors >= 1")
        self._factory = factory
        self.idle_timeout = idle_timeout
        self.max_actors = max_actors
        self._actors: dict[K, Actor[Msg, Any]] = {}
        self._nursery: trio.Nursery | None = None
        self.spawned = 0
        self.evicted = 0
        self.crashed = 0

    async def run(self, *, task_status: trio.TaskStatus[KeyedRegistry[K, Msg]] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started(self)
            try:
                await trio.sleep_forever()
            finally:
                self._nursery = None

    def __len__(self) -> int:
        return len(self._actors)

    def __contains__(self, key: object) -> bool:
        return key in self._actors

    def depths(self) -> dict[K, int]:
        """Mailbox depth per live key, for metrics."""
        return {key: actor.depth for key, actor in self._actors.items()}

    async def tell(self, key: K, msg: Msg) -> None:
        actor = await self._get(key)
        await actor.tell(msg)

    async def ask(self, key: K, msg: Msg) -> Any:
        actor = await self._get(key)
        return await actor.ask(msg)

    async def _get(self, key: K) -> Actor[Msg, Any]:
        actor = self._actors.get(key)
        if actor is not None and actor.alive:
            return actor
        if self._nursery is None:
            raise RuntimeError("KeyedRegistry.run is not running; start it with nursery.start(registry.run)")
        if len(self._actors) >= self.max_actors:
            self._evict_one()
        actor = self._factory(key)
        self._actors[key] = actor
        self.spawned += 1
        await self._nursery.start(self._host, key, actor)
        return actor

    def _evict_one(self) -> None:
        idle = [(actor.last_activity, key) for key, actor in self._actors.items() if actor.idle]
        if not idle:
            raise RegistryFull(f"all {self.max_actors} actors are busy; none can be evicted")
        _, key = min(idle, key=lambda pair: pair[0])
        self._retire(key)
        self.evicted += 1

    def _retire(self, key: K) -> None:
        actor = self._actors.pop(key)
        actor.stop()

    async def _host(self, key: K, actor: Actor[Msg, Any], *, task_status: trio.TaskStatus[None]) -> None:
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(actor.run)
                task_status.started()
                if actor.last_activity == -math.inf:
                    actor.last_activity = trio.current_time()
                deadline = actor.last_activity + self.idle_timeout
                while actor.alive and self._actors.get(key) is actor:
                    await trio.sleep_until(deadline)
                    now = trio.current_time()
                    deadline = actor.last_activity + self.idle_timeout
                    if now < deadline:
                        continue
                    if actor.idle:
                        self._retire(key)
                    else:  # busy past its timeout: look again later (finishing a message moves the stamp)
                        deadline = now + self.idle_timeout
        except* Exception as group:  # noqa: BLE001  # a key's crash is contained and logged
            self.crashed += 1
            log.warning("keyed actor crashed", extra={"key": repr(key), "error": repr(group.exceptions[0])})
        finally:
            if self._actors.get(key) is actor:
                del self._actors[key]
