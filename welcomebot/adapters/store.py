"""The store as the pipeline's ports: cached configs, and the welcome log with this process's owner and lease."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping

import msgspec

from welcomebot.app import GuildInfo, JoinKey, LastWelcome, WelcomeConfig, behaviour_of
from welcomebot.app.catchup import LEGACY, Seen
from welcomebot.gateway.session import Lease
from welcomebot.render.design import design_of
from welcomebot.store import ClaimResult, GuildConfig, GuildSnapshot, Store, WelcomeKey, departures

__all__ = [
    "CachedConfigs",
    "MetaCatchUpState",
    "StoreDepartures",
    "StoreGuildSnapshots",
    "StoreShardLeases",
    "StoreWelcomeLog",
    "to_welcome_config",
]

#: A shard lease: a process that stops renewing (killed, cut off) has its shards taken over this soon.
SHARD_LEASE_S = 15.0

#: A claim's lease: long enough for a welcome through a raid's queue; renewed while the process lives.
LEASE_S = 900.0


def to_welcome_config(config: GuildConfig) -> WelcomeConfig:
    return WelcomeConfig(
        guild_id=config.guild_id,
        channel_id=config.welcome_channel_id,
        message_template=config.message_template,
        enabled=config.enabled,
        background_ref=config.background_ref,
        design=design_of(config.options, guild_id=config.guild_id),
        version=f"{config.updated_at!r}",
        behaviour=behaviour_of(config.options, guild_id=config.guild_id),
    )


log = logging.getLogger(__name__)


class CachedConfigs:
    """Guild configs through an in-process cache; :meth:`invalidate` after a write (commands do it)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[int, WelcomeConfig | None] = {}
        #: Bumped by every invalidation: a read that an invalidation overtook is returned but not cached.
        self._invalidations = 0
        self.hits = 0
        self.misses = 0

    async def get(self, guild_id: int) -> WelcomeConfig | None:
        if guild_id in self._cache:
            self.hits += 1
            return self._cache[guild_id]
        self.misses += 1
        before = self._invalidations
        config = await self._store.get_guild_config(guild_id)
        result = None if config is None else to_welcome_config(config)
        if self._invalidations == before:
            self._cache[guild_id] = result
        return result

    def invalidate(self, guild_id: int) -> None:
        self._invalidations += 1
        self._cache.pop(guild_id, None)


