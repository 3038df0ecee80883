"""The pipeline's own vocabulary: a join, its idempotency key, a welcome's outcome.

These are what the router and guild actors pass around; adapters translate gateway events, store rows and
REST errors into them, so the pipeline can be tested with in-memory fakes.
"""

from __future__ import annotations

import enum
import hashlib

import msgspec

__all__ = [
    "GOODBYE_PREFIX",
    "ChannelProblem",
    "GuildInfo",
    "Join",
    "JoinKey",
    "Outcome",
    "goodbye_key",
    "welcome_nonce",
]

#: Goodbyes share the welcome log with welcomes; their key's ``joined_at`` starts with this.
GOODBYE_PREFIX = "goodbye:"


class JoinKey(msgspec.Struct, frozen=True, order=True):
    """Identifies one join: Discord may deliver it twice, the member must see one welcome."""

    guild_id: int
    user_id: int
    joined_at: str


class Join(msgspec.Struct, frozen=True, kw_only=True):
    """A member to welcome, with what the card and message need."""

    guild_id: int
    user_id: int
    joined_at: str
    username: str
    global_name: str | None = None
    avatar: str | None = None
    bot: bool = False
    pending: bool = False
    #: ``trio.current_time()`` when the dispatch arrived (None: replayed from the welcome log at start-up).
    received_at: float | None = None
    #: Their place in the guild ("Member #1,234"), as counted when the join arrived.
    member_number: int | None = None
    #: Set when finishing a claim after a restart: the nonce of the message it was already being posted in.
    #: Such joins go out again in exactly that batch, so Discord's nonce check returns any message it made.
    nonce: str | None = None
    #: A goodbye (GUILD_MEMBER_REMOVE) rather than a welcome; claimed under :func:`goodbye_key`.
    goodbye: bool = False
    #: Welcomed by the catch-up after downtime, not from a live event.
    late: bool = False

    @property
    def key(self) -> JoinKey:
        return (
            goodbye_key(self.guild_id, self.user_id, self.joined_at)
            if self.goodbye
            else JoinKey(self.guild_id, self.user_id, self.joined_at)
        )

    @property
    def display_name(self) -> str:
        return self.global_name or self.username


class GuildInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What the gateway told us about a guild (GUILD_CREATE and GUILD_UPDATE, member adds and removes).

    Kept in the store too (``guild_snapshot``), so it survives a restart whose session RESUMEs: Discord sends
    no GUILD_CREATE then. Roles and channels are not kept: the permission checks read them over REST when
    they run, so they are never stale. Frozen: its one owner (:class:`~welcomebot.app.guilds.Guilds`) replaces
    an entry instead of changing it.
    """

    guild_id: int
    name: str
    member_count: int | None = None
    icon: str | None = None
    system_channel_id: int | None = None
    #: The gateway session and sequence of the last dispatch counted into ``member_count``: after a kill, the
    #: session RESUMEs from an older saved sequence and Discord replays dispatches already counted.
    session_id: str = ""
    seq: int = 0


class Outcome(enum.Enum):
    """How a join ended; the value is the metrics label."""

    POSTED = "posted"
    SKIPPED_BOT = "skipped_bot"
    SKIPPED_PENDING = "skipped_pending"
    SKIPPED_UNCONFIGURED = "skipped_unconfigured"
    SKIPPED_YOUNG_ACCOUNT = "skipped_young_account"
    SKIPPED_REJOIN = "skipped_rejoin"
    SKIPPED_CHANNEL_BROKEN = "skipped_channel_broken"
    DUPLICATE = "duplicate"
    FAILED_FORBIDDEN = "failed_forbidden"
    FAILED_MISSING_CHANNEL = "failed_missing_channel"
    FAILED = "failed"
    #: Tried MAX_ATTEMPTS times (each try failed, or a start crashed during it): given up, never tried again.
    QUARANTINED = "quarantined"


class ChannelProblem(enum.Enum):
    """Why the welcome channel cannot take posts until an admin changes the configuration."""

    MISSING = "missing"  # 10003 Unknown Channel
    FORBIDDEN = "forbidden"  # 50001 Missing Access / 50013 Missing Permissions


def goodbye_key(guild_id: int, user_id: int, joined_at: str | None) -> JoinKey:
    """The claim of the goodbye that ends the membership which began at ``joined_at``.

    GUILD_MEMBER_REMOVE carries no join time; the membership is the member's latest in the welcome log, so a
    replayed remove maps to the same key and the claim drops it. A member never seen joining gets one goodbye
    under "unknown" (their next membership will be in the log).
    """
    return JoinKey(guild_id, user_id, GOODBYE_PREFIX + (joined_at or "unknown"))


def welcome_nonce(keys: list[JoinKey], *, after: str | None = None) -> str:
    """A deterministic message nonce for a welcome of ``keys`` (Discord allows 25 characters).

    Posted with ``enforce_nonce``, a retry of the same welcome inside Discord's nonce window returns the
    first message instead of creating a second one. ``after``: the nonce whose returned message did not name
    these members; mixing it in gives them a nonce Discord has not seen, even when the keys are the same.
    """
    digest = hashlib.blake2b(digest_size=12)
    if after is not None:
        digest.update(f"after {after};".encode())
    for key in sorted(keys):
        digest.update(f"{key.guild_id}:{key.user_id}:{key.joined_at};".encode())
    return "w" + digest.hexdigest()
