"""The router on fakes: what gets claimed and delivered, and the sequence watermark."""

from datetime import UTC, datetime

from tests.welcomebot.app.fakes import FakeConfigs, FakeLog, RecordingObserver
from welcomebot.adapters.store import StoreGuildSnapshots
from welcomebot.app.guilds import Guilds
from welcomebot.app.model import GuildInfo, Join, Outcome
from welcomebot.app.ports import WelcomeConfig
from welcomebot.app.router import GuildAvailable, GuildChanged, MemberJoined, MemberLeft, MemberUpdated, Router
from welcomebot.store.sqlite import SqliteStore

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
        guilds=Guilds(),
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


async def test_guild_knowledge_survives_a_kill_and_a_resume_replay_is_not_counted_twice(tmp_path):
    """A RESUMEd session brings no GUILD_CREATE: the name and count come from the store; a dispatch replayed
    after a kill (the saved sequence lagged behind) was counted already and is not counted again."""
    store = await SqliteStore.open(tmp_path / "w.sqlite3")
    try:
        snapshots = StoreGuildSnapshots(store)

        def router_on(guilds: Guilds, delivered: list[Join]) -> Router:
            async def deliver(guild_id: int, join: Join) -> None:
                delivered.append(join)

            configs = FakeConfigs({G: WelcomeConfig(guild_id=G, channel_id=9, message_template="hi")})
            return Router(configs=configs, welcome_log=FakeLog(), deliver=deliver, guilds=guilds,
                          observer=RecordingObserver(), wall_clock=lambda: NOW, snapshots=snapshots,
                          session_id="s1")  # fmt: skip

        first: list[Join] = []
        before = router_on(Guilds(), first)
        await before.handle(GuildAvailable(GuildInfo(guild_id=G, name="Cafe", member_count=10)), seq=1)
        await before.handle(MemberJoined(member(1)), seq=2)
        await before.handle(MemberLeft(G, 77), seq=3)
        await before.handle(MemberJoined(member(2)), seq=4)
        await before.handle(GuildChanged(G, "Café", icon="abc", system_channel_id=9), seq=5)
        assert [j.member_number for j in first] == [11, 11]

        # killed after seq 5 was handled but with seq 3 saved: Discord replays 4 and 5, then sends 6
        after: list[Join] = []
        known = Guilds(await snapshots.load())
        again = router_on(known, after)
        assert again.guilds[G].name == "Café"
        await again.handle(MemberJoined(member(2)), seq=4)
        await again.handle(GuildChanged(G, "Café", icon="abc", system_channel_id=9), seq=5)
        await again.handle(MemberJoined(member(3)), seq=6)
        assert again.guilds[G].member_count == 12
        assert [(j.user_id, j.member_number) for j in after] == [(2, 11), (3, 12)]
        assert (again.guilds[G].icon, again.guilds[G].system_channel_id) == ("abc", 9)
        # a new session counts from its own GUILD_CREATE, whatever sequences the old one reached
        fresh = Router(configs=FakeConfigs({}), welcome_log=FakeLog(), deliver=again._deliver, guilds=known,
                       observer=RecordingObserver(), snapshots=snapshots, session_id="s2")  # fmt: skip
        await fresh.handle(GuildAvailable(GuildInfo(guild_id=G, name="Café", member_count=20)), seq=1)
        await fresh.handle(MemberJoined(member(4)), seq=2)
        assert (await snapshots.load())[G].member_count == 21
    finally:
        await store.close()
