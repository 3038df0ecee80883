import sqlite3
from typing import Any, cast

import trio

from welcomebot.adapters.actions import RestActions
from welcomebot.adapters.store import CachedConfigs, StoreWelcomeLog
from welcomebot.app.model import JoinKey
from welcomebot.store.api import GuildConfig
from welcomebot.store.sqlite import SqliteStore


async def test_cached_configs_hit_and_invalidate(store):
    configs = CachedConfigs(store)
    assert await configs.get(1) is None
    await store.put_guild_config(GuildConfig(guild_id=1, welcome_channel_id=2, updated_at=5.0))
    assert await configs.get(1) is None, "cached until invalidated"
    configs.invalidate(1)
    config = await configs.get(1)
    assert config is not None
    assert config.channel_id == 2
    await configs.get(1)
    assert (configs.hits, configs.misses) == (2, 2)


async def test_welcome_log_port(store):
    clock = [1000.0]
    log = StoreWelcomeLog(store, "shards 0-0", wall_clock=lambda: clock[0])
    key = JoinKey(1, 2, "t")
    assert await log.claim(key)
    assert not await log.claim(key)
    restarted = StoreWelcomeLog(store, "shards 0-0", wall_clock=lambda: clock[0])
    assert await restarted.unfinished() == [(key, None)]
    await restarted.posted([key], 77, 12.0)
    assert await restarted.unfinished() == []
    assert not await restarted.claim(key)


class _PausedReads(SqliteStore):
    """Config reads that stop after reading, until released: a command saves in between."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        super().__init__(conn, path)
        self.read = trio.Event()
        self.release = trio.Event()

    async def get_guild_config(self, guild_id: int) -> GuildConfig | None:
        config = await super().get_guild_config(guild_id)
        self.read.set()
        await self.release.wait()
        return config


async def test_a_save_during_a_cache_miss_is_not_hidden_by_the_older_read(tmp_path):
    store = await _PausedReads.open(tmp_path / "w.sqlite3")
    assert isinstance(store, _PausedReads)
    configs = CachedConfigs(store)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(configs.get, 1)  # a welcome reads the config: none yet
        await store.read.wait()
        await store.put_guild_config(GuildConfig(guild_id=1, welcome_channel_id=2))  # /welcome channel saves one
        configs.invalidate(1)
        store.release.set()
    config = await configs.get(1)
    assert config is not None, "the read that started before the save was cached after its invalidation"
    assert config.channel_id == 2
    await store.close()


async def test_a_channel_problem_never_overwrites_a_config_saved_meanwhile(tmp_path):
    store = await _PausedReads.open(tmp_path / "w.sqlite3")
    assert isinstance(store, _PausedReads)
    store.release.set()
    await store.put_guild_config(GuildConfig(guild_id=1, welcome_channel_id=2, updated_at=1.0))
    store.read, store.release = trio.Event(), trio.Event()
    actions = RestActions(cast(Any, None), store, CachedConfigs(store))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actions.channel_problem, 1, "no access to channel 2")  # a post to channel 2 failed
        await store.read.wait()
        await store.put_guild_config(GuildConfig(guild_id=1, welcome_channel_id=3, updated_at=2.0))  # /welcome channel
        store.release.set()
    config = await store.get_guild_config(1)
    assert config is not None
    assert config.welcome_channel_id == 3, "the admin's new channel was reverted"
    assert config.channel_problem is None, "the old channel's problem is not the new config's"
    await store.close()
