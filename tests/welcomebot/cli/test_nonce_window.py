"""Issue 19.6: a response lost, the bot SIGKILLed, then down longer than Discord's nonce window: one welcome.

Emulator and bot are separate processes, as in the issue's repro. The emulator's answers to every message create
are lost (so the bot can never mark the welcome posted, though the message exists), the bot is killed, the
emulator's clock is moved 310 s on (Discord has forgotten the nonce: a re-post would make a second message), and
the bot is started again. Counts come from the emulator's records.
"""

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.helpers import WelcomebotProcess, emulator_env, postgres_dsn, start_live_bot
from welcomebot.emulator.testing import ControlClient
from welcomebot.store.api import GuildConfig
from welcomebot.store.open import open_store
from welcomebot.store.testing import scratch_schema

pytestmark = pytest.mark.slow


@contextlib.asynccontextmanager
async def emulator_process(output_check: Callable[[str], None]) -> AsyncIterator[tuple[dict[str, Any], ControlClient]]:
    """`welcomebot emulator` as its own process (its clock can be advanced), with the world's clock at now."""
    async with trio.open_nursery() as nursery:
        emu = await WelcomebotProcess.start(
            nursery, ["emulator", "--guilds", "1", "--members", "1", "--start-ms", str(int(time.time() * 1000))],
            None, output_check, info_line=True,
        )  # fmt: skip
        control = ControlClient(emu.info["control_base"])
        try:
            yield emu.info, control
        finally:
            await control.aclose()
            emu.terminate()
            await emu.exited()


async def _lost_response_sigkill_then_down_past_the_window(
    database_url: str, data_dir: Path, output_check: Callable[[str], None]
) -> None:
    with trio.fail_after(150):
        async with emulator_process(output_check) as (info, control):
            guild = (await control.guilds())[0]
            gid, channel = guild["id"], guild["channels"][0]["id"]
            async with open_store(database_url) as store:
                await store.put_guild_config(
                    GuildConfig(guild_id=int(gid), welcome_channel_id=int(channel), updated_at=1)
                )
            env = emulator_env(info, info["token"], database_url, WELCOMEBOT_DATA_DIR=str(data_dir))
            async with trio.open_nursery() as nursery:
                bot = await start_live_bot(nursery, env, output_check)
                await control.fault("rest", drop_responses=1000)  # every answer to a create is lost
                member = (await control.join(gid))["user_id"]
                await control.wait_for_mentions(channel, 1)  # the message exists; the bot never heard so
                bot.kill()
                await bot.exited()
            await control.fault("rest", drop_responses=0)
            await control.advance_clock(310)  # down past Discord's nonce window
            async with trio.open_nursery() as nursery:
                bot = await start_live_bot(nursery, env, output_check)
                # Either the old message is found, or (the bug) the welcome is posted a second time.
                outcome = (await bot.wait_for(("welcome found in the channel", "welcome posted")))["event"]
                bot.terminate()
                await bot.exited()
            messages = await control.messages(channel)
    named = [u for m in messages for u in m["mentioned_user_ids"]]
    assert named == [member], f"exactly one message names the member, got {len(messages)} messages"
    assert outcome.startswith("welcome found in the channel")


async def test_lost_response_then_down_past_the_nonce_window_welcomes_once_on_sqlite(tmp_path, output_check):
    await _lost_response_sigkill_then_down_past_the_window(
        f"sqlite:///{tmp_path / 'w.sqlite3'}", tmp_path, output_check
    )


@pytest.mark.postgres
async def test_lost_response_then_down_past_the_nonce_window_welcomes_once_on_postgres(tmp_path, output_check):
    async with scratch_schema(postgres_dsn(), prefix=f"nw{uuid.uuid4().hex[:6]}") as url:
        await _lost_response_sigkill_then_down_past_the_window(url, tmp_path, output_check)
