"""In-memory fakes of the pipeline's ports (welcomebot.app.ports), for the app's tests."""

from __future__ import annotations

import itertools
from typing import Any

import trio

from welcomebot.app.model import GOODBYE_PREFIX, ChannelProblem, GuildInfo, Join, JoinKey, Outcome
from welcomebot.app.ports import CardFile, ChannelBroken, DmClosed, LastWelcome, PostedMessage, WelcomeConfig
from welcomebot.errors import WelcomeBotError
from welcomebot.store.api import MAX_ATTEMPTS, QUARANTINED, STOPPED_WHILE_TRYING, quarantine_reason

__all__ = [
    "FakeActions",
    "FakeCards",
    "FakeConfigs",
    "FakeLog",
    "FakeMembers",
    "FakePoster",
    "Posted",
    "RecordingObserver",
]


class FakeConfigs:
    def __init__(self, configs: dict[int, WelcomeConfig] | None = None) -> None:
        self.configs = dict(configs or {})

    async def get(self, guild_id: int) -> WelcomeConfig | None:
        await trio.lowlevel.checkpoint()
        return self.configs.get(guild_id)


class FakeLog:
    """The welcome log's contract in memory: claimed → posted | failed."""

    def __init__(self) -> None:
        self.status: dict[JoinKey, str] = {}
        self.messages: dict[JoinKey, int] = {}
        self.nonces: dict[JoinKey, str] = {}
        self.deletes: dict[JoinKey, tuple[int, float]] = {}  # key -> (channel, trio time due)
        self.late: set[JoinKey] = set()
        self.attempts: dict[JoinKey, int] = {}  # tries counted beyond the first, as the store's column
        self.errors: dict[JoinKey, str] = {}

    async def claim(self, key: JoinKey) -> bool:
        await trio.lowlevel.checkpoint()
        if key in self.status:
            return False
        self.status[key] = "claimed"
        return True

    async def posted(self, keys: list[JoinKey], message_id: int, latency_ms: float | None) -> None:
        await trio.lowlevel.checkpoint()
        for key in keys:
            self.status[key] = "posted"
            self.messages[key] = message_id

    async def failed(self, keys: list[JoinKey], reason: str) -> None:
        await trio.lowlevel.checkpoint()
        for key in keys:
            self.status[key] = f"failed: {reason}"

    async def assign(self, keys: list[JoinKey], nonce: str) -> None:
        await trio.lowlevel.checkpoint()
        for key in keys:
            self.nonces[key] = nonce

    async def unfinished(self) -> list[tuple[JoinKey, str | None]]:
        await trio.lowlevel.checkpoint()
        for key in (k for k, s in self.status.items() if s == "claimed"):
            self.attempts[key] = self.attempts.get(key, 0) + 1  # counted before the start tries it
        return [(k, self.nonces.get(k)) for k in sorted(k for k, s in self.status.items() if s == "claimed")]

    async def quarantine_unfinished(self) -> list[tuple[JoinKey, str]]:
        await trio.lowlevel.checkpoint()
        done = []
        for key in sorted(k for k, s in self.status.items() if s == "claimed"):
            attempts = 1 + self.attempts.get(key, 0)
            if attempts >= MAX_ATTEMPTS:
                reason = quarantine_reason(attempts, self.errors.get(key, STOPPED_WHILE_TRYING))
                self.status[key] = f"failed: {reason}"
                done.append((key, reason))
        return done

    async def retry_or_quarantine(self, keys: list[JoinKey], error: str) -> list[tuple[JoinKey, str]]:
        await trio.lowlevel.checkpoint()
        done = []
        for key in keys:
            if self.status.get(key) != "claimed":
                continue
            self.errors[key] = error
            attempts = 1 + self.attempts.get(key, 0)
            if attempts >= MAX_ATTEMPTS:
                self.status[key] = f"failed: {quarantine_reason(attempts, error)}"
                done.append((key, quarantine_reason(attempts, error)))
            else:
                self.attempts[key] = attempts
        return done

    async def quarantined(self, guild_id: int) -> tuple[int, str | None]:
        await trio.lowlevel.checkpoint()
        reasons = [s.removeprefix("failed: ") for k, s in self.status.items()
                   if k.guild_id == guild_id and s.startswith(f"failed: {QUARANTINED} ")]  # fmt: skip
        return len(reasons), (reasons[-1] if reasons else None)

    async def schedule_delete(self, keys: list[JoinKey], channel_id: int, after_s: float) -> None:
        await trio.lowlevel.checkpoint()
        for key in keys:
            self.deletes[key] = (channel_id, trio.current_time() + after_s)

    async def due_deletes(self, limit: int) -> list[tuple[int, int]]:
        await trio.lowlevel.checkpoint()
        now = trio.current_time()
        due = {(c, self.messages[k]) for k, (c, at) in self.deletes.items() if at <= now and k in self.messages}
        return sorted(due)[:limit]

    async def next_delete_in(self) -> float | None:
        await trio.lowlevel.checkpoint()
        if not self.deletes:
            return None
        return min(at for _, at in self.deletes.values()) - trio.current_time()

    async def deletes_done(self, message_ids: list[int]) -> None:
        await trio.lowlevel.checkpoint()
        for key in [k for k in self.deletes if self.messages.get(k) in message_ids]:
            del self.deletes[key]

    async def mark_late(self, keys: list[JoinKey]) -> None:
        await trio.lowlevel.checkpoint()
        self.late.update(keys)

    async def last(self, guild_id: int, user_id: int) -> LastWelcome | None:
        await trio.lowlevel.checkpoint()
        mine = [k for k in self.status if (k.guild_id, k.user_id) == (guild_id, user_id)
                and not k.joined_at.startswith(GOODBYE_PREFIX)]  # fmt: skip
        if not mine:
            return None
        key = max(mine, key=lambda k: k.joined_at)
        message = self.messages.get(key)
        alone = message is None or list(self.messages.values()).count(message) <= 1
        return LastWelcome(key.joined_at, self.status[key].split(":")[0], message, alone)


