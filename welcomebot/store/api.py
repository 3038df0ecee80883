"""The storage interface every backend implements, and its records.

Times are epoch seconds passed in by the caller, so tests control them. The claim rules are DESIGN.md's
"Exactly-once welcomes": a join is claimed atomically (insert-or-skip); a posted or failed join is never
claimed again; a claim held by a live lease is left alone; an expired lease may be taken over.
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import msgspec

from welcomebot.gateway.protocol import SavedSession
from welcomebot.store.dump import DUMP_TABLES, AssetRecord, GuildSnapshot

__all__ = [
    "ASSET_PREFIX",
    "DUMP_TABLES",
    "LATE",
    "MAX_ATTEMPTS",
    "QUARANTINED",
    "AssetRecord",
    "ClaimResult",
    "GuildConfig",
    "GuildSnapshot",
    "SavedSession",
    "ShardLease",
    "ShardSurvey",
    "Store",
    "WelcomeKey",
    "asset_hashes",
    "identify_meta_key",
    "presence_id",
    "quarantine_reason",
    "survey_of",
]

#: ``welcome_log.reason`` of a join welcomed by the catch-up after downtime (posted late).
LATE = "late: joined while the bot was away; welcomed by the catch-up"
#: A claimed welcome is tried at most this many times (each try counted before it starts); then it is quarantined.
MAX_ATTEMPTS = 3
#: How ``welcome_log.reason`` of a quarantined welcome begins: "quarantined after 3 attempts: <last error>".
QUARANTINED = "quarantined"
#: The last error of a claim whose tries all ended with the process (a crash or a kill while finishing it).
STOPPED_WHILE_TRYING = "the process stopped while finishing it"


def quarantine_reason(attempts: int, error: str) -> str:
    """The ``welcome_log.reason`` of a welcome given up after ``attempts`` tries, the last ending in ``error``."""
    return f"{QUARANTINED} after {attempts} attempts: {error}"[:500]


DEFAULT_TEMPLATE = "Welcome to {server}, {user}! You are member #{count}."


class GuildConfig(msgspec.Struct, frozen=True, kw_only=True):
    guild_id: int
    welcome_channel_id: int | None = None
    background_ref: str | None = None
    message_template: str = DEFAULT_TEMPLATE
    enabled: bool = True
    options: dict[str, Any] = {}
    channel_problem: str | None = None
    updated_at: float = 0.0


class WelcomeKey(msgspec.Struct, frozen=True, order=True):
    guild_id: int
    user_id: int
    joined_at: str


class ClaimResult(enum.Enum):
    CLAIMED = "claimed"  # new: ours to post
    TAKEN_OVER = "taken_over"  # an expired claim: ours now
    DONE = "done"  # already posted or failed: drop
    HELD = "held"  # claimed under a live lease (another process, or in flight here): drop


class ShardLease(msgspec.Struct, frozen=True):
    """A shard's lease after an attempt to acquire it: ``owner`` holds it (us, if we got it) until ``lease_until``.

    ``previous`` is the owner we took it over from (its lease had expired or was released), so its unfinished
    claims are ours to finish; None when the shard was free or already ours."""

    owner: str
    token: int
    lease_until: float
    previous: str | None = None


class ShardSurvey(msgspec.Struct, frozen=True):
    """Live shard leases (shard id → owner) and every live owner, with or without a shard."""

    holders: dict[int, str]
    owners: frozenset[str]


def presence_id(owner: str) -> int:
    """The ``shard_lease`` row that says ``owner`` is alive: a negative id, never a shard's (``shard_count`` 0).

    Presence lives beside the leases, not in a table of its own, because both describe running processes
    (neither is dumped) and a replica holding no shard yet must still count when the shards are divided."""
    return -1 - (zlib.crc32(owner.encode()) & 0x7FFFFFFF)


def identify_meta_key(key: int) -> str:
    return f"identify_slot:{key}"


def survey_of(rows: Iterable[tuple[int, str]]) -> ShardSurvey:
    """A :class:`ShardSurvey` from the live ``(shard_id, owner)`` rows of ``shard_lease``, presence rows too."""
    pairs = list(rows)
    return ShardSurvey({i: o for i, o in pairs if i >= 0}, frozenset(o for _i, o in pairs))


#: A reference to a stored asset, wherever a config holds one: ``"asset:" + sha256 hex of the stored bytes``.
ASSET_PREFIX = "asset:"


def asset_hashes(values: Iterable[Any]) -> set[str]:
    """The hashes of every ``asset:<sha256>`` string inside ``values`` (searched through lists and dicts)."""
    found: set[str] = set()
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, str) and value.startswith(ASSET_PREFIX):
            found.add(value[len(ASSET_PREFIX) :])
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


class Store(Protocol):
    async def close(self) -> None: ...

    async def get_guild_config(self, guild_id: int) -> GuildConfig | None: ...
    async def put_guild_config(self, config: GuildConfig) -> None: ...
    async def delete_guild_config(self, guild_id: int) -> None: ...
    async def list_guild_configs(self) -> list[GuildConfig]: ...
    async def set_channel_problem(self, guild_id: int, problem: str | None, *, version: float) -> bool:
        """Note why posting failed on the config saved at ``updated_at == version``, changing nothing else;
        False (nothing written) when a newer save replaced that config meanwhile."""
        ...

    async def claim_welcome(self, key: WelcomeKey, owner: str, now: float, lease_s: float) -> ClaimResult: ...
    async def renew_claims(self, owner: str, now: float, lease_s: float) -> int: ...
    async def mark_posted(
        self, keys: list[WelcomeKey], message_id: int, latency_ms: float | None, now: float
    ) -> None: ...
    async def mark_failed(self, keys: list[WelcomeKey], reason: str, now: float) -> None: ...
    async def assign_nonce(self, keys: list[WelcomeKey], nonce: str) -> None: ...
    async def take_unfinished(
        self, owner: str, now: float, lease_s: float, *, dead: Sequence[str] = (), own: bool = True
    ) -> list[tuple[WelcomeKey, str | None]]:
        """Claims to finish, ours now: those whose lease expired, those of the ``dead`` owners (whose shard
        leases we took over), and (``own``) those already ``owner``'s, as at the start of a run."""
        ...

    async def retry_or_quarantine(
        self, keys: list[WelcomeKey], error: str, now: float, *, max_attempts: int = MAX_ATTEMPTS
    ) -> list[tuple[WelcomeKey, str]]:
        """A try at claimed ``keys`` failed with ``error`` in this run: those tried ``max_attempts`` times are
        marked failed ("quarantined after N attempts: <error>") and returned with that reason; the others have
        their next try counted, to be made by the caller."""
        ...

    async def quarantine_unfinished(
        self, owner: str, now: float, *, dead: Sequence[str] = (), own: bool = True, max_attempts: int = MAX_ATTEMPTS
    ) -> list[tuple[WelcomeKey, str]]:
        """Mark failed the claims :meth:`take_unfinished` would take that were tried ``max_attempts`` times
        already, with the reason "quarantined after N attempts: <last error>"; returns them with that reason."""
        ...

    async def quarantined(self, guild_id: int) -> tuple[int, str | None]:
        """How many of the guild's welcomes are quarantined, and the newest one's reason."""
        ...

    async def welcome_status(self, key: WelcomeKey) -> str | None: ...
    async def last_welcome(self, guild_id: int, user_id: int) -> tuple[str, str, int | None, bool] | None:
        """``(joined_at, status, message_id, alone)`` of the member's newest welcome (goodbyes excluded);
        ``alone`` is False when the same message welcomed others too."""
        ...

    async def prune_welcome_log(
        self, older_than: float, *, guild_cutoffs: Mapping[int, float] | None = None, limit: int | None = None
    ) -> int:
        """Delete up to ``limit`` finished welcome-log rows created before their guild's cutoff in
        ``guild_cutoffs`` (``older_than`` for other guilds); claimed rows and rows whose message is still to
        be deleted (``delete_at`` set) are kept. Returns how many went."""
        ...

    async def recent_posts(self, channel_id: int, since: float) -> list[float]:
        """When each welcome message posted since ``since`` in ``channel_id`` (the welcome channel its guild
        has configured now) was marked posted, oldest first, and when each claim that got a nonce (its post
        may have reached Discord) was last touched: a new process's channel budget starts from them."""
        ...

    async def schedule_delete(self, keys: list[WelcomeKey], channel_id: int, delete_at: float) -> None:
        """Record that the message welcoming ``keys`` in ``channel_id`` is to be deleted at ``delete_at``."""
        ...

    async def due_deletes(self, now: float, limit: int) -> list[tuple[int, int]]:
        """``(channel_id, message_id)`` of posted welcomes due for deletion, oldest first."""
        ...

    async def next_delete_at(self) -> float | None: ...
    async def deletes_done(self, message_ids: list[int]) -> None: ...
    async def mark_late(self, keys: list[WelcomeKey]) -> None:
        """Note in ``reason`` that these joins were found by the catch-up after downtime."""
        ...

    # Shard leases: one live owner per shard (DESIGN.md "Owners are processes").
    async def acquire_shard(self, shard_id: int, shard_count: int, owner: str, now: float, ttl: float) -> ShardLease:
        """Take or extend ``shard_id``'s lease if it is free, expired or ours; the holder afterwards either way."""
        ...

    async def renew_shard(self, shard_id: int, owner: str, token: int, now: float, ttl: float) -> bool:
        """Extend our lease; False if another owner took the shard (``token`` moved on): stop running it."""
        ...

    async def release_shard(self, shard_id: int, owner: str, token: int) -> None:
        """End our lease now (a clean stop), so the next process takes the shard without waiting for expiry."""
        ...

    async def reserve_identify(self, key: int, now: float, spacing: float) -> float:
        """Book the next IDENTIFY slot of rate-limit ``key`` for every process on this database: the wall-clock
        time, ``spacing`` after the last one booked and not before ``now``, at which the caller may IDENTIFY.
        Kept in ``meta`` under :func:`identify_meta_key`."""
        ...

    async def survey_shards(self, owner: str, now: float, ttl: float) -> ShardSurvey:
        """Say ``owner`` is alive until ``now + ttl`` (its presence row, see :func:`presence_id`) and read who
        is alive and which shards are held, for ``--shards auto``."""
        ...

    async def load(self, shard_id: int) -> SavedSession | None: ...
    async def save(self, shard_id: int, session: SavedSession) -> None: ...
    async def clear(self, shard_id: int) -> None: ...

    async def put_guild_snapshot(self, snapshot: GuildSnapshot) -> None: ...
    async def guild_snapshots(self) -> list[GuildSnapshot]: ...

    async def get_meta(self, key: str) -> str | None: ...
    async def set_meta(self, key: str, value: str) -> None: ...
    async def delete_meta(self, key: str) -> None: ...
    async def list_meta(self, prefix: str) -> dict[str, str]:
        """Every ``meta`` entry whose key starts with ``prefix``."""
        ...

    # Assets (welcomebot.store.assets keeps the bytes; the rows say who uploaded what, and count quotas).
    async def put_asset(self, record: AssetRecord) -> bool: ...  # False: that hash was stored already (kept)
    async def get_asset(self, content_hash: str) -> AssetRecord | None: ...
    async def delete_asset(self, content_hash: str) -> None: ...
    async def touch_asset(self, content_hash: str, now: float) -> None:
        """Mark an asset just uploaded again (``created_at = now``), so a collection leaves it its grace period."""
        ...

    async def list_assets(self) -> list[AssetRecord]: ...
    async def asset_usage(self, guild_id: int) -> int: ...  # bytes of the assets the guild uploaded
    async def total_asset_usage(self) -> int: ...
    async def referenced_assets(self) -> set[str]: ...  # asset_hashes() of every guild config's ref and options

    # Privacy (welcomebot.retention.purge): the schema as the database has it, and deleting by an id column.
    async def table_columns(self) -> dict[str, tuple[str, ...]]:
        """Every table of the migrated schema and its columns, read from the database itself."""
        ...

    async def purge_rows(self, targets: Sequence[tuple[str, str]], value: int, *, dry_run: bool) -> dict[str, int]:
        """Delete (or with ``dry_run`` count) the rows whose ``column`` equals ``value`` for every
        ``(table, column)`` in ``targets``, in one transaction; rows per table."""
        ...

    # Logical dump (welcomebot.store.dump): one consistent snapshot of every table in DUMP_TABLES, and a
    # restore that is all-or-nothing and refuses (StoreNotEmpty) unless those tables are empty.
    async def export_rows(self) -> dict[str, list[dict[str, Any]]]: ...
    async def import_rows(self, dump: Mapping[str, list[dict[str, Any]]]) -> None: ...
    async def is_empty(self) -> bool: ...
