"""Runs this process's shards: plans them from ``GET /gateway/bot``, spaces their IDENTIFYs, counts reconnects.

It takes ``get_gateway_bot`` as a plain async callable, so it needs nothing from the REST client but that
one call. Every shard sends its dispatches into a clone of the one channel the application reads.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import trio

from welcomebot.errors import WelcomeBotError, first_leaf
from welcomebot.gateway.errors import GatewayFatal, SessionStartsUsedUp
from welcomebot.gateway.protocol import Dispatch
from welcomebot.gateway.session import FencedSessions, Lease, SessionStore, ShardLeases
from welcomebot.gateway.shard import ShardConfig, ShardHandle, run_shard
from welcomebot.gateway.sharding import (
    IDENTIFY_SPACING,
    GatewayBot,
    IdentifySchedule,
    ShardPlan,
    auto_quota,
    plan_shards,
)

__all__ = ["ShardManager"]

log = logging.getLogger(__name__)

#: Seconds between two IDENTIFYs of one rate-limit key booked in the store (Discord's 5 s, plus a margin).
SHARED_IDENTIFY_SPACING = IDENTIFY_SPACING + 0.5


class ShardManager:
    """``await nursery.start(manager.run)`` returns the :class:`ShardPlan` once every shard task is started.

    ``base`` supplies the token and per-shard options; its ``gateway_url``, ``shard_id``, ``shard_count`` and
    ``identify_gate`` are filled in from the plan.

    ``auto`` (``--shards auto``, needs ``leases``): every shard of the count is this process's to share with
    the other live owners. Every third of the lease TTL it says it is alive and reads the leases; it runs
    :func:`auto_quota` shards, taking free ones (a dead owner's, once their leases expire) and handing its
    surplus over when an owner joins: the shard closes resumably, saves its session, then its lease is
    released, so the next owner RESUMEs it.
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
        auto: bool = False,
    ) -> None:
        if auto and leases is None:
            raise ValueError("auto sharding divides the shards through leases; pass leases")
        self._auto = auto
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
        self._handing: set[int] = set()  # auto: shards closing to be handed to another owner
        self._live: frozenset[str] = frozenset()  # auto: owners alive at the last survey
        self._nursery: trio.Nursery | None = None

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
        return shard_id in self._scopes and shard_id not in self._lost and shard_id not in self._handing

    async def run(self, *, task_status: trio.TaskStatus[ShardPlan] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; raises :class:`GatewayFatal` (not a group) if Discord refuses a shard for good."""
        gateway = await self._get_gateway_bot()
        plan = plan_shards(gateway, shards=None if self._auto else self._shards, shard_count=self._shard_count)
        self._schedule = IdentifySchedule(gateway.session_start_limit, trio.current_time())
        log.info(
            "running shards %d-%d of %d",
            plan.shard_ids.start,
            plan.shard_ids.stop - 1,
            plan.shard_count,
            extra={
                "max_concurrency": plan.max_concurrency,
                "owner": None if self._leases is None else self._leases.owner,
                "auto": self._auto,
            },
        )
        try:
            with self._out:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    configs: dict[int, ShardConfig] = {}
                    for shard_id in plan.shard_ids:
                        config = replace(
                            self._base,
                            gateway_url=plan.url,
                            shard_id=shard_id,
                            shard_count=plan.shard_count,
                            identify_gate=self._identify_gate,
                        )
                        configs[shard_id] = config
                        if self._auto:
                            continue
                        if await self._acquire(shard_id, plan.shard_count):
                            self.handles[shard_id] = await nursery.start(self._run_one, config)
                        else:
                            nursery.start_soon(self._wait_then_run, config)
                    if self._auto:
                        nursery.start_soon(self._balance, configs)
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
        """True when this process may run the shard now (always, without leases). Under ``auto`` a shard
        another owner took first is simply not ours (the next survey shows it), not waited for."""
        if self._leases is None:
            return True
        try:
            lease: Lease = await self._leases.acquire(shard_id, shard_count)
        except WelcomeBotError as exc:  # the store is down: nobody can take the shard meanwhile either
            log.warning("cannot reach the shard leases; will ask again", extra={"shard": shard_id, "error": str(exc)})
            return False
        if not lease.mine:
            if self._auto:
                return False
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
            # Under auto a live owner hands shards over and finishes its own claims; only a dead one's are ours.
            if self.on_takeover is not None and lease.previous not in self._live:
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

    async def _balance(self, configs: dict[int, ShardConfig]) -> None:
        """``auto``: say we are alive, wait one round so replicas started together see each other (instead of
        the first taking every shard and handing most back), then keep our share, every third of the TTL."""
        assert self._leases is not None
        first = True
        while True:
            try:
                holders, owners = await self._leases.survey()
            except WelcomeBotError as exc:  # the store is down: nobody can take a shard meanwhile either
                log.warning("cannot reach the shard leases; will ask again", extra={"error": str(exc)})
            else:
                gone, self._live = self._live - owners, owners
                # An owner that stopped (a drain that ran out) or died leaves claims: finish them. Every live
                # owner may ask; taking them is one statement per claim, so one of us gets each.
                if self.on_takeover is not None:
                    for owner in sorted(gone):
                        await self.on_takeover(owner)
                if not first:
                    await self._rebalance(configs, holders, owners)
                first = False
            await trio.sleep(self._leases.ttl / 3)  # other owners' leases are in the store, not an event here

    async def _rebalance(
        self, configs: dict[int, ShardConfig], holders: Mapping[int, str], owners: frozenset[str]
    ) -> None:
        assert self._leases is not None
        assert self._nursery is not None
        quota = auto_quota(self._leases.owner, len(configs), holders, owners)
        mine = sorted(i for i in self._scopes if i not in self._handing)
        for shard_id in mine[quota:]:  # an owner joined: the highest ids go to it
            log.info(
                "handing shard %d over (%d live processes share %d shards)",
                shard_id,
                len(owners),
                len(configs),
                extra={"shard": shard_id, "quota": quota},
            )
            self._handing.add(shard_id)
            self._scopes[shard_id].cancel()
        free = [i for i in configs if i not in holders and i not in self._scopes]
        for shard_id in free[: max(0, quota - len(mine))]:
            if await self._acquire(shard_id, len(configs)):
                self.handles[shard_id] = await self._nursery.start(self._run_one, configs[shard_id])

    async def _renew_leases(self) -> None:
        assert self._leases is not None
        while True:
            await trio.sleep(self._leases.ttl / 3)
            for shard_id, scope in list(self._scopes.items()):
                if shard_id not in self._scopes:  # handed over or stopped while we renewed the others
                    continue
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
        if config.shard_id in self._handing:  # closed resumably and its session saved: now the next owner's
            self._handing.discard(config.shard_id)
            self.handles.pop(config.shard_id, None)
            await self._release(config.shard_id)
            return
        if config.shard_id in self._lost:
            self._lost.discard(config.shard_id)
            if self._auto:  # the owner that took it runs it; the next survey gives us our share again
                self.handles.pop(config.shard_id, None)
                return
            self.handles[config.shard_id].connected = False
            assert self._nursery is not None
            self._nursery.start_soon(self._wait_then_run, config)

    async def _identify_gate(self, shard_id: int) -> None:
        """Wait for this shard's IDENTIFY slot; raise :class:`SessionStartsUsedUp` when Discord has no session
        starts left (asked afresh first: our count is this process's, and the limit may have reset since)."""
        assert self._schedule is not None
        async with self._gate_lock:  # one shard at a time takes a slot, so waits do not double-book
            schedule = self._schedule
            if (at := schedule.reserve(shard_id, trio.current_time())) is None:
                gateway = await self._get_gateway_bot()
                schedule.update(gateway.session_start_limit, trio.current_time())
                if (at := schedule.reserve(shard_id, trio.current_time())) is None:
                    left = gateway.session_start_limit.reset_after / 1000
                    raise SessionStartsUsedUp(datetime.now(UTC) + timedelta(seconds=left))
        await trio.sleep_until(at)
        if self._leases is None:
            return
        # Other processes on the same database identify too: the slot of this rate-limit key is booked there,
        # a little more than 5 s apart, as a connection's set-up time differs between processes.
        try:
            wait = await self._leases.identify_wait(shard_id % schedule.max_concurrency, SHARED_IDENTIFY_SPACING)
        except WelcomeBotError as exc:  # nobody can book then; Discord answers a too-early one with op 9
            log.warning("cannot book an IDENTIFY slot in the store", extra={"shard": shard_id, "error": str(exc)})
            return
        await trio.sleep(max(0.0, wait))


def _first(group: BaseExceptionGroup[GatewayFatal]) -> GatewayFatal:
    exc = first_leaf(group)
    assert isinstance(exc, GatewayFatal)
    return exc
