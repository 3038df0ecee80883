"""Welcome behaviours on fakes and the mock clock: the guild actor, the router's gates, the pipeline's side jobs,
the catch-up's window."""

from datetime import UTC, datetime
from functools import partial
from typing import Any

import msgspec
import trio
import trio.testing

from tests.welcomebot.app.fakes import FakeActions, FakeCards, FakeConfigs, FakeLog, FakePoster, RecordingObserver
from welcomebot.app.behaviour import validate_behaviour
from welcomebot.app.catchup import LEGACY, MARGIN_S, CatchUp, Seen
from welcomebot.app.channel_limit import ChannelTurns
from welcomebot.app.guild import GuildWelcomer
from welcomebot.app.guilds import Guilds
from welcomebot.app.model import GuildInfo, Join, Outcome
from welcomebot.app.pipeline import Pipeline
from welcomebot.app.ports import WelcomeConfig
from welcomebot.app.router import MemberJoined, MemberLeft, Router

GUILD = 1 << 22
CHANNEL = 77
GOODBYES = 78
NOW = 1_795_000_000.0  # epoch seconds: 2026-11-18


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def join(uid: int, *, at: float | None = 0.0, joined: float = NOW - 10, **fields: Any) -> Join:
    # Account ids from NOW - 30 days: old enough for every gate used below.
    user_id = (int((NOW - 30 * 86400 - 1_420_070_400) * 1000) << 22) + uid
    return Join(guild_id=GUILD, user_id=user_id, joined_at=iso(joined), username=f"user{uid}", received_at=at,
                **fields)  # fmt: skip


def config(**behaviour: Any) -> WelcomeConfig:
    return WelcomeConfig(guild_id=GUILD, channel_id=CHANNEL, message_template="Welcome {user}!",
                         behaviour=validate_behaviour(behaviour))  # fmt: skip


class Rig:
    def __init__(self, **behaviour: Any) -> None:
        self.configs = FakeConfigs({GUILD: config(**behaviour)})
        self.log = FakeLog()
        self.poster = FakePoster(post_seconds=0.05)
        self.actions = FakeActions()
        self.observer = RecordingObserver()
        self.raids: list[bool] = []
        self.after: list[tuple[list[int], int | None]] = []
        self.actor = GuildWelcomer(
            GUILD, configs=self.configs, welcome_log=self.log, cards=FakeCards(render_seconds=0.01),
            poster=self.poster, guilds={GUILD: GuildInfo(guild_id=GUILD, name="Cozy", member_count=50)},
            turns=ChannelTurns(), observer=self.observer, actions=self.actions,
            after_welcome=lambda c, joins, channel, m: self.after.append(([j.user_id for j in joins], channel)),
            on_raid=lambda g, raiding: self.raids.append(raiding), wall_clock=lambda: NOW,
        )  # fmt: skip

    async def run(self, joins: list[Join]) -> None:
        send, receive = trio.open_memory_channel[Join](len(joins) + 1)
        for j in joins:
            assert await self.log.claim(j.key)
            send.send_nowait(j)
        send.close()
        await self.actor.run(receive)


async def test_dm_instead_posts_only_closed_dms_in_the_channel(autojump_clock):
    rig = Rig(dm={"mode": "instead", "template": "Hi {name}", "card": True})
    a, b = join(1), join(2)
    rig.actions.closed_dms.add(b.user_id)
    await rig.run([a, b])
    assert rig.actions.dms == [(a.user_id, "Hi user1", 1)]
    assert rig.poster.welcomed_user_ids() == [b.user_id]
    assert set(rig.log.status.values()) == {"posted"}
    assert rig.observer.outcomes == {Outcome.POSTED: 2}


async def test_dm_also_keeps_the_channel_welcome(autojump_clock):
    rig = Rig(dm={"mode": "also"})
    a = join(1)
    await rig.run([a])
    assert [d[0] for d in rig.actions.dms] == [a.user_id]
    assert rig.poster.welcomed_user_ids() == [a.user_id]


