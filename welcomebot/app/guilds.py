"""What the gateway told us about each guild, with one owner: only the router changes it.

Everyone else (the guild actors, the catch-up, the slash commands) reads :attr:`Guilds.view`, a read-only
mapping of frozen :class:`~welcomebot.app.model.GuildInfo`: an entry is replaced, never changed in place, so a
reader holding one never sees it change under it. ``welcomebot.bot`` builds the owner first (from the
snapshots a RESUMEd session needs) and hands it to the pipeline and the view to the commands, in their
constructors.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import msgspec

from welcomebot.app.model import GuildInfo

__all__ = ["Guilds"]


class Guilds:
    def __init__(self, known: Mapping[int, GuildInfo] | None = None) -> None:
        self._guilds: dict[int, GuildInfo] = dict(known or {})
        #: Read-only, and live: it shows every change the owner makes.
        self.view: Mapping[int, GuildInfo] = MappingProxyType(self._guilds)

    def available(self, guild: GuildInfo) -> None:
        self._guilds[guild.guild_id] = guild

    def changed(self, guild_id: int, *, name: str, icon: str | None, system_channel_id: int | None) -> GuildInfo | None:
        """The guild with its new name, icon and system channel; None when we do not know it."""
        known = self._guilds.get(guild_id)
        if known is None:
            return None
        guild = self._guilds[guild_id] = msgspec.structs.replace(
            known, name=name, icon=icon, system_channel_id=system_channel_id
        )
        return guild

    def gone(self, guild_id: int) -> None:
        self._guilds.pop(guild_id, None)

    def count(self, guild_id: int, delta: int, *, session_id: str, seq: int | None) -> GuildInfo | None:
        """The guild with ``delta`` members more, or None when nothing changed: unknown guild or count, or a
        dispatch of this session at or before the one last counted (replayed after a kill)."""
        known = self._guilds.get(guild_id)
        if known is None or known.member_count is None:
            return None
        if seq is not None and known.session_id == session_id and seq <= known.seq:
            return None  # counted (and kept) before the saved sequence caught up
        guild = msgspec.structs.replace(known, member_count=known.member_count + delta)
        if seq is not None:  # the last dispatch counted, so a replay of it after a kill is not counted again
            guild = msgspec.structs.replace(guild, session_id=session_id, seq=seq)
        self._guilds[guild_id] = guild
        return guild
