"""The pipeline end to end over the emulator's gateway: real shard, real router and actors, fake post and log."""

from datetime import UTC, datetime

import msgspec
import trio

from tests.welcomebot.app.fakes import (
    FakeActions,
    FakeCards,
    FakeConfigs,
    FakeLog,
    FakeMembers,
    FakePoster,
    RecordingObserver,
)
from welcomebot.app.behaviour import AutoDelete, AutoRoles, Behaviour, CatchUp
from welcomebot.app.catchup import Seen
from welcomebot.app.channel_limit import ChannelTurns
from welcomebot.app.model import Join, JoinKey
from welcomebot.app.pipeline import Pipeline
from welcomebot.app.ports import WelcomeConfig
from welcomebot.emulator.testing import running_emulator
from welcomebot.gateway.events import GuildCreate
from welcomebot.gateway.protocol import Dispatch
from welcomebot.gateway.session import MemorySessionStore
from welcomebot.gateway.shard import ShardConfig, run_shard
from welcomebot.rest.errors import TransportError
from welcomebot.secret import Secret


def make_pipeline(configs: FakeConfigs, log: FakeLog, poster: FakePoster, **kw) -> Pipeline:
    return Pipeline(configs=configs, welcome_log=log, members=FakeMembers(), cards=FakeCards(), poster=poster,
                    turns=ChannelTurns(), observer=RecordingObserver(), **kw)  # fmt: skip


async def test_joins_flow_from_gateway_to_posts_in_order_once():
    with trio.fail_after(60):
        async with running_emulator(guilds=3, heartbeat_interval_ms=1000) as emu:
            guilds = await emu.control.guilds()
            configs = FakeConfigs({
                int(g["id"]): WelcomeConfig(guild_id=int(g["id"]), channel_id=int(g["channels"][0]["id"]),
                                            message_template="Welcome {user}!")
                for g in guilds[:2]  # the third guild is not configured
            })  # fmt: skip
            log, poster = FakeLog(), FakePoster()
            pipeline = make_pipeline(configs, log, poster)
            sessions = MemorySessionStore()
            send, receive = trio.open_memory_channel[Dispatch](1000)
            async with trio.open_nursery() as nursery:
                await nursery.start(pipeline.run)
                handle = await nursery.start(
                    run_shard, ShardConfig(Secret(emu.info.token), emu.info.gateway_url), send, sessions
                )
                nursery.start_soon(pipeline.feed, receive, {0: handle})
                await handle.live.wait()  # joins before READY are not delivered, by Discord either
                joined: dict[str, list[int]] = {g["id"]: [] for g in guilds}
                for i in range(30):
                    g = guilds[i % 3]["id"]
                    joined[g].append(int((await emu.control.join(g))["user_id"]))
                await emu.control.fault("gateway", kind="drop")  # mid-stream: resumed, nothing lost
                for i in range(30):
                    g = guilds[i % 3]["id"]
                    joined[g].append(int((await emu.control.join(g))["user_id"]))
                expected = joined[guilds[0]["id"]] + joined[guilds[1]["id"]]
                await poster.wait_for_welcomes(len(expected))
                await pipeline.drain()
                nursery.cancel_scope.cancel()
    by_channel: dict[int, list[int]] = {}
    for post in poster.posts:
        by_channel.setdefault(post.channel_id, []).extend(post.mentions)
    for g in guilds[:2]:
        assert by_channel[int(g["channels"][0]["id"])] == joined[g["id"]], "each guild in join order, once"
    assert sorted(poster.welcomed_user_ids()) == sorted(expected)
    assert set(log.status.values()) == {"posted"}
    assert handle.checkpointed is not None
    assert handle.checkpointed > 60


async def test_unfinished_claims_are_finished_at_startup():
    log, poster = FakeLog(), FakePoster()
    configs = FakeConfigs({5: WelcomeConfig(guild_id=5, channel_id=50, message_template="hi {user}")})
    key = JoinKey(5, 77 << 22, "2026-11-24T10:00:00+00:00")
    assert await log.claim(key)  # claimed by a run that then died
    pipeline = make_pipeline(configs, log, poster)
    async with trio.open_nursery() as nursery:
        await nursery.start(pipeline.run)
        assert await pipeline.finish_unfinished() == 1
        await pipeline.drain()
    assert poster.welcomed_user_ids() == [77 << 22]
    assert log.status[key] == "posted"


async def test_idle_guild_actors_are_evicted_and_respawned(autojump_clock):
    log, poster = FakeLog(), FakePoster()
    configs = FakeConfigs({5: WelcomeConfig(guild_id=5, channel_id=50, message_template="hi {user}")})
    pipeline = make_pipeline(configs, log, poster, guild_idle_s=10)
    async with trio.open_nursery() as nursery:
        await nursery.start(pipeline.run)
        await pipeline.deliver(5, Join(guild_id=5, user_id=1, joined_at="a", username="a"))
        await trio.sleep(1)
        assert pipeline.actor_count == 1
        await trio.sleep(20)
        assert pipeline.actor_count == 0
        await pipeline.deliver(5, Join(guild_id=5, user_id=2, joined_at="b", username="b"))
        await pipeline.drain()
    assert poster.welcomed_user_ids() == [1, 2]


