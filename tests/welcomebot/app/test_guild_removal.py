"""Servers that remove the bot (#29.2): noted on GUILD_DELETE, forgotten on GUILD_CREATE, deleted after the grace."""

import math
from pathlib import Path

import trio
import trio.testing

from tests.welcomebot.app.fakes import FakeCards, FakeConfigs, FakeLog, FakeMembers, FakePoster, RecordingObserver
from welcomebot.adapters.store import StoreDepartures
from welcomebot.app.channel_limit import ChannelTurns
from welcomebot.app.pipeline import Pipeline
from welcomebot.app.ports import WelcomeConfig
from welcomebot.emulator.testing import running_emulator
from welcomebot.gateway.protocol import Dispatch
from welcomebot.gateway.session import MemorySessionStore
from welcomebot.gateway.shard import ShardConfig, run_shard
from welcomebot.retention.prune import Pruner
from welcomebot.secret import Secret
from welcomebot.store.api import GuildConfig, WelcomeKey
from welcomebot.store.assets import AssetStore
from welcomebot.store.departures import departed
from welcomebot.store.sqlite import SqliteStore

DAY = 86400.0


async def test_guild_delete_notes_the_departure_and_guild_create_forgets_it(tmp_path: Path):
    store = await SqliteStore.open(tmp_path / "db.sqlite3")
    try:
        with trio.fail_after(60):
            async with running_emulator(guilds=2, heartbeat_interval_ms=1000) as emu:
                a, b = await emu.control.guilds()
                for g in (a, b):
                    await store.put_guild_config(GuildConfig(guild_id=int(g["id"]), welcome_channel_id=1))
                channel_b = int(b["channels"][0]["id"])
                configs = FakeConfigs({int(b["id"]): WelcomeConfig(guild_id=int(b["id"]), channel_id=channel_b,
                                                                   message_template="hi {user}")})  # fmt: skip
                poster = FakePoster()
                pipeline = Pipeline(configs=configs, welcome_log=FakeLog(), members=FakeMembers(), cards=FakeCards(),
                                    poster=poster, turns=ChannelTurns(), observer=RecordingObserver(),
                                    departures=StoreDepartures(store, wall_clock=lambda: 1000.0))  # fmt: skip
                send, receive = trio.open_memory_channel[Dispatch](100)
                async with trio.open_nursery() as nursery:
                    await nursery.start(pipeline.run)
                    handle = await nursery.start(
                        run_shard, ShardConfig(Secret(emu.info.token), emu.info.gateway_url), send,
                        MemorySessionStore(),
                    )  # fmt: skip
                    nursery.start_soon(pipeline.feed, receive, {0: handle})
                    await handle.live.wait()
                    assert await departed(store, math.inf) == []
                    await emu.control.remove_bot(a["id"])
                    await emu.control.join(b["id"])  # the same shard, in order: handled after the GUILD_DELETE
                    await poster.wait_for_welcomes(1)
                    assert await departed(store, math.inf) == [int(a["id"])]
                    assert await departed(store, 1000.0) == [], "noted at the time it happened"
                    await emu.control.add_bot(a["id"])
                    await emu.control.join(b["id"])
                    await poster.wait_for_welcomes(2)
                    assert await departed(store, math.inf) == []
                    await pipeline.drain()
                    nursery.cancel_scope.cancel()
    finally:
        await store.close()


class _WatchedPruner(Pruner):
    """Reports each round's end: (clock, guilds purged so far)."""

    rounds: trio.MemorySendChannel[tuple[float, int]]

    async def purge_departed(self) -> None:
        await super().purge_departed()
        await self.rounds.send((trio.current_time(), self.guilds_purged))


