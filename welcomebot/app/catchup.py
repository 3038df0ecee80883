"""Catch-up after downtime: welcome the members who joined while the bot could not RESUME.

A fresh IDENTIFY (READY instead of RESUMED) means the gateway's events of the outage are lost. For each
guild that opted in, whatever its member count did (as many may have left as joined), the member list is paged
in user-id order (Discord's only order; the REST client keeps to the route's bucket), bounded by the guild's size and
a time budget, and every member who joined after our last sign of life (and at most ``max_age_minutes``
ago) goes through the router's usual checks and claim, so one already welcomed is never welcomed again.

Where the outage began is per guild: the ``joined_at`` of the last join the router took (Discord's clock;
every join after it in the gateway's order was lost with the session), else our last sign of life less a
margin. Both are in a small record per shard in the store (``meta``), so processes running other shards
never read or overwrite it; it is read once per shard, at that shard's first catch-up (before this run
rewrites it every ``every_s`` seconds in :meth:`CatchUp.run`). A shard that
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
from welcomebot.rest.errors import Forbidden, NotFound

if TYPE_CHECKING:
    from welcomebot.app.model import GuildInfo, Join
    from welcomebot.app.ports import Configs

__all__ = ["MARGIN_S", "CatchUp", "CatchUpState", "Roster", "Seen"]

log = logging.getLogger(__name__)

#: Joins this long before our last sign of life are looked at too: they may have been queued, not claimed.
MARGIN_S = 60.0
PAGE = 1000
#: Backoff between tries of a page Discord did not answer: doubling from the first, capped.
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0


class Seen(msgspec.Struct, frozen=True):
    """When the bot was last alive, and each guild's member count then."""

    at: float
    counts: dict[int, int] = {}
    #: The ``joined_at`` of the last join routed, per guild.
    joined: dict[int, str] = {}
    #: When the run that wrote this began listening (0: unknown, a record from an older version).
    started: float = 0.0


class CatchUpState(Protocol):
    """One :class:`Seen` per shard id: written only by the process that runs the shard."""

    async def load(self, shard_id: int) -> Seen | None: ...
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
    ) -> None:
        self._state = state
        self._roster = roster
        self._configs = configs
        self._welcome = welcome
        self._guilds = guilds
        self._wall_clock = wall_clock
        self._budget_s = budget_s
        #: Per shard: the previous run's record, read before this run first overwrites it.
        self._before: dict[int, Seen | None] = {}
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

    async def _previous(self, shard_id: int) -> Seen | None:
        """The previous run's record of ``shard_id``, read once (before :meth:`run` first writes that shard's)."""
        loading = self._loading.get(shard_id)
        if loading is None:
            loading = self._loading[shard_id] = trio.Event()
            try:
                before = await self._state.load(shard_id)
            except BaseException:
                del self._loading[shard_id]  # the next catch-up of this shard reads it again
                loading.set()
                raise
            self._before[shard_id] = before
            if before is not None:
                for guild_id, joined in before.joined.items():
                    self._shard_of.setdefault(guild_id, shard_id)
                    self._joined.setdefault(guild_id, joined)
            loading.set()
        await loading.wait()
        return self._before.get(shard_id)

    def heard(self, shard_id: int) -> None:
        """An event of ``shard_id`` was routed: its session was alive until now."""
        self._heard[shard_id] = self._wall_clock()

    def session_ready(self, shard_id: int) -> None:
        """A fresh session (READY) on ``shard_id``. On a shard already heard from in this run, the session before
        was lost: its guilds' outage began at its last event, with the member counts known then (the new
        session's GUILD_CREATEs have not updated them yet)."""
        last = self._heard.get(shard_id)
        if last is not None:
            self._lost[shard_id] = Seen(last, self._counts(), dict(self._joined), started=self._started)

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
        """Each shard's record, with only its own guilds; a shard whose old record is unread is left alone."""
        now = self._wall_clock()
        counts = self._counts()
        for shard_id in [s for s, e in self._loading.items() if e.is_set()]:
            mine = {g for g, s in self._shard_of.items() if s == shard_id}
            seen = Seen(
                now,
                {g: n for g, n in counts.items() if g in mine},
                {g: j for g, j in self._joined.items() if g in mine},
                started=self._started,
            )
            await self._state.save(shard_id, seen)

    async def guild(self, guild: GuildInfo, shard_id: int | None = None) -> int:
        """Welcome ``guild``'s members who joined during the outage; returns how many were handed on."""
        shard = 0 if shard_id is None else shard_id
        self._shard_of[guild.guild_id] = shard
        previous = await self._previous(shard)
        before = self._lost.get(shard, previous)
        if before is None:
            return 0  # the first run: there was no outage, only a new bot
        config = await self._configs.get(guild.guild_id)
        if config is None or not config.enabled or config.channel_id is None or not config.behaviour.catch_up.enabled:
            return 0
        now = self._wall_clock()
        last = before.joined.get(guild.guild_id)
        began = joined_s(last) if last is not None else None
        since = max(
            before.at - MARGIN_S if began is None else began,
            before.started,
            now - config.behaviour.catch_up.max_age_minutes * 60,
        )
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
