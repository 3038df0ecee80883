"""The store contract: every backend passes the same tests."""

import msgspec
import pytest

from tests.helpers import H1, K1, K2, asset_record, fill_store
from welcomebot.gateway.protocol import SavedSession
from welcomebot.store.api import DUMP_TABLES, LATE, MAX_ATTEMPTS, ClaimResult, GuildConfig, WelcomeKey
from welcomebot.store.errors import DumpInvalid, StoreNotEmpty


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


async def test_a_claim_that_crashed_every_start_is_quarantined_not_taken_again(store):
    """Each start counts its try before it makes it (take_unfinished); the start after the last allowed one
    quarantines the claim instead of replaying the crash (#18.3)."""
    await store.claim_welcome(K1, "a", 0.0, 60)  # attempt 1, then the process dies
    await store.claim_welcome(K2, "a", 0.0, 60)
    for start in range(2, MAX_ATTEMPTS + 1):
        assert await store.quarantine_unfinished("a", float(start)) == []
        taken = await store.take_unfinished("a", float(start), 60)
        assert [k for k, _ in taken] == ([K1, K2] if start == 2 else [K1]), f"start {start} tries again"
        await store.mark_posted([K2], 5, None, float(start))  # K2 makes it on the second start
    quarantined = await store.quarantine_unfinished("a", 10.0)
    assert quarantined == [(K1, f"quarantined after {MAX_ATTEMPTS} attempts: the process stopped while finishing it")]
    assert await store.take_unfinished("a", 10.0, 60) == []
    assert await store.welcome_status(K1) == "failed"
    assert await store.claim_welcome(K1, "b", 1e9, 60) is ClaimResult.DONE, "never retried"
    assert await store.quarantined(K1.guild_id) == (1, quarantined[0][1])
    assert await store.quarantined(999) == (0, None)


async def test_a_try_that_fails_in_the_run_is_counted_then_quarantined_with_its_error(store):
    await store.claim_welcome(K1, "a", 0.0, 60)
    assert await store.retry_or_quarantine([K1], "StoreError: disk I/O", 1.0) == [], "attempt 2 counted"
    assert await store.retry_or_quarantine([K1], "StoreError: disk I/O", 2.0) == [], "attempt 3 counted"
    assert await store.retry_or_quarantine([K1], "ValueError: bug", 3.0) == [
        (K1, f"quarantined after {MAX_ATTEMPTS} attempts: ValueError: bug")
    ]
    assert await store.welcome_status(K1) == "failed"
    assert await store.retry_or_quarantine([K1], "again", 4.0) == [], "a finished welcome is left alone"
    assert (await store.quarantined(K1.guild_id))[0] == 1
    # The error of a try that ended in the run is kept for the quarantine at the next start.
    await store.claim_welcome(K2, "a", 0.0, 60)
    await store.retry_or_quarantine([K2], "KeyError: 7", 1.0)
    await store.take_unfinished("a", 2.0, 60)
    assert await store.quarantine_unfinished("a", 3.0) == [(K2, "quarantined after 3 attempts: KeyError: 7")]
    rows = (await store.export_rows())["welcome_log"]
    assert [r["last_error"] for r in rows if r["user_id"] == K2.user_id] == ["KeyError: 7"], "backups keep it"


async def test_last_welcome_is_the_newest_membership_and_knows_a_shared_message(store):
    g, u = 1 << 22, 10 << 22
    first, again = WelcomeKey(g, u, "2026-11-24T10:00:00+00:00"), WelcomeKey(g, u, "2026-11-24T11:00:00+00:00")
    other = WelcomeKey(g, 12 << 22, "2026-11-24T11:00:00+00:00")
    assert await store.last_welcome(g, u) is None
    await store.claim_welcome(first, "a", 0.0, 60)
    await store.mark_posted([first], 5, None, 1.0)
    assert await store.last_welcome(g, u) == (first.joined_at, "posted", 5, True)
    await store.claim_welcome(WelcomeKey(g, u, "goodbye:" + first.joined_at), "a", 2.0, 60)
    assert await store.last_welcome(g, u) == (first.joined_at, "posted", 5, True), "goodbyes are not memberships"
    await store.claim_welcome(again, "a", 3.0, 60)
    assert await store.last_welcome(g, u) == (again.joined_at, "claimed", None, True)
    await store.claim_welcome(other, "a", 3.0, 60)
    await store.mark_posted([again, other], 6, None, 4.0)
    assert await store.last_welcome(g, u) == (again.joined_at, "posted", 6, False), "a grouped welcome"


