"""`welcomebot run` killed with SIGKILL mid-raid and started again: no member lost, none welcomed twice.

The bot is a real process (nothing runs after SIGKILL: no drain, no session save beyond what was durable);
the emulator runs in the test and counts from its own records.
"""

import signal
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.helpers import bot_env, start_live_bot
from welcomebot.emulator.testing import RunningEmulator, running_emulator
from welcomebot.store.api import GuildConfig
from welcomebot.store.sqlite import SqliteStore

pytestmark = pytest.mark.slow


def _env(emu: RunningEmulator, db: Path) -> dict[str, str]:
    return bot_env(emu.info, f"sqlite:///{db}", WELCOMEBOT_DATA_DIR=str(db.parent))


async def test_sigkill_mid_raid_then_restart_welcomes_every_member_exactly_once(tmp_path, output_check):
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
                bot = await start_live_bot(nursery, env, output_check)
                joined = [(await emu.control.join(gid))["user_id"] for _ in range(300)]
                await emu.control.wait_for_mentions(channel, 50)
                bot.send_signal(signal.SIGKILL)
                assert await bot.exited() == -signal.SIGKILL
            posted_before_restart = len(await emu.control.messages(channel))
            joined += [(await emu.control.join(gid))["user_id"] for _ in range(20)]  # while the bot is down

            async with trio.open_nursery() as nursery:
                bot = await start_live_bot(nursery, env, output_check)
                messages = await emu.control.wait_for_mentions(channel, len(joined), wait_s=150)
                bot.send_signal(signal.SIGTERM)
                assert await bot.exited() == 0
            stats = await emu.control.stats()
    welcomed = [u for m in messages for u in m["mentioned_user_ids"]]
    assert posted_before_restart < len(messages), "the kill really happened mid-raid"
    assert sorted(welcomed) == sorted(joined), "every member welcomed exactly once"
    assert welcomed == joined, "in join order"
    assert stats["rate_limited_total"] == 0
