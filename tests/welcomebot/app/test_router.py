"""The router on fakes: what gets claimed and delivered, and the sequence watermark."""

from datetime import UTC, datetime

from welcomebot.app.model import GuildInfo, Join, Outcome
from welcomebot.app.ports import WelcomeConfig
from welcomebot.app.router import GuildAvailable, MemberJoined, MemberLeft, MemberUpdated, Router
from welcomebot.app.testing import FakeConfigs, FakeLog, RecordingObserver

G = 5 << 22
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC).timestamp()


def member(uid: int, *, pending: bool = False, bot: bool = False, joined: str = "2026-11-24T11:59:00+00:00"):
    return Join(guild_id=G, user_id=uid, joined_at=joined, username=f"u{uid}", pending=pending, bot=bot)


def make_router(configured: bool = True):
    delivered: list[Join] = []

    async def deliver(guild_id: int, join: Join) -> None:
        assert guild_id == join.guild_id
        delivered.append(join)

    configs = FakeConfigs(
        {G: WelcomeConfig(guild_id=G, channel_id=9, message_template="hi {user}")} if configured else {}
    )
    observer = RecordingObserver()
    router = Router(
        configs=configs,
        welcome_log=FakeLog(),
        deliver=deliver,
        guilds={},
        observer=observer,
        wall_clock=lambda: NOW,
    )
    return router, delivered, observer


async def test_join_is_claimed_once_and_delivered():
    router, delivered, observer = make_router()
    await router.handle(GuildAvailable(GuildInfo(guild_id=G, name="g", member_count=10)), seq=1)
    await router.handle(MemberJoined(member(1)), seq=2)
    await router.handle(MemberJoined(member(1)), seq=3)  # a RESUME replay of the same join
    assert [j.user_id for j in delivered] == [1]
    assert delivered[0].member_number == 11, "their place in the guild when they joined"
    assert observer.outcomes == {Outcome.DUPLICATE: 1}
    assert router.guilds[G].member_count == 12
    assert router.watermark.safe == 3


async def test_bots_and_unconfigured_guilds_are_not_claimed():
    router, delivered, observer = make_router(configured=False)
    await router.handle(MemberJoined(member(1)))
    await router.handle(MemberJoined(member(2, bot=True)))
    assert delivered == []
    assert observer.outcomes == {Outcome.SKIPPED_UNCONFIGURED: 1, Outcome.SKIPPED_BOT: 1}


async def test_pending_member_is_welcomed_when_screening_passes():
    router, delivered, _ = make_router()
    await router.handle(MemberJoined(member(1, pending=True)))
    assert delivered == []
    await router.handle(MemberUpdated(member(1, pending=True)))  # still pending: a role change
    assert delivered == []
    await router.handle(MemberUpdated(member(1, pending=False)))
    await router.handle(MemberUpdated(member(1, pending=False)))  # a later nickname change
    assert [j.user_id for j in delivered] == [1]


async def test_update_of_an_old_member_does_not_welcome():
    router, delivered, _ = make_router()
    await router.handle(MemberUpdated(member(7, joined="2024-01-01T00:00:00+00:00")))
    assert delivered == []


async def test_update_after_restart_welcomes_a_recent_pending_member_once():
    router, delivered, _ = make_router()  # a fresh router never saw the join
    await router.handle(MemberUpdated(member(8)))
    await router.handle(MemberUpdated(member(8)))
    assert [j.user_id for j in delivered] == [8]


async def test_leave_forgets_pending_and_counts_down():
    router, delivered, _ = make_router()
    await router.handle(GuildAvailable(GuildInfo(guild_id=G, name="g", member_count=3)))
    await router.handle(MemberJoined(member(1, pending=True, joined="2024-01-01T00:00:00+00:00")))
    await router.handle(MemberLeft(G, 1))
    await router.handle(MemberUpdated(member(1, joined="2024-01-01T00:00:00+00:00")))
    assert delivered == []
    assert router.guilds[G].member_count == 3
