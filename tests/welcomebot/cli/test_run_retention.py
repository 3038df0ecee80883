"""`welcomebot run` prunes as it runs (#29.1, #29.2): a real bot process against the emulator process."""

import json
import signal
import time

import httpx
import trio

from tests.helpers import WelcomebotPopen, emulator_env
from welcomebot.store.api import GuildConfig, WelcomeKey
from welcomebot.store.departures import departed, note
from welcomebot.store.sqlite import SqliteStore

DAY = 86400.0


async def _seed(path: str) -> None:
    store = await SqliteStore.open(path)
    now = time.time()
    for guild, user, at in ((1, 10, now - 2 * DAY), (1, 11, now)):
        key = WelcomeKey(guild, user, "2026-01-01T00:00:00+00:00")
        await store.claim_welcome(key, "old run", at, 60)
        await store.mark_posted([key], user, None, at)
    await store.put_guild_config(GuildConfig(guild_id=2, welcome_channel_id=3))
    await note(store, 2, now - 8 * DAY)  # removed the bot 8 days ago, past the 7-day grace
    await store.close()


async def _state(path: str) -> tuple[str | None, str | None, bool, list[int]]:
    store = await SqliteStore.open(path)
    try:
        old = await store.welcome_status(WelcomeKey(1, 10, "2026-01-01T00:00:00+00:00"))
        new = await store.welcome_status(WelcomeKey(1, 11, "2026-01-01T00:00:00+00:00"))
        return old, new, await store.get_guild_config(2) is not None, await departed(store, float("inf"))
    finally:
        await store.close()


def test_run_prunes_old_rows_and_departed_servers_at_start_and_counts_them(emulator, tmp_path, output_check):
    db = f"{tmp_path}/w.sqlite3"
    trio.run(_seed, db)
    env = emulator_env(emulator, emulator["token"], f"sqlite:///{db}")
    with WelcomebotPopen(["run"], env=env, on_output=output_check) as proc:
        metrics_url, events = None, set()
        for line in proc.lines():
            record = json.loads(line)
            event = record.get("event", "")
            if event == "health and metrics served":
                metrics_url = record["url"]
            events.add(event)
            if "deleted the data of a server that removed the bot" in events:
                assert record["guild_id"] == 2
                break
        assert "welcome log pruned" in events
        assert metrics_url is not None
        metrics = httpx.get(metrics_url, timeout=10).text
        assert 'welcomebot_pruned_rows_total{reason="retention"} 1.0' in metrics
        assert 'welcomebot_pruned_rows_total{reason="guild_removed"} 2.0' in metrics, "its config and its note"
        assert "welcomebot_guilds_purged_total 1.0" in metrics
        proc.send_signal(signal.SIGTERM)
        code, _, err = proc.finish(timeout=60)
    assert code == 0, err
    assert trio.run(_state, db) == (None, "posted", False, [])
