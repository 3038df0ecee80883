"""Can the bot give these roles? Discord's rules, sans-IO (topics/permissions.mdx, "Role Hierarchy").

A bot can add a role to a member only with Manage Roles (or Administrator) and only when the role sits
strictly below the bot's highest role. :func:`role_problems` returns one sentence per problem, written for
the admin who has to fix it (shown by /preview and the settings commands); an empty list means all is well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

__all__ = ["ADMINISTRATOR", "MANAGE_ROLES", "GuildRole", "role_problems"]

ADMINISTRATOR = 1 << 3
MANAGE_ROLES = 1 << 28


class GuildRole(msgspec.Struct, frozen=True):
    id: int
    name: str
    position: int
    permissions: int
    managed: bool = False


def role_problems(
    guild_id: int, roles: Mapping[int, GuildRole], bot_role_ids: Sequence[int], wanted: Sequence[int]
) -> list[str]:
    """What stops the bot (holding ``bot_role_ids``) from giving ``wanted`` in a guild with ``roles``."""
    problems: list[str] = []
    held = [roles[r] for r in (guild_id, *bot_role_ids) if r in roles]
    permissions = 0
    for held_role in held:
        permissions |= held_role.permissions
    if not permissions & (ADMINISTRATOR | MANAGE_ROLES):
        problems.append("the bot lacks the Manage Roles permission: give it to the bot's role in Server Settings")
    top = max((r.position for r in held), default=None)
    for role_id in wanted:
        role = roles.get(role_id)
        if role is None:
            problems.append(f"role {role_id} no longer exists: remove it from the auto-roles")
        elif role_id == guild_id or role.managed:
            problems.append(f"role {role.name} is managed by Discord or an integration: choose another role")
        elif top is None or role.position >= top:
            problems.append(f"role {role.name} is not below the bot's highest role: drag the bot's role above it")
    return problems
