"""Retention (#29.1): the welcome log keeps a row while its guild's features need it, never past the ceiling."""

import math

import trio
import trio.testing

from welcomebot.app.behaviour import Behaviour, CatchUp, Gate, options_with
from welcomebot.retention.prune import BASE_S, Pruner, prune_once
from welcomebot.store.api import GuildConfig, Store, WelcomeKey
from welcomebot.store.sqlite import SqliteStore

DAY = 86400.0
MONTH = 30 * DAY


async def _posted(store: Store, guild: int, user: int, at: float) -> WelcomeKey:
    key = WelcomeKey(guild, user, f"2026-01-01T00:00:{user % 60:02d}+00:00")
    await store.claim_welcome(key, "a", at, 60)
    await store.mark_posted([key], user, None, at)
    return key


async def test_rows_go_after_a_day_unless_claimed_or_still_to_be_deleted(store):
    old = await _posted(store, 1, 11, 0.0)
    fresh = await _posted(store, 1, 12, 1.5 * DAY)
    unfinished = WelcomeKey(1, 13, "x")
    await store.claim_welcome(unfinished, "a", 0.0, 60)
    pending = await _posted(store, 1, 14, 0.0)
    await store.schedule_delete([pending], 99, 3 * DAY)
    assert await prune_once(store, now=2 * DAY, retention_s=MONTH) == 1
    assert await store.welcome_status(old) is None
    for kept in (fresh, unfinished, pending):
        assert await store.welcome_status(kept) is not None, kept


async def test_a_guild_keeps_its_rows_for_its_longest_feature_window_capped_by_the_retention(store):
    rejoin = options_with({}, Behaviour(gate=Gate(rejoin_window_hours=72)))
    await store.put_guild_config(GuildConfig(guild_id=1, options=rejoin))
    await store.put_guild_config(GuildConfig(guild_id=2, options=options_with({}, Behaviour(catch_up=CatchUp(
        enabled=True, max_age_minutes=24 * 60)))))  # fmt: skip
    year = options_with({}, Behaviour(gate=Gate(rejoin_window_hours=365 * 24)))
    await store.put_guild_config(GuildConfig(guild_id=3, options=year))
    a, b, c, d = [await _posted(store, g, 20 + g, 0.0) for g in (1, 2, 3, 4)]  # guild 4: no config
    assert await prune_once(store, now=2 * DAY, retention_s=MONTH) == 2, "guilds 2 and 4: a day"
    assert await store.welcome_status(b) is None
    assert await store.welcome_status(d) is None
    assert await store.welcome_status(a) == "posted", "the rejoin gate needs 72 h"
    assert await prune_once(store, now=3 * DAY + 1, retention_s=MONTH) == 1
    assert await store.welcome_status(a) is None
    assert await prune_once(store, now=MONTH - 1, retention_s=MONTH) == 0, "a year's rejoin window, capped"
    assert await prune_once(store, now=MONTH + 1, retention_s=MONTH) == 1
    assert await store.welcome_status(c) is None


async def test_pruning_goes_in_batches_until_done(store):
    keys = [await _posted(store, 5, 100 + i, 0.0) for i in range(7)]
    assert await prune_once(store, now=2 * DAY, retention_s=MONTH, batch=3) == 7
    assert [await store.welcome_status(k) for k in keys] == [None] * 7


class _Watched(SqliteStore):
    """Reports each pruning statement: (clock, rows removed)."""

    rounds: trio.MemorySendChannel[tuple[float, int]]

    async def prune_welcome_log(self, older_than, **kwargs):
        removed = await super().prune_welcome_log(older_than, **kwargs)
        await self.rounds.send((trio.current_time(), removed))
        return removed


async def test_welcomebot_run_prunes_periodically_on_the_clock(tmp_path, autojump_clock: trio.testing.MockClock):
    store = await _Watched.open(tmp_path / "db.sqlite3")
    assert isinstance(store, _Watched)
    store.rounds, rounds = trio.open_memory_channel[tuple[float, int]](math.inf)
    try:
        old = await _posted(store, 1, 31, -2 * DAY)
        new = await _posted(store, 1, 32, 0.0)
        pruner = Pruner(store, MONTH, wall_clock=trio.current_time, every_s=3600)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pruner.run)
            assert (await rounds.receive())[1] == 1, "at start: the row two days old"
            assert await store.welcome_status(old) is None
            at, removed = await rounds.receive()
            while not removed:
                assert await store.welcome_status(new) == "posted"
                at, removed = await rounds.receive()
            assert BASE_S <= at <= BASE_S + 3600, "the next hourly round after the row turned a day old"
            assert await store.welcome_status(new) is None
            assert pruner.pruned == 2
            nursery.cancel_scope.cancel()
    finally:
        await store.close()
