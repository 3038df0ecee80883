"""Typed payloads of the dispatches welcomebot uses (events/gateway-events.mdx), decoded with msgspec.

Snowflakes arrive as strings and decode to ``int`` (``strict=False``), as do permission bit sets. Unknown
fields are ignored; unknown events are not decoded at all (:func:`decode_event` returns None).
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "KNOWN_EVENTS",
    "Attachment",
    "Channel",
    "CommandData",
    "CommandOption",
    "GuildCreate",
    "GuildDelete",
    "GuildMemberAdd",
    "GuildMemberRemove",
    "GuildMemberUpdate",
    "GuildUpdate",
    "InteractionCreate",
    "Member",
    "Ready",
    "Resolved",
    "Role",
    "UnavailableGuild",
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
    """A guild member; ``permissions`` only inside interactions (the invoker's permissions in the channel)."""

    user: User | None = None
    joined_at: str | None = None
    nick: str | None = None
    avatar: str | None = None
    pending: bool = False
    flags: int = 0
    roles: list[int] = []
    permissions: int | None = None


class UnavailableGuild(msgspec.Struct, frozen=True):
    id: int
    unavailable: bool = True


class Application(msgspec.Struct, frozen=True):
    id: int
    flags: int = 0


class Ready(msgspec.Struct, frozen=True):
    session_id: str
    resume_gateway_url: str
    user: User
    guilds: list[UnavailableGuild] = []
    shard: tuple[int, int] | None = None
    application: Application | None = None
    v: int = 10


class Channel(msgspec.Struct, frozen=True):
    id: int
    type: int
    name: str | None = None
    position: int = 0
    parent_id: int | None = None
    permission_overwrites: list[Any] = []


class Role(msgspec.Struct, frozen=True):
    id: int
    name: str
    permissions: int = 0
    position: int = 0


class GuildCreate(msgspec.Struct, frozen=True):
    id: int
    name: str = ""
    icon: str | None = None
    owner_id: int | None = None
    member_count: int | None = None
    unavailable: bool = False
    channels: list[Channel] = []
    roles: list[Role] = []
    system_channel_id: int | None = None


class GuildUpdate(msgspec.Struct, frozen=True):
    """A guild object without the GUILD_CREATE extras (no member count, members or channels)."""

    id: int
    name: str = ""
    icon: str | None = None
    system_channel_id: int | None = None


class GuildDelete(msgspec.Struct, frozen=True):
    """``unavailable`` true: an outage, the guild comes back; absent: the bot was removed."""

    id: int
    unavailable: bool = False


class GuildMemberAdd(msgspec.Struct, frozen=True):
    """A guild member object with an extra ``guild_id`` (flattened, as on the wire)."""

    guild_id: int
    user: User
    joined_at: str
    nick: str | None = None
    avatar: str | None = None
    pending: bool = False
    flags: int = 0
    roles: list[int] = []


class GuildMemberUpdate(msgspec.Struct, frozen=True):
    guild_id: int
    user: User
    joined_at: str | None = None
    nick: str | None = None
    pending: bool = False
    flags: int = 0
    roles: list[int] = []


class GuildMemberRemove(msgspec.Struct, frozen=True):
    guild_id: int
    user: User


class Attachment(msgspec.Struct, frozen=True):
    id: int
    filename: str
    url: str
    size: int = 0
    proxy_url: str | None = None
    content_type: str | None = None
    width: int | None = None
    height: int | None = None


class CommandOption(msgspec.Struct, frozen=True):
    name: str
    type: int
    value: Any = None
    options: list[CommandOption] = []
    focused: bool = False


class Resolved(msgspec.Struct, frozen=True):
    """Objects referenced by an interaction's options; resolved members carry no ``user`` (it is in ``users``)."""

    attachments: dict[int, Attachment] = {}
    users: dict[int, User] = {}
    members: dict[int, Member] = {}
    channels: dict[int, Channel] = {}


class CommandData(msgspec.Struct, frozen=True):
    name: str = ""
    id: int | None = None
    type: int | None = None
    options: list[CommandOption] = []
    resolved: Resolved | None = None
    custom_id: str | None = None


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
    guild_locale: str | None = None
    app_permissions: int | None = None

    def __repr__(self) -> str:  # the interaction token is a credential for 15 minutes
        return f"InteractionCreate(id={self.id}, type={self.type}, guild_id={self.guild_id})"


_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "READY": msgspec.json.Decoder(Ready, strict=False),
    "GUILD_CREATE": msgspec.json.Decoder(GuildCreate, strict=False),
    "GUILD_UPDATE": msgspec.json.Decoder(GuildUpdate, strict=False),
    "GUILD_DELETE": msgspec.json.Decoder(GuildDelete, strict=False),
    "GUILD_MEMBER_ADD": msgspec.json.Decoder(GuildMemberAdd, strict=False),
    "GUILD_MEMBER_UPDATE": msgspec.json.Decoder(GuildMemberUpdate, strict=False),
    "GUILD_MEMBER_REMOVE": msgspec.json.Decoder(GuildMemberRemove, strict=False),
    "INTERACTION_CREATE": msgspec.json.Decoder(InteractionCreate, strict=False),
}

#: The dispatches decoded into Structs; every other dispatch still reaches the application, raw.
KNOWN_EVENTS = frozenset(_DECODERS)


def decode_event(name: str, data: bytes | msgspec.Raw) -> Any | None:
    """The typed event, or None for events we do not use. Raises ``msgspec.DecodeError`` if malformed."""
    decoder = _DECODERS.get(name)
    return None if decoder is None else decoder.decode(data)
