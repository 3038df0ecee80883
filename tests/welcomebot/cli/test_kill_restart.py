"""`welcomebot run` killed with SIGKILL mid-raid and started again: no member lost, none welcomed twice.

The bot is a real process (nothing runs after SIGKILL: no drain, no session save beyond what was durable);
the emulator runs in the test and counts from its own records.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from welcomebot.emulator.testing import RunningEmulator, running_emulator
from welcomebot.store.api import GuildConfig
from welcomebot.store.sqlite import SqliteStore

pytestmark = pytest.mark.slow


def _env(emu: RunningEmulator, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WELCOMEBOT_", "DISCORD_"))}
    env.update({
        "DISCORD_BOT_TOKEN": emu.info.token, "WELCOMEBOT_API_BASE": emu.info.api_base,
        "WELCOMEBOT_CDN_BASE": emu.info.cdn_base, "WELCOMEBOT_DATABASE_URL": f"sqlite:///{db}",
        "WELCOMEBOT_DATA_DIR": str(db.parent), "WELCOMEBOT_HTTP_ADDR": "127.0.0.1:0", "WELCOMEBOT_LOG_FORMAT": "json",
    })  # fmt: skip
    return env


async def _watch(proc: trio.Process, live: trio.Event) -> None:
    """Read the bot's JSON log lines (so the pipe never fills) and set ``live`` once its gateway session is."""
    assert proc.stdout is not None
    buffer = b""
    async for chunk in proc.stdout:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        if any(json.loads(line).get("event", "").startswith(LIVE) for line in lines):
            live.set()


LIVE = ("gateway ready", "gateway session resumed")


async def _start_bot(nursery: trio.Nursery, env: dict[str, str]) -> trio.Process:
    """Start `welcomebot run`; return once its gateway session is live (READY or RESUMED logged)."""
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "welcomebot", "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    live = trio.Event()
    nursery.start_soon(_watch, proc, live)
    await live.wait()
    return proc


async def test_sigkill_mid_raid_then_restart_welcomes_every_member_exactly_once(tmp_path):
    db = tmp_path / "w.sqlite3"
    with trio.fail_after(180):
        async with running_emulator(guilds=1) as emu:
            await emu.control.limits(message_period_s=0.5)
            guild: dict[str, Any] = (await emu.control.guilds())[0]
            gid, channel = guild["id"], guild["channels"][0]["id"]
            store = await SqliteStore.open(db)
            await store.put_guild_config(GuildConfig(guild_id=int(gid), welcome_channel_id=int(channel), updated_at=1))
            await store.close()
            env = _env(emu, db)

            async with trio.open_nursery() as nursery:
                bot = await _start_bot(nursery, env)
                joined = [(await emu.control.join(gid))["user_id"] for _ in range(300)]
                await emu.control.wait_for_mentions(channel, 50)
                bot.send_signal(signal.SIGKILL)
                assert await bot.wait() == -signal.SIGKILL
            posted_before_restart = len(await emu.control.messages(channel))
            joined += [(await emu.control.join(gid))["user_id"] for _ in range(20)]  # while the bot is down

            async with trio.open_nursery() as nursery:
                bot = await _start_bot(nursery, env)
                messages = await emu.control.wait_for_mentions(channel, len(joined), wait_s=150)
                bot.send_signal(signal.SIGTERM)
                assert await bot.wait() == 0
            stats = await emu.control.stats()
    welcomed = [u for m in messages for u in m["mentioned_user_ids"]]
    assert posted_before_restart < len(messages), "the kill really happened mid-raid"
    assert sorted(welcomed) == sorted(joined), "every member welcomed exactly once"
    assert welcomed == joined, "in join order"
    assert stats["rate_limited_total"] == 0
