"""The router: gateway events in, claimed joins out to the guild actors, sequence checkpoints back.

It runs one event at a time, in gateway order, per shard. For a join it decides whether the member is
to be welcomed now (not a bot, not pending screening, the guild configured), claims the join in the
welcome log (durable before anything else happens), then hands it to the guild's actor and marks the
dispatch's sequence done, so the checkpoint the shard persists never runs ahead of a durable claim.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec

from welcomebot.app.gate import too_young, within_rejoin_window
from welcomebot.app.guilds import Guilds
from welcomebot.app.model import GuildInfo, Join, Outcome
from welcomebot.app.watermark import SeqWatermark

if TYPE_CHECKING:
    from welcomebot.app.guild import Observer
    from welcomebot.app.ports import Configs, GuildSnapshots, WelcomeLog

__all__ = ["GuildAvailable", "GuildChanged", "GuildGone", "MemberJoined", "MemberLeft", "MemberUpdated", "Router"]

log = logging.getLogger(__name__)

#: A member whose screening ends later than this after joining is welcomed only if we saw them pending.
SCREENING_WINDOW_S = 24 * 3600.0


class GuildAvailable(msgspec.Struct, frozen=True):
    guild: GuildInfo


class GuildChanged(msgspec.Struct, frozen=True):
    """GUILD_UPDATE: the server's name, icon or system channel may have changed (no member count in it)."""

    guild_id: int
    name: str
    icon: str | None = None
    system_channel_id: int | None = None


class GuildGone(msgspec.Struct, frozen=True):
    guild_id: int


class MemberJoined(msgspec.Struct, frozen=True):
    join: Join


class MemberUpdated(msgspec.Struct, frozen=True):
    """GUILD_MEMBER_UPDATE: what matters is ``pending`` turning false (membership screening passed)."""

    join: Join


class MemberLeft(msgspec.Struct, frozen=True):
    guild_id: int
    user_id: int
    #: Who left, for a goodbye's text and card (GUILD_MEMBER_REMOVE carries the user).
    user: Join | None = None


Event = GuildAvailable | GuildChanged | GuildGone | MemberJoined | MemberUpdated | MemberLeft


class Router:
    """Feeds guild actors from one shard's events. ``deliver(guild_id, join)`` reaches the actor."""

    def __init__(
        self,
        *,
        configs: Configs,
        welcome_log: WelcomeLog,
        deliver: Callable[[int, Join], Awaitable[None]],
        guilds: Guilds,
        observer: Observer,
        wall_clock: Callable[[], float] = time.time,
        on_leave: Callable[[MemberLeft], Awaitable[None]] | None = None,
        snapshots: GuildSnapshots | None = None,
        session_id: str = "",
    ) -> None:
        self._configs = configs
        self._log = welcome_log
        self._deliver = deliver
        self._guilds = guilds
        self._observer = observer
        self.watermark = SeqWatermark()
        self._wall_clock = wall_clock
        self._pending: set[tuple[int, int]] = set()  # (guild, user) seen joining with screening pending
        self._on_leave = on_leave
        self._snapshots = snapshots
        self._session_id = session_id

    @property
    def guilds(self) -> Mapping[int, GuildInfo]:
        """What this router (and any other sharing its :class:`Guilds`) knows, read-only."""
        return self._guilds.view

    async def handle(self, event: Event, seq: int | None = None) -> None:
        """Handle one event; ``seq`` (None for events not from the gateway) is marked done after."""
        if seq is not None:
            self.watermark.begin(seq)
        match event:
            case GuildAvailable(guild):
                guild = msgspec.structs.replace(guild, session_id=self._session_id, seq=seq or 0)
                self._guilds.available(guild)
                await self._keep(guild)
            case GuildChanged(guild_id, name, icon, system_channel_id):
                changed = self._guilds.changed(guild_id, name=name, icon=icon, system_channel_id=system_channel_id)
                if changed is not None:
                    await self._keep(changed)
            case GuildGone(guild_id):
                self._guilds.gone(guild_id)
            case MemberJoined(join):
                await self._count(join.guild_id, +1, seq)
                known = self._guilds.view.get(join.guild_id)
                if known is not None and known.member_count is not None:
                    join = msgspec.structs.replace(join, member_number=known.member_count)
                if join.pending:
                    self._pending.add((join.guild_id, join.user_id))
                await self._consider(join)
            case MemberUpdated(join) if not join.pending and self._screening_just_passed(join):
                # The claim makes a repeated update harmless; members who joined without screening were
                # claimed at join, so their later updates are dropped by it.
                await self._consider(join, from_update=True)
            case MemberLeft(guild_id, user_id):
                await self._count(guild_id, -1, seq)
                self._pending.discard((guild_id, user_id))
                if self._on_leave is not None:
                    await self._on_leave(event)  # a goodbye is claimed here, in gateway order, like a welcome
        if seq is not None:
            self.watermark.done(seq)

    async def consider(self, join: Join) -> None:
        """Decide on, claim and deliver a join found outside the gateway's stream (the catch-up)."""
        await self._consider(join)

    async def _consider(self, join: Join, *, from_update: bool = False) -> None:
        if join.bot:
            if not from_update:
                self._observer.welcomed(Outcome.SKIPPED_BOT)
            return
        if join.pending:
            self._observer.welcomed(Outcome.SKIPPED_PENDING)
            return
        config = await self._configs.get(join.guild_id)
        if config is None or not config.enabled or config.channel_id is None:
            if not from_update:
                self._observer.welcomed(Outcome.SKIPPED_UNCONFIGURED)
            return
        gate = config.behaviour.gate
        if too_young(join.user_id, self._wall_clock(), gate.min_account_age_hours):
            self._observer.welcomed(Outcome.SKIPPED_YOUNG_ACCOUNT)
            return
        if gate.rejoin_window_hours > 0:
            last = await self._log.last(join.guild_id, join.user_id)
            if last is not None and within_rejoin_window(last.joined_at, join.joined_at, gate.rejoin_window_hours):
                self._observer.welcomed(Outcome.SKIPPED_REJOIN)
                return
        if not await self._log.claim(join.key):
            if not from_update:
                self._observer.welcomed(Outcome.DUPLICATE)
            return
        await self._deliver(join.guild_id, join)

    def _screening_just_passed(self, join: Join) -> bool:
        """An update welcomes only a member who was pending: seen so, or joined recently (after a restart).

        Without this, any nickname change of a long-time member would look like a screening pass.
        """
        if (join.guild_id, join.user_id) in self._pending:
            self._pending.discard((join.guild_id, join.user_id))
            return True
        try:
            joined = datetime.fromisoformat(join.joined_at).timestamp()
        except ValueError:
            return False
        return self._wall_clock() - joined < SCREENING_WINDOW_S

    async def _count(self, guild_id: int, delta: int, seq: int | None) -> None:
        guild = self._guilds.count(guild_id, delta, session_id=self._session_id, seq=seq)
        if guild is not None:
            await self._keep(guild)

    async def _keep(self, guild: GuildInfo) -> None:
        """Persist ``guild`` before its dispatch is marked done, so no restart forgets or recounts it."""
        if self._snapshots is not None:
            await self._snapshots.put(guild)
