"""Issue 19.1 as the fault campaign ran it: `welcomebot run` processes, Discord answering 503 from some point,
the bot stopped (SIGTERM whose drain gives up, or SIGKILL while posts wait), the fault lifted, a restart.

The batches the first process had given a nonce never reached Discord; the restart re-posts them. Each must go
out whole: a part posted first would make Discord answer the later parts with that partial message, and they
were marked posted while named in no message (9 of 100 lost). Counted from the emulator's records.
"""

import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from tests.helpers import bot_env, postgres_dsn, start_live_bot
from welcomebot.emulator.testing import RunningEmulator, running_emulator
from welcomebot.store.api import GuildConfig
from welcomebot.store.open import open_store
from welcomebot.store.testing import scratch_schema

pytestmark = pytest.mark.slow

JOINS = 100


@asynccontextmanager
async def database(kind: str, tmp_path: Any) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'w.sqlite3'}"
    else:
        async with scratch_schema(postgres_dsn()) as url:
            yield url


async def _split_repost(
    emu: RunningEmulator, url: str, tmp_path: Any, stop: signal.Signals, output_check: Callable[[str], None]
) -> None:
    guild: dict[str, Any] = (await emu.control.guilds())[0]
    gid, channel = guild["id"], guild["channels"][0]["id"]
    async with open_store(url) as store:
        await store.put_guild_config(GuildConfig(guild_id=int(gid), welcome_channel_id=int(channel), updated_at=1))
    env = bot_env(emu.info, url, WELCOMEBOT_DATA_DIR=str(tmp_path))
    joined: list[str] = []
    async with trio.open_nursery() as nursery:
        bot = await start_live_bot(nursery, env, output_check, "--drain-timeout", "2")
        for i in range(JOINS):  # 20 a second, as in the issue; Discord fails every request from the 40th on
            if i == 40:
                await emu.control.fault("rest", fail_share=1.0, fail_status=503)
            joined.append((await emu.control.join(gid))["user_id"])
            await trio.sleep(0.05)
        bot.send_signal(stop)
        assert await bot.exited() in (0, -signal.SIGKILL)
    await emu.control.fault("rest", fail_share=0.0)
    async with trio.open_nursery() as nursery:
        bot = await start_live_bot(nursery, env, output_check, "--drain-timeout", "2")
        messages = await emu.control.wait_for_mentions(channel, JOINS, wait_s=120)
        bot.send_signal(signal.SIGTERM)
        assert await bot.exited() == 0
        messages = await emu.control.messages(channel)  # anything posted twice has arrived by now
    welcomed = [u for m in messages for u in m["mentioned_user_ids"]]
    assert sorted(set(joined) - set(welcomed)) == [], "no joiner lost"
    assert sorted(welcomed) == sorted(joined), "every joiner named in exactly one message"


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_sigterm_while_discord_fails_then_restart_welcomes_every_joiner_once(tmp_path, kind, output_check):
    with trio.fail_after(240):
        async with database(kind, tmp_path) as url, running_emulator(guilds=1) as emu:
            await _split_repost(emu, url, tmp_path, signal.SIGTERM, output_check)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_sigkill_while_posts_wait_then_restart_welcomes_every_joiner_once(tmp_path, kind, output_check):
    with trio.fail_after(240):
        async with database(kind, tmp_path) as url, running_emulator(guilds=1) as emu:
            await _split_repost(emu, url, tmp_path, signal.SIGKILL, output_check)
