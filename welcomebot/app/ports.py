"""What the pipeline needs from the layers around it, as small Protocols.

The real implementations are in ``welcomebot.adapters``, over the store (``adapters/store.py``), the render
pool (``adapters/cards.py``) and Discord's REST API (``adapters/rest.py``, ``actions.py``, ``history.py``);
``welcomebot.bot`` plugs them in. Tests use the in-memory fakes in ``tests/welcomebot/app/fakes.py``.
Keeping the pipeline on these seams keeps it about ordering, batching and exactly-once, not about SQL,
pixels or HTTP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from welcomebot.app.behaviour import Behaviour
from welcomebot.render.design import CardDesign

if TYPE_CHECKING:
    from welcomebot.app.model import ChannelProblem, GuildInfo, Join, JoinKey

__all__ = [
    "Actions",
    "CardFile",
    "Cards",
    "ChannelBroken",
    "Configs",
    "Departures",
    "DmClosed",
    "GuildSnapshots",
    "LastWelcome",
    "Members",
    "PostedMessage",
    "Poster",
    "WelcomeConfig",
    "WelcomeLog",
]


class WelcomeConfig(msgspec.Struct, frozen=True, kw_only=True):
    """A guild's welcome settings as the pipeline sees them."""

    guild_id: int
    channel_id: int | None
    message_template: str
    enabled: bool = True
    background_ref: str | None = None
    #: How the guild's cards look (``options["design"]``).
    design: CardDesign = msgspec.field(default_factory=CardDesign)
    #: Changes whenever an admin saves the config; a broken channel is retried after it changes.
    version: str = ""
    behaviour: Behaviour = Behaviour()


class CardFile(msgspec.Struct, frozen=True):
    filename: str
    data: bytes
    description: str


class PostedMessage(msgspec.Struct, frozen=True):
    """The message Discord created for a post, or the one it returned for a nonce it had already seen."""

    id: int
    content: str = ""
    #: The users the message mentions (the API's ``mentions``).
    mention_ids: frozenset[int] = frozenset()

    def names(self, user_id: int) -> bool:
        """Does this message welcome ``user_id``: a mention, or ``<@id>`` in its content?"""
        return user_id in self.mention_ids or f"<@{user_id}>" in self.content or f"<@!{user_id}>" in self.content


class ChannelBroken(Exception):
    """The welcome channel cannot take posts until an admin fixes something."""

    def __init__(self, problem: ChannelProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


class DmClosed(Exception):
    """The member does not accept DMs from the bot (Discord error 50007)."""


class LastWelcome(msgspec.Struct, frozen=True):
    """A member's latest welcome in the log (their current or last membership)."""

    joined_at: str
    status: str
    message_id: int | None
    #: The message welcomed this member only (not a group).
    alone: bool = True


class Configs(Protocol):
    async def get(self, guild_id: int) -> WelcomeConfig | None: ...


class Departures(Protocol):
    """Guilds that removed the bot: their data is deleted after a grace period unless the bot is re-added."""

    async def left(self, guild_id: int) -> None: ...
    async def back(self, guild_id: int) -> None: ...


class WelcomeLog(Protocol):
    """The durable welcome log (``welcome_log`` table): claims, outcomes, unfinished work."""

    async def claim(self, key: JoinKey) -> bool:
        """Atomically claim ``key``; True when this process must post it (new, or a stale claim)."""
        ...

    async def posted(self, keys: list[JoinKey], message_id: int, latency_ms: float | None) -> None: ...

    async def failed(self, keys: list[JoinKey], reason: str) -> None: ...

    async def assign(self, keys: list[JoinKey], nonce: str) -> None:
        """Record, before posting, which message (nonce) these claimed joins go out in."""
        ...

    async def unfinished(self) -> list[tuple[JoinKey, str | None]]:
        """Claims a previous run left without an outcome, oldest first, with their message nonce if any."""
        ...

    async def quarantine_unfinished(self) -> list[tuple[JoinKey, str]]:
        """Before :meth:`unfinished`: give up the claims it would return that were tried too often already
        (marked failed, "quarantined after N attempts: <last error>"); returns them with that reason."""
        ...

    async def retry_or_quarantine(self, keys: list[JoinKey], error: str) -> list[tuple[JoinKey, str]]:
        """A try at claimed ``keys`` failed with ``error``: quarantine those tried too often (returned with the
        reason) and count the next try of the others, which the caller makes."""
        ...

    async def quarantined(self, guild_id: int) -> tuple[int, str | None]:
        """How many of the guild's welcomes are quarantined, and the newest one's reason."""
        ...

    async def last(self, guild_id: int, user_id: int) -> LastWelcome | None:
        """The member's latest welcome (not goodbye) in the log, None if they were never claimed."""
        ...

    async def schedule_delete(self, keys: list[JoinKey], channel_id: int, after_s: float) -> None:
        """Durably note that the welcome of ``keys`` in ``channel_id`` is to be deleted ``after_s`` from now."""
        ...

    async def due_deletes(self, limit: int) -> list[tuple[int, int]]:
        """``(channel_id, message_id)`` of welcomes due for deletion now."""
        ...

    async def next_delete_in(self) -> float | None:
        """Seconds until the next scheduled deletion (<= 0: due), None when nothing is scheduled."""
        ...

    async def deletes_done(self, message_ids: list[int]) -> None: ...

    async def mark_late(self, keys: list[JoinKey]) -> None:
        """Note in the log that these claims were found by the catch-up after downtime."""
        ...


class GuildSnapshots(Protocol):
    async def put(self, guild: GuildInfo) -> None:
        """Keep what we know about ``guild`` across restarts (a RESUME brings no GUILD_CREATE)."""
        ...


class Members(Protocol):
    async def fetch(self, guild_id: int, user_id: int, joined_at: str) -> Join | None:
        """The member as a :class:`Join` (for finishing a claim after a restart), None if they left."""
        ...


class Cards(Protocol):
    async def render(self, join: Join, config: WelcomeConfig, guild: GuildInfo | None) -> CardFile | None:
        """The member's card, or None when it cannot be rendered (the welcome goes out as text)."""
        ...


class Poster(Protocol):
    async def post(
        self,
        channel_id: int,
        *,
        content: str,
        files: list[CardFile],
        mention_user_ids: list[int],
        nonce: str,
        embeds: list[dict[str, Any]] | None = None,
    ) -> PostedMessage:
        """Post a welcome message and return it (for a nonce Discord has seen: that earlier message, which the
        caller checks names the members it meant to welcome); raise :class:`ChannelBroken` for 403/404."""
        ...


class Actions(Protocol):
    """What welcome behaviours do besides posting: DMs, roles, deleting a welcome, reporting channel health."""

    async def dm(self, user_id: int, *, content: str, files: list[CardFile], embeds: list[dict[str, Any]],
                 nonce: str) -> int:  # fmt: skip
        """Send a DM and return its message id; raise :class:`DmClosed` when the member refuses DMs."""
        ...

    async def add_roles(self, guild_id: int, user_id: int, role_ids: list[int]) -> list[str]:
        """Give roles; returns what stopped it (for the admin), empty when all were given."""
        ...

    async def delete(self, channel_id: int, message_id: int) -> None:
        """Delete a welcome; one already gone, or one the bot may no longer delete, is not an error (it is
        logged): raise only for a failure worth trying again (Discord or the network down)."""
        ...

    async def channel_problem(self, guild_id: int, problem: str | None) -> None:
        """Record (or clear) why the guild's welcome channel refuses posts, for /preview and /welcome show."""
        ...
