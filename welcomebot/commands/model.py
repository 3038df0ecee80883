"""An application-command interaction as the handlers see it: the invoked path and flat option values.

Sans-IO: built from the gateway's :class:`~welcomebot.gateway.events.InteractionCreate` without I/O.
Subcommands and groups become the ``path``; the leaf's options become ``options`` by name, with snowflake
types (user, channel, role, attachment) as ``int`` ids that index ``resolved``.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from welcomebot.commands.definitions import OptionType
from welcomebot.gateway.events import CommandOption, InteractionCreate, Resolved, User

__all__ = ["APPLICATION_COMMAND", "Invocation", "parse_invocation"]

#: Interaction types (interactions/receiving-and-responding.mdx).
APPLICATION_COMMAND: Final = 2
_SNOWFLAKES = frozenset({OptionType.USER, OptionType.CHANNEL, OptionType.ROLE, OptionType.MENTIONABLE,
                         OptionType.ATTACHMENT})  # fmt: skip
_NESTING = frozenset({OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP})


class Invocation(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    application_id: int
    token: str
    #: None when invoked outside a server (a DM): refused by the dispatcher.
    guild_id: int | None
    channel_id: int | None
    invoker: User | None
    #: The invoker's permissions in the channel (only present inside a server).
    permissions: int | None
    #: The invoker's roles in the server (empty outside one): who may choose which roles the bot gives.
    member_roles: tuple[int, ...] = ()
    path: tuple[str, ...]
    options: dict[str, Any]
    resolved: Resolved
    #: ``trio.current_time()`` when the dispatch arrived: Discord's 3 s deadline runs from about then.
    received_at: float

    def __repr__(self) -> str:  # the token is a credential for 15 minutes
        return f"Invocation(id={self.id}, path={self.path}, guild_id={self.guild_id})"

    @property
    def command(self) -> str:
        return "/" + " ".join(self.path)


def parse_invocation(interaction: InteractionCreate, received_at: float) -> Invocation | None:
    """The invocation of a slash command; None for other interaction types (we register no components)."""
    data = interaction.data
    if interaction.type != APPLICATION_COMMAND or data is None or not data.name:
        return None
    path = [data.name]
    options = data.options
    while len(options) == 1 and options[0].type in _NESTING:
        path.append(options[0].name)
        options = options[0].options
    member = interaction.member
    invoker = member.user if member is not None and member.user is not None else interaction.user
    return Invocation(
        id=interaction.id,
        application_id=interaction.application_id,
        token=interaction.token,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        invoker=invoker,
        permissions=None if member is None else member.permissions,
        member_roles=() if member is None else tuple(member.roles),
        path=tuple(path),
        options={o.name: _value(o) for o in options},
        resolved=data.resolved or Resolved(),
        received_at=received_at,
    )


def _value(option: CommandOption) -> Any:
    if option.type in _SNOWFLAKES and option.value is not None:
        return int(option.value)
    return option.value
