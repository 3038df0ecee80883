"""From gateway dispatches to the router's events: decode what the pipeline uses, ignore the rest."""

from __future__ import annotations

import logging

import msgspec

from welcomebot.app.model import GuildInfo, Join
from welcomebot.app.router import (
    Event,
    GuildAvailable,
    GuildChanged,
    GuildGone,
    MemberJoined,
    MemberLeft,
    MemberUpdated,
)
from welcomebot.gateway import events as ev
from welcomebot.gateway.protocol import Dispatch

__all__ = ["to_router_event"]

log = logging.getLogger(__name__)


def to_router_event(dispatch: Dispatch, received_at: float) -> Event | ev.InteractionCreate | None:
    """The router event (or an interaction for the command dispatcher) for ``dispatch``; None to ignore it.

    A malformed payload of an event we use is logged and skipped: one bad event must not stop a shard.
    """
    try:
        # The shard already decoded the events it knows; decode here only what arrives undecoded.
        event = dispatch.event if dispatch.event is not None else ev.decode_event(dispatch.name, dispatch.data)
    except msgspec.DecodeError as exc:
        log.warning("skipping a malformed gateway event", extra={"dispatch": dispatch.name, "seq": dispatch.seq,
                                                                  "error": str(exc)})  # fmt: skip
        return None
    match event:
        case ev.GuildMemberAdd(guild_id=guild_id, user=user, joined_at=joined_at, pending=pending):
            return MemberJoined(_join(guild_id, user, joined_at, pending, received_at))
        case ev.GuildMemberUpdate(guild_id=guild_id, user=user, joined_at=joined_at, pending=pending):
            if joined_at is None:
                return None
            return MemberUpdated(_join(guild_id, user, joined_at, pending, received_at))
        case ev.GuildMemberRemove(guild_id=guild_id, user=user):
            return MemberLeft(guild_id, user.id, _join(guild_id, user, "", False, received_at))
        case ev.GuildCreate(id=guild_id, unavailable=False, name=name, member_count=count, icon=icon,
                            system_channel_id=system):  # fmt: skip
            return GuildAvailable(GuildInfo(guild_id=guild_id, name=name, member_count=count, icon=icon,
                                            system_channel_id=system))  # fmt: skip
        case ev.GuildUpdate(id=guild_id, name=name, icon=icon, system_channel_id=system):
            return GuildChanged(guild_id, name, icon, system)
        case ev.GuildDelete(id=guild_id, unavailable=False):
            return GuildGone(guild_id)
        case ev.InteractionCreate():
            return event
    return None


def _join(guild_id: int, user: ev.User, joined_at: str, pending: bool, received_at: float) -> Join:
    return Join(
        guild_id=guild_id,
        user_id=user.id,
        joined_at=joined_at,
        username=user.username,
        global_name=user.global_name,
        avatar=user.avatar,
        bot=user.bot,
        pending=pending,
        received_at=received_at,
    )