async def test_embed_carries_the_text_and_the_card(autojump_clock):
    rig = Rig(embed={"enabled": True, "title": "Hello {name}", "colour": 0x112233})
    a = join(1)
    await rig.run([a])
    (post,) = rig.poster.posts
    assert post.content == f"<@{a.user_id}>", "mentions stay in the content so they ping"
    assert post.embeds == [{"description": f"Welcome <@{a.user_id}>!", "color": 0x112233, "title": "Hello user1",
                            "image": {"url": f"attachment://welcome-{a.user_id}.png"}}]  # fmt: skip


async def test_goodbye_with_embed_has_the_goodbye_title(autojump_clock):
    rig = Rig(embed={"enabled": True, "title": "Welcome, {name} 🌸!"},
              goodbye={"enabled": True, "template": "{name} has left {server}.", "card": True})  # fmt: skip
    bye = join(1, goodbye=True, global_name="さくら")
    await rig.run([bye])
    (post,) = rig.poster.posts
    assert post.embeds is not None
    assert post.embeds[0]["title"] == "Goodbye, さくら"
    assert post.embeds[0]["description"] == "さくら has left Cozy."


def test_the_goodbye_card_names_the_member_once():
    from welcomebot.adapters.cards import GOODBYE_LINES

    assert not any("{user}" in line for line in GOODBYE_LINES), "the card draws the name above these lines"


async def test_goodbyes_go_alone_to_their_own_channel(autojump_clock):
    rig = Rig(goodbye={"enabled": True, "channel_id": GOODBYES, "template": "Bye {name}"})
    w1, bye, w2 = join(1), join(2, goodbye=True), join(3)
    await rig.run([w1, bye, w2])
    assert [(p.channel_id, p.content) for p in rig.poster.posts if p.channel_id == GOODBYES] == [
        (GOODBYES, "Bye user2")
    ]
    assert [p.channel_id for p in rig.poster.posts].count(CHANNEL) == 2
    assert bye.key.joined_at.startswith("goodbye:")
    assert rig.after[1] == ([bye.user_id], GOODBYES)


async def test_raid_mode_groups_then_calms_down(autojump_clock):
    rig = Rig(raid={"enabled": True, "joins": 10, "window_s": 5, "group_size": 30})
    send, receive = trio.open_memory_channel[Join](500)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rig.actor.run, receive)
        raid = [join(uid, at=None) for uid in range(100)]
        for j in raid:
            assert await rig.log.claim(j.key)
            await send.send(msgspec.structs.replace(j, received_at=trio.current_time()))
            await trio.sleep(0.01)
        await rig.poster.wait_for_welcomes(100)
        await trio.sleep(30)  # virtual time: the raid calms down
        late = join(1000, at=trio.current_time())
        assert await rig.log.claim(late.key)
        await send.send(late)
        await rig.poster.wait_for_welcomes(101)
        send.close()
    sizes = [len(p.mentions) for p in rig.poster.posts]
    assert rig.poster.welcomed_user_ids() == [j.user_id for j in [*raid, late]]
    assert max(sizes) == 30
    assert all(not p.files for p in rig.poster.posts if len(p.mentions) > 10), "no cards in raid groups"
    assert rig.raids == [True, False]
    assert sizes[-1] == 1
    assert len(rig.poster.posts[-1].files) == 1


async def test_auto_delete_is_scheduled_before_posted(autojump_clock):
    rig = Rig(auto_delete={"after_minutes": 2})
    a = join(1)
    await rig.run([a])
    assert rig.log.deletes[a.key][0] == CHANNEL
    assert rig.log.deletes[a.key][1] - trio.current_time() > 100


def router(log: FakeLog, cfg: WelcomeConfig, delivered: list[Join], observer: RecordingObserver,
           on_leave: Any = None) -> Router:  # fmt: skip
    async def deliver(guild_id: int, j: Join) -> None:
        delivered.append(j)

    return Router(configs=FakeConfigs({GUILD: cfg}), welcome_log=log, deliver=deliver, guilds=Guilds(),
                  observer=observer, wall_clock=lambda: NOW, on_leave=on_leave)  # fmt: skip


