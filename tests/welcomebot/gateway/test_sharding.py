"""Shard planning and IDENTIFY scheduling (pure), and the ShardManager against the fake gateway on the MockClock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trio

from welcomebot.errors import ConfigError, FatalError
from welcomebot.gateway.errors import GatewayFatal, SessionStartsUsedUp
from welcomebot.gateway.manager import ShardManager
from welcomebot.gateway.protocol import Dispatch
from welcomebot.gateway.session import Lease, MemorySessionStore
from welcomebot.gateway.shard import ShardConfig
from welcomebot.gateway.sharding import GatewayBot, IdentifySchedule, SessionStartLimit, parse_shard_range, plan_shards
from welcomebot.secret import Secret
from welcomebot.store.api import presence_id

TOKEN = "MTIz.fake-gateway.secret-token"


def bot(shards: int = 4, remaining: int = 1000, reset_after_ms: int = 3_600_000, concurrency: int = 1) -> GatewayBot:
    return GatewayBot("wss://gateway.test", shards, SessionStartLimit(1000, remaining, reset_after_ms, concurrency))


@pytest.mark.parametrize(("text", "ids"), [("0-3", range(4)), ("2", range(2, 3)), (" 4-5 ", range(4, 6))])
def test_parse_shard_range(text: str, ids: range) -> None:
    assert parse_shard_range(text) == ids


@pytest.mark.parametrize("text", ["", "a-b", "3-1", "-1", "1-"])
def test_parse_shard_range_rejects_nonsense(text: str) -> None:
    with pytest.raises(ConfigError, match="--shards"):
        parse_shard_range(text)


def test_plan_defaults_to_discords_recommendation() -> None:
    plan = plan_shards(bot(shards=3, concurrency=16))
    assert (plan.shard_ids, plan.shard_count, plan.max_concurrency) == (range(3), 3, 16)
    assert plan.url == "wss://gateway.test"


def test_plan_splits_shards_between_processes() -> None:
    plan = plan_shards(bot(shards=3), shards=range(4, 8), shard_count=8)
    assert (plan.shard_ids, plan.shard_count) == (range(4, 8), 8)
    with pytest.raises(ConfigError, match="outside --shard-count 8"):
        plan_shards(bot(), shards=range(6, 9), shard_count=8)
    with pytest.raises(ConfigError):
        plan_shards(bot(), shard_count=0)


def test_identify_schedule_spaces_each_bucket_five_seconds_apart() -> None:
    schedule = IdentifySchedule(SessionStartLimit(1000, 1000, 0, 2), now=100.0)
    slots = {shard: schedule.reserve(shard, 100.0) for shard in range(6)}
    assert slots == {0: 100.0, 1: 100.0, 2: 105.0, 3: 105.0, 4: 110.0, 5: 110.0}
    assert schedule.reserve(0, 200.0) == 200.0, "an idle bucket has no wait"
    assert schedule.remaining == 993


def test_identify_schedule_refuses_when_no_session_starts_remain() -> None:
    schedule = IdentifySchedule(SessionStartLimit(1000, 1, 60_000, 1), now=0.0)
    assert schedule.reserve(0, 0.0) == 0.0
    assert schedule.reserve(1, 0.0) is None
    assert schedule.reset_at == 60.0
    schedule.update(SessionStartLimit(1000, 1000, 86_400_000, 1), now=60.0)
    assert schedule.reserve(1, 60.0) == 60.0


def manager(gw: Any, get: Any, send: trio.MemorySendChannel[Dispatch], **kw: Any) -> ShardManager:
    base = ShardConfig(Secret(TOKEN), "unused", open_stream=gw.open_stream)
    return ShardManager(base, get, send, MemorySessionStore(), **kw)


async def test_manager_runs_its_shards_and_spaces_identifies(autojump_clock: Any, fake_gateway: Any) -> None:
    calls: list[float] = []

    async def get_gateway_bot() -> GatewayBot:
        calls.append(trio.current_time())
        await trio.lowlevel.checkpoint()
        return bot(shards=4, concurrency=2)

    send, receive = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            m = manager(fake_gateway, get_gateway_bot, send, shards=range(4, 8), shard_count=8)
            plan = await nursery.start(m.run)
            assert plan.shard_ids == range(4, 8)
            readies = [d async for d in _take(receive, "READY", 4)]
            assert len({d.session_id for d in readies}) == 4
            identifies = {tuple(r.d["shard"]): r.at - calls[0] for r in fake_gateway.ops(2)}
            assert set(identifies) == {(4, 8), (5, 8), (6, 8), (7, 8)}
            # buckets 0 (shards 4, 6) and 1 (shards 5, 7): one identify per bucket per 5 s
            assert identifies[(6, 8)] - identifies[(4, 8)] >= 5
            assert identifies[(7, 8)] - identifies[(5, 8)] >= 5
            assert identifies[(5, 8)] < 5
            assert m.identifies == 4
            assert sorted(m.handles) == [4, 5, 6, 7]
            nursery.cancel_scope.cancel()


async def test_no_session_starts_left_raises_with_the_reset_time(autojump_clock: Any, fake_gateway: Any) -> None:
    """#25.2: exit 2 (a FatalError) with one line saying when Discord's limit resets, asked afresh first."""
    answers = [bot(shards=1, remaining=0, reset_after_ms=120_000), bot(shards=1, remaining=0, reset_after_ms=60_000)]
    calls: list[float] = []

    async def get_gateway_bot() -> GatewayBot:
        calls.append(trio.current_time())
        await trio.lowlevel.checkpoint()
        return answers[min(len(calls) - 1, 1)]

    send, _ = trio.open_memory_channel[Dispatch](100)
    before = datetime.now(UTC)
    with trio.fail_after(600), pytest.raises(SessionStartsUsedUp, match=r"resets at .* UTC") as raised:
        await manager(fake_gateway, get_gateway_bot, send).run()
    assert len(calls) == 2, "the count was asked again before giving up"
    assert raised.value.reset_at >= before + timedelta(seconds=60)
    assert isinstance(raised.value, FatalError)
    assert fake_gateway.ops(2) == [], "no IDENTIFY sent"


