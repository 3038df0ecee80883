"""The slash commands welcomebot registers, as data (``application-commands.mdx``).

Definitions know nothing of handlers: :mod:`welcomebot.commands.dispatch` maps each leaf path, such as
``("welcome", "channel")``, to its handler, and a test checks the two agree. To add a setting, add an
:class:`Option` subcommand to a group here and a handler under the same path in a command module.

Every command is guild-only (``contexts`` [0], ``integration_types`` [0]) and hidden from members without
Manage Server (``default_member_permissions``); the dispatcher checks the permission again at run time,
because server admins can override command permissions.
"""

from __future__ import annotations

import enum
import hashlib
from typing import Any, Final

import msgspec

from welcomebot.render.backgrounds import Builtin
from welcomebot.render.design import MAX_RING, MAX_SCRIM
from welcomebot.render.shapes import Shape
from welcomebot.render.themes import Theme

__all__ = [
    "COMMANDS",
    "MANAGE_GUILD",
    "ChannelType",
    "Choice",
    "Command",
    "Option",
    "OptionType",
    "definitions_hash",
    "definitions_payload",
    "leaf_paths",
]

#: Manage Server for ``default_member_permissions``. The docs show the bit set as a string ("32"), the
#: OpenAPI spec's request schema wants an integer; Discord takes both and answers with the string.
MANAGE_GUILD: Final = 1 << 5
GUILD_INSTALL: Final = 0  # integration_types: installed to a server
GUILD_CONTEXT: Final = 0  # contexts: used inside a server (not in DMs)


class OptionType(enum.IntEnum):
    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    MENTIONABLE = 9
    NUMBER = 10
    ATTACHMENT = 11


class ChannelType(enum.IntEnum):
    GUILD_TEXT = 0
    GUILD_ANNOUNCEMENT = 5


class Choice(msgspec.Struct, frozen=True):
    name: str
    value: str


