"""The emulated Discord's state: an application, its bot user, guilds, channels, members, messages.

Everything is generated deterministically from a seed. Objects render themselves in Discord's JSON
shapes (``to_json``), as documented in ``resources/*.mdx``.
"""

from __future__ import annotations

import base64
import hashlib
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import trio

__all__ = [
    "DISCORD_EPOCH_MS",
    "Attachment",
    "Channel",
    "Guild",
    "Member",
    "Message",
    "Role",
    "User",
    "World",
]

DISCORD_EPOCH_MS = 1420070400000
#: Permission bits (topics/permissions.mdx).
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
MANAGE_ROLES = 1 << 28
#: What @everyone gets in a new guild (a typical default set, includes view/send/attach/read history; no
#: moderation).
DEFAULT_EVERYONE = (0x6_3584_C0E41 | READ_MESSAGE_HISTORY) & ~ADMINISTRATOR & ~MANAGE_GUILD & ~MANAGE_ROLES

FIRST_NAMES = [
    "ada", "linus", "grace", "ken", "margaret", "alan", "barbara", "dennis", "frances", "edsger",
    "Łukasz", "Zoë", "Ωmega", "Дмитрий", "Ελένη", "さくら", "王芳", "김민준", "محمد", "שרה",
    "अर्जुन", "สมชาย", "🌸 blossom", "🎮gamer🎮", "x" * 32, "𝓯𝓪𝓷𝓬𝔂", "Ørjan", "José", "Nguyễn", "Ṁṏṙṙ",  # noqa: RUF001
]  # fmt: skip


def snowflake_time_ms(snowflake: int) -> int:
    return (snowflake >> 22) + DISCORD_EPOCH_MS


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="microseconds")


class Snowflakes:
    """Discord's snowflake layout: ms since 2015 << 22 | worker << 17 | process << 12 | increment."""

    def __init__(self, start_ms: int) -> None:
        self._last_ms = start_ms - DISCORD_EPOCH_MS
        self._increment = 0

    def next(self, now_ms: int | None = None) -> int:
        ms = max(self._last_ms, (now_ms - DISCORD_EPOCH_MS) if now_ms is not None else self._last_ms)
        if ms == self._last_ms:
            self._increment += 1
            if self._increment >= 4096:
                ms += 1
                self._increment = 0
        else:
            self._increment = 0
        self._last_ms = ms
        return (ms << 22) | (1 << 17) | (1 << 12) | self._increment

    def skip_ms(self, ms: int) -> None:
        """Let ``ms`` milliseconds pass before the next id."""
        self._last_ms += ms
        self._increment = 0


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    avatar: str | None = None
    bot: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": self.avatar,
            "public_flags": 0,
            "flags": 0,
            "primary_guild": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class Overwrite:
    id: int
    type: int  # 0 role, 1 member
    allow: int = 0
    deny: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"id": str(self.id), "type": self.type, "allow": str(self.allow), "deny": str(self.deny)}


@dataclass
class Channel:
    id: int
    guild_id: int
    name: str
    type: int = 0  # GUILD_TEXT
    position: int = 0
    overwrites: list[Overwrite] = field(default_factory=list)
    #: The other user of a DM channel (type 1, ``guild_id`` 0).
    recipient: User | None = None

    def to_json(self) -> dict[str, Any]:
        if self.recipient is not None:
            return {"id": str(self.id), "type": 1, "last_message_id": None, "flags": 0,
                    "recipients": [self.recipient.to_json()]}  # fmt: skip
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [o.to_json() for o in self.overwrites],
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }


@dataclass
class Member:
    user: User
    joined_at: str
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    pending: bool = False
    flags: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user.to_json(),
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in self.roles],
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": self.flags,
            "pending": self.pending,
            "communication_disabled_until": None,
        }


@dataclass
class Attachment:
    id: int
    filename: str
    content_type: str
    data: bytes
    description: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass
