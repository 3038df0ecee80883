"""Catch-up after downtime: welcome the members who joined while the bot could not RESUME.

A fresh IDENTIFY (READY instead of RESUMED) means the gateway's events of the outage are lost. For each
guild that opted in, whatever its member count did (as many may have left as joined), the member list is paged
in user-id order (Discord's only order; the REST client keeps to the route's bucket), bounded by the guild's size and
a time budget, and every member who joined after our last sign of life (and at most ``max_age_minutes``
ago) goes through the router's usual checks and claim, so one already welcomed is never welcomed again.

Where the outage began is per guild: the ``joined_at`` of the last join the router took (Discord's clock;
every join after it in the gateway's order was lost with the session), else our last sign of life less a
margin. Both are in a small record per shard in the store (``meta``), written only by the process that runs
the shard (one whose lease was taken stops writing it). Every record is read at each shard's first catch-up
(before this run rewrites that shard's every ``every_s`` seconds in :meth:`CatchUp.run`), and a guild is
caught up from the latest record that knows it: after a change of shard count it is under another shard id.
Until a guild has been paged to the end, the record keeps when its outage began (``Seen.since``), so a
process killed while catching up, or before it got to the guild, does not move that start past joins nobody
looked for (a fresh record's sign of life is no sign that its outage was caught up). A shard that
loses its session while the process runs (a fresh READY on a shard already live) is caught up the same way,
from what this process knew when that session ended. Nobody who joined before the run that saw them began
is looked at: they joined before that bot was there, not during an outage.

A page Discord does not answer (a 5xx, a 429 past the client's patience, the network) is asked for again with
capped backoff until the guild is done: a catch-up never silently gives up, since nothing else would look for
those members. It stops only when the shard is no longer this process's (``owns``: its lease was taken), so a
process that lost a shard leaves its member lists to the new owner, or when Discord refuses the request for
good (403/404: the bot lacks the permission or the guild is gone), which is logged as an error.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol

import msgspec
import trio

from welcomebot.app.gate import joined_s
from welcomebot.errors import FatalError, WelcomeBotError
from welcomebot.rest import Forbidden, NotFound

if TYPE_CHECKING:
    from welcomebot.app.model import GuildInfo, Join
    from welcomebot.app.ports import Configs

__all__ = ["MARGIN_S", "CatchUp", "CatchUpState", "Roster", "Seen"]

log = logging.getLogger(__name__)

#: Joins this long before our last sign of life are looked at too: they may have been queued, not claimed.
MARGIN_S = 60.0
PAGE = 1000
#: The shard id :meth:`CatchUpState.load_all` gives the one record older versions kept for every shard.
LEGACY = -1
#: Backoff between tries of a page Discord did not answer: doubling from the first, capped.
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0
#: Member-list pages asked for per second by all of a process's catch-ups together: a small share of the
#: REST client's global 45/s, so posting keeps the rest, and two processes paging at once (a shard changing
#: hands) stay under Discord's 50/s per bot together with their welcomes.
PAGES_PER_S = 8.0


class Seen(msgspec.Struct, frozen=True):
    """When the bot was last alive, and each guild's member count then."""

    at: float
    counts: dict[int, int] = {}
    #: The ``joined_at`` of the last join routed, per guild.
    joined: dict[int, str] = {}
    #: When the run that wrote this began listening (0: unknown, a record from an older version).
    started: float = 0.0
    #: Guilds whose catch-up the writing run had not finished: when their outage began (wall clock). Carried
    #: from record to record until a run pages them to the end, so a process killed while catching up (or
    #: before it got to a guild) does not move the outage's start past joins nobody looked for.
    since: dict[int, float] = {}


class CatchUpState(Protocol):
    """One :class:`Seen` per shard id: written only by the process that runs the shard."""

    async def load_all(self) -> dict[int, Seen]:
        """Every shard's record, by shard id: after a change of shard count a guild's is under another id."""
        ...

    async def save(self, shard_id: int, seen: Seen) -> None: ...


