"""A batch that shares a nonce, re-posted after a restart (issue 19.1), on the fakes and a mock clock.

The fake poster deduplicates nonces as Discord does with ``enforce_nonce`` (a nonce it has seen returns that
message), so a batch re-posted in parts would show here as members marked posted in no message.
"""

import logging

import trio

from tests.welcomebot.app.fakes import FakeCards, FakeConfigs, FakeLog, FakePoster, RecordingObserver
from welcomebot.app.channel_limit import ChannelTurns
from welcomebot.app.model import Join, JoinKey
from welcomebot.app.pipeline import Pipeline
from welcomebot.app.ports import WelcomeConfig

GUILD, CHANNEL = 5, 50
NONCE = "wbatchbeforetherestart00"


class SlowMembers:
    """Members fetched over REST after a restart: each answer takes a while (0.3-0.8 s in the issue)."""

    def __init__(self, seconds: float = 0.5) -> None:
        self.seconds = seconds

    async def fetch(self, guild_id: int, user_id: int, joined_at: str) -> Join | None:
        await trio.sleep(self.seconds)
        return Join(guild_id=guild_id, user_id=user_id, joined_at=joined_at, username=f"u{user_id}")


def keys(*users: int) -> list[JoinKey]:
    return [JoinKey(GUILD, u << 22, f"2026-11-24T10:00:{u:02d}+00:00") for u in users]


async def claimed(log: FakeLog, batch: list[JoinKey], nonce: str | None) -> None:
    """What a run that died left: claims, and (when it got as far) the nonce of their message."""
    for key in batch:
        assert await log.claim(key)
    if nonce is not None:
        await log.assign(batch, nonce)


def pipeline(log: FakeLog, poster: FakePoster) -> Pipeline:
    configs = FakeConfigs({GUILD: WelcomeConfig(guild_id=GUILD, channel_id=CHANNEL, message_template="hi {user}")})
    return Pipeline(configs=configs, welcome_log=log, members=SlowMembers(), cards=FakeCards(), poster=poster,
                    turns=ChannelTurns(), observer=RecordingObserver())  # fmt: skip


def assert_each_named_once(log: FakeLog, poster: FakePoster, batch: list[JoinKey]) -> None:
    named = sorted(poster.welcomed_user_ids())
    assert named == sorted(k.user_id for k in batch), "every member named in exactly one message"
    by_id = {p.message_id: p for p in poster.posts}
    for key in batch:
        assert log.status[key] == "posted"
        assert key.user_id in by_id[log.messages[key]].mentions, "marked posted in a message that names them"


async def test_a_batch_sharing_a_nonce_is_reposted_whole_in_one_message(autojump_clock):
    log, poster = FakeLog(), FakePoster(post_seconds=0.05)
    batch = keys(1, 2, 3, 4, 5)
    await claimed(log, batch, NONCE)  # the post never reached Discord: no message has the nonce
    bot = pipeline(log, poster)
    async with trio.open_nursery() as nursery:
        await nursery.start(bot.run)
        assert await bot.finish_unfinished() == 5
        await bot.drain()
    assert [(p.nonce, p.mentions) for p in poster.posts] == [(NONCE, [k.user_id for k in batch])]
    assert_each_named_once(log, poster, batch)


async def test_claims_without_a_nonce_are_reposted_in_full_messages(autojump_clock):
    log, poster = FakeLog(), FakePoster(post_seconds=0.05)
    batch = keys(*range(1, 21))
    await claimed(log, batch, None)  # claimed, the process died before their message was chosen
    bot = pipeline(log, poster)
    async with trio.open_nursery() as nursery:
        await nursery.start(bot.run)
        await bot.finish_unfinished()
        await bot.drain()
    assert [len(p.mentions) for p in poster.posts] == [10, 10]
    assert_each_named_once(log, poster, batch)


async def test_a_returned_message_that_does_not_name_a_member_does_not_mark_them_posted(autojump_clock, caplog):
    log, poster = FakeLog(), FakePoster()
    batch = keys(1, 2, 3)
    await claimed(log, batch, NONCE)
    # A message Discord already holds for the nonce names only the first (an older version's partial re-post).
    first = await poster.post(CHANNEL, content=f"hi <@{batch[0].user_id}>", files=[],
                              mention_user_ids=[batch[0].user_id], nonce=NONCE)  # fmt: skip
    bot = pipeline(log, poster)
    with caplog.at_level(logging.WARNING):
        async with trio.open_nursery() as nursery:
            await nursery.start(bot.run)
            await bot.finish_unfinished()
            await bot.drain()
    assert log.messages[batch[0]] == first.id, "the one it names is posted, in that message"
    again = poster.posts[1:]
    assert [p.mentions for p in again] == [[k.user_id for k in batch[1:]]], "the others posted again, together"
    assert again[0].nonce != NONCE, "a fresh nonce: the old one only ever returns that message"
    assert log.nonces[batch[1]] == log.nonces[batch[2]] == again[0].nonce, "recorded before the post"
    assert_each_named_once(log, poster, batch)
    assert any("does not name" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


async def test_recovery_is_started_before_its_claims_are_posted_and_counted_meanwhile(autojump_clock):
    log, poster = FakeLog(), FakePoster(post_seconds=1.0)
    batch = keys(1, 2, 3)
    await claimed(log, batch, NONCE)
    bot = pipeline(log, poster)
    async with trio.open_nursery() as nursery:
        await nursery.start(bot.run)
        assert await nursery.start(bot.finish_unfinished) == 3  # returns once the claims are taken
        assert not poster.posts
        assert bot.recovering == 3, "readiness can say: recovering 3 welcomes"
        await poster.wait_for_welcomes(3)
        await bot.drain()
    assert bot.recovering == 0
    assert_each_named_once(log, poster, batch)