async def test_scheduled_deletes_come_due_once_per_message(store):
    assert await store.next_delete_at() is None
    await store.claim_welcome(K1, "a", 0.0, 60)
    await store.claim_welcome(K2, "a", 0.0, 60)
    await store.schedule_delete([K1, K2], 77, 100.0)
    assert await store.due_deletes(200.0, 10) == [], "not posted yet"
    await store.mark_posted([K1, K2], 555, None, 1.0)
    assert await store.next_delete_at() == 100.0
    assert await store.due_deletes(99.0, 10) == []
    assert await store.due_deletes(100.0, 10) == [(77, 555)], "one message welcoming two members: one deletion"
    await store.deletes_done([555])
    assert await store.due_deletes(1e9, 10) == []
    assert await store.next_delete_at() is None


async def test_late_welcomes_are_noted_in_the_reason_and_only_theirs(store):
    for key in (K1, K2):
        await store.claim_welcome(key, "a", 0.0, 60)
    await store.mark_late([K1])
    await store.mark_posted([K1, K2], 999, 42.0, 1.0)
    reasons = {(r["user_id"], r["status"]): r["reason"] for r in (await store.export_rows())["welcome_log"]}
    assert reasons == {(K1.user_id, "posted"): LATE, (K2.user_id, "posted"): None}


async def test_recent_posts_are_the_messages_posted_in_the_guilds_welcome_channel(store):
    channel = 77 << 22
    await store.put_guild_config(GuildConfig(guild_id=K1.guild_id, welcome_channel_id=channel, updated_at=1.0))
    other = WelcomeKey(2 << 22, 12 << 22, "2026-11-24T10:00:02.000000+00:00")  # a guild with no config
    k3 = WelcomeKey(K1.guild_id, 13 << 22, "2026-11-24T10:00:03.000000+00:00")
    old = WelcomeKey(K1.guild_id, 14 << 22, "2026-11-24T10:00:04.000000+00:00")
    sent = WelcomeKey(K1.guild_id, 15 << 22, "2026-11-24T10:00:05.000000+00:00")  # posting, not yet marked
    waiting = WelcomeKey(K1.guild_id, 16 << 22, "2026-11-24T10:00:06.000000+00:00")  # no nonce: not sent
    for key in (K1, K2, other, k3, old):
        await store.claim_welcome(key, "a", 0.0, 60)
    await store.claim_welcome(sent, "a", 104.0, 60)
    await store.claim_welcome(waiting, "a", 105.0, 60)
    await store.assign_nonce([sent], "n-sent")
    await store.mark_posted([old], 1, None, 50.0)
    await store.mark_posted([K1, K2], 2, None, 101.0)  # one message for two members
    await store.mark_posted([other], 3, None, 102.0)
    await store.mark_posted([k3], 4, None, 103.0)
    assert await store.recent_posts(channel, since=100.0) == [101.0, 103.0, 104.0]
    assert await store.recent_posts(channel + 1, since=0.0) == []


async def test_prune_keeps_unfinished(store):
    await store.claim_welcome(K1, "a", 0.0, 60)
    await store.claim_welcome(K2, "a", 0.0, 60)
    await store.mark_posted([K2], 1, None, 1.0)
    assert await store.prune_welcome_log(older_than=10.0) == 1
    assert await store.welcome_status(K1) == "claimed"


async def test_a_live_owners_claims_are_left_alone_and_a_dead_owners_are_taken(store):
    """Issue 19.2: a twin starting beside a live process takes none of its claims; after a takeover, all."""
    await store.claim_welcome(K1, "live", 0.0, 60)
    await store.claim_welcome(K2, "dead", 0.0, 60)
    assert await store.take_unfinished("new", 1.0, 60) == [], "live leases: nobody else's claims"
    assert await store.take_unfinished("new", 2.0, 60, dead=["dead"]) == [(K2, None)]
    assert await store.take_unfinished("new", 3.0, 60, own=False) == [], "a takeover never re-takes our own"
    assert await store.take_unfinished("new", 4.0, 60) == [(K2, None)], "at start: our own again"