async def test_router_gates_young_accounts_and_rejoins():
    log, observer = FakeLog(), RecordingObserver()
    delivered: list[Join] = []
    r = router(log, config(gate={"min_account_age_hours": 24 * 60, "rejoin_window_hours": 2}), delivered, observer)
    await r.handle(MemberJoined(join(1)))  # a 30-day-old account: too young for 60 days
    assert delivered == []
    r = router(log, config(gate={"rejoin_window_hours": 2}), delivered, observer)
    first = join(2, joined=NOW - 3600)
    await r.handle(MemberJoined(first))
    log.status[first.key] = "posted"
    await r.handle(MemberJoined(join(2, joined=NOW - 60)))  # back within 2 hours
    await r.handle(MemberJoined(join(3, joined=NOW - 60)))
    assert [j.user_id for j in delivered] == [first.user_id, join(3).user_id]
    assert observer.outcomes[Outcome.SKIPPED_YOUNG_ACCOUNT] == 1
    assert observer.outcomes[Outcome.SKIPPED_REJOIN] == 1


async def test_goodbye_is_claimed_once_per_membership_and_a_quick_leaver_loses_the_welcome():
    log, poster, actions = FakeLog(), FakePoster(), FakeActions()
    cfg = config(goodbye={"enabled": True}, auto_delete={"quick_leave_minutes": 5})
    pipeline = Pipeline(configs=FakeConfigs({GUILD: cfg}), welcome_log=log, members=None,  # type: ignore[arg-type]
                        cards=FakeCards(), poster=poster, turns=ChannelTurns(), observer=RecordingObserver(),
                        actions=actions, wall_clock=lambda: NOW)  # fmt: skip
    member = join(1, joined=NOW - 60)
    async with trio.open_nursery() as nursery:
        await nursery.start(pipeline.run)
        assert await log.claim(member.key)
        await pipeline.deliver(GUILD, member)
        await poster.wait_for_welcomes(1)
        left = MemberLeft(GUILD, member.user_id, msgspec.structs.replace(member, joined_at=""))
        await pipeline._left(left)
        await pipeline._left(left)  # a RESUME replays the remove: the claim drops it
        await poster.wait_for_welcomes(2)
        await pipeline.drain()
    goodbyes = [k for k in log.status if k.joined_at.startswith("goodbye:")]
    assert [k.joined_at for k in goodbyes] == ["goodbye:" + member.joined_at]
    assert actions.deleted == [(CHANNEL, poster.posts[0].message_id)]
    assert len(poster.posts) == 2


async def test_auto_roles_wait_for_their_delay(autojump_clock):
    log, poster, actions = FakeLog(), FakePoster(), FakeActions()
    cfg = config(roles={"role_ids": [5, 6], "delay_s": 60})
    pipeline = Pipeline(configs=FakeConfigs({GUILD: cfg}), welcome_log=log, members=None,  # type: ignore[arg-type]
                        cards=FakeCards(), poster=poster, turns=ChannelTurns(), observer=RecordingObserver(),
                        actions=actions, wall_clock=lambda: NOW)  # fmt: skip
    member = join(1)
    async with trio.open_nursery() as nursery:
        await nursery.start(pipeline.run)
        assert await log.claim(member.key)
        await pipeline.deliver(GUILD, member)
        await poster.wait_for_welcomes(1)
        posted_at = trio.current_time()
        await trio.sleep(59)
        assert actions.roles == []
        await trio.sleep(2)
        assert actions.roles == [(GUILD, member.user_id, [5, 6])]
        assert trio.current_time() - posted_at >= 60
        await pipeline.drain()


class State:
    """Every shard's record is ``seen`` until one is saved for it."""

    def __init__(self, seen: Seen | None) -> None:
        self.seen = seen
        self.shards: dict[int, Seen] = {}
        self.saved: list[tuple[int, Seen]] = []

    async def load(self, shard_id: int) -> Seen | None:
        return self.shards.get(shard_id, self.seen)

    async def load_all(self) -> dict[int, Seen]:
        return {**({} if self.seen is None else {LEGACY: self.seen}), **self.shards}

    async def save(self, shard_id: int, seen: Seen) -> None:
        self.shards[shard_id] = seen
        self.saved.append((shard_id, seen))


