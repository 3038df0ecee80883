"""Issue 19.6: a response lost, the bot SIGKILLed, then down longer than Discord's nonce window: one welcome.

Emulator and bot are separate processes, as in the issue's repro. The emulator's answers to every message create
are lost (so the bot can never mark the welcome posted, though the message exists), the bot is killed, the
emulator's clock is moved 310 s on (Discord has forgotten the nonce: a re-post would make a second message), and
the bot is started again. Counts come from the emulator's records.
"""

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.welcomebot.cli.test_kill_restart import LIVE
from tests.welcomebot.store.conftest import postgres_dsn
from welcomebot.emulator.testing import ControlClient
from welcomebot.store.api import GuildConfig
from welcomebot.store.open import open_store
from welcomebot.store.testing import scratch_schema

pytestmark = pytest.mark.slow


@contextlib.asynccontextmanager
async def emulator_process() -> AsyncIterator[tuple[dict[str, Any], ControlClient]]:
    """`welcomebot emulator` as its own process (its clock can be advanced), with the world's clock at now."""
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "welcomebot", "emulator", "--guilds", "1", "--members", "1",
         "--start-ms", str(int(time.time() * 1000))],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    line = b""
    while not line.endswith(b"\n"):
        line += await proc.stdout.receive_some(4096)
    info = json.loads(line)
    control = ControlClient(info["control_base"])
    try:
        yield info, control
    finally:
        await control.aclose()
        proc.terminate()
        await proc.wait()


class BotLog:
    """The events of a bot process's JSON log, to wait on."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self._changed = trio.Event()

    async def read(self, proc: trio.Process) -> None:
        assert proc.stdout is not None
        buffer = b""
        async for chunk in proc.stdout:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            self.events += [json.loads(line).get("event", "") for line in lines if line.strip()]
            self._changed.set()
            self._changed = trio.Event()

    async def wait_for(self, *prefixes: str) -> str:
        while True:
            hit = next((e for e in self.events if e.startswith(prefixes)), None)
            if hit is not None:
                return hit
            await self._changed.wait()


async def _start_bot(nursery: trio.Nursery, env: dict[str, str]) -> tuple[trio.Process, BotLog]:
    """`welcomebot run`, returned once its gateway session is live."""
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "welcomebot", "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    events = BotLog()
    nursery.start_soon(events.read, proc)
    await events.wait_for(*LIVE)
    return proc, events


def _env(info: dict[str, Any], database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WELCOMEBOT_", "DISCORD_"))}
    env.update({
        "DISCORD_BOT_TOKEN": info["token"], "WELCOMEBOT_API_BASE": info["api_base"],
        "WELCOMEBOT_CDN_BASE": info["cdn_base"], "WELCOMEBOT_DATABASE_URL": database_url,
        "WELCOMEBOT_DATA_DIR": str(data_dir), "WELCOMEBOT_HTTP_ADDR": "127.0.0.1:0", "WELCOMEBOT_LOG_FORMAT": "json",
    })  # fmt: skip
    return env


async def _lost_response_sigkill_then_down_past_the_window(database_url: str, data_dir: Path) -> None:
    with trio.fail_after(150):
        async with emulator_process() as (info, control):
            guild = (await control.guilds())[0]
            gid, channel = guild["id"], guild["channels"][0]["id"]
            async with open_store(database_url) as store:
                await store.put_guild_config(
                    GuildConfig(guild_id=int(gid), welcome_channel_id=int(channel), updated_at=1)
                )
            env = _env(info, database_url, data_dir)
            async with trio.open_nursery() as nursery:
                bot, _ = await _start_bot(nursery, env)
                await control.fault("rest", drop_responses=1000)  # every answer to a create is lost
                member = (await control.join(gid))["user_id"]
                await control.wait_for_mentions(channel, 1)  # the message exists; the bot never heard so
                bot.kill()
                await bot.wait()
            await control.fault("rest", drop_responses=0)
            await control.advance_clock(310)  # down past Discord's nonce window
            async with trio.open_nursery() as nursery:
                bot, events = await _start_bot(nursery, env)
                # Either the old message is found, or (the bug) the welcome is posted a second time.
                outcome = await events.wait_for("welcome found in the channel", "welcome posted")
                bot.terminate()
                await bot.wait()
            messages = await control.messages(channel)
    named = [u for m in messages for u in m["mentioned_user_ids"]]
    assert named == [member], f"exactly one message names the member, got {len(messages)} messages"
    assert outcome.startswith("welcome found in the channel")


async def test_lost_response_then_down_past_the_nonce_window_welcomes_once_on_sqlite(tmp_path):
    await _lost_response_sigkill_then_down_past_the_window(f"sqlite:///{tmp_path / 'w.sqlite3'}", tmp_path)


@pytest.mark.postgres
async def test_lost_response_then_down_past_the_nonce_window_welcomes_once_on_postgres(tmp_path):
    async with scratch_schema(postgres_dsn(), prefix=f"nw{uuid.uuid4().hex[:6]}") as url:
        await _lost_response_sigkill_then_down_past_the_window(url, tmp_path)
