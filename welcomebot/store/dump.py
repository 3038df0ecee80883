"""The logical dump of our tables: one typed row Struct per table, the same JSON for every backend.

A backup holds ``{table: [row, ...]}`` for the tables in :data:`DUMP_TABLES`. Each backend reads its own
column types (SQLite's 0/1 integers and JSON text, PostgreSQL's booleans and JSONB) and passes the rows
through :func:`normalize_rows`, so an SQLite dump and a PostgreSQL dump of the same data are the same bytes,
and either restores into the other. Adding a column to a table means adding it here (a test compares these
Structs with the migrated schema) and bumping the backup format version.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from welcomebot.store.errors import DumpInvalid

__all__ = [
    "DUMP_TABLES",
    "JSON_COLUMNS",
    "KEYS",
    "ROW_TYPES",
    "AssetRecord",
    "GuildSnapshot",
    "columns",
    "decode_stored",
    "normalize_dump",
    "normalize_rows",
    "row_values",
    "stored_values",
    "validate_dump",
]


class _Row(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class GuildConfigRow(_Row):
    guild_id: int
    welcome_channel_id: int | None
    background_ref: str | None
    message_template: str
    enabled: bool
    options: dict[str, Any]
    channel_problem: str | None
    updated_at: float


class AssetRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A stored asset's row; the bytes live in the asset directory under their hash."""

    content_hash: str
    media_type: str
    size: int
    width: int
    height: int
    owner_guild: int
    created_at: float


class WelcomeLogRow(_Row):
    guild_id: int
    user_id: int
    joined_at: str
    status: str
    owner: str
    lease_until: float
    attempts: int
    message_id: int | None
    latency_ms: float | None
    reason: str | None
    created_at: float
    updated_at: float
    nonce: str | None
    #: Migration 0003; absent from dumps written before it (they restore as "not scheduled").
    channel_id: int | None = None
    delete_at: float | None = None
    #: Migration 0006; absent from dumps written before it.
    last_error: str | None = None


class GatewaySessionRow(_Row):
    shard_id: int
    session_id: str
    seq: int
    resume_url: str
    updated_at: float
    #: Migration 0004; absent from dumps written before it (restored as 0, "unknown").
    shard_count: int = 0


class GuildSnapshot(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the gateway last told us about a guild (migration 0007); see ``app.model.GuildInfo``.

    ``session_id`` and ``seq`` name the last dispatch counted into ``member_count``.
    """

    guild_id: int
    name: str
    icon: str | None
    member_count: int | None
    system_channel_id: int | None
    session_id: str
    seq: int
    updated_at: float


class MetaRow(_Row):
    key: str
    value: str


#: Table name → row type, in restore order.
ROW_TYPES: dict[str, type[msgspec.Struct]] = {
    "guild_config": GuildConfigRow,
    "background_asset": AssetRecord,
    "welcome_log": WelcomeLogRow,
    "gateway_session": GatewaySessionRow,
    "meta": MetaRow,
    "guild_snapshot": GuildSnapshot,
}
DUMP_TABLES: tuple[str, ...] = tuple(ROW_TYPES)
#: Each table's primary key: dumps list rows in its order, so equal data gives equal bytes on every backend.
KEYS: dict[str, tuple[str, ...]] = {
    "guild_config": ("guild_id",),
    "background_asset": ("content_hash",),
    "welcome_log": ("guild_id", "user_id", "joined_at"),
    "gateway_session": ("shard_id",),
    "meta": ("key",),
    "guild_snapshot": ("guild_id",),
}
#: Tables added after backup format version 1 was fixed: a dump written before them restores them empty.
ADDED_TABLES: frozenset[str] = frozenset({"guild_snapshot"})
#: Columns holding a JSON object (TEXT in SQLite, JSONB in PostgreSQL).
JSON_COLUMNS: frozenset[tuple[str, str]] = frozenset({("guild_config", "options")})


@functools.cache
def columns(table: str) -> tuple[str, ...]:
    """The dumped columns of ``table``, in order (cached: ``msgspec.structs.fields`` resolves type hints, and
    restores call this once per row)."""
    return tuple(f.name for f in msgspec.structs.fields(ROW_TYPES[table]))


def normalize_rows(table: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A backend's raw rows (JSON columns already decoded) as the dump's JSON-safe dicts, in key order."""
    row_type = ROW_TYPES[table]
    typed = [msgspec.structs.asdict(msgspec.convert(row, row_type, strict=False)) for row in rows]
    for table_name, column in JSON_COLUMNS:
        if table_name == table:
            for row in typed:  # JSONB keeps no key order: sort keys so every backend dumps the same bytes
                row[column] = msgspec.json.decode(msgspec.json.encode(row[column], order="sorted"))
    return sorted(typed, key=lambda row: tuple(row[k] for k in KEYS[table]))


def normalize_dump(raw: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """:func:`normalize_rows` for every table. CPU-bound (a 200k-row welcome log takes most of a second):
    backends call it on a worker thread, never on the trio thread that keeps the gateway and welcomes going."""
    return {table: normalize_rows(table, rows) for table, rows in raw.items()}


def validate_dump(dump: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Check a dump read from a backup: exactly our tables, every row complete and well typed."""
    if isinstance(dump, Mapping):
        dump = {table: [] for table in ADDED_TABLES} | dict(dump)
    if not isinstance(dump, Mapping) or set(dump) != set(DUMP_TABLES):
        found = sorted(dump) if isinstance(dump, Mapping) else type(dump).__name__
        raise DumpInvalid(f"the dump must hold exactly the tables {list(DUMP_TABLES)}, found {found}")
    checked: dict[str, list[dict[str, Any]]] = {}
    for table in DUMP_TABLES:
        rows = dump[table]
        if not isinstance(rows, list):
            raise DumpInvalid(f"table {table}: expected a list of rows, found {type(rows).__name__}")
        checked[table] = []
        for i, row in enumerate(rows):
            try:
                typed = msgspec.convert(row, ROW_TYPES[table])
            except msgspec.ValidationError as exc:
                raise DumpInvalid(f"table {table}, row {i}: {exc}") from None
            checked[table].append(msgspec.structs.asdict(typed))
    return checked


def stored_values(table: str, row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A validated row's values in column order as the backends store them: JSON columns as JSON text."""
    return tuple(
        msgspec.json.encode(row[col]).decode() if (table, col) in JSON_COLUMNS else row[col] for col in columns(table)
    )


def decode_stored(table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as read from a backend, their JSON columns (text) decoded in place."""
    for table_name, column in JSON_COLUMNS:
        if table_name == table:
            for row in rows:
                row[column] = msgspec.json.decode(row[column])
    return rows


def row_values(table: str, row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A validated row's values in column order (JSON columns still as Python objects)."""
    return tuple(row[name] for name in columns(table))