async def test_session_starts_refilled_since_the_start_are_used(autojump_clock: Any, fake_gateway: Any) -> None:
    answers = [bot(shards=1, remaining=0, reset_after_ms=1), bot(shards=1)]
    calls: list[float] = []

    async def get_gateway_bot() -> GatewayBot:
        calls.append(trio.current_time())
        await trio.lowlevel.checkpoint()
        return answers[min(len(calls) - 1, 1)]

    send, receive = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            await nursery.start(manager(fake_gateway, get_gateway_bot, send).run)
            await _first(receive, "READY")
            assert len(fake_gateway.ops(2)) == 1
            nursery.cancel_scope.cancel()


async def test_manager_raises_a_fatal_close_as_itself(autojump_clock: Any, fake_gateway: Any) -> None:
    fake_gateway.members_intent = False

    async def get_gateway_bot() -> GatewayBot:
        await trio.lowlevel.checkpoint()
        return bot(shards=2)

    send, _ = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(600), pytest.raises(GatewayFatal, match="Server Members Intent"):
        await manager(fake_gateway, get_gateway_bot, send).run()


async def _first(receive: trio.MemoryReceiveChannel[Dispatch], name: str) -> Dispatch:
    async for d in receive:
        if d.name == name:
            return d
    raise AssertionError(name)


async def _take(receive: trio.MemoryReceiveChannel[Dispatch], name: str, n: int) -> Any:
    for _ in range(n):
        yield await _first(receive, name)


def test_auto_quota_divides_the_count_evenly_and_moves_as_few_shards_as_it_can():
    """#25.1: every owner computes the same split from the same survey; the remainder stays where it runs."""
    from welcomebot.gateway.sharding import auto_quota

    assert auto_quota("a", 4, {}, []) == 4, "alone (or SQLite): every shard"
    owners = ["a", "b", "c"]
    assert sorted(auto_quota(o, 4, {}, owners) for o in owners) == [1, 1, 2]
    # A replica joins beside two that run two each: one of them hands one over, the newcomer takes one.
    held = {0: "a", 1: "a", 2: "b", 3: "b"}
    split = {o: auto_quota(o, 4, held, owners) for o in owners}
    assert split == {"a": 2, "b": 1, "c": 1}
    # "a" died (its leases expired, gone from the survey): the two left run two each.
    left = {2: "b", 3: "c"}
    assert {o: auto_quota(o, 4, left, ["b", "c"]) for o in ("b", "c")} == {"b": 2, "c": 2}
    assert auto_quota("a", 4, {5: "a", 6: "a"}, ["a", "b"]) == 2, "leases of another shard count do not count"