class Roster(Protocol):
    async def page(self, guild_id: int, *, after: int, limit: int) -> list[Join]:
        """Up to ``limit`` members with user ids above ``after``, in user-id order."""
        ...


class CatchUp:
    def __init__(
        self,
        *,
        state: CatchUpState,
        roster: Roster,
        configs: Configs,
        welcome: Callable[[Join], Awaitable[None]],
        guilds: Callable[[], Mapping[int, GuildInfo]],
        wall_clock: Callable[[], float] = time.time,
        budget_s: float = 300.0,
        pages_per_s: float = PAGES_PER_S,
    ) -> None:
        self._state = state
        self._roster = roster
        self._configs = configs
        self._welcome = welcome
        self._guilds = guilds
        self._wall_clock = wall_clock
        self._budget_s = budget_s
        self._page_every = 1 / pages_per_s
        self._next_page = -math.inf
        self._pace = trio.Lock()
        #: Per shard: every record as it was when that shard was first caught up (before this run wrote it).
        self._before: dict[int, dict[int, Seen]] = {}
        #: Guilds being caught up: when their outage began; and those this run has paged to the end.
        self._owed: dict[int, float] = {}
        self._caught_up: set[int] = set()
        self._loading: dict[int, trio.Event] = {}
        self._shard_of: dict[int, int] = {}  # guild id -> the shard it was heard on
        #: Per shard that lost its session while this process ran: what we knew when its session ended.
        self._lost: dict[int, Seen] = {}
        self._heard: dict[int, float] = {}  # per shard: the last event routed (wall clock)
        self._started = wall_clock()
        self._joined: dict[int, str] = {}
        self._changed = trio.Event()
        self.late = 0
        #: Whether this process still runs a shard (its lease is ours); set by the app from the shard manager.
        self.owns: Callable[[int], bool] = lambda shard_id: True

    async def start(self) -> None:
        """Nothing to read up front: each shard's record is read at its first catch-up (:meth:`_previous`)."""
        await trio.lowlevel.checkpoint()

    async def _previous(self, shard_id: int) -> dict[int, Seen]:
        """Every shard's record as of ``shard_id``'s first catch-up, read once (before :meth:`run` first writes
        that shard's)."""
        loading = self._loading.get(shard_id)
        if loading is None:
            loading = self._loading[shard_id] = trio.Event()
            try:
                records = await self._state.load_all()
            except BaseException:
                del self._loading[shard_id]  # the next catch-up of this shard reads it again
                loading.set()
                raise
            self._before[shard_id] = records
            own = records.get(shard_id)
            if own is not None:
                for guild_id, joined in own.joined.items():
                    self._shard_of.setdefault(guild_id, shard_id)
                    self._joined.setdefault(guild_id, joined)
                for guild_id in own.since:  # still owed: kept in this shard's record until paged
                    self._shard_of.setdefault(guild_id, shard_id)
            loading.set()
        await loading.wait()
        return self._before.get(shard_id, {})

    def _record_of(self, guild_id: int, shard_id: int, records: Mapping[int, Seen]) -> Seen | None:
        """The latest record that knows ``guild_id`` (it may have been on another shard id under another shard
        count), else the shard's own; None when there is none: a first run, or a guild new to the bot."""
        knowing = [r for r in records.values() if guild_id in r.counts or guild_id in r.joined or guild_id in r.since]
        if knowing:
            return max(knowing, key=lambda r: r.at)
        return records.get(shard_id, records.get(LEGACY))

    @staticmethod
    def _began(guild_id: int, before: Seen) -> float:
        """When ``guild_id``'s outage began by ``before``: carried over unfinished, else after its last routed
        join, else our last sign of life less the margin; never before the run that wrote it began."""
        carried = before.since.get(guild_id)
        if carried is not None:
            return carried  # already bounded by the run that first computed it
        last = before.joined.get(guild_id)
        began = joined_s(last) if last is not None else None
        return max(before.at - MARGIN_S if began is None else began, before.started)

    async def resumed(self, shard_id: int) -> int:
        """``shard_id`` RESUMEd: nothing of this outage was lost, but a catch-up a previous process left unfinished
        (killed while paging, see ``Seen.since``) is still owed; page those guilds. Once per shard and run. A
        RESUME keeps the shard count, so they are in the shard's own record."""
        if shard_id in self._loading:
            return 0  # already caught up (or being caught up) in this run
        records = await self._previous(shard_id)
        own = records.get(shard_id)
        if own is not None:  # the rest were caught up before: a RESUME owes them nothing
            self._caught_up |= (own.counts.keys() | own.joined.keys()) - own.since.keys()
        guilds = self._guilds()
        handed = 0
        for guild_id in [] if own is None else sorted(own.since):
            info = guilds.get(guild_id)
            if info is not None:
                handed += await self.guild(info, shard_id)
        return handed

    def heard(self, shard_id: int) -> None:
        """An event of ``shard_id`` was routed: its session was alive until now."""
        self._heard[shard_id] = self._wall_clock()

    def session_ready(self, shard_id: int) -> None:
        """A fresh session (READY) on ``shard_id``. On a shard already heard from in this run, the session before
        was lost: its guilds' outage began at its last event, with the member counts known then (the new
        session's GUILD_CREATEs have not updated them yet)."""
        last = self._heard.get(shard_id)
        if last is not None:
            # Its guilds are owed again, from the lost session's last event.
            self._caught_up -= {g for g, s in self._shard_of.items() if s == shard_id}
            self._lost[shard_id] = Seen(last, self._counts(), dict(self._joined), started=self._started,
                                        since=dict(self._owed))  # fmt: skip

    def _counts(self) -> dict[int, int]:
        return {g.guild_id: g.member_count for g in self._guilds().values() if g.member_count is not None}

    def routed(self, join: Join, shard_id: int | None = None) -> None:
        """The router took ``join`` from the gateway: the outage of its guild can only begin after it."""
        if shard_id is not None:
            self._shard_of[join.guild_id] = shard_id
        before = self._joined.get(join.guild_id)
        if before is None or (joined_s(join.joined_at) or 0.0) > (joined_s(before) or 0.0):
            self._joined[join.guild_id] = join.joined_at
            self._changed.set()

    async def run(self, *, every_s: float = 30.0, gap_s: float = 1.0) -> None:
        """Record our sign of life every ``every_s`` seconds, and soon after joins (at most every ``gap_s``)."""
        triggered = False
        while True:
            await self._save()
            if triggered:
                await trio.sleep(gap_s)  # a raid's joins are recorded together, not one write each
            with trio.move_on_after(every_s):
                await self._changed.wait()
            triggered = self._changed.is_set()
            self._changed = trio.Event()

    async def _save(self) -> None:
        """Each shard's record, with only its own guilds; a shard whose old record is unread, or that is another
        process's now, is left alone (its owner's record must not claim a sign of life we did not see)."""
        now = self._wall_clock()
        counts = self._counts()
        for shard_id in [s for s, e in self._loading.items() if e.is_set() and self.owns(s)]:
            mine = {g for g, s in self._shard_of.items() if s == shard_id}
            seen = Seen(
                now,
                {g: n for g, n in counts.items() if g in mine},
                {g: j for g, j in self._joined.items() if g in mine},
                started=self._started,
                since=self._unfinished(shard_id, mine),
            )
            await self._state.save(shard_id, seen)

    def _unfinished(self, shard_id: int, mine: set[int]) -> dict[int, float]:
        """Outage starts still owed on ``shard_id``: guilds being caught up, and those the previous records
        know that this run has not paged to the end yet (their GUILD_CREATE may still be coming)."""
        owed = {g: t for g, t in self._owed.items() if g in mine}
        records = self._before.get(shard_id, {})
        lost = self._lost.get(shard_id)
        for guild_id in mine - owed.keys() - self._caught_up:
            before = lost if lost is not None else self._record_of(guild_id, shard_id, records)
            if before is not None:
                owed[guild_id] = self._began(guild_id, before)
        return owed

    async def guild(self, guild: GuildInfo, shard_id: int | None = None) -> int:
        """Welcome ``guild``'s members who joined during the outage; returns how many were handed on."""
        shard = 0 if shard_id is None else shard_id
        self._shard_of[guild.guild_id] = shard
        records = await self._previous(shard)
        lost = self._lost.get(shard)
        before = lost if lost is not None else self._record_of(guild.guild_id, shard, records)
        if before is None:
            return 0  # the first run: there was no outage, only a new bot
        config = await self._configs.get(guild.guild_id)
        if config is None or not config.enabled or config.channel_id is None or not config.behaviour.catch_up.enabled:
            self._caught_up.add(guild.guild_id)  # nothing owed: not looked for while it is off
            self._owed.pop(guild.guild_id, None)
            return 0
        now = self._wall_clock()
        since = max(self._began(guild.guild_id, before), now - config.behaviour.catch_up.max_age_minutes * 60)
        self._owed[guild.guild_id] = min(since, self._owed.get(guild.guild_id, since))
        pages = math.ceil((guild.member_count or PAGE) / PAGE) + 1  # members joining meanwhile add a page
        handed = 0
        after = 0
        # The budget is checked between members, never by cancelling one: a cancel between its claim and its
        # hand-over would leave it claimed under our live lease, unwelcomed until the next restart.
        # It starts with the first answer: waiting for Discord to answer at all (the retries) must not use it up.
        deadline: float | None = None
        out_of_time = False
        for _ in range(pages):
            members = await self._page(guild.guild_id, shard, after)
            if members is None:
                self.late += handed
                return handed
            if deadline is None:
                deadline = trio.current_time() + self._budget_s
            for member in members:
                if trio.current_time() >= deadline:
                    out_of_time = True
                    break
                if not self.owns(shard):
                    log.info("catch-up stopped: the shard is another process's now",
                             extra={"guild_id": guild.guild_id, "shard": shard, "count": handed})  # fmt: skip
                    self.late += handed
                    return handed
                joined = joined_s(member.joined_at)
                if joined is not None and since < joined <= now and not member.bot:
                    await self._welcome(msgspec.structs.replace(member, late=True))
                    handed += 1
            if out_of_time or len(members) < PAGE:
                break
            after = members[-1].user_id
        if out_of_time:
            log.warning("catch-up stopped at its time budget", extra={"guild_id": guild.guild_id})
        else:  # paged to the end: nothing of this outage is owed any more
            self._owed.pop(guild.guild_id, None)
            self._caught_up.add(guild.guild_id)
        self.late += handed
        log.info("caught up after downtime", extra={"guild_id": guild.guild_id, "count": handed})
        return handed

    async def _page(self, guild_id: int, shard: int, after: int) -> list[Join] | None:
        """A page of ``guild_id``'s members, asked for until Discord answers; None once the shard is not ours or
        Discord refuses for good."""
        delay = RETRY_FIRST_S
        while True:
            if not self.owns(shard):
                log.info("catch-up stopped: the shard is another process's now",
                         extra={"guild_id": guild_id, "shard": shard})  # fmt: skip
                return None
            try:
                await self._paced()
                return await self._roster.page(guild_id, after=after, limit=PAGE)
            except FatalError:
                raise  # a revoked token: the bot stops, retrying would not help
            except (Forbidden, NotFound) as exc:
                log.error("catch-up cannot list this server's members; its joins while the bot was away are not "
                          "welcomed (give the bot the Server Members intent and access to the server)",
                          extra={"guild_id": guild_id, "error": str(exc)})  # fmt: skip
                return None
            except WelcomeBotError as exc:
                log.warning("catch-up could not page a server's members; trying again",
                            extra={"guild_id": guild_id, "error": str(exc), "retry_in_s": delay})  # fmt: skip
            await trio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    async def _paced(self) -> None:
        """Wait for this process's next catch-up page slot (FIFO: the lock is fair)."""
        async with self._pace:
            now = trio.current_time()
            if self._next_page > now:
                await trio.sleep_until(self._next_page)
            self._next_page = max(now, self._next_page) + self._page_every
