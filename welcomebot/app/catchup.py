"""Catch-up after downtime: welcome the members who joined while the bot could not RESUME.

A fresh IDENTIFY (READY instead of RESUMED) means the gateway's events of the outage are lost. For each
guild that opted in and whose member count grew since we last saw it, the member list is paged in user-id
order (Discord's only order; the REST client keeps to the route's bucket), bounded by the guild's size and
a time budget, and every member who joined after our last sign of life (and at most ``max_age_minutes``
ago) goes through the router's usual checks and claim, so one already welcomed is never welcomed again.

Where the outage began is per guild: the ``joined_at`` of the last join the router took (Discord's clock;
every join after it in the gateway's order was lost with the session), else our last sign of life less a
margin. Both are in a small record in the store (``meta``), rewritten every ``every_s`` seconds by
:meth:`CatchUp.run` with the member counts the gateway reported; it is read once, at start-up. A shard that
loses its session while the process runs (a fresh READY on a shard already live) is caught up the same way,
from what this process knew when that session ended. Nobody who joined before the run that saw them began
is looked at: they joined before that bot was there, not during an outage.
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

if TYPE_CHECKING:
    from welcomebot.app.model import GuildInfo, Join
    from welcomebot.app.ports import Configs

__all__ = ["MARGIN_S", "CatchUp", "CatchUpState", "Roster", "Seen"]

log = logging.getLogger(__name__)

#: Joins this long before our last sign of life are looked at too: they may have been queued, not claimed.
MARGIN_S = 60.0
PAGE = 1000


class Seen(msgspec.Struct, frozen=True):
    """When the bot was last alive, and each guild's member count then."""

    at: float
    counts: dict[int, int] = {}
    #: The ``joined_at`` of the last join routed, per guild.
    joined: dict[int, str] = {}
    #: When the run that wrote this began listening (0: unknown, a record from an older version).
    started: float = 0.0


class CatchUpState(Protocol):
    async def load(self) -> Seen | None: ...
    async def save(self, seen: Seen) -> None: ...


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
        self._before: Seen | None = None
        #: Per shard that lost its session while this process ran: what we knew when its session ended.
        self._lost: dict[int, Seen] = {}
        self._heard: dict[int, float] = {}  # per shard: the last event routed (wall clock)
        self._started = wall_clock()
        self._joined: dict[int, str] = {}
        self._changed = trio.Event()
        self.late = 0

    async def start(self) -> None:
        """Read the last sign of life of the previous run (before :meth:`run` overwrites it)."""
        self._before = await self._state.load()
        if self._before is not None:
            self._joined.update(self._before.joined)

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

    def routed(self, join: Join) -> None:
        """The router took ``join`` from the gateway: the outage of its guild can only begin after it."""
        before = self._joined.get(join.guild_id)
        if before is None or (joined_s(join.joined_at) or 0.0) > (joined_s(before) or 0.0):
            self._joined[join.guild_id] = join.joined_at
            self._changed.set()

    async def run(self, *, every_s: float = 30.0, gap_s: float = 1.0) -> None:
        """Record our sign of life every ``every_s`` seconds, and soon after joins (at most every ``gap_s``)."""
        triggered = False
        while True:
            await self._state.save(Seen(self._wall_clock(), self._counts(), dict(self._joined), started=self._started))
            if triggered:
                await trio.sleep(gap_s)  # a raid's joins are recorded together, not one write each
            with trio.move_on_after(every_s):
                await self._changed.wait()
            triggered = self._changed.is_set()
            self._changed = trio.Event()

    async def guild(self, guild: GuildInfo, shard_id: int | None = None) -> int:
        """Welcome ``guild``'s members who joined during the outage; returns how many were handed on."""
        before = self._lost.get(shard_id, self._before) if shard_id is not None else self._before
        if before is None:
            return 0  # the first run: there was no outage, only a new bot
        config = await self._configs.get(guild.guild_id)
        if config is None or not config.enabled or config.channel_id is None or not config.behaviour.catch_up.enabled:
            return 0
        old = before.counts.get(guild.guild_id)
        if old is not None and guild.member_count is not None and guild.member_count <= old:
            return 0  # nobody new (or as many left as joined): not worth paging the whole list
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
        deadline = trio.current_time() + self._budget_s
        out_of_time = False
        for _ in range(pages):
            members = await self._roster.page(guild.guild_id, after=after, limit=PAGE)
            for member in members:
                if trio.current_time() >= deadline:
                    out_of_time = True
                    break
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
