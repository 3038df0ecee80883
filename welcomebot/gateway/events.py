"""Typed payloads of the dispatches welcomebot uses (events/gateway-events.mdx), decoded with msgspec.

Snowflakes arrive as strings and decode to ``int``. Unknown fields are ignored; unknown events are never
decoded at all.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "Attachment",
    "GuildCreate",
    "GuildDelete",
    "GuildMemberAdd",
    "GuildMemberRemove",
    "GuildMemberUpdate",
    "InteractionCreate",
    "Member",
    "User",
    "decode_event",
]


class User(msgspec.Struct, frozen=True):
    id: int
    username: str
    global_name: str | None = None
    avatar: str | None = None
    bot: bool = False


class Member(msgspec.Struct, frozen=True):
    user: User
    joined_at: str
    nick: str | None = None
    pending: bool = False
    roles: list[int] = []
    flags: int = 0
    permissions: int | None = None


class GuildCreate(msgspec.Struct, frozen=True):
    id: int
    name: str = ""
    member_count: int | None = None
    unavailable: bool = False
    owner_id: int | None = None


class GuildDelete(msgspec.Struct, frozen=True):
    id: int
    unavailable: bool = False


class GuildMemberAdd(msgspec.Struct, frozen=True):
    guild_id: int
    user: User
    joined_at: str
    pending: bool = False
    nick: str | None = None
    roles: list[int] = []


class GuildMemberUpdate(msgspec.Struct, frozen=True):
    guild_id: int
    user: User
    joined_at: str | None = None
    pending: bool = False


class GuildMemberRemove(msgspec.Struct, frozen=True):
    guild_id: int
    user: User


class Attachment(msgspec.Struct, frozen=True):
    id: int
    filename: str
    url: str
    size: int = 0
    content_type: str | None = None
    width: int | None = None
    height: int | None = None


class CommandOption(msgspec.Struct, frozen=True):
    name: str
    type: int
    value: Any = None
    options: list[CommandOption] = []


class Resolved(msgspec.Struct, frozen=True):
    attachments: dict[str, Attachment] = {}


class CommandData(msgspec.Struct, frozen=True):
    name: str
    id: int | None = None
    options: list[CommandOption] = []
    resolved: Resolved | None = None


class InteractionCreate(msgspec.Struct, frozen=True):
    id: int
    application_id: int
    type: int
    token: str
    channel_id: int | None = None
    guild_id: int | None = None
    member: Member | None = None
    user: User | None = None
    data: CommandData | None = None
    locale: str | None = None


_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "GUILD_CREATE": msgspec.json.Decoder(GuildCreate, strict=False),
    "GUILD_DELETE": msgspec.json.Decoder(GuildDelete, strict=False),
    "GUILD_MEMBER_ADD": msgspec.json.Decoder(GuildMemberAdd, strict=False),
    "GUILD_MEMBER_UPDATE": msgspec.json.Decoder(GuildMemberUpdate, strict=False),
    "GUILD_MEMBER_REMOVE": msgspec.json.Decoder(GuildMemberRemove, strict=False),
    "INTERACTION_CREATE": msgspec.json.Decoder(InteractionCreate, strict=False),
}


def decode_event(name: str, data: bytes | msgspec.Raw) -> Any | None:
    """The typed event, or None for events we do not use. Raises ``msgspec.DecodeError`` if malformed."""
    decoder = _DECODERS.get(name)
    return None if decoder is None else decoder.decode(data)