async def test_shard_leases_one_live_owner_and_a_fencing_token(store):
    first = await store.acquire_shard(0, 1, "a", 0.0, 15)
    assert (first.owner, first.previous) == ("a", None)
    held = await store.acquire_shard(0, 1, "b", 5.0, 15)
    assert held.owner == "a", "the second process waits while the first renews"
    assert await store.renew_shard(0, "a", first.token, 10.0, 15)
    assert (await store.acquire_shard(0, 1, "b", 20.0, 15)).owner == "a", "renewed until 25"
    taken = await store.acquire_shard(0, 1, "b", 26.0, 15)
    assert (taken.owner, taken.previous) == ("b", "a"), "expired: taken over, naming whose claims to finish"
    assert taken.token > first.token
    assert not await store.renew_shard(0, "a", first.token, 27.0, 15), "a paused first process learns it lost"
    await store.release_shard(0, "a", first.token)  # a stale token releases nothing
    assert (await store.acquire_shard(0, 1, "c", 28.0, 15)).owner == "b"
    await store.release_shard(0, "b", taken.token)
    released = await store.acquire_shard(0, 1, "c", 29.0, 15)
    assert (released.owner, released.previous) == ("c", "b"), "a clean stop hands the shard over at once"
    again = await store.acquire_shard(0, 1, "c", 30.0, 15)
    assert (again.token, again.previous) == (released.token, None), "ours already: same token"


async def test_shard_survey_counts_live_owners_with_or_without_a_shard(store):
    """#25.1: a replica that holds no shard yet is alive in the survey; an expired one is gone from it."""
    lease = await store.acquire_shard(0, 2, "a", 0.0, 15)
    survey = await store.survey_shards("b", 1.0, 15)
    assert (survey.holders, survey.owners) == ({0: "a"}, frozenset({"a", "b"}))
    await store.release_shard(0, "a", lease.token)
    survey = await store.survey_shards("a", 2.0, 15)
    assert (survey.holders, survey.owners) == ({}, frozenset({"a", "b"})), "released: free, its owner alive"
    assert (await store.survey_shards("c", 17.0, 15)).owners == {"a", "c"}, "b stopped saying it is alive"
    taken = await store.acquire_shard(1, 2, "c", 18.0, 15)
    assert (taken.owner, taken.previous) == ("c", None), "presence rows are no shard's lease"


async def test_identify_slots_are_booked_for_every_process_per_rate_limit_key(store):
    """#25.2: processes sharing the store IDENTIFY one key at most once per spacing, in the order they asked."""
    assert await store.reserve_identify(0, 100.0, 5.5) == 100.0, "first: at once"
    assert await store.reserve_identify(0, 101.0, 5.5) == 105.5, "another process, same key: after the first"
    assert await store.reserve_identify(0, 101.5, 5.5) == 111.0
    assert await store.reserve_identify(1, 101.5, 5.5) == 101.5, "another key is not held up"
    assert await store.reserve_identify(0, 200.0, 5.5) == 200.0, "long after: at once"


async def test_gateway_sessions_and_meta(store):
    assert await store.load(0) is None
    await store.save(0, SavedSession("s", 5, "ws://r"))
    await store.save(0, SavedSession("s", 9, "ws://r", 2))
    assert await store.load(0) == SavedSession("s", 9, "ws://r", 2), "the shard count is kept"
    await store.clear(0)
    assert await store.load(0) is None
    await store.set_meta("commands_hash", "abc")
    assert await store.get_meta("commands_hash") == "abc"


H2, H3 = "b" * 64, "c" * 64


async def test_asset_rows_and_usage(store):
    assert await store.total_asset_usage() == 0
    assert await store.put_asset(asset_record(H1, 5, 100)) is True
    assert await store.put_asset(asset_record(H1, 6, 100)) is False, "one row per hash: the first upload keeps it"
    assert await store.put_asset(asset_record(H2, 5, 40)) is True
    assert await store.put_asset(asset_record(H3, 6, 1)) is True
    assert await store.get_asset(H1) == asset_record(H1, 5, 100)
    assert await store.get_asset("d" * 64) is None
    assert [a.content_hash for a in await store.list_assets()] == [H1, H2, H3]
    assert (await store.asset_usage(5), await store.asset_usage(6), await store.asset_usage(7)) == (140, 1, 0)
    assert await store.total_asset_usage() == 141
    await store.touch_asset(H2, 999.0)
    assert (await store.get_asset(H2)) == msgspec.structs.replace(asset_record(H2, 5, 40), created_at=999.0)
    await store.delete_asset(H1)
    assert await store.get_asset(H1) is None
    assert await store.total_asset_usage() == 41