class Roster:
    def __init__(self, members: list[Join]) -> None:
        self.members = sorted(members, key=lambda m: m.user_id)
        self.pages = 0

    async def page(self, guild_id: int, *, after: int, limit: int) -> list[Join]:
        self.pages += 1
        return [m for m in self.members if m.user_id > after][:limit]


async def test_catch_up_welcomes_only_who_joined_after_the_last_routed_join():
    last = join(1, joined=NOW - 600)
    during = [join(u, joined=NOW - 300 + u) for u in range(2, 5)]
    older = join(5, joined=NOW - 3000)  # welcomed long ago, or deliberately not
    just_after = [join(6, joined=NOW - 599)]  # one second after the checkpoint
    found: list[Join] = []

    async def welcome(j: Join) -> None:
        found.append(j)

    cfg = config(catch_up={"enabled": True, "max_age_minutes": 30})
    state = State(Seen(NOW - 200, {GUILD: 5}, {GUILD: last.joined_at}))
    roster = Roster([last, *during, older, *just_after])
    catch_up = CatchUp(state=state, roster=roster, configs=FakeConfigs({GUILD: cfg}), welcome=welcome,
                       guilds=dict, wall_clock=lambda: NOW)  # fmt: skip
    await catch_up.start()
    # The count is what it was (as many left as joined): the joiners are still looked for (issue 19.5).
    assert await catch_up.guild(GuildInfo(guild_id=GUILD, name="g", member_count=5)) == 4
    assert sorted(j.user_id for j in found) == sorted(j.user_id for j in [*during, *just_after])
    assert all(j.late for j in found)
    found.clear()
    short = config(catch_up={"enabled": True, "max_age_minutes": 5})
    catch_up = CatchUp(state=state, roster=roster, configs=FakeConfigs({GUILD: short}), welcome=welcome,
                       guilds=dict, wall_clock=lambda: NOW)  # fmt: skip
    await catch_up.start()
    await catch_up.guild(GuildInfo(guild_id=GUILD, name="g", member_count=9))
    assert sorted(j.user_id for j in found) == sorted(j.user_id for j in during), "max age bounds the window"
    assert MARGIN_S > 0


async def test_a_session_lost_mid_run_is_caught_up_from_what_this_run_knew():
    """A first run (no record of a previous one) whose shard 0 gets a fresh READY after an op 9."""
    clock = {"now": NOW - 100}
    guilds = {GUILD: GuildInfo(guild_id=GUILD, name="g", member_count=5)}
    found: list[Join] = []

    async def welcome(j: Join) -> None:
        found.append(j)

    before_bot = join(1, joined=NOW - 3600)  # joined before this bot ever ran
    during = [join(u, joined=NOW - 30 + u) for u in range(2, 5)]
    catch_up = CatchUp(state=State(None), roster=Roster([before_bot, *during]),
                       configs=FakeConfigs({GUILD: config(catch_up={"enabled": True})}), welcome=welcome,
                       guilds=lambda: guilds, wall_clock=lambda: clock["now"])  # fmt: skip
    await catch_up.start()
    catch_up.session_ready(0)  # the first READY of this run: nothing was lost
    assert await catch_up.guild(GuildInfo(guild_id=GUILD, name="g", member_count=5), 0) == 0
    clock["now"] = NOW - 40
    catch_up.heard(0)  # the last event of the session that is about to be lost
    clock["now"] = NOW
    catch_up.session_ready(0)  # counts snapshot: 5, before the new GUILD_CREATE says 8
    assert await catch_up.guild(GuildInfo(guild_id=GUILD, name="g", member_count=8), 0) == 3
    assert [j.user_id for j in found] == [j.user_id for j in during]
    assert await catch_up.guild(GuildInfo(guild_id=GUILD, name="g", member_count=8), 1) == 0, "other shards: no"


