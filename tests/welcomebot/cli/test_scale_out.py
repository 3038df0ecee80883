"""#25.1: identical `welcomebot run --shards auto` replicas on one PostgreSQL divide the shards and take over a
killed one's. Real processes against the emulator; counts come from the emulator's records."""

import signal
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.helpers import bot_env, postgres_dsn, start_live_bot
from welcomebot.emulator.testing import RunningEmulator, running_emulator
from welcomebot.store.api import GuildConfig
from welcomebot.store.open import open_store
from welcomebot.store.testing import scratch_schema

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SHARDS = 4


async def _join_everywhere(emu: RunningEmulator, guilds: list[dict[str, Any]]) -> list[str]:
    return [(await emu.control.join(g["id"]))["user_id"] for g in guilds]


async def _welcomed(emu: RunningEmulator, guilds: list[dict[str, Any]], per_guild: int) -> Counter[str]:
    """Wait until every guild's channel mentions ``per_guild`` members; how often each member was mentioned."""
    mentions: Counter[str] = Counter()
    for g in guilds:
        for message in await emu.control.wait_for_mentions(g["channels"][0]["id"], per_guild):
            mentions.update(message["mentioned_user_ids"])
    return mentions


async def test_auto_replicas_share_shards_take_over_a_killed_ones_within_30s_and_rebalance_on_a_join(
    tmp_path: Path, output_check: Callable[[str], None]
):
    async with scratch_schema(postgres_dsn(), prefix=f"so{uuid.uuid4().hex[:6]}") as url:
        with trio.fail_after(240):
            async with running_emulator(guilds=SHARDS * 2) as emu:
                await emu.control.application(shards=SHARDS, max_concurrency=1)
                guilds: list[dict[str, Any]] = await emu.control.guilds()
                assert len({(int(g["id"]) >> 22) % SHARDS for g in guilds}) == SHARDS, "a guild on every shard"
                async with open_store(url) as store:
                    for g in guilds:
                        await store.put_guild_config(GuildConfig(guild_id=int(g["id"]),
                                                                 welcome_channel_id=int(g["channels"][0]["id"]),
                                                                 updated_at=1))  # fmt: skip
                env = bot_env(emu.info, url, WELCOMEBOT_DATA_DIR=str(tmp_path), WELCOMEBOT_SHARDS="auto")

                async with trio.open_nursery() as nursery:
                    bots = [
                        await start_live_bot(nursery, env, output_check) for _ in range(3)
                    ]  # each live once it runs a shard
                    joined = await _join_everywhere(emu, guilds)
                    await _welcomed(emu, guilds, 1)
                    connected = [s["shard"][0] for s in await emu.control.sessions() if s["connected"]]

                    bots[0].send_signal(signal.SIGKILL)  # it kept 1 or 2 of the 4 it started with
                    assert await bots[0].exited() == -signal.SIGKILL
                    killed_at = trio.current_time()
                    joined += await _join_everywhere(emu, guilds)
                    with trio.fail_after(30):
                        mentions = await _welcomed(emu, guilds, 2)
                    takeover_s = trio.current_time() - killed_at
                    after = [s["shard"][0] for s in await emu.control.sessions() if s["connected"]]

                    # A fourth joins: a replica running two hands one over (closed resumably, RESUMEd there).
                    bots.append(await start_live_bot(nursery, env, output_check))
                    joined += await _join_everywhere(emu, guilds)
                    mentions = await _welcomed(emu, guilds, 3)
                    rebalanced = [s["shard"][0] for s in await emu.control.sessions() if s["connected"]]

                    for bot in bots[1:]:
                        bot.send_signal(signal.SIGTERM)
                    for bot in bots[1:]:
                        assert await bot.exited() == 0
                stats = await emu.control.stats()

    assert sorted(connected) == list(range(SHARDS)), "every shard connected once, by one of the replicas"
    assert sorted(after) == list(range(SHARDS)), "the killed replica's shards run again, each once"
    assert sorted(rebalanced) == list(range(SHARDS)), "after the fourth joined: each shard once"
    assert set(mentions) == set(joined), "every join welcomed"
    assert set(mentions.values()) == {1}, "none twice"
    print(f"takeover: every guild's join welcomed {takeover_s:.1f} s after the SIGKILL")
    assert stats["gateway"]["identify_refused"] == 0, "IDENTIFYs booked in the store: none too early (#25.2)"
