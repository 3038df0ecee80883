"""One guild's failures stay in that guild: poison welcomes are quarantined (#18.3)."""

import logging

import trio

from welcomebot.app.channel_limit import ChannelTurns
from welcomebot.app.model import Join, JoinKey, Outcome
from welcomebot.app.pipeline import Pipeline
from welcomebot.app.ports import CardFile, WelcomeConfig
from welcomebot.app.testing import FakeCards, FakeConfigs, FakeLog, FakePoster, RecordingObserver
from welcomebot.store.api import MAX_ATTEMPTS

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