async def test_a_departed_guild_s_data_goes_after_the_grace_period(tmp_path, autojump_clock: trio.testing.MockClock):
    store = await SqliteStore.open(tmp_path / "db.sqlite3")
    assets = AssetStore(store, tmp_path / "assets", quota_guild=10**6, quota_total=10**6, wall_clock=trio.current_time)
    try:
        ref = await assets.put(1, b"guild one's background", "image/png", 2, 2)
        for guild in (1, 2):
            background = ref if guild == 1 else None
            await store.put_guild_config(GuildConfig(guild_id=guild, welcome_channel_id=5, background_ref=background))
            key = WelcomeKey(guild, 77, "2026-01-01T00:00:00+00:00")
            await store.claim_welcome(key, "a", 0.0, 60)
            await store.mark_posted([key], 9, None, 0.0)
        departures = StoreDepartures(store, wall_clock=trio.current_time)
        await departures.left(1)
        await departures.left(2)
        await departures.back(2)  # added back: kept
        pruner = _WatchedPruner(store, 30 * DAY, assets=assets, grace_s=7 * DAY, wall_clock=trio.current_time,
                                every_s=3600)  # fmt: skip
        pruner.rounds, rounds = trio.open_memory_channel[tuple[float, int]](math.inf)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pruner.run)
            at, purged = await rounds.receive()
            while not purged:
                assert await store.get_guild_config(1) is not None, "kept through the grace period"
                at, purged = await rounds.receive()
            assert 7 * DAY <= at <= 7 * DAY + 3600, "deleted at the first round past the grace period"
            nursery.cancel_scope.cancel()
        assert await store.get_guild_config(1) is None
        assert await store.get_asset(ref.removeprefix("asset:")) is None
        assert not assets.path(ref.removeprefix("asset:")).exists()
        assert await store.last_welcome(1, 77) is None
        assert await store.get_guild_config(2) is not None, "the guild that came back keeps everything"
        assert await store.last_welcome(2, 77) is None, "its log row went by age (a day), not by departure"
        assert await departed(store, math.inf) == [], "its departure note went too"
        assert (pruner.guilds_purged, pruner.guild_rows) == (1, 3), "config, asset, note; the log went by age"
    finally:
        await store.close()


async def test_an_outage_guild_delete_is_not_a_removal(tmp_path: Path):
    """GUILD_DELETE with ``unavailable: true`` (events/gateway-events.mdx, Guild Delete: an outage) notes no
    departure; when the guild comes back (GUILD_CREATE) its joins are welcomed as before."""
    store = await SqliteStore.open(tmp_path / "db.sqlite3")
    try:
        with trio.fail_after(60):
            async with running_emulator(guilds=2, heartbeat_interval_ms=1000) as emu:
                a, b = await emu.control.guilds()
                for g in (a, b):
                    await store.put_guild_config(GuildConfig(guild_id=int(g["id"]), welcome_channel_id=1))
                welcome = {
                    int(g["id"]): WelcomeConfig(guild_id=int(g["id"]), channel_id=int(g["channels"][0]["id"]),
                                                message_template="hi {user}")
                    for g in (a, b)
                }  # fmt: skip
                configs = FakeConfigs(welcome)
                poster = FakePoster()
                pipeline = Pipeline(configs=configs, welcome_log=FakeLog(), members=FakeMembers(), cards=FakeCards(),
                                    poster=poster, turns=ChannelTurns(), observer=RecordingObserver(),
                                    departures=StoreDepartures(store, wall_clock=lambda: 1000.0))  # fmt: skip
                send, receive = trio.open_memory_channel[Dispatch](100)
                async with trio.open_nursery() as nursery:
                    await nursery.start(pipeline.run)
                    handle = await nursery.start(
                        run_shard, ShardConfig(Secret(emu.info.token), emu.info.gateway_url), send,
                        MemorySessionStore(),
                    )  # fmt: skip
                    nursery.start_soon(pipeline.feed, receive, {0: handle})
                    await handle.live.wait()
                    await emu.control.outage(a["id"])
                    await emu.control.join(b["id"])  # the same shard, in order: handled after the GUILD_DELETE
                    await poster.wait_for_welcomes(1)
                    assert await departed(store, math.inf) == [], "an outage is not a removal"
                    await emu.control.outage(a["id"], on=False)
                    await emu.control.join(a["id"])  # after its GUILD_CREATE
                    await poster.wait_for_welcomes(2)
                    assert await departed(store, math.inf) == []
                    await pipeline.drain()
                    nursery.cancel_scope.cancel()
    finally:
        await store.close()
