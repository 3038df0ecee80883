"""Runs this process's shards: plans them from ``GET /gateway/bot``, spaces their IDENTIFYs, counts reconnects.

It takes ``get_gateway_bot`` as a plain async callable, so it needs nothing from the REST client but that
one call. Every shard sends its dispatches into a clone of the one channel the application reads.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace

import trio

from welcomebot.errors import first_leaf
from welcomebot.gateway.errors import GatewayFatal
from welcomebot.gateway.protocol import Dispatch
from welcomebot.gateway.session import SessionStore
from welcomebot.gateway.shard import ShardConfig, ShardHandle, run_shard
from welcomebot.gateway.sharding import IDENTIFY_SPACING, GatewayBot, IdentifySchedule, ShardPlan, plan_shards

__all__ = ["ShardManager"]

log = logging.getLogger(__name__)


class ShardManager:
    """``await nursery.start(manager.run)`` returns the :class:`ShardPlan` once every shard task is started.

    ``base`` supplies the token and per-shard options; its ``gateway_url``, ``shard_id``, ``shard_count`` and
    ``identify_gate`` are filled in from the plan.
    """

    def __init__(
        self,
        base: ShardConfig,
        get_gateway_bot: Callable[[], Awaitable[GatewayBot]],
        dispatch_send: trio.MemorySendChannel[Dispatch],
        session_store: SessionStore,
        *,
        shards: range | None = None,
        shard_count: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._base = base
        self._get_gateway_bot = get_gateway_bot
        self._out = dispatch_send
        self._store = session_store
        self._shards = shards
        self._shard_count = shard_count
        self._rng = rng or random.Random()
        self._schedule: IdentifySchedule | None = None
        self._gate_lock = trio.Lock()
        self.handles: dict[int, ShardHandle] = {}
        #: Times the session start limit made us wait (metrics).
        self.start_limit_waits = 0

    @property
    def reconnects(self) -> Counter[str]:
        """Ended connections by reason, over all shards."""
        total: Counter[str] = Counter()
        for handle in self.handles.values():
            total.update(handle.reconnects)
        return total

    @property
    def resumes(self) -> int:
        return sum(h.resumes for h in self.handles.values())

    @property
    def identifies(self) -> int:
        return sum(h.identifies for h in self.handles.values())

    async def run(self, *, task_status: trio.TaskStatus[ShardPlan] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; raises :class:`GatewayFatal` (not a group) if Discord refuses a shard for good."""
        gateway = await self._get_gateway_bot()
        plan = plan_shards(gateway, shards=self._shards, shard_count=self._shard_count)
        self._schedule = IdentifySchedule(gateway.session_start_limit, trio.current_time())
        log.info(
            "running shards %d-%d of %d",
            plan.shard_ids.start,
            plan.shard_ids.stop - 1,
            plan.shard_count,
            extra={"max_concurrency": plan.max_concurrency},
        )
        try:
            with self._out:
                async with trio.open_nursery() as nursery:
                    for shard_id in plan.shard_ids:
                        config = replace(
                            self._base,
                            gateway_url=plan.url,
                            shard_id=shard_id,
                            shard_count=plan.shard_count,
                            identify_gate=self._identify_gate,
                        )
                        rng = random.Random(self._rng.random())
                        self.handles[shard_id] = await nursery.start(self._run_one, config, self._out.clone(), rng)
                    task_status.started(plan)
        except ExceptionGroup as group:
            fatal, _rest = group.split(GatewayFatal)
            if fatal is None:
                raise
            raise _first(fatal) from group

    async def _run_one(
        self,
        config: ShardConfig,
        send: trio.MemorySendChannel[Dispatch],
        rng: random.Random,
        *,
        task_status: trio.TaskStatus[ShardHandle] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        await run_shard(config, send, self._store, rng=rng, task_status=task_status)

    async def _identify_gate(self, shard_id: int) -> None:
        """Wait for this shard's IDENTIFY slot; when no session starts are left, sleep until they reset."""
        assert self._schedule is not None
        async with self._gate_lock:  # one shard at a time takes a slot, so waits do not double-book
            schedule = self._schedule
            while (at := schedule.reserve(shard_id, trio.current_time())) is None:
                wait = max(0.0, schedule.reset_at - trio.current_time())
                self.start_limit_waits += 1
                log.warning(
                    "session start limit used up; shard %d will try to IDENTIFY again in %.0f s",
                    shard_id,
                    wait,
                    extra={"shard": shard_id, "retry_in_s": round(wait, 1)},
                )
                await trio.sleep(max(wait, IDENTIFY_SPACING))  # never spin, even if reset_after is 0
                gateway = await self._get_gateway_bot()
                schedule.update(gateway.session_start_limit, trio.current_time())
        await trio.sleep_until(at)


def _first(group: BaseExceptionGroup[GatewayFatal]) -> GatewayFatal:
    exc = first_leaf(group)
    assert isinstance(exc, GatewayFatal)
    return exc