async def test_catch_up_state_is_per_shard_and_never_read_from_a_peers_record():
    """Issue 19.4: a peer running shard 1 keeps writing its record; shard 0's outage is still looked back over."""
    found: list[Join] = []

    async def welcome(j: Join) -> None:
        found.append(j)

    during = join(2, joined=NOW - 100)  # joined while shard 0's process was down
    state = State(None)
    state.shards = {0: Seen(NOW - 120, {GUILD: 1}), 1: Seen(NOW - 1, {})}  # shard 1: a live peer's fresh record
    catch_up = CatchUp(state=state, roster=Roster([during]),
                       configs=FakeConfigs({GUILD: config(catch_up={"enabled": True})}), welcome=welcome,
                       guilds=lambda: {GUILD: GuildInfo(guild_id=GUILD, name="g", member_count=1)},
                       wall_clock=lambda: NOW)  # fmt: skip
    assert await catch_up.guild(GuildInfo(guild_id=GUILD, name="g", member_count=1), 0) == 1
    assert [j.user_id for j in found] == [during.user_id]
    with trio.move_on_after(0.5):
        await catch_up.run(every_s=10)
    assert [s for s, _ in state.saved] == [0], "only the shard this process caught up is written"
    assert state.saved[0][1].counts == {GUILD: 1}
    assert state.shards[1] == Seen(NOW - 1, {}), "the peer's record is untouched"


async def test_catch_up_never_looks_before_the_previous_run_began():
    found: list[Join] = []

    async def welcome(j: Join) -> None:
        found.append(j)

    owner = join(1, joined=NOW - 290)  # joined before the previous run began, within the margin of its record
    during = join(2, joined=NOW - 100)
    state = State(Seen(NOW - 250, {GUILD: 1}, started=NOW - 280))
    catch_up = CatchUp(state=state, roster=Roster([owner, during]),
                       configs=FakeConfigs({GUILD: config(catch_up={"enabled": True})}), welcome=welcome,
                       guilds=dict, wall_clock=lambda: NOW)  # fmt: skip
    await catch_up.start()
    assert await catch_up.guild(GuildInfo(guild_id=GUILD, name="g", member_count=2)) == 1
    assert [j.user_id for j in found] == [during.user_id]


async def test_the_catch_up_budget_never_cuts_a_welcome_in_half(autojump_clock):
    finished: list[int] = []

    async def slow_welcome(j: Join) -> None:
        await trio.sleep(2)  # claim, mark late, hand over: one step, never cancelled half-way
        finished.append(j.user_id)

    members = [join(u, joined=NOW - 100 + u) for u in range(1, 6)]
    catch_up = CatchUp(state=State(Seen(NOW - 200, {GUILD: 1})), roster=Roster(members),
                       configs=FakeConfigs({GUILD: config(catch_up={"enabled": True})}), welcome=slow_welcome,
                       guilds=dict, wall_clock=lambda: NOW, budget_s=3)  # fmt: skip
    await catch_up.start()
    handed = await catch_up.guild(GuildInfo(guild_id=GUILD, name="g", member_count=6))
    assert handed == len(finished) == 2, "the budget stops between members"


async def test_no_catch_up_on_a_first_start_or_when_off():
    async def welcome(j: Join) -> None:
        raise AssertionError("nobody to welcome")

    on = config(catch_up={"enabled": True})
    first = CatchUp(state=State(None), roster=Roster([join(1)]), configs=FakeConfigs({GUILD: on}), welcome=welcome,
                    guilds=dict, wall_clock=lambda: NOW)  # fmt: skip
    await first.start()
    assert await first.guild(GuildInfo(guild_id=GUILD, name="g", member_count=9)) == 0
    off = CatchUp(state=State(Seen(NOW - 100)), roster=Roster([join(1)]), configs=FakeConfigs({GUILD: config()}),
                  welcome=welcome, guilds=dict, wall_clock=lambda: NOW)  # fmt: skip
    await off.start()
    assert await off.guild(GuildInfo(guild_id=GUILD, name="g", member_count=9)) == 0


