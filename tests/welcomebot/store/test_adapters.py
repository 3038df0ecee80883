from welcomebot.app.model import JoinKey
from welcomebot.store.adapters import CachedConfigs, StoreWelcomeLog
from welcomebot.store.api import GuildConfig


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