async def test_a_role_delay_does_not_hold_up_the_drain(autojump_clock):
    behaviour = Behaviour(roles=AutoRoles(role_ids=[9], delay_s=24 * 3600))
    configs = FakeConfigs({5: WelcomeConfig(guild_id=5, channel_id=50, message_template="hi", behaviour=behaviour)})
    log, poster, actions = FakeLog(), FakePoster(), FakeActions()
    pipeline = make_pipeline(configs, log, poster, actions=actions)
    async with trio.open_nursery() as nursery:
        await nursery.start(pipeline.run)
        await pipeline.deliver(5, Join(guild_id=5, user_id=1, joined_at="a", username="a"))
        await poster.wait_for_welcomes(1)
        started = trio.current_time()
        await pipeline.drain()
        assert trio.current_time() - started < 60, "the drain waited for the role's day-long delay"
    assert poster.welcomed_user_ids() == [1]
    assert actions.roles == []  # not durable: dropped with the process, as a crash would


class OutageState:
    async def load(self, shard_id: int) -> Seen | None:
        await trio.lowlevel.checkpoint()
        return Seen(at=NOW - 600, counts={5: 1})

    async def load_all(self) -> dict[int, Seen]:
        return {0: Seen(at=NOW - 600, counts={5: 1})}

    async def save(self, shard_id: int, seen: Seen) -> None:
        await trio.lowlevel.checkpoint()


class SlowRoster:
    """One member who joined during the outage, answered only once the drain has begun."""

    def __init__(self) -> None:
        self.asked = trio.Event()
        self.answer = trio.Event()

    async def page(self, guild_id: int, *, after: int, limit: int) -> list[Join]:
        self.asked.set()
        await self.answer.wait()
        joined = datetime.fromtimestamp(NOW - 60, UTC).isoformat()
        return [Join(guild_id=guild_id, user_id=7 << 22, joined_at=joined, username="late")]


NOW = 1_800_000_000.0


async def test_a_catch_up_running_into_the_drain_stops_quietly(autojump_clock):
    behaviour = Behaviour(catch_up=CatchUp(enabled=True))
    configs = FakeConfigs({5: WelcomeConfig(guild_id=5, channel_id=50, message_template="hi", behaviour=behaviour)})
    log, poster, roster = FakeLog(), FakePoster(), SlowRoster()
    pipeline = make_pipeline(configs, log, poster, catch_up=(OutageState(), roster), wall_clock=lambda: NOW)
    assert pipeline.catch_up is not None
    await pipeline.catch_up.start()
    send, receive = trio.open_memory_channel[Dispatch](10)
    create = GuildCreate(id=5, name="g", member_count=2)
    async with trio.open_nursery() as nursery:
        await nursery.start(pipeline.run)
        nursery.start_soon(pipeline.feed, receive, {})
        await send.send(Dispatch("READY", 1, msgspec.Raw(b"{}"), "s"))
        await send.send(Dispatch("GUILD_CREATE", 2, msgspec.Raw(b"{}"), "s", create))
        await roster.asked.wait()
        nursery.start_soon(pipeline.drain)
        await trio.lowlevel.checkpoint()
        roster.answer.set()
        with trio.fail_after(60):
            await pipeline.drain()
        nursery.cancel_scope.cancel()
    # Whatever the catch-up claimed stays claimed for the next start to finish; nothing was posted twice.
    assert len(poster.welcomed_user_ids()) == len(set(poster.welcomed_user_ids())) <= 1


class FlakyDeletes(FakeActions):
    """Deletes fail as if Discord could not be reached, ``failures`` times."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def delete(self, channel_id: int, message_id: int) -> None:
        if self.failures:
            self.failures -= 1
            await trio.lowlevel.checkpoint()
            raise TransportError(f"DELETE /channels/{channel_id}/messages/{message_id} failed after 5 attempts")
        await super().delete(channel_id, message_id)


async def test_an_auto_delete_that_fails_while_discord_is_down_is_tried_again(autojump_clock):
    behaviour = Behaviour(auto_delete=AutoDelete(after_minutes=1))
    configs = FakeConfigs({5: WelcomeConfig(guild_id=5, channel_id=50, message_template="hi", behaviour=behaviour)})
    log, poster, actions = FakeLog(), FakePoster(), FlakyDeletes(failures=2)
    pipeline = make_pipeline(configs, log, poster, actions=actions)
    async with trio.open_nursery() as nursery:
        await nursery.start(pipeline.run)
        nursery.start_soon(pipeline.run_deletes)
        await pipeline.deliver(5, Join(guild_id=5, user_id=1, joined_at="a", username="a"))
        await poster.wait_for_welcomes(1)
        await trio.sleep(10 * 60)  # due after a minute; two failures, each tried again a minute later
        nursery.cancel_scope.cancel()
    assert actions.deleted == [(50, poster.posts[0].message_id)]
    assert log.deletes == {}
