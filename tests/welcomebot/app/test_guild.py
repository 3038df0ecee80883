"""The guild actor alone, on fakes and a mock clock: order, coalescing, failures, retries."""

import msgspec
import trio
import trio.testing

from actors import FixedWindow
from tests.welcomebot.app.fakes import FakeCards, FakeConfigs, FakeLog, FakePoster, RecordingObserver
from welcomebot.app.channel_limit import ChannelTurns
from welcomebot.app.guild import LAST_SLOT_GATHER_S, MAX_CARDS_PER_MESSAGE, GuildWelcomer
from welcomebot.app.message import compose
from welcomebot.app.model import ChannelProblem, GuildInfo, Join, Outcome, welcome_nonce
from welcomebot.app.ports import WelcomeConfig

GUILD = 1 << 22
CHANNEL = 77


def join(user_id: int, *, at: float | None = 0.0) -> Join:
    return Join(
        guild_id=GUILD,
        user_id=user_id,
        joined_at=f"2026-11-24T10:00:{user_id % 60:02d}.000000+00:00",
        username=f"user{user_id}",
        received_at=at,
    )


class Rig:
    def __init__(self, *, template: str = "Welcome {user} to {server}!", version: str = "v1") -> None:
        self.configs = FakeConfigs(
            {GUILD: WelcomeConfig(guild_id=GUILD, channel_id=CHANNEL, message_template=template, version=version)}
        )
        self.log = FakeLog()
        self.cards = FakeCards(render_seconds=0.01)
        self.poster = FakePoster(post_seconds=0.05)
        self.observer = RecordingObserver()
        self.turns = ChannelTurns()
        self.guilds = {GUILD: GuildInfo(guild_id=GUILD, name="Cozy Corner", member_count=1234)}
        self.actor = GuildWelcomer(
            GUILD,
            configs=self.configs,
            welcome_log=self.log,
            cards=self.cards,
            poster=self.poster,
            guilds=self.guilds,
            turns=self.turns,
            observer=self.observer,
        )

    async def claim_all(self, joins: list[Join]) -> None:
        for j in joins:
            assert await self.log.claim(j.key)


async def test_trickle_gets_one_message_each_in_order(autojump_clock):
    rig = Rig()
    send, receive = trio.open_memory_channel[Join](100)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rig.actor.run, receive)
        for uid in range(1, 8):
            j = join(uid, at=trio.current_time())
            await rig.log.claim(j.key)
            await send.send(j)
            await trio.sleep(2)
        send.close()
    assert [p.mentions for p in rig.poster.posts] == [[uid] for uid in range(1, 8)]
    assert all(len(p.files) == 1 for p in rig.poster.posts)
    assert rig.poster.posts[0].content == "Welcome <@1> to Cozy Corner!"
    assert set(rig.log.status.values()) == {"posted"}
    assert rig.observer.outcomes == {Outcome.POSTED: 7}
    assert max(rig.observer.latencies) < 0.2


async def test_raid_is_coalesced_in_order_under_the_channel_limit(autojump_clock):
    rig = Rig()
    raid = [join(uid) for uid in range(1, 101)]
    await rig.claim_all(raid)
    send, receive = trio.open_memory_channel[Join](len(raid))
    for j in raid:
        send.send_nowait(j)
    send.close()
    start = trio.current_time()
    await rig.actor.run(receive)
    posts = rig.poster.posts
    assert rig.poster.welcomed_user_ids() == list(range(1, 101)), "every member once, in join order"
    assert all(len(p.mentions) <= MAX_CARDS_PER_MESSAGE for p in posts)
    assert len(posts) == 10
    # never more than 5 messages in any 5 s window
    times = [p.at - start for p in posts]
    for i in range(len(times) - 5):
        assert times[i + 5] - times[i] >= 5.0
    # the best possible is 10 messages in two windows: ~5.25 s; allow render and post time
    assert times[-1] < 5.25 + 1.0


async def test_a_join_arriving_during_the_wait_rides_along(autojump_clock):
    rig = Rig()
    send, receive = trio.open_memory_channel[Join](100)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rig.actor.run, receive)
        for uid in range(1, 6):  # use the whole window; the last message waits for company, and none comes
            await send.send(join(uid))
            await trio.sleep(0.1 if uid < 5 else LAST_SLOT_GATHER_S + 0.1)
        for uid in range(6, 9):  # these wait for the reset and go out together
            await send.send(join(uid))
        await trio.sleep(10)
        send.close()
    assert [p.mentions for p in rig.poster.posts] == [[1], [2], [3], [4], [5], [6, 7, 8]]
    assert "<@6>, <@7> and <@8>" in rig.poster.posts[-1].content