class FakeCards:
    def __init__(self, *, render_seconds: float = 0.0, fail_for: frozenset[int] = frozenset()) -> None:
        self.render_seconds = render_seconds
        self.fail_for = fail_for
        self.rendered: list[int] = []

    async def render(self, join: Join, config: WelcomeConfig, guild: GuildInfo | None) -> CardFile | None:
        await trio.sleep(self.render_seconds)
        if join.user_id in self.fail_for:
            return None
        self.rendered.append(join.user_id)
        return CardFile(f"welcome-{join.user_id}.png", b"png", f"Welcome card for {join.display_name}")


class Posted:
    def __init__(self, message_id: int, channel_id: int, content: str, files: list[CardFile],
                 mentions: list[int], nonce: str, at: float,
                 embeds: list[dict[str, Any]] | None = None) -> None:  # fmt: skip
        self.message_id = message_id
        self.channel_id = channel_id
        self.content = content
        self.files = files
        self.mentions = mentions
        self.nonce = nonce
        self.at = at
        self.embeds = embeds


class FakePoster:
    """Records posts; can refuse a channel, or fail a number of attempts first.

    Nonces are deduplicated as Discord does with ``enforce_nonce``: a nonce seen in the channel within
    ``nonce_window_s`` (trio time) returns the message it made, whatever is sent now, and records no post.
    """

    def __init__(self, *, post_seconds: float = 0.0, nonce_window_s: float = 300.0) -> None:
        self.post_seconds = post_seconds
        self.nonce_window_s = nonce_window_s
        self.posts: list[Posted] = []
        self._by_nonce: dict[tuple[int, str], Posted] = {}
        self.broken: dict[int, ChannelProblem] = {}
        self.fail_next = 0
        self._ids = itertools.count(1000)
        self._posted = trio.Event()

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
        await trio.sleep(self.post_seconds)
        if channel_id in self.broken:
            raise ChannelBroken(self.broken[channel_id], f"channel {channel_id} refuses posts")
        if self.fail_next:
            self.fail_next -= 1
            raise WelcomeBotError("Discord answered 503")
        seen = self._by_nonce.get((channel_id, nonce))
        if seen is not None and trio.current_time() - seen.at < self.nonce_window_s:
            return PostedMessage(seen.message_id, seen.content, frozenset(seen.mentions))
        message_id = next(self._ids)
        now = trio.current_time()
        post = Posted(message_id, channel_id, content, files, list(mention_user_ids), nonce, now, embeds)
        self.posts.append(post)
        self._by_nonce[(channel_id, nonce)] = post
        self._posted.set()
        self._posted = trio.Event()
        return PostedMessage(message_id, content, frozenset(mention_user_ids))

    async def wait_for_welcomes(self, count: int) -> None:
        """Return once at least ``count`` members were welcomed (an event per post, no polling)."""
        while len(self.welcomed_user_ids()) < count:
            await self._posted.wait()

    def welcomed_user_ids(self) -> list[int]:
        return [u for p in self.posts for u in p.mentions]


class RecordingObserver:
    def __init__(self) -> None:
        self.outcomes: dict[Outcome, int] = {}
        self.latencies: list[float] = []

    def welcomed(self, outcome: Outcome, count: int = 1) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + count

    def join_to_post(self, seconds: float) -> None:
        self.latencies.append(seconds)


class FakeActions:
    """DMs (refused for ``closed_dms``), roles (refused with ``role_problems``), deletes and channel health."""

    def __init__(self) -> None:
        self.closed_dms: set[int] = set()
        self.dms: list[tuple[int, str, int]] = []  # (user, content, files)
        self.roles: list[tuple[int, int, list[int]]] = []
        self.role_problems: list[str] = []
        self.deleted: list[tuple[int, int]] = []
        self.problems: dict[int, str | None] = {}
        self._ids = itertools.count(5000)

    async def dm(self, user_id: int, *, content: str, files: list[CardFile], embeds: list[dict[str, Any]],
                 nonce: str) -> int:  # fmt: skip
        await trio.lowlevel.checkpoint()
        if user_id in self.closed_dms:
            raise DmClosed(f"user {user_id} does not accept DMs")
        self.dms.append((user_id, content, len(files)))
        return next(self._ids)

    async def add_roles(self, guild_id: int, user_id: int, role_ids: list[int]) -> list[str]:
        await trio.lowlevel.checkpoint()
        if self.role_problems:
            return list(self.role_problems)
        self.roles.append((guild_id, user_id, list(role_ids)))
        return []

    async def delete(self, channel_id: int, message_id: int) -> None:
        await trio.lowlevel.checkpoint()
        self.deleted.append((channel_id, message_id))

    async def channel_problem(self, guild_id: int, problem: str | None) -> None:
        await trio.lowlevel.checkpoint()
        self.problems[guild_id] = problem


class FakeMembers:
    """Every member is still there, as they joined."""

    async def fetch(self, guild_id: int, user_id: int, joined_at: str) -> Join | None:
        await trio.lowlevel.checkpoint()
        return Join(guild_id=guild_id, user_id=user_id, joined_at=joined_at, username=f"u{user_id}")