class MemoryLeases:
    """:class:`~welcomebot.gateway.session.ShardLeases` over dicts two managers share, on the trio clock."""

    def __init__(self, table: dict[int, tuple[str, int, float]], owner: str, ttl: float = 15.0) -> None:
        self.table, self.owner, self.ttl = table, owner, ttl

    async def acquire(self, shard_id: int, shard_count: int) -> Lease:
        await trio.lowlevel.checkpoint()
        now = trio.current_time()
        holder, token, until = self.table.get(shard_id, ("", 0, 0.0))
        if holder not in ("", self.owner) and until >= now:
            return Lease(False, holder)
        self.table[shard_id] = (self.owner, token if holder == self.owner else token + 1, now + self.ttl)
        return Lease(True, self.owner, None if holder in ("", self.owner) else holder)

    async def renew(self, shard_id: int) -> bool:
        await trio.lowlevel.checkpoint()
        holder, token, _ = self.table[shard_id]
        if holder != self.owner:
            return False
        self.table[shard_id] = (holder, token, trio.current_time() + self.ttl)
        return True

    async def release(self, shard_id: int) -> None:
        await trio.lowlevel.checkpoint()
        holder, token, _ = self.table.get(shard_id, ("", 0, 0.0))
        if holder == self.owner:
            self.table[shard_id] = (holder, token, 0.0)

    def holds(self, shard_id: int) -> bool:
        holder, _, until = self.table.get(shard_id, ("", 0, 0.0))
        return holder == self.owner and until >= trio.current_time()

    async def survey(self) -> tuple[dict[int, str], frozenset[str]]:
        await trio.lowlevel.checkpoint()
        now = trio.current_time()
        self.table[presence_id(self.owner)] = (self.owner, 0, now + self.ttl)
        live = {i: o for i, (o, _, until) in self.table.items() if until >= now}
        return {i: o for i, o in live.items() if i >= 0}, frozenset(live.values())

    async def identify_wait(self, key: int, spacing: float) -> float:
        await trio.lowlevel.checkpoint()
        return 0.0


async def test_auto_hands_a_shard_to_a_joining_owner_without_taking_its_live_claims(
    autojump_clock: Any, fake_gateway: Any
) -> None:
    """#25.1: a second --shards auto process gets half; the first closes that shard and releases it; the
    second does not treat the live first as dead (its claims stay the first's to finish)."""

    async def get_gateway_bot() -> GatewayBot:
        await trio.lowlevel.checkpoint()
        return bot(shards=2)

    table: dict[int, tuple[str, int, float]] = {}
    takeovers: list[str] = []

    async def took_over(previous: str) -> None:
        takeovers.append(previous)

    send, _receive = trio.open_memory_channel[Dispatch](1000)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            a = manager(fake_gateway, get_gateway_bot, send.clone(), leases=MemoryLeases(table, "a"), auto=True)
            stop_a = trio.CancelScope()

            async def run_a(task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
                with stop_a:
                    await a.run(task_status=task_status)

            await nursery.start(run_a)
            await trio.sleep(20)  # the MockClock: several rounds of 5 s
            assert sorted(a.handles) == [0, 1], "alone: every shard"
            b = manager(fake_gateway, get_gateway_bot, send.clone(), leases=MemoryLeases(table, "b"), auto=True)
            b.on_takeover = took_over
            await nursery.start(b.run)
            await trio.sleep(30)
            assert (sorted(a.handles), sorted(b.handles)) == ([0], [1]), "one each, the highest id moved"
            assert takeovers == [], "a live owner hands over; its claims are not the newcomer's"
            assert {table[i][0] for i in (0, 1)} == {"a", "b"}
            stop_a.cancel()  # a stops: it releases shard 0; its presence runs out 15 s later
            await trio.sleep(30)
            assert sorted(b.handles) == [0, 1], "the survivor runs both"
            assert "a" in takeovers, "and finishes what a left claimed, once a is gone"
            nursery.cancel_scope.cancel()