async def test_the_windows_last_message_waits_briefly_for_company(autojump_clock):
    """A burst of 8, 0.3 s apart: without the wait, 6-8 would wait for the reset, ~5 s after the first."""
    rig = Rig()
    send, receive = trio.open_memory_channel[Join](100)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rig.actor.run, receive)
        for uid in range(1, 9):
            await send.send(join(uid, at=trio.current_time()))
            await trio.sleep(0.3)
        await trio.sleep(10)
        send.close()
    posts = rig.poster.posts
    assert [p.mentions for p in posts] == [[1], [2], [3], [4], [5, 6, 7, 8]]
    assert posts[-1].at - start < 1.2 + LAST_SLOT_GATHER_S + 0.5, "everyone within the first window"


async def test_forbidden_channel_is_skipped_until_config_changes(autojump_clock):
    rig = Rig()
    rig.poster.broken[CHANNEL] = ChannelProblem.FORBIDDEN
    send, receive = trio.open_memory_channel[Join](100)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rig.actor.run, receive)
        await send.send(join(1))
        await trio.sleep(1)
        await send.send(join(2))
        await trio.sleep(1)
        assert rig.observer.outcomes == {Outcome.FAILED_FORBIDDEN: 1, Outcome.SKIPPED_CHANNEL_BROKEN: 1}
        # the admin fixes the permissions and saves the config: posting resumes
        del rig.poster.broken[CHANNEL]
        old = rig.configs.configs[GUILD]
        rig.configs.configs[GUILD] = WelcomeConfig(
            guild_id=GUILD, channel_id=CHANNEL, message_template=old.message_template, version="v2"
        )
        await send.send(join(3))
        await trio.sleep(1)
        send.close()
    assert rig.poster.welcomed_user_ids() == [3]
    assert rig.log.status[join(1).key].startswith("failed: failed_forbidden")


async def test_render_failure_falls_back_to_text(autojump_clock):
    rig = Rig()
    rig.cards.fail_for = frozenset({2})
    send, receive = trio.open_memory_channel[Join](10)
    send.send_nowait(join(2))
    send.close()
    await rig.actor.run(receive)
    (post,) = rig.poster.posts
    assert post.files == []
    assert post.mentions == [2]


async def test_transient_failures_retry_with_the_same_nonce(autojump_clock):
    rig = Rig()
    rig.poster.fail_next = 3
    send, receive = trio.open_memory_channel[Join](10)
    send.send_nowait(join(5))
    send.close()
    start = trio.current_time()
    await rig.actor.run(receive)
    (post,) = rig.poster.posts
    assert post.nonce == welcome_nonce([join(5).key])
    assert trio.current_time() - start >= 1 + 2 + 4
    assert rig.log.status[join(5).key] == "posted"


async def test_unconfigured_guild_finishes_claims_as_skipped():
    rig = Rig()
    rig.configs.configs.clear()
    send, receive = trio.open_memory_channel[Join](10)
    send.send_nowait(join(9))
    send.close()
    await rig.actor.run(receive)
    assert rig.poster.posts == []
    assert rig.observer.outcomes == {Outcome.SKIPPED_UNCONFIGURED: 1}


def test_fixed_window_matches_discords_reset():
    w = FixedWindow(5, 5.0)
    assert [w.try_take(0.0) for _ in range(5)] == [0.0] * 5
    assert w.try_take(1.0) == 4.0
    assert w.try_take(5.0) == 0.0  # new window opens at 5.0
    assert [w.try_take(5.1) for _ in range(4)] == [0.0] * 4
    assert w.try_take(9.9) > 0


def test_nonce_is_deterministic_short_and_order_free():
    a, b = join(1).key, join(2).key
    assert welcome_nonce([a, b]) == welcome_nonce([b, a])
    assert welcome_nonce([a]) != welcome_nonce([b])
    assert len(welcome_nonce([a, b])) <= 25


def test_compose_content_never_formats():
    guild = GuildInfo(guild_id=1, name="{count}", member_count=1500)
    assert compose("{user} {server} {count}", [join(1)], guild, now_s=0) == "<@1> {count} 1,500"
    # Attribute access and positional fields are refused when saved; a stored one falls back to the default.
    assert (
        compose("{user.__class__} {0}", [join(1)], guild, now_s=0) == "Welcome to {count}, <@1>! You are member #1,500."
    )


async def test_a_batch_from_before_a_restart_goes_out_as_it_was(autojump_clock):
    rig = Rig()
    old = [msgspec.structs.replace(join(u), nonce="wsame") for u in (1, 2)]
    fresh = join(3)
    await rig.claim_all([*old, fresh])
    send, receive = trio.open_memory_channel[Join](10)
    for j in (*old, fresh):
        send.send_nowait(j)
    send.close()
    await rig.actor.run(receive)
    first, second = rig.poster.posts
    assert (first.mentions, first.nonce) == ([1, 2], "wsame"), "same members, same nonce: Discord dedupes"
    assert second.mentions == [3]
    assert rig.log.nonces[fresh.key] == second.nonce, "a new batch's nonce is recorded before its post"
