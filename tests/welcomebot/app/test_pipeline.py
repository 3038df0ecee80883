"""The pipeline end to end over the emulator's gateway: real shard, real router and actors, fake post and log."""

import trio

from welcomebot.app.channel_limit import ChannelTurns
from welcomebot.app.model import Join, JoinKey
from welcomebot.app.pipeline import Pipeline
from welcomebot.app.ports import WelcomeConfig
from welcomebot.app.testing import FakeCards, FakeConfigs, FakeLog, FakePoster, RecordingObserver
from welcomebot.emulator.testing import running_emulator
from welcomebot.gateway.protocol import Dispatch
from welcomebot.gateway.session import MemorySessionStore
from welcomebot.gateway.shard import ShardConfig, run_shard
from welcomebot.secret import Secret


class Members:
    async def fetch(self, guild_id: int, user_id: int, joined_at: str) -> Join | None:
        await trio.lowlevel.checkpoint()
        return Join(guild_id=guild_id, user_id=user_id, joined_at=joined_at, username=f"u{user_id}")


def make_pipeline(configs: FakeConfigs, log: FakeLog, poster: FakePoster, **kw) -> Pipeline:
    return Pipeline(configs=configs, welcome_log=log, members=Members(), cards=FakeCards(), poster=poster,
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