class Message:
    id: int
    channel_id: int
    author: User
    content: str
    timestamp: str
    attachments: list[Attachment] = field(default_factory=list)
    embeds: list[dict[str, Any]] = field(default_factory=list)
    nonce: str | int | None = None
    allowed_mentions: dict[str, Any] | None = None
    mentions: list[User] = field(default_factory=list)
    flags: int = 0
    edited_timestamp: str | None = None
    #: Further message fields, as sent (an interaction response's webhook_id, interaction_metadata ...).
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self, cdn_base: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": 0,
            "channel_id": str(self.channel_id),
            "author": self.author.to_json(),
            "content": self.content,
            "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp,
            "tts": False,
            "mention_everyone": False,
            "mentions": [u.to_json() for u in self.mentions],
            "mention_roles": [],
            "attachments": [attachment_json(a, cdn_base, self.channel_id) for a in self.attachments],
            "embeds": self.embeds,
            "pinned": False,
            "flags": self.flags,
            "components": [],
        }
        if self.nonce is not None:
            data["nonce"] = self.nonce
        data.update(self.extra)
        return data


def attachment_json(a: Attachment, cdn_base: str, channel_id: int) -> dict[str, Any]:
    url = f"{cdn_base}/attachments/{channel_id}/{a.id}/{a.filename}"
    data: dict[str, Any] = {
        "id": str(a.id),
        "filename": a.filename,
        "size": len(a.data),
        "url": url,
        "proxy_url": url,
        "content_type": a.content_type,
    }
    if a.description is not None:
        data["description"] = a.description
    if a.width is not None:
        data["width"] = a.width
        data["height"] = a.height
    return data


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    icon: str | None = None
    system_channel_id: int | None = None

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def to_json(self, *, with_counts: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "icon": self.icon,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.to_json() for r in self.roles.values()],
            "emojis": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None if self.system_channel_id is None else str(self.system_channel_id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "safety_alerts_channel_id": None,
            "stickers": [],
            "home_header": None,
            "region": "deprecated",
            "widget_enabled": False,
            "widget_channel_id": None,
            "max_presences": None,
            "max_members": 500000,
            "max_stage_video_channel_users": 50,
            "max_video_channel_users": 25,
            "premium_subscription_count": 0,
            "nsfw": False,
            "incidents_data": None,
        }
        if with_counts:
            data["approximate_member_count"] = len(self.members)
            data["approximate_presence_count"] = 0
        return data

    def guild_create(self, bot_id: int) -> dict[str, Any]:
        data = self.to_json()
        bot = self.members.get(bot_id)
        data.update(
            {
                "joined_at": bot.joined_at if bot else iso(snowflake_time_ms(self.id)),
                "large": len(self.members) > 250,
                "unavailable": False,
                "member_count": len(self.members),
                "voice_states": [],
                # Discord sends only a subset of members in GUILD_CREATE (the bot itself at least).
                "members": [bot.to_json()] if bot else [],
                "channels": [c.to_json() for c in self.channels.values()],
                "threads": [],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        return data


def permissions_for(guild: Guild, member: Member, channel: Channel | None) -> int:
    """Discord's permission computation (topics/permissions.mdx): base, then channel overwrites."""
    if member.user.id == guild.owner_id:
        return (1 << 53) - 1
    perms = guild.everyone.permissions
    for role_id in member.roles:
        role = guild.roles.get(role_id)
        if role is not None:
            perms |= role.permissions
    if perms & ADMINISTRATOR:
        return (1 << 53) - 1
    if channel is None:
        return perms
    by_id = {o.id: o for o in channel.overwrites}
    everyone = by_id.get(guild.id)
    if everyone is not None:
        perms = (perms & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for role_id in member.roles:
        o = by_id.get(role_id)
        if o is not None and o.type == 0:
            allow |= o.allow
            deny |= o.deny
    perms = (perms & ~deny) | allow
    own = by_id.get(member.user.id)
    if own is not None and own.type == 1:
        perms = (perms & ~own.deny) | own.allow
    return perms


class World:
    """All state of one emulated Discord. Mutated only by the REST and control handlers."""

    def __init__(self, *, seed: int = 0, members_intent_enabled: bool = True, start_ms: int | None = None) -> None:
        self.rng = random.Random(seed)
        # Discord's clock is the real one: snowflakes and timestamps near "now" unless a test fixes the start.
        self.start_ms = start_ms if start_ms is not None else int(time.time() * 1000)
        self.ids = Snowflakes(self.start_ms)
        #: The trio clock reading that maps to ``start_ms`` (trio's clock starts at an arbitrary value).
        self.clock_origin = 0.0
        self.application_id = self.ids.next()
        self.bot = User(self.ids.next(), "welcomebot", None, None, bot=True)
        self.token = self._make_token(seed)
        self.members_intent_enabled = members_intent_enabled
        #: The other privileged intents, switched on in the developer portal (here: PATCH /_control/application).
        self.presences_intent_enabled = False
        self.message_content_intent_enabled = False
        #: The session start limit (events/gateway.mdx, Session Start Limit Object): IDENTIFYs left today, and
        #: how many may start per 5 s (one per rate_limit_key = shard_id % max_concurrency).
        self.identify_remaining = 1000
        self.max_concurrency = 1
        #: The recommended shard count of GET /gateway/bot; None: one per 1000 guilds, as Discord computes it.
        self.recommended_shards: int | None = None
        self.users: dict[int, User] = {self.bot.id: self.bot}
        self.guilds: dict[int, Guild] = {}
        #: Guilds the bot was removed from (``DELETE /_control/guilds/{id}/bot``), kept to add it back.
        self.left: dict[int, Guild] = {}
        #: Guilds in an outage (POST /_control/guilds/{id}/outage): unavailable to the bot, sending no events.
        self.outages: set[int] = set()
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, list[Message]] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.avatar_kinds: dict[str, str] = {}  # avatar hash -> "static" | "animated"
        self.dm_channels: dict[int, Channel] = {}  # user id -> their DM channel with the bot
        #: Users whose privacy settings refuse DMs from this bot (error 50007), set through the control API.
        self.closed_dms: set[int] = set()
        #: Set (and replaced) whenever a message is posted or deleted or a member gets a role: lets the control
        #: API wait instead of polling.
        self.message_posted = trio.Event()

    def posted(self) -> None:
        self.message_posted.set()
        self.message_posted = trio.Event()

    def _make_token(self, seed: int) -> str:
        # Real tokens are base64(user id).timestamp.hmac; only the shape matters here.
        head = base64.urlsafe_b64encode(str(self.bot.id).encode()).decode().rstrip("=")
        tail = hashlib.sha256(f"welcomebot-emulator-{seed}".encode()).hexdigest()[:38]
        return f"{head}.GwAbCd.{tail}"

    # --- time ---------------------------------------------------------------------------------------

    def now_ms(self, elapsed_s: float) -> int:
        return self.start_ms + int((elapsed_s - self.clock_origin) * 1000)

    # --- construction -------------------------------------------------------------------------------

    def new_user(self, *, username: str | None = None, global_name: str | None = None,
                 avatar: str = "random", created_ms: int | None = None) -> User:  # fmt: skip
        """A new user; ``created_ms`` (epoch ms) backdates the account, which lives in its id (a snowflake)."""
        if created_ms is None:
            uid = self.ids.next()
        else:
            uid = ((created_ms - DISCORD_EPOCH_MS) << 22) | (2 << 17) | self.rng.randrange(4096)
        if username is None:
            base = self.rng.choice(FIRST_NAMES)
            username = "".join(c for c in base.lower() if c.isascii() and c.isalnum())[:20] or "member"
            username = f"{username}{uid % 10000}"
            global_name = base if global_name is None else global_name
        kind = avatar if avatar != "random" else self.rng.choices(["static", "animated", "none"], [6, 2, 2])[0]
        avatar_hash: str | None = None
        if kind in ("static", "animated"):
            avatar_hash = hashlib.md5(f"{uid}".encode(), usedforsecurity=False).hexdigest()
            if kind == "animated":
                avatar_hash = "a_" + avatar_hash
            self.avatar_kinds[avatar_hash] = kind
        user = User(uid, username, global_name, avatar_hash)
        self.users[uid] = user
        return user

    def new_guild(self, name: str, *, channels: int = 2, members: int = 0, owner: User | None = None) -> Guild:
        gid = self.ids.next()
        owner = owner or self.new_user()
        guild = Guild(gid, name, owner.id)
        guild.roles[gid] = Role(gid, "@everyone", DEFAULT_EVERYONE)
        bot_role = Role(self.ids.next(), "welcomebot", VIEW_CHANNEL | SEND_MESSAGES | ATTACH_FILES | EMBED_LINKS, 1)
        guild.roles[bot_role.id] = bot_role
        self.guilds[gid] = guild
        joined = iso(snowflake_time_ms(gid))
        guild.members[owner.id] = Member(owner, joined)
        guild.members[self.bot.id] = Member(self.bot, joined, roles=[bot_role.id])
        for i in range(channels):
            self.new_channel(guild, "welcome" if i == 0 else f"general-{i}")
        for _ in range(members):
            user = self.new_user()
            guild.members[user.id] = Member(user, joined)
        return guild

    def new_channel(self, guild: Guild, name: str) -> Channel:
        channel = Channel(self.ids.next(), guild.id, name, position=len(guild.channels))
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        return channel

    def dm_channel(self, user: User) -> Channel:
        """The bot's DM channel with ``user`` (Discord returns the existing one on a repeated create)."""
        channel = self.dm_channels.get(user.id)
        if channel is None:
            channel = Channel(self.ids.next(), 0, "", type=1, recipient=user)
            self.dm_channels[user.id] = channel
            self.channels[channel.id] = channel
            self.messages[channel.id] = []
        return channel

    def seed_world(self, guilds: int, members: int) -> None:
        for i in range(guilds):
            # Real guilds are created at different times, and their ids' timestamps place them on shards
            # ((id >> 22) % shard_count): one millisecond apart, seeded guilds spread over every shard.
            self.ids.skip_ms(1)
            self.new_guild(f"Emulated Server {i + 1}", members=members)

    # --- gateway backend ----------------------------------------------------------------------------

    def bot_user(self) -> dict[str, Any]:
        data = self.bot.to_json()
        data.update({"verified": True, "mfa_enabled": False, "email": None, "locale": "en-US", "premium_type": 0})
        return data

    def application_partial(self) -> dict[str, Any]:
        # GATEWAY_GUILD_MEMBERS_LIMITED: an unverified app with the Server Members intent switched on.
        # The GATEWAY_*_LIMITED flags of an unverified app (resources/application.mdx, Application Flags).
        flags = (
            ((1 << 15) if self.members_intent_enabled else 0)
            | ((1 << 13) if self.presences_intent_enabled else 0)
            | ((1 << 19) if self.message_content_intent_enabled else 0)
        )
        return {"id": str(self.application_id), "flags": flags}

    def guild_ids(self) -> list[int]:
        return list(self.guilds)

    def guild_create(self, guild_id: int) -> dict[str, Any]:
        return self.guilds[guild_id].guild_create(self.bot.id)

    def guild_unavailable(self, guild_id: int) -> bool:
        return guild_id in self.outages

    def guild_members(self, guild_id: int) -> list[dict[str, Any]] | None:
        """The guild's members as guild member objects (None: the bot is not in such a guild)."""
        guild = self.guilds.get(guild_id)
        if guild is None or self.bot.id not in guild.members:
            return None
        return [m.to_json() for m in guild.members.values()]
