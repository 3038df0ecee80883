"""One guild's failures stay in that guild: poison welcomes are quarantined (#18.3)."""

import logging

import trio
import trio.testing

from tests.welcomebot.app.fakes import FakeCards, FakeConfigs, FakeLog, FakePoster, RecordingObserver
from welcomebot.app.channel_limit import ChannelTurns
from welcomebot.app.model import Join, JoinKey, Outcome
from welcomebot.app.pipeline import Pipeline
from welcomebot.app.ports import CardFile, WelcomeConfig
from welcomebot.store.api import MAX_ATTEMPTS
from welcomebot.store.errors import StoreError

A, B = 5, 6
POISON = 77 << 22
CONFIGS = {g: WelcomeConfig(guild_id=g, channel_id=g * 10, message_template="hi {user}") for g in (A, B)}


class Members:
    async def fetch(self, guild_id: int, user_id: int, joined_at: str) -> Join | None:
        await trio.lowlevel.checkpoint()
        return Join(guild_id=guild_id, user_id=user_id, joined_at=joined_at, username=f"u{user_id}")


class HangingCards(FakeCards):
    """Rendering the poison member never ends: the test kills the "process" while it is being tried."""

    def __init__(self) -> None:
        super().__init__()
        self.trying = trio.Event()

    async def render(self, join: Join, config: WelcomeConfig, guild: object) -> CardFile | None:
        if join.user_id == POISON:
            self.trying.set()
            await trio.sleep_forever()
        return await super().render(join, config, None)


def pipeline(log: FakeLog, cards: FakeCards, poster: FakePoster, observer: RecordingObserver) -> Pipeline:
    return Pipeline(configs=FakeConfigs(dict(CONFIGS)), welcome_log=log, members=Members(), cards=cards,
                    poster=poster, turns=ChannelTurns(), observer=observer)  # fmt: skip


async def test_a_welcome_that_kills_every_start_is_tried_three_times_then_quarantined_not_replayed(caplog):
    log, poster = FakeLog(), FakePoster()
    key = JoinKey(A, POISON, "2026-11-24T10:00:00+00:00")
    tries = 0
    for start in range(1, MAX_ATTEMPTS + 1):
        cards, observer = HangingCards(), RecordingObserver()
        with trio.fail_after(10):
            async with trio.open_nursery() as process:
                bot = pipeline(log, cards, poster, observer)
                await process.start(bot.run)
                if start == 1:
                    assert await log.claim(key)  # the router's claim: attempt 1
                    await bot.deliver(A, Join(guild_id=A, user_id=POISON, joined_at=key.joined_at, username="p"))
                else:
                    assert await bot.finish_unfinished() == 1, f"start {start} tries it again"
                await cards.trying.wait()
                tries += 1
                process.cancel_scope.cancel()  # SIGKILL while the welcome is being tried
    assert tries == MAX_ATTEMPTS
    assert log.status[key] == "claimed"

    cards, observer = HangingCards(), RecordingObserver()
    with caplog.at_level(logging.ERROR), trio.fail_after(10):
        async with trio.open_nursery() as process:
            bot = pipeline(log, cards, poster, observer)
            await process.start(bot.run)
            assert await bot.finish_unfinished() == 0, "the next start does not replay it"
            await bot.deliver(B, Join(guild_id=B, user_id=1, joined_at="b", username="b"))
            await bot.drain()
    assert not cards.trying.is_set()
    assert (
        log.status[key] == f"failed: quarantined after {MAX_ATTEMPTS} attempts: the process stopped while finishing it"
    )
    assert observer.outcomes[Outcome.QUARANTINED] == 1
    assert [r.message for r in caplog.records if r.levelno >= logging.ERROR] == [
        "welcome quarantined: it failed every attempt and is not tried again"
    ], "logged once, at error level"
    assert await log.quarantined(A) == (1, log.status[key].removeprefix("failed: "))
    assert poster.welcomed_user_ids() == [1], "guild B is welcomed as usual"


class BrokenForA(FakeLog):
    """The store fails guild A's "posted" (its disk, a bug in its rows); every other guild's works."""

    async def posted(self, keys: list[JoinKey], message_id: int, latency_ms: float | None) -> None:
        if keys[0].guild_id == A:
            await trio.lowlevel.checkpoint()
            raise StoreError("database disk image is malformed")
        await super().posted(keys, message_id, latency_ms)


def join(guild_id: int, user_id: int) -> Join:
    return Join(guild_id=guild_id, user_id=user_id, joined_at=f"2026-11-24T10:00:{user_id:02d}+00:00",
                username=f"u{user_id}")  # fmt: skip


async def claimed(log: FakeLog, bot: Pipeline, j: Join) -> None:
    assert await log.claim(j.key)
    await bot.deliver(j.guild_id, j)


async def test_a_store_error_in_one_guild_restarts_its_actor_never_delays_another_then_parks_it(autojump_clock, caplog):
    log, poster, observer = BrokenForA(), FakePoster(), RecordingObserver()
    bot = pipeline(log, FakeCards(), poster, observer)
    with trio.fail_after(3600):
        async with trio.open_nursery() as process:
            await process.start(bot.run)
            await claimed(log, bot, join(A, 1))
            await trio.sleep(0.1)
            start = trio.current_time()
            await claimed(log, bot, join(B, 2))
            await poster.wait_for_welcomes(2)  # A's post went out once before its "posted" failed
            await trio.testing.wait_all_tasks_blocked()
            b_post = next(p for p in poster.posts if p.mentions == [2])
            assert b_post.at - start < 0.5, "B is not held up by A's crash and backoff"
            assert log.status[join(B, 2).key] == "posted"

            await trio.sleep(300)  # A's actor restarts with backoff and tries user 1 again, each try counted
            assert log.status[join(A, 1).key].startswith(
                f"failed: quarantined after {MAX_ATTEMPTS} attempts: StoreError: database disk image is malformed"
            )
            assert {p.nonce for p in poster.posts if p.mentions == [1]} == {poster.posts[0].nonce}, (
                "each retry re-posts the same message (same nonce): Discord answers with the first"
            )
            assert A not in bot.parked
            await claimed(log, bot, join(A, 3))  # the 4th crash within the window parks A
            await trio.sleep(300)
            assert "StoreError: database disk image is malformed" in bot.parked[A]
            assert log.status[join(A, 3).key] == "claimed", "a parked guild's joins stay claimed"
            await claimed(log, bot, join(A, 4))  # dropped, claimed for the next start; nothing raises
            await claimed(log, bot, join(B, 5))
            await poster.wait_for_welcomes(len(poster.welcomed_user_ids()) + 1)
            await bot.drain()
    assert log.status[join(A, 4).key] == "claimed"
    assert log.status[join(B, 5).key] == "posted"
    assert bot.restarts == {"StoreError": 4}
    assert observer.outcomes[Outcome.QUARANTINED] == 1
    crashes = [r for r in caplog.records if r.message == "guild welcomer crashed; restarting it"]
    assert len(crashes) == 4
    assert {r.guild_id for r in crashes} == {A}