async def test_a_group_that_would_overflow_the_message_is_split_not_cut(autojump_clock):
    rig = Rig(raid={"enabled": True, "joins": 5, "window_s": 5, "group_size": 50})
    rig.configs.configs[GUILD] = msgspec.structs.replace(rig.configs.configs[GUILD],
                                                         message_template="x" * 1500 + " {user}")  # fmt: skip
    raid = [join(uid, at=0.0) for uid in range(60)]
    await rig.run(raid)
    assert rig.poster.welcomed_user_ids() == [j.user_id for j in raid]
    assert all(len(p.content) <= 2000 for p in rig.poster.posts)
    assert all(f"<@{u}>" in p.content for p in rig.poster.posts for u in p.mentions), "every member named"


async def test_goodbye_cards_only_when_asked(autojump_clock):
    rig = Rig(goodbye={"enabled": True, "card": False})
    await rig.run([join(1, goodbye=True)])
    assert rig.poster.posts[0].files == []
    rig = Rig(goodbye={"enabled": True, "card": True})
    await rig.run([join(1, goodbye=True)])
    assert len(rig.poster.posts[0].files) == 1


def test_the_goodbye_card_lines_render():
    from welcomebot.adapters.cards import GOODBYE_LINES
    from welcomebot.render import CardSpec, Renderer

    assert Renderer().render(CardSpec(name="Zoë", server="Cozy", lines=GOODBYE_LINES))[:4] == b"RIFF"


class FlakyRoster(Roster):
    """Answers like Discord under a fault: ``errors`` in turn, then the members."""

    def __init__(self, members: list[Join], errors: list[Exception]) -> None:
        super().__init__(members)
        self.errors = errors
        self.asked_at: list[float] = []

    async def page(self, guild_id: int, *, after: int, limit: int) -> list[Join]:
        self.asked_at.append(trio.current_time())
        if self.errors:
            raise self.errors.pop(0)
        return await super().page(guild_id, after=after, limit=limit)


def _server_error() -> Exception:
    from welcomebot.rest.errors import ServerError

    return ServerError(503, 0, "unavailable", "GET /guilds/{guild_id}/members")


async def test_a_catch_up_page_that_fails_is_asked_for_again_with_capped_backoff(autojump_clock):
    """The chaos run: catch-up jobs ended on the first 503 and their guilds' joins were never welcomed."""
    from welcomebot.app.catchup import RETRY_MAX_S
    from welcomebot.rest.errors import RateLimitTooLong

    found: list[Join] = []

    async def welcome(j: Join) -> None:
        found.append(j)

    during = [join(u, joined=NOW - 100 + u) for u in range(1, 4)]
    roster = FlakyRoster(during, [_server_error() for _ in range(9)] + [RateLimitTooLong("members", 120.0)])
    catch_up = CatchUp(state=State(Seen(NOW - 200, {GUILD: 1})), roster=roster,
                       configs=FakeConfigs({GUILD: config(catch_up={"enabled": True})}), welcome=welcome,
                       guilds=dict, wall_clock=lambda: NOW)  # fmt: skip
    assert await catch_up.guild(GuildInfo(guild_id=GUILD, name="g", member_count=3), 0) == 3
    assert sorted(j.user_id for j in found) == sorted(j.user_id for j in during)
    gaps = [b - a for a, b in zip(roster.asked_at, roster.asked_at[1:], strict=False)]
    assert len(gaps) == 10
    assert gaps == sorted(gaps), "the backoff grows"
    assert max(gaps) == RETRY_MAX_S, "and is capped"


