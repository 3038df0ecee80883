"""`welcomebot run` as a real process finds a claim that three earlier starts died on (#18.3): it quarantines
it instead of replaying it, finishes a claim tried twice, and welcomes new members. Counts from the emulator."""

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing

import httpx
import pytest
import trio

from tests.helpers import WelcomebotProcess, bot_env, until
from welcomebot.emulator.testing import running_emulator
from welcomebot.store.api import MAX_ATTEMPTS, GuildConfig, WelcomeKey
from welcomebot.store.sqlite import SqliteStore

pytestmark = pytest.mark.slow


async def test_a_claim_every_start_died_on_is_quarantined_not_replayed(tmp_path, output_check: Callable[[str], None]):
    db = tmp_path / "w.sqlite3"
    with trio.fail_after(120):
        async with running_emulator(guilds=1) as emu:
            guild = (await emu.control.guilds())[0]
            gid, channel = int(guild["id"]), guild["channels"][0]["id"]
            poison = await emu.control.join(gid, username="poison")
            twice = await emu.control.join(gid, username="twice")
            store = await SqliteStore.open(db)
            await store.put_guild_config(GuildConfig(guild_id=gid, welcome_channel_id=int(channel), updated_at=1))
            keys = {}
            for member in (poison, twice):
                found = await emu.control.member(gid, member["user_id"])
                keys[member["user_id"]] = key = WelcomeKey(gid, int(member["user_id"]), found["joined_at"])
                await store.claim_welcome(key, "a process that died", time.time() - 60, 1.0)  # its lease ran out
            await store.close()
            # As left by earlier starts that each counted their try and then died during it.
            with closing(sqlite3.connect(db)) as c, c:  # closed, not only committed (3.13 warns)
                for user_id, attempts in ((poison["user_id"], MAX_ATTEMPTS), (twice["user_id"], MAX_ATTEMPTS - 1)):
                    c.execute("UPDATE welcome_log SET attempts = ? WHERE user_id = ?", (attempts, int(user_id)))

            env = bot_env(emu.info, f"sqlite:///{db}", WELCOMEBOT_DATA_DIR=str(tmp_path))
            async with trio.open_nursery() as nursery:
                bot = await WelcomebotProcess.start(nursery, ["run"], env, output_check)
                quarantined = await bot.wait_for("welcome quarantined: it failed every attempt and is not tried again")
                served = await bot.wait_for("health and metrics served")
                await bot.wait_for("gateway ready")
                newcomer = await emu.control.join(gid, username="newcomer")
                await emu.control.wait_for_mentions(channel, 2)
                base = str(served["url"]).removesuffix("/metrics")
                async with httpx.AsyncClient() as http:
                    metrics = (await http.get(f"{base}/metrics")).text
                    ready = (await http.get(f"{base}/readyz")).json()
                bot.terminate()
                assert await bot.exited() == 0, bot.stderr
            messages = await emu.control.messages(channel)
    welcomed = [u for m in messages for u in m["mentioned_user_ids"]]
    assert sorted(welcomed) == sorted([twice["user_id"], newcomer["user_id"]]), "the poison claim is not replayed"
    assert quarantined["level"] == "error"
    assert quarantined["user_id"] == int(poison["user_id"])
    assert quarantined["reason"] == f"quarantined after {MAX_ATTEMPTS} attempts: the process stopped while finishing it"
    assert len([r for r in bot.records if r.get("event", "").startswith("welcome quarantined")]) == 1, "logged once"
    assert 'welcomebot_welcomes_total{outcome="quarantined"} 1.0' in metrics
    assert ready["ready"] is True, ready
    store = await SqliteStore.open(db)
    try:
        assert await store.welcome_status(keys[poison["user_id"]]) == "failed"
        assert await store.quarantined(gid) == (1, quarantined["reason"])
    finally:
        await store.close()


async def test_a_welcome_each_start_is_killed_during_is_tried_three_times_then_quarantined(
    tmp_path, output_check: Callable[[str], None]
):
    """The crash loop of #18, with real processes: each start dies (SIGKILL) while it tries the welcome (the CDN
    hangs, so its card waits for the avatar); every start counted its try first, so the fourth quarantines it."""
    db = tmp_path / "w.sqlite3"

    def attempts() -> int | None:
        with closing(sqlite3.connect(db)) as c:
            row = c.execute("SELECT attempts FROM welcome_log WHERE status = 'claimed'").fetchone()
        return None if row is None else int(row[0])

    async def tried(n: int) -> bool:
        await trio.lowlevel.checkpoint()
        return attempts() == n

    with trio.fail_after(180):
        async with running_emulator(guilds=1) as emu:
            guild = (await emu.control.guilds())[0]
            gid, channel = int(guild["id"]), guild["channels"][0]["id"]
            store = await SqliteStore.open(db)
            await store.put_guild_config(GuildConfig(guild_id=gid, welcome_channel_id=int(channel), updated_at=1))
            await store.close()
            env = bot_env(emu.info, f"sqlite:///{db}", WELCOMEBOT_DATA_DIR=str(tmp_path))
            await emu.control.fault("cdn", latency_s=600)
            for start in range(1, MAX_ATTEMPTS + 1):
                async with trio.open_nursery() as nursery:
                    bot = await WelcomebotProcess.start(nursery, ["run"], env, output_check)
                    if start == 1:
                        await bot.wait_for("gateway ready")
                        poison = await emu.control.join(gid, username="poison")
                    await until(lambda n=start: tried(n))  # type: ignore[misc]
                    bot.kill()
                    await bot.exited()
            await emu.control.fault("cdn", latency_s=0)
            async with trio.open_nursery() as nursery:
                bot = await WelcomebotProcess.start(nursery, ["run"], env, output_check)
                quarantined = await bot.wait_for("welcome quarantined: it failed every attempt and is not tried again")
                await bot.wait_for("gateway ready")
                newcomer = await emu.control.join(gid, username="newcomer")
                await emu.control.wait_for_mentions(channel, 1)
                bot.terminate()
                assert await bot.exited() == 0, bot.stderr
            messages = await emu.control.messages(channel)
    welcomed = [u for m in messages for u in m["mentioned_user_ids"]]
    assert welcomed == [newcomer["user_id"]], "the welcome that killed three starts is not tried a fourth time"
    assert quarantined["user_id"] == int(poison["user_id"])
    assert quarantined["reason"] == f"quarantined after {MAX_ATTEMPTS} attempts: the process stopped while finishing it"
    assert attempts() is None, "nothing is left claimed"
