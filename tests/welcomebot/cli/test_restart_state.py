"""Issue 20.1: after a restart whose session RESUMEs (no GUILD_CREATE again), a welcome names the server and
its right member count, and the card was drawn with both.

The bot is a real `welcomebot run` process stopped with SIGTERM (it saves its session) or SIGKILL (the saved
sequence lags behind what it handled, so Discord replays events it already counted); the emulator runs in the
test. Members join and leave while the bot is down. The card's inputs are read from its alt text, which is
built from the same CardSpec the renderer drew.
"""

import signal
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.helpers import bot_env, postgres_dsn, start_live_bot
from welcomebot.emulator.testing import running_emulator
from welcomebot.store.api import GuildConfig
from welcomebot.store.open import open_store
from welcomebot.store.testing import scratch_schema

pytestmark = pytest.mark.slow


async def _restart_keeps_name_and_count(
    url: str, tmp_path: Path, stop: signal.Signals, output_check: Callable[[str], None]
) -> None:
    with trio.fail_after(120):
        async with running_emulator(guilds=1) as emu:
            guild: dict[str, Any] = (await emu.control.guilds())[0]
            gid, channel = guild["id"], guild["channels"][0]["id"]
            async with open_store(url) as store:
                await store.put_guild_config(GuildConfig(guild_id=int(gid), welcome_channel_id=int(channel),
                                                         updated_at=1))  # fmt: skip
            env = bot_env(emu.info, url, WELCOMEBOT_DATA_DIR=str(tmp_path))

            async with trio.open_nursery() as nursery:
                bot = await start_live_bot(nursery, env, output_check)
                first = (await emu.control.join(gid, username="ada"))["user_id"]
                await emu.control.wait_for_mentions(channel, 1)
                await emu.control.update_guild(gid, name="Café Ünïcode")  # GUILD_UPDATE, no GUILD_CREATE after
                extra = [(await emu.control.join(gid, username=f"m{i}"))["user_id"] for i in range(3)]
                await emu.control.wait_for_mentions(channel, 4)
                bot.send_signal(stop)
                await bot.exited()
            # while the bot is down: two join (Discord replays their adds on RESUME), one leaves
            extra += [(await emu.control.join(gid, username=f"d{i}"))["user_id"] for i in range(2)]
            await emu.control.leave(gid, first)

            async with trio.open_nursery() as nursery:
                bot = await start_live_bot(nursery, env, output_check)
                await emu.control.wait_for_mentions(channel, 1 + len(extra))  # the replayed adds are welcomed
                last = (await emu.control.join(gid, username="zoe"))["user_id"]
                messages = await emu.control.wait_for_mentions(channel, 1 + len(extra) + 1)
                bot.send_signal(signal.SIGTERM)
                assert await bot.exited() == 0
            sessions = await emu.control.sessions()
            count = (await emu.control.guilds())[0]["member_count"]

    assert sum(s["identify_count"] for s in sessions) == 1, "the restart RESUMEd: one IDENTIFY in all"
    assert sum(s["resume_count"] for s in sessions) >= 1
    welcome = next(m for m in messages if last in m["mentioned_user_ids"])
    assert welcome["content"] == f"Welcome to Café Ünïcode, <@{last}>! You are member #{count}."
    alts = [a.get("description", "") for a in welcome["attachments"]]
    assert alts == [f"Welcome card for zoe of Café Ünïcode, member #{count}"]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_after_a_resume_the_welcome_names_the_server_and_counts_right_on_sqlite(tmp_path, stop, output_check):
    await _restart_keeps_name_and_count(f"sqlite:///{tmp_path / 'w.sqlite3'}", tmp_path, stop, output_check)


@pytest.mark.postgres
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_after_a_resume_the_welcome_names_the_server_and_counts_right_on_postgres(tmp_path, stop, output_check):
    async with scratch_schema(postgres_dsn(), prefix=f"rs{uuid.uuid4().hex[:6]}") as url:
        await _restart_keeps_name_and_count(url, tmp_path, stop, output_check)