async def test_a_catch_up_stops_paging_once_the_shard_is_another_processs(autojump_clock):
    """The chaos run: a process that lost shard 0's lease went on paging member lists for 40 s (global 429s)."""

    async def welcome(j: Join) -> None:
        raise AssertionError("the new owner welcomes them")

    owned = {0}
    roster = FlakyRoster([join(1, joined=NOW - 50)], [_server_error() for _ in range(100)])
    catch_up = CatchUp(state=State(Seen(NOW - 200, {GUILD: 1})), roster=roster,
                       configs=FakeConfigs({GUILD: config(catch_up={"enabled": True})}), welcome=welcome,
                       guilds=dict, wall_clock=lambda: NOW)  # fmt: skip
    catch_up.owns = lambda shard_id: shard_id in owned
    async with trio.open_nursery() as nursery:
        nursery.start_soon(catch_up.guild, GuildInfo(guild_id=GUILD, name="g", member_count=1), 0)
        await trio.sleep(10)
        asked = len(roster.asked_at)
        assert asked >= 3
        owned.clear()  # the lease was taken
    assert len(roster.asked_at) <= asked + 1, "at most the try already waiting; nothing after"
    assert trio.current_time() < 200, "it ended, instead of retrying for ever"


async def test_a_catch_up_refused_for_good_is_an_error_not_a_retry(autojump_clock, caplog):
    from welcomebot.rest.errors import Forbidden

    async def welcome(j: Join) -> None:
        raise AssertionError("nothing listed")

    roster = FlakyRoster([join(1, joined=NOW - 50)], [Forbidden(403, 50001, "Missing Access", "members")])
    catch_up = CatchUp(state=State(Seen(NOW - 200, {GUILD: 1})), roster=roster,
                       configs=FakeConfigs({GUILD: config(catch_up={"enabled": True})}), welcome=welcome,
                       guilds=dict, wall_clock=lambda: NOW)  # fmt: skip
    assert await catch_up.guild(GuildInfo(guild_id=GUILD, name="g", member_count=1), 0) == 0
    assert len(roster.asked_at) == 1
    assert any(r.levelname == "ERROR" and "Server Members intent" in r.getMessage() for r in caplog.records)


async def test_a_catch_up_cut_short_leaves_its_outage_owed_in_the_record(autojump_clock):
    """The chaos run: processes killed while catching up wrote fresh records first, so the next process looked
    back only a minute from them and the joins of the outage before were never paged."""
    clock = {"now": NOW}
    state = State(None)
    state.shards = {0: Seen(NOW - 600, {GUILD: 1})}  # the bot went away 10 minutes ago
    during = join(1, joined=NOW - 300)
    found: list[Join] = []

    async def welcome(j: Join) -> None:
        found.append(j)

    def catch_up(roster: Roster) -> CatchUp:
        return CatchUp(state=state, roster=roster, configs=FakeConfigs({GUILD: config(catch_up={"enabled": True})}),
                       welcome=welcome, guilds=lambda: {GUILD: GuildInfo(guild_id=GUILD, name="g", member_count=1)},
                       wall_clock=lambda: clock["now"])  # fmt: skip

    first = catch_up(FlakyRoster([during], [_server_error() for _ in range(100)]))  # Discord down: never done
    with trio.move_on_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(first.guild, GuildInfo(guild_id=GUILD, name="g", member_count=1), 0)
            nursery.start_soon(partial(first.run, every_s=5))
    assert found == []
    assert state.shards[0].at == NOW
    assert state.shards[0].since == {GUILD: NOW - 600 - MARGIN_S}, "a fresh sign of life, the outage still owed"
    clock["now"] = NOW + 120  # killed; the next process starts two minutes after the record it wrote
    second = catch_up(Roster([during]))
    assert await second.guild(GuildInfo(guild_id=GUILD, name="g", member_count=1), 0) == 1
    assert [j.user_id for j in found] == [during.user_id]
    with trio.move_on_after(1):
        await second.run(every_s=5)
    assert state.shards[0].since == {}, "paged to the end: nothing owed any more"