class Option(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    type: OptionType
    name: str
    description: str
    required: bool = False
    options: tuple[Option, ...] = ()
    channel_types: tuple[ChannelType, ...] = ()
    min_length: int | None = None
    max_length: int | None = None
    choices: tuple[Choice, ...] = ()
    min_value: int | None = None
    max_value: int | None = None


class Command(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    description: str
    options: tuple[Option, ...] = ()
    type: int = 1  # CHAT_INPUT
    default_member_permissions: int = MANAGE_GUILD
    contexts: tuple[int, ...] = (GUILD_CONTEXT,)
    integration_types: tuple[int, ...] = (GUILD_INSTALL,)


def _sub(name: str, description: str, *options: Option) -> Option:
    return Option(type=OptionType.SUB_COMMAND, name=name, description=description, options=options)


SET_BACKGROUND = Command(
    name="set-background",
    description="Set the background image of this server's welcome cards",
    options=(
        Option(type=OptionType.ATTACHMENT, name="image", description="A PNG, JPEG, WebP or GIF to upload"),
        Option(type=OptionType.STRING, name="url", description="Or a link (https) to a PNG, JPEG, WebP or GIF",
               max_length=2000),
    ),
)  # fmt: skip

PREVIEW = Command(
    name="preview",
    description="Show the welcome card and message as a new member would see them, and what is missing",
    options=(Option(type=OptionType.USER, name="member", description="Preview for this member instead of you"),),
)

WELCOME = Command(
    name="welcome",
    description="Configure welcome messages for this server",
    options=(
        _sub("channel", "Choose the channel where new members are welcomed",
             Option(type=OptionType.CHANNEL, name="channel", description="A text or announcement channel",
                    required=True, channel_types=(ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT))),
        _sub("message", "Set the welcome text; use {user}, {server} and {count}",
             Option(type=OptionType.STRING, name="template", required=True, min_length=1, max_length=2000,
                    description="e.g. Welcome to {server}, {user}! You are member #{count}.")),
        _sub("show", "Show the current welcome settings"),
        _sub("enable", "Start welcoming new members"),
        _sub("disable", "Stop welcoming new members (settings are kept)"),
        _sub("reset-background", "Go back to the default card background"),
    ),
)  # fmt: skip


def _choices(values: list[str]) -> tuple[Choice, ...]:
    return tuple(Choice(name=v, value=v) for v in values)


_COLOR = "A colour like #ffcc00"
CARD = Command(
    name="card",
    description="Design the welcome card: try changes out, then /card save",
    options=(
        _sub("style", "Theme, avatar shape, ring, colours, scrim, animation (shown to you before saving)",
             Option(type=OptionType.STRING, name="theme", description="Card layout",
                    choices=_choices([t.value for t in Theme])),
             Option(type=OptionType.STRING, name="shape", description="Avatar shape",
                    choices=_choices([s.value for s in Shape])),
             Option(type=OptionType.INTEGER, name="ring", description="Ring around the avatar, in pixels (0: none)",
                    min_value=0, max_value=MAX_RING),
             Option(type=OptionType.STRING, name="text-color", description=_COLOR, max_length=7),
             Option(type=OptionType.STRING, name="accent-color", description=f"{_COLOR}, for the ring and accents",
                    max_length=7),
             Option(type=OptionType.INTEGER, name="scrim", description="Darkening behind the text, in percent",
                    min_value=0, max_value=MAX_SCRIM),
             Option(type=OptionType.BOOLEAN, name="animated",
                    description="Animate cards when the avatar or background is animated")),
        _sub("background", "A built-in background or colours (shown to you before saving)",
             Option(type=OptionType.STRING, name="builtin", description="A built-in background, your image, or "
                    "the member's avatar colour", choices=_choices(["image", "avatar", *(b.value for b in Builtin)])),
             Option(type=OptionType.STRING, name="colors", max_length=40,
                    description="One colour, or 2-3 for a gradient with an angle: #ff0080,#7928ca@135")),
        _sub("font", "Upload a font for the names and text (TTF or OTF)",
             Option(type=OptionType.ATTACHMENT, name="file", description="A .ttf or .otf font file", required=True)),
        _sub("reset", "Start over from the default design (shown to you before saving)"),
        _sub("save", "Use the design you tried out for new members"),
        _sub("discard", "Drop the design you tried out; the saved one stays"),
    ),
)  # fmt: skip


def _opt(kind: OptionType, name: str, description: str, **fields: Any) -> Option:
    return Option(type=kind, name=name, description=description, **fields)


_S, _B, _N, _I = OptionType.STRING, OptionType.BOOLEAN, OptionType.NUMBER, OptionType.INTEGER
_TEMPLATE = "Text with {user} {name} {username} {server} {count} {ordinal} {age}"
BEHAVIOUR = Command(
    name="behaviour",
    description="Goodbyes, DM welcomes, auto-roles, raid mode, auto-delete and more",
    options=(
        _sub("goodbye", "Say goodbye when a member leaves",
             _opt(_B, "enabled", "Post goodbyes", required=True),
             _opt(OptionType.CHANNEL, "channel", "Where (default: the welcome channel)",
                  channel_types=(ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT)),
             _opt(_S, "template", _TEMPLATE, max_length=2000), _opt(_B, "card", "Add a goodbye card")),
        _sub("dm", "Welcome new members in a direct message",
             _opt(_S, "mode", "Off, as well as the channel welcome, or instead of it", required=True,
                  choices=_choices(["off", "also", "instead"])),
             _opt(_S, "template", _TEMPLATE, max_length=2000), _opt(_B, "card", "Add the welcome card")),
        _sub("auto-delete", "Delete welcomes of members who leave quickly, or all welcomes after a while",
             _opt(_N, "quick-leave-minutes", "Delete the welcome if they leave within this time (0: never)",
                  min_value=0, max_value=10080),
             _opt(_N, "after-minutes", "Delete every welcome after this time (0: keep)", min_value=0,
                  max_value=43200)),
        _sub("roles", "Give up to 5 roles once a member passes screening (none given: no auto-roles)",
             *(_opt(OptionType.ROLE, f"role{i}", "A role to give") for i in range(1, 6)),
             _opt(_N, "delay-seconds", "Wait this long after the welcome", min_value=0, max_value=86400)),
        _sub("raid", "Group welcomes while many members join at once",
             _opt(_B, "enabled", "Detect raids", required=True),
             _opt(_I, "joins", "Joins that make a raid ...", min_value=2, max_value=1000),
             _opt(_N, "seconds", "... within this many seconds", min_value=1, max_value=3600),
             _opt(_I, "group-size", "Members named per grouped welcome", min_value=2, max_value=50),
             _opt(_B, "cards", "Cards on grouped welcomes (up to 10)")),
        _sub("gate", "Who is not welcomed",
             _opt(_N, "min-account-age-hours", "Skip accounts younger than this (0: nobody)", min_value=0,
                  max_value=8760),
             _opt(_N, "rejoin-window-hours", "Skip members rejoining within this time (0: nobody)", min_value=0,
                  max_value=8760)),
        _sub("catch-up", "After downtime, welcome who joined meanwhile",
             _opt(_B, "enabled", "Catch up", required=True),
             _opt(_N, "max-age-minutes", "Only members who joined at most this long ago", min_value=1,
                  max_value=1440)),
        _sub("embed", "Post the welcome as an embed (the card as its image)",
             _opt(_B, "enabled", "Use an embed", required=True), _opt(_S, "title", _TEMPLATE, max_length=256),
             _opt(_S, "colour", "A colour like #5865f2", max_length=7)),
        _sub("show", "Show the behaviours and what stops them"),
    ),
)  # fmt: skip

#: Everything welcomebot registers, in the order Discord lists them.
COMMANDS: Final = (WELCOME, PREVIEW, SET_BACKGROUND, CARD, BEHAVIOUR)


def definitions_payload(commands: tuple[Command, ...] = COMMANDS) -> list[dict[str, Any]]:
    """The body of Discord's bulk-overwrite call, as JSON types (lists, not tuples)."""
    payload: list[dict[str, Any]] = msgspec.json.decode(msgspec.json.encode(commands))
    return payload


def definitions_hash(commands: tuple[Command, ...] = COMMANDS) -> str:
    """Changes exactly when the registered definitions would change (key order is fixed by the Structs)."""
    return hashlib.sha256(msgspec.json.encode(definitions_payload(commands))).hexdigest()


def leaf_paths(commands: tuple[Command, ...] = COMMANDS) -> set[tuple[str, ...]]:
    """Every invocable path: ``("preview",)``, ``("welcome", "channel")``, ..."""
    paths: set[tuple[str, ...]] = set()

    def walk(prefix: tuple[str, ...], options: tuple[Option, ...]) -> None:
        subs = [o for o in options if o.type in (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP)]
        if not subs:
            paths.add(prefix)
        for sub in subs:
            walk((*prefix, sub.name), sub.options)

    for command in commands:
        walk((command.name,), command.options)
    return paths
