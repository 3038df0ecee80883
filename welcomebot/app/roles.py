"""Who may have the bot give which roles: Discord's rules and ours, sans-IO (topics/permissions.mdx, "Role Hierarchy").

A bot can add a role to a member only with Manage Roles (or Administrator) and only when the role sits
strictly below the bot's highest role. The bot must not be a way round Discord's rules either: whoever sets
the auto-roles must be allowed to give them by hand (Manage Roles or Administrator, or the owner; each role
below their own highest role), and no role the bot gives may carry a dangerous permission, be managed by an
integration, or be @everyone. :func:`role_problems` (the bot's side and the roles themselves, checked again
at every grant) and :func:`invoker_problems` (the person saving) return one sentence per problem, written for
the admin who has to fix it; an empty list means all is well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import msgspec

__all__ = [
    "ADMINISTRATOR",
    "DANGEROUS",
    "MANAGE_ROLES",
    "GuildRole",
    "guild_permissions",
    "invoker_problems",
    "role_problems",
    "role_refusals",
]

ADMINISTRATOR = 1 << 3
MANAGE_ROLES = 1 << 28
#: Permissions no auto-role may carry, with the names Discord's UI shows: a member who joins must never
#: gain moderation or server management from the bot.
DANGEROUS: Final = (
    (ADMINISTRATOR, "Administrator"),
    (1 << 5, "Manage Server"),
    (MANAGE_ROLES, "Manage Roles"),
    (1 << 4, "Manage Channels"),
    (1 << 29, "Manage Webhooks"),
    (1 << 2, "Ban Members"),
    (1 << 1, "Kick Members"),
    (1 << 40, "Moderate Members"),
    (1 << 17, "Mention Everyone"),
    (1 << 13, "Manage Messages"),
)
_ALL: Final = (1 << 53) - 1


class GuildRole(msgspec.Struct, frozen=True):
    id: int
    name: str
    position: int
    permissions: int
    managed: bool = False


def guild_permissions(guild_id: int, roles: Mapping[int, GuildRole], role_ids: Sequence[int]) -> int:
    """A member's server-wide permissions: @everyone's OR their roles' (everything with Administrator)."""
    permissions = 0
    for role_id in (guild_id, *role_ids):
        role = roles.get(role_id)
        if role is not None:
            permissions |= role.permissions
    return _ALL if permissions & ADMINISTRATOR else permissions


def _top(guild_id: int, roles: Mapping[int, GuildRole], role_ids: Sequence[int]) -> int:
    return max((roles[r].position for r in (guild_id, *role_ids) if r in roles), default=0)


def role_problems(
    guild_id: int, roles: Mapping[int, GuildRole], bot_role_ids: Sequence[int], wanted: Sequence[int]
) -> list[str]:
    """What stops the bot (holding ``bot_role_ids``) from giving ``wanted`` in a guild with ``roles``."""
    problems: list[str] = []
    if not guild_permissions(guild_id, roles, bot_role_ids) & MANAGE_ROLES:
        problems.append("the bot lacks the Manage Roles permission: give it to the bot's role in Server Settings")
    top = _top(guild_id, roles, bot_role_ids)
    for role_id in wanted:
        role = roles.get(role_id)
        if role is None:
            problems.append(f"role {role_id} no longer exists in this server: remove it from the auto-roles")
        elif refusal := _refused(guild_id, role):
            problems.append(refusal)
        elif role.position >= top:
            problems.append(f"role {role.name} is not below the bot's highest role: drag the bot's role above it")
    return problems


def _refused(guild_id: int, role: GuildRole) -> str | None:
    """Why no one may have the bot give ``role``, whatever their rights."""
    if role.id == guild_id:
        return "@everyone is every member's already: choose another role"
    if role.managed:
        return f"role {role.name} is managed by Discord or an integration: choose another role"
    dangerous = [name for flag, name in DANGEROUS if role.permissions & flag]
    if dangerous:
        return (f"role {role.name} carries the {', '.join(dangerous)} permission: the bot never gives such a "
                "role to new members; choose a role without it")  # fmt: skip
    return None


def role_refusals(guild_id: int, roles: Mapping[int, GuildRole], wanted: Sequence[int]) -> list[str]:
    """Why ``wanted`` cannot be saved as auto-roles whoever asks: not this server's, @everyone, managed,
    dangerous."""
    return [
        refusal
        for role_id in wanted
        if (refusal := _refused(guild_id, roles[role_id]) if role_id in roles else
            f"role {role_id} is not a role of this server: choose one of this server's roles")
    ]  # fmt: skip


def invoker_problems(
    guild_id: int,
    roles: Mapping[int, GuildRole],
    *,
    owner_id: int,
    invoker_id: int,
    invoker_role_ids: Sequence[int],
    wanted: Sequence[int],
) -> list[str]:
    """Why the invoker may not have the bot give ``wanted``: as Discord's role editor requires, Manage Roles
    (or Administrator, or owning the server) and each role below the invoker's highest role."""
    if invoker_id == owner_id:
        return []
    if not guild_permissions(guild_id, roles, invoker_role_ids) & MANAGE_ROLES:
        return ["you need the Manage Roles permission to choose roles the bot gives: ask an admin who has it"]
    top = _top(guild_id, roles, invoker_role_ids)
    return [
        f"role {roles[r].name} is not below your highest role: you can only choose roles you could give yourself"
        for r in wanted
        if r in roles and roles[r].position >= top
    ]
