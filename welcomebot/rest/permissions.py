"""Discord's permission arithmetic (topics/permissions.mdx), sans-IO, and :func:`bot_permissions`, which asks
the API for what it needs.

The bot's permissions in a channel: the @everyone role's permissions, OR the member's roles; everything if
it owns the server or holds Administrator; then the channel's overwrites in Discord's order: @everyone's,
then the member's roles' (denies before allows), then the member's own.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final

import msgspec

from welcomebot.rest.errors import NotFound

if TYPE_CHECKING:
    from welcomebot.rest.api import DiscordApi

__all__ = [
    "WELCOME_NEEDS",
    "Overwrite",
    "Permission",
    "bot_permissions",
    "can_manage",
    "channel_permissions",
    "missing",
]


class Permission(enum.IntFlag):
    ADMINISTRATOR = 1 << 3
    MANAGE_GUILD = 1 << 5
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16


ALL: Final = (1 << 53) - 1

#: What posting a welcome card needs, with the names Discord's UI shows.
WELCOME_NEEDS: Final = (
    (Permission.VIEW_CHANNEL, "View Channel"),
    (Permission.SEND_MESSAGES, "Send Messages"),
    (Permission.ATTACH_FILES, "Attach Files"),
)


class Overwrite(msgspec.Struct, frozen=True):
    """A channel permission overwrite; ``type`` 0 is a role, 1 a member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


def channel_permissions(
    *,
    guild_id: int,
    owner_id: int,
    member_id: int,
    member_roles: Iterable[int],
    role_permissions: Mapping[int, int],
    overwrites: Iterable[Overwrite],
) -> int:
    """A member's permissions in a channel. ``role_permissions`` includes @everyone (its id is the guild's)."""
    if member_id == owner_id:
        return ALL
    roles = [r for r in member_roles if r != guild_id]
    perms = role_permissions.get(guild_id, 0)
    for role_id in roles:
        perms |= role_permissions.get(role_id, 0)
    if perms & Permission.ADMINISTRATOR:
        return ALL
    by_target = {(o.type, o.id): o for o in overwrites}
    everyone = by_target.get((0, guild_id))
    if everyone is not None:
        perms = (perms & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for role_id in roles:
        role = by_target.get((0, role_id))
        if role is not None:
            allow |= role.allow
            deny |= role.deny
    perms = (perms & ~deny) | allow
    own = by_target.get((1, member_id))
    if own is not None:
        perms = (perms & ~own.deny) | own.allow
    return perms


def missing(perms: int, needs: Iterable[tuple[Permission, str]] = WELCOME_NEEDS) -> list[str]:
    """The names of the needed permissions ``perms`` lacks, in the order given."""
    return [name for flag, name in needs if not perms & flag]


def can_manage(perms: int | None) -> bool:
    """May this member change the server's welcome settings (Manage Server or Administrator)?"""
    return perms is not None and bool(perms & (Permission.MANAGE_GUILD | Permission.ADMINISTRATOR))


async def bot_permissions(api: DiscordApi, guild_id: int, channel_id: int, bot_id: int) -> int | None:
    """The bot's permissions in the channel from the server's roles and the channel's overwrites; None when the
    channel no longer exists."""
    guild = await api.get_guild(guild_id)
    channels = await api.get_guild_channels(guild_id)
    channel = next((c for c in channels if int(c["id"]) == channel_id), None)
    if channel is None:
        return None
    try:
        me = await api.get_guild_member(guild_id, bot_id)
    except NotFound:
        return 0  # removed from the server meanwhile
    return channel_permissions(
        guild_id=guild_id,
        owner_id=int(guild["owner_id"]),
        member_id=bot_id,
        member_roles=[int(r) for r in me.get("roles", [])],
        role_permissions={int(r["id"]): int(r["permissions"]) for r in guild.get("roles", [])},
        overwrites=msgspec.convert(channel.get("permission_overwrites") or [], list[Overwrite], strict=False),
    )