async def test_after_a_shard_count_change_a_guild_is_caught_up_from_the_record_that_knows_it():
    """The chaos run: one process of 1 shard, then 2 shards: shard 1 of 2 had no record under its id and took
    its guilds' outage for a first start (0 caught up)."""
    found: list[Join] = []

    async def welcome(j: Join) -> None:
        found.append(j)

    other = GUILD + 1
    state = State(None)
    state.shards = {0: Seen(NOW - 200, {GUILD: 1, other: 4})}  # written under 1 shard: every guild was shard 0
    during = join(1, joined=NOW - 100)
    catch_up = CatchUp(state=state, roster=Roster([during]),
                       configs=FakeConfigs({GUILD: config(catch_up={"enabled": True})}), welcome=welcome,
                       guilds=dict, wall_clock=lambda: NOW)  # fmt: skip
    assert await catch_up.guild(GuildInfo(guild_id=GUILD, name="g", member_count=2), 1) == 1
    assert [j.user_id for j in found] == [during.user_id]


async def test_a_process_that_lost_the_shard_no_longer_writes_its_catch_up_record():
    async def welcome(j: Join) -> None:
        pass

    state = State(None)
    state.shards = {0: Seen(NOW - 200, {GUILD: 1})}
    catch_up = CatchUp(state=state, roster=Roster([]),
                       configs=FakeConfigs({GUILD: config(catch_up={"enabled": True})}), welcome=welcome,
                       guilds=dict, wall_clock=lambda: NOW)  # fmt: skip
    await catch_up.guild(GuildInfo(guild_id=GUILD, name="g", member_count=1), 0)
    catch_up.owns = lambda shard_id: False  # the twin took shard 0's lease
    with trio.move_on_after(0.5):
        await catch_up.run(every_s=10)
    assert state.saved == [], "its sign of life is not the shard's: the new owner's catch-up must not start after it"


async def test_catch_up_pages_leave_most_of_the_global_budget_to_welcomes(autojump_clock):
    """The chaos run: two processes paging 1,000 guilds each at the client's 45/s drew 303 global 429s."""
    from welcomebot.app.catchup import PAGES_PER_S

    async def welcome(j: Join) -> None:
        pass

    roster = FlakyRoster([], [])
    guilds = {GUILD + g: GuildInfo(guild_id=GUILD + g, name="g", member_count=1) for g in range(40)}
    catch_up = CatchUp(state=State(Seen(NOW - 200, {g: 1 for g in guilds})), roster=roster,
                       configs=FakeConfigs({g: msgspec.structs.replace(config(catch_up={"enabled": True}), guild_id=g)
                                            for g in guilds}),
                       welcome=welcome, guilds=lambda: guilds, wall_clock=lambda: NOW)  # fmt: skip
    async with trio.open_nursery() as nursery:
        for guild in guilds.values():
            nursery.start_soon(catch_up.guild, guild, 0)
    assert len(roster.asked_at) == 40
    assert PAGES_PER_S <= 10
    for i, at in enumerate(roster.asked_at):
        in_a_second = [a for a in roster.asked_at[i:] if a < at + 1]
        assert len(in_a_second) <= PAGES_PER_S, "no more than its share in any second"


async def test_a_resumed_shard_finishes_the_catch_up_a_killed_process_left_owed():
    """The chaos run: killed while paging 1,000 guilds, the restarted process RESUMEd and paged none of the rest."""
    found: list[Join] = []

    async def welcome(j: Join) -> None:
        found.append(j)

    other = GUILD + 1
    during = join(1, joined=NOW - 300)
    state = State(None)
    state.shards = {0: Seen(NOW - 10, {GUILD: 1, other: 1}, since={GUILD: NOW - 600})}  # `other` was caught up
    guilds = {g: GuildInfo(guild_id=g, name="g", member_count=1) for g in (GUILD, other)}
    roster = Roster([during])
    catch_up = CatchUp(state=state, roster=roster,
                       configs=FakeConfigs({GUILD: config(catch_up={"enabled": True})}), welcome=welcome,
                       guilds=lambda: guilds, wall_clock=lambda: NOW)  # fmt: skip
    assert await catch_up.resumed(0) == 1
    assert [j.user_id for j in found] == [during.user_id]
    assert roster.pages == 1, "only the guild still owed is paged"
    assert await catch_up.resumed(0) == 0, "once per run"
    with trio.move_on_after(0.5):
        await catch_up.run(every_s=10)
    assert state.shards[0].since == {}, "nothing owed any more, not even the guild caught up before"
