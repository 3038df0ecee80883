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

from welcomebot.errors import WelcomeBotError, first_leaf
from welcomebot.gateway.errors import GatewayFatal
from welcomebot.gateway.protocol import Dispatch
from welcomebot.gateway.session import FencedSessions, Lease, SessionStore, ShardLeases
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
        leases: ShardLeases | None = None,
    ) -> None:
        self._base = base
        self._get_gateway_bot = get_gateway_bot
        self._out = dispatch_send
        self._leases = leases
        self._store: SessionStore = session_store if leases is None else FencedSessions(session_store, leases)
        self._shards = shards
        self._shard_count = shard_count
        self._rng = rng or random.Random()
        self._schedule: IdentifySchedule | None = None
        self._gate_lock = trio.Lock()
        self.handles: dict[int, ShardHandle] = {}
        #: Shards another live process holds, by shard id: that process's owner id (for /readyz and the log).
        self.waiting: dict[int, str] = {}
        #: Awaited with the owner whose expired or released lease we took, before the shard starts: its
        #: unfinished claims are ours now, and go out before the shard's new events (join order).
        self.on_takeover: Callable[[str], Awaitable[None]] | None = None
        self._scopes: dict[int, trio.CancelScope] = {}
        self._lost: set[int] = set()
        self._nursery: trio.Nursery | None = None
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

    def owns(self, shard_id: int) -> bool:
        """Whether this process runs ``shard_id`` now: started here and its lease not found taken. Side jobs of
        a shard (catch-up paging) stop when this turns False, leaving the shard's work to its new owner."""
        return shard_id in self._scopes and shard_id not in self._lost

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
            extra={
                "max_concurrency": plan.max_concurrency,
                "owner": None if self._leases is None else self._leases.owner,
            },
        )
        try:
            with self._out:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    for shard_id in plan.shard_ids:
                        config = replace(
                            self._base,
                            gateway_url=plan.url,
                            shard_id=shard_id,
                            shard_count=plan.shard_count,
                            identify_gate=self._identify_gate,
                        )
                        if await self._acquire(shard_id, plan.shard_count):
                            self.handles[shard_id] = await nursery.start(self._run_one, config)
                        else:
                            nursery.start_soon(self._wait_then_run, config)
                    if self._leases is not None:
                        nursery.start_soon(self._renew_leases)
                    task_status.started(plan)
        except ExceptionGroup as group:
            fatal, _rest = group.split(GatewayFatal)
            if fatal is None:
                raise
            raise _first(fatal) from group
        finally:
            if self._leases is not None:
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    for shard_id in list(self.handles):  # a lost one is refused by its stale token
                        await self._release(shard_id)

    async def _acquire(self, shard_id: int, shard_count: int) -> bool:
        """True when this process may run the shard now (always, without leases)."""
        if self._leases is None:
            return True
        try:
            lease: Lease = await self._leases.acquire(shard_id, shard_count)
        except WelcomeBotError as exc:  # the store is down: nobody can take the shard meanwhile either
            log.warning("cannot reach the shard leases; will ask again", extra={"shard": shard_id, "error": str(exc)})
            return False
        if not lease.mine:
            if self.waiting.get(shard_id) != lease.holder:
                log.warning(
                    "shard %d is run by another live process; waiting for its lease",
                    shard_id,
                    extra={"shard": shard_id, "holder": lease.holder, "owner": self._leases.owner},
                )
            self.waiting[shard_id] = lease.holder
            return False
        self.waiting.pop(shard_id, None)
        if lease.previous is not None:
            log.info("took over shard %d", shard_id, extra={"shard": shard_id, "previous_owner": lease.previous})
            if self.on_takeover is not None:
                await self.on_takeover(lease.previous)
        return True

    async def _wait_then_run(self, config: ShardConfig) -> None:
        """Ask for the shard's lease every third of its TTL until the holder stops renewing it, then run the shard."""
        assert self._leases is not None
        assert self._nursery is not None
        while True:
            if await self._acquire(config.shard_id, config.shard_count):
                break
            await trio.sleep(self._leases.ttl / 3)  # the holder's renewals are in the store, not an event here
        self.handles[config.shard_id] = await self._nursery.start(self._run_one, config)

    async def _renew_leases(self) -> None:
        assert self._leases is not None
        while True:
            await trio.sleep(self._leases.ttl / 3)
            for shard_id, scope in list(self._scopes.items()):
                try:
                    kept = await self._leases.renew(shard_id)
                except WelcomeBotError as exc:  # the store is down: nobody can take the shard meanwhile either
                    log.warning("cannot renew a shard lease", extra={"shard": shard_id, "error": str(exc)})
                    continue
                if not kept:
                    log.error(
                        "another process took shard %d (this one did not renew its lease in time); stopping it",
                        shard_id,
                        extra={"shard": shard_id},
                    )
                    self._lost.add(shard_id)
                    scope.cancel()

    async def _release(self, shard_id: int) -> None:
        assert self._leases is not None
        try:
            await self._leases.release(shard_id)
        except WelcomeBotError as exc:
            log.warning("cannot release a shard lease; it expires by itself", extra={"error": str(exc)})

    async def _run_one(
        self, config: ShardConfig, *, task_status: trio.TaskStatus[ShardHandle] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run one shard until cancelled; when its lease is lost only its own scope is, and it waits again."""
        rng = random.Random(self._rng.random())
        with trio.CancelScope() as scope:
            self._scopes[config.shard_id] = scope
            try:
                await run_shard(config, self._out.clone(), self._store, rng=rng, task_status=task_status)
            finally:
                del self._scopes[config.shard_id]
        if config.shard_id in self._lost:
            self._lost.discard(config.shard_id)
            self.handles[config.shard_id].connected = False
            assert self._nursery is not None
            self._nursery.start_soon(self._wait_then_run, config)

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