async def test_referenced_assets_come_from_refs_and_options(store):
    await store.put_guild_config(GuildConfig(guild_id=1, background_ref=f"asset:{H1}"))
    options = {"design": {"font": f"asset:{H2}", "x": [f"asset:{H3}", 1]}}
    await store.put_guild_config(GuildConfig(guild_id=2, background_ref="builtin:aurora", options=options))
    await store.put_guild_config(GuildConfig(guild_id=3))
    assert await store.referenced_assets() == {H1, H2, H3}


async def test_export_is_json_safe_and_restores_into_an_empty_store(store, other_store):
    assert await store.is_empty()
    await fill_store(store)
    assert not await store.is_empty()
    dump = await store.export_rows()
    assert list(dump) == list(DUMP_TABLES)
    encoded = msgspec.json.encode(dump)
    assert msgspec.json.decode(encoded) == dump, "plain JSON types only"
    assert [r["guild_id"] for r in dump["guild_config"]] == [2, 1 << 40], "in key order"
    assert list(dump["guild_config"][1]["options"].items()) == [("a", [True, None, 1.5]), ("z", 1)], "keys sorted"
    assert dump["guild_config"][1]["enabled"] is False
    assert [r["status"] for r in dump["welcome_log"]] == ["claimed", "posted"]
    assert dump["welcome_log"][1]["nonce"] == "w42"
    await other_store.import_rows(msgspec.json.decode(encoded))
    assert msgspec.json.encode(await other_store.export_rows()) == encoded, "byte for byte"
    assert await other_store.get_guild_config(1 << 40) == await store.get_guild_config(1 << 40)
    assert await other_store.claim_welcome(K2, "x", 1e9, 60) is ClaimResult.DONE
    assert await other_store.take_unfinished("shards 0-0", 20.0, 60) == [(K1, None)]


async def test_import_refuses_a_non_empty_store_and_changes_nothing(store, other_store):
    await fill_store(store)
    dump = await store.export_rows()
    await other_store.set_meta("k", "v")
    with pytest.raises(StoreNotEmpty, match="1 meta"):
        await other_store.import_rows(dump)
    assert (await other_store.export_rows())["guild_config"] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("meta"), "exactly the tables"),
        (lambda d: d.update(extra=[]), "exactly the tables"),
        (lambda d: d["guild_config"][0].pop("enabled"), "missing required field `enabled`"),
        (lambda d: d["guild_config"][0].update(guild_id="1"), r"guild_config, row 0: Expected `int`, got `str`"),
        (lambda d: d["meta"][0].update(spare=1), "unknown field `spare`"),
    ],
)
async def test_import_refuses_a_bad_dump_and_writes_nothing(store, other_store, change, message):
    await fill_store(store)
    dump = await store.export_rows()
    change(dump)
    with pytest.raises(DumpInvalid, match=message):
        await other_store.import_rows(dump)
    assert await other_store.is_empty()


async def test_a_channel_problem_goes_on_the_config_it_was_found_with_only(store):
    await store.put_guild_config(GuildConfig(guild_id=5, welcome_channel_id=6, message_template="hi", updated_at=1.0))
    assert await store.set_channel_problem(5, "no access", version=1.0)
    assert await store.get_guild_config(5) == GuildConfig(guild_id=5, welcome_channel_id=6, message_template="hi",
                                                          channel_problem="no access", updated_at=1.0)  # fmt: skip
    await store.put_guild_config(GuildConfig(guild_id=5, welcome_channel_id=7, updated_at=2.0))
    assert not await store.set_channel_problem(5, "old news", version=1.0)
    assert await store.get_guild_config(5) == GuildConfig(guild_id=5, welcome_channel_id=7, updated_at=2.0)
    assert not await store.set_channel_problem(9, "no such guild", version=1.0)