class StoreWelcomeLog:
    def __init__(self, store: Store, owner: str, *, wall_clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self.owner = owner
        self._now = wall_clock
        #: Owners whose shard leases we took over (dead or cut off): their claims are ours to finish.
        self.dead: set[str] = set()
        self._started = False

    async def claim(self, key: JoinKey) -> bool:
        result = await self._store.claim_welcome(_key(key), self.owner, self._now(), LEASE_S)
        return result in (ClaimResult.CLAIMED, ClaimResult.TAKEN_OVER)

    async def posted(self, keys: list[JoinKey], message_id: int, latency_ms: float | None) -> None:
        await self._store.mark_posted([_key(k) for k in keys], message_id, latency_ms, self._now())

    async def failed(self, keys: list[JoinKey], reason: str) -> None:
        await self._store.mark_failed([_key(k) for k in keys], reason, self._now())

    async def assign(self, keys: list[JoinKey], nonce: str) -> None:
        await self._store.assign_nonce([_key(k) for k in keys], nonce)

    async def quarantine_unfinished(self) -> list[tuple[JoinKey, str]]:
        rows = await self._store.quarantine_unfinished(self.owner, self._now(), dead=sorted(self.dead),
                                                       own=not self._started)  # fmt: skip
        return [(JoinKey(k.guild_id, k.user_id, k.joined_at), reason) for k, reason in rows]

    async def retry_or_quarantine(self, keys: list[JoinKey], error: str) -> list[tuple[JoinKey, str]]:
        rows = await self._store.retry_or_quarantine([_key(k) for k in keys], error, self._now())
        return [(JoinKey(k.guild_id, k.user_id, k.joined_at), reason) for k, reason in rows]

    async def quarantined(self, guild_id: int) -> tuple[int, str | None]:
        return await self._store.quarantined(guild_id)

    async def unfinished(self) -> list[tuple[JoinKey, str | None]]:
        """At start: our own, expired and dead owners' claims; later (after a takeover) never our own, which are
        in flight here."""
        own, self._started = not self._started, True
        rows = await self._store.take_unfinished(self.owner, self._now(), LEASE_S, dead=sorted(self.dead), own=own)
        return [(JoinKey(k.guild_id, k.user_id, k.joined_at), nonce) for k, nonce in rows]

    async def last(self, guild_id: int, user_id: int) -> LastWelcome | None:
        row = await self._store.last_welcome(guild_id, user_id)
        return None if row is None else LastWelcome(*row)

    async def schedule_delete(self, keys: list[JoinKey], channel_id: int, after_s: float) -> None:
        await self._store.schedule_delete([_key(k) for k in keys], channel_id, self._now() + after_s)

    async def due_deletes(self, limit: int) -> list[tuple[int, int]]:
        return await self._store.due_deletes(self._now(), limit)

    async def next_delete_in(self) -> float | None:
        at = await self._store.next_delete_at()
        return None if at is None else at - self._now()

    async def deletes_done(self, message_ids: list[int]) -> None:
        await self._store.deletes_done(message_ids)

    async def mark_late(self, keys: list[JoinKey]) -> None:
        await self._store.mark_late([_key(k) for k in keys])

    async def renew(self) -> int:
        return await self._store.renew_claims(self.owner, self._now(), LEASE_S)

    async def recent_post_ages(self, channel_id: int, within: float) -> list[float]:
        """How many seconds ago each welcome message of the last ``within`` s in ``channel_id`` was posted
        (by any process, oldest first): :class:`~welcomebot.app.channel_limit.ChannelTurns` starts from it."""
        now = self._now()
        return [now - at for at in await self._store.recent_posts(channel_id, now - within)]


class StoreShardLeases:
    """:class:`~welcomebot.gateway.session.ShardLeases` in the store, with this process's owner id and tokens."""

    def __init__(
        self,
        store: Store,
        owner: str,
        *,
        ttl: float = SHARD_LEASE_S,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.owner = owner
        self.ttl = ttl
        self._now = wall_clock
        self._clock = clock
        self._tokens: dict[int, int] = {}
        self._until: dict[int, float] = {}  # by our monotonic clock: the lease's end as last confirmed

    async def acquire(self, shard_id: int, shard_count: int) -> Lease:
        asked = self._clock()
        lease = await self._store.acquire_shard(shard_id, shard_count, self.owner, self._now(), self.ttl)
        if lease.owner != self.owner:
            return Lease(False, lease.owner)
        self._tokens[shard_id] = lease.token
        self._until[shard_id] = asked + self.ttl
        return Lease(True, self.owner, lease.previous)

    async def renew(self, shard_id: int) -> bool:
        asked = self._clock()
        kept = await self._store.renew_shard(shard_id, self.owner, self._tokens[shard_id], self._now(), self.ttl)
        if kept:
            self._until[shard_id] = asked + self.ttl
        else:
            self._until.pop(shard_id, None)
        return kept

    async def release(self, shard_id: int) -> None:
        token = self._tokens.pop(shard_id, None)
        self._until.pop(shard_id, None)
        if token is not None:
            await self._store.release_shard(shard_id, self.owner, token)

    def holds(self, shard_id: int) -> bool:
        return self._clock() < self._until.get(shard_id, -1.0)

    async def identify_wait(self, key: int, spacing: float) -> float:
        now = self._now()
        return await self._store.reserve_identify(key, now, spacing) - now

    async def survey(self) -> tuple[Mapping[int, str], frozenset[str]]:
        found = await self._store.survey_shards(self.owner, self._now(), self.ttl)
        return found.holders, found.owners


def _key(key: JoinKey) -> WelcomeKey:
    return WelcomeKey(key.guild_id, key.user_id, key.joined_at)


class MetaCatchUpState:
    """The catch-up's "last sign of life" per shard, as JSON values in the store's ``meta`` table.

    One key per shard id, so a process never reads a peer's fresh record as its own (issue 19.4). The one
    key of older versions is read when a shard has none yet: no longer written, it can only be older.
    """

    KEY = "catch_up_seen"

    def __init__(self, store: Store) -> None:
        self._store = store

    async def load(self, shard_id: int) -> Seen | None:
        raw = await self._store.get_meta(f"{self.KEY}:{shard_id}")
        if raw is None:
            raw = await self._store.get_meta(self.KEY)
        if raw is None:
            return None
        try:
            return msgspec.json.decode(raw, type=Seen)
        except msgspec.DecodeError:
            return None  # unreadable: treated as no record, like a first start

    async def load_all(self) -> dict[int, Seen]:
        """Every shard's record (the one key of older versions as shard ``LEGACY``); unreadable ones are left
        out, as no record."""
        records: dict[int, Seen] = {}
        for name, raw in (await self._store.list_meta(self.KEY)).items():
            suffix = name.removeprefix(self.KEY)
            if suffix and not (suffix.startswith(":") and suffix[1:].isdigit()):
                continue  # another key that happens to share the prefix
            try:
                records[int(suffix[1:]) if suffix else LEGACY] = msgspec.json.decode(raw, type=Seen)
            except msgspec.DecodeError:
                continue
        return records

    async def save(self, shard_id: int, seen: Seen) -> None:
        await self._store.set_meta(f"{self.KEY}:{shard_id}", msgspec.json.encode(seen).decode())


class StoreDepartures:
    """Departures as :mod:`welcomebot.store.departures` notes. Every GUILD_CREATE (each guild at each connect)
    calls :meth:`back`, so the guilds noted as gone are read once and kept here: only a guild in that set costs a
    write. A guild is on one shard, run by one process, which sees both its departure and its return."""

    def __init__(self, store: Store, *, wall_clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._now = wall_clock
        self._gone: set[int] | None = None

    async def _departed(self) -> set[int]:
        if self._gone is None:
            self._gone = set(await departures.departed(self._store, math.inf))
        return self._gone

    async def left(self, guild_id: int) -> None:
        gone = await self._departed()
        if await departures.note(self._store, guild_id, self._now()):
            log.info("the bot was removed from a server; its data is deleted after WELCOMEBOT_GUILD_GRACE unless "
                     "it is added back", extra={"guild_id": guild_id})  # fmt: skip
        gone.add(guild_id)

    async def back(self, guild_id: int) -> None:
        gone = await self._departed()
        if guild_id in gone:
            await departures.forget(self._store, guild_id)
            gone.discard(guild_id)
            log.info("the bot was added back to a server; its data is kept", extra={"guild_id": guild_id})


class StoreGuildSnapshots:
    """The pipeline's guild knowledge (``app.model.GuildInfo``) in the ``guild_snapshot`` table."""

    def __init__(self, store: Store, *, wall_clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._wall_clock = wall_clock

    async def put(self, guild: GuildInfo) -> None:
        await self._store.put_guild_snapshot(
            GuildSnapshot(
                guild_id=guild.guild_id,
                name=guild.name,
                icon=guild.icon,
                member_count=guild.member_count,
                system_channel_id=guild.system_channel_id,
                session_id=guild.session_id,
                seq=guild.seq,
                updated_at=self._wall_clock(),
            )
        )

    async def load(self) -> dict[int, GuildInfo]:
        """Every guild as the previous run last knew it (what a RESUMEd session starts from)."""
        known: dict[int, GuildInfo] = {}
        for s in await self._store.guild_snapshots():
            known[s.guild_id] = GuildInfo(guild_id=s.guild_id, name=s.name, icon=s.icon, member_count=s.member_count,
                                          system_channel_id=s.system_channel_id, session_id=s.session_id,
                                          seq=s.seq)  # fmt: skip
        return known
