"""The store contract: every backend passes the same tests."""

from welcomebot.gateway.protocol import SavedSession
from welcomebot.store.api import ClaimResult, GuildConfig, WelcomeKey

K1 = WelcomeKey(1 << 22, 10 << 22, "2026-11-24T10:00:00.000000+00:00")
K2 = WelcomeKey(1 << 22, 11 << 22, "2026-11-24T10:00:01.000000+00:00")


async def test_guild_config_round_trip_and_upsert(store):
    assert await store.get_guild_config(5) is None
    config = GuildConfig(guild_id=5, welcome_channel_id=6, message_template="hi {user}", options={"theme": "dark"},
                         updated_at=100.0)  # fmt: skip
    await store.put_guild_config(config)
    assert await store.get_guild_config(5) == config
    changed = GuildConfig(guild_id=5, welcome_channel_id=7, enabled=False, updated_at=101.0)
    await store.put_guild_config(changed)
    assert await store.get_guild_config(5) == changed
    await store.delete_guild_config(5)
    assert await store.get_guild_config(5) is None


async def test_claim_rules(store):
    assert await store.claim_welcome(K1, "a", 0.0, 60) is ClaimResult.CLAIMED
    assert await store.claim_welcome(K1, "b", 10.0, 60) is ClaimResult.HELD, "live lease: another owner keeps out"
    assert await store.claim_welcome(K1, "a", 10.0, 60) is ClaimResult.HELD, "a replay in the same run: dropped"
    assert await store.claim_welcome(K1, "b", 61.0, 60) is ClaimResult.TAKEN_OVER, "expired lease"
    await store.mark_posted([K1], 999, 42.0, 62.0)
    assert await store.claim_welcome(K1, "c", 1e9, 60) is ClaimResult.DONE
    assert await store.welcome_status(K1) == "posted"
    assert await store.claim_welcome(K2, "a", 0.0, 60) is ClaimResult.CLAIMED
    await store.mark_failed([K2], "failed_forbidden: no access", 1.0)
    assert await store.claim_welcome(K2, "a", 2.0, 60) is ClaimResult.DONE
    assert await store.welcome_status(WelcomeKey(1, 2, "x")) is None


async def test_unfinished_claims_are_taken_by_the_same_owner_or_after_the_lease(store):
    await store.claim_welcome(K1, "shards 0-0", 0.0, 60)
    await store.claim_welcome(K2, "other", 0.0, 60)
    assert await store.take_unfinished("shards 0-0", 1.0, 60) == [(K1, None)], "its own, at once after a restart"
    await store.assign_nonce([K1], "w123")
    assert await store.take_unfinished("shards 0-0", 100.0, 60) == [(K1, "w123"), (K2, None)], "others' once expired"
    assert await store.claim_welcome(K2, "other", 101.0, 60) is ClaimResult.HELD
    assert await store.renew_claims("shards 0-0", 150.0, 60) == 2


async def test_prune_keeps_unfinished(store):
    await store.claim_welcome(K1, "a", 0.0, 60)
    await store.claim_welcome(K2, "a", 0.0, 60)
    await store.mark_posted([K2], 1, None, 1.0)
    assert await store.prune_welcome_log(older_than=10.0) == 1
    assert await store.welcome_status(K1) == "claimed"


async def test_gateway_sessions_and_meta(store):
    assert await store.load(0) is None
    await store.save(0, SavedSession("s", 5, "ws://r"))
    await store.save(0, SavedSession("s", 9, "ws://r"))
    assert await store.load(0) == SavedSession("s", 9, "ws://r")
    await store.clear(0)
    assert await store.load(0) is None
    await store.set_meta("commands_hash", "abc")
    assert await store.get_meta("commands_hash") == "abc"
