"""Numbered schema migrations from ``sql/<backend>/NNNN_name.sql``, applied in order, recorded, never skipped.

Both backends use the same numbering: migration N has a file under ``sql/sqlite`` and under ``sql/postgres``.
A database migrated by a newer welcomebot (a version we have no file for) is refused: running older code on
a newer schema could lose data.
"""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from typing import Any, Literal, TypeAlias

import asyncpg
import asyncpg.pool

from welcomebot.store.errors import SchemaTooNew

__all__ = [
    "apply_migrations",
    "apply_postgres_migrations",
    "known_migrations",
    "latest_version",
    "postgres_schema_version",
    "sqlite_schema_version",
]

Backend = Literal["sqlite", "postgres"]
PgConnection: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
#: pg_advisory_xact_lock key ("welc"): processes starting together migrate one after the other.
_PG_MIGRATION_LOCK = 0x77656C63


def known_migrations(backend: Backend) -> list[tuple[int, str, str]]:
    """``(version, name, sql)`` for every migration file of ``backend``, in order."""
    folder = resources.files("welcomebot.store").joinpath("sql", backend)
    found = []
    for entry in folder.iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def latest_version(backend: Backend) -> int:
    migrations = known_migrations(backend)
    return migrations[-1][0] if migrations else 0


def _refuse_newer(current: int, backend: Backend) -> None:
    latest = latest_version(backend)
    if current > latest:
        raise SchemaTooNew(current, latest)


def sqlite_schema_version(conn: sqlite3.Connection) -> int:
    """The version an SQLite database is at (0 when never migrated), without changing it."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").fetchone()
    if exists is None:
        return 0
    return int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0])


def apply_migrations(conn: sqlite3.Connection, backend: Backend = "sqlite") -> int:
    """Bring an SQLite database up to date; returns the schema version."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                 " applied_at REAL NOT NULL DEFAULT (strftime('%s','now')))")  # fmt: skip
    # The version is read under the write lock: another process (a `welcomebot migrate` beside a starting bot)
    # may have migrated between our connecting and our turn to write.
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = sqlite_schema_version(conn)
        _refuse_newer(current, backend)
        for version, name, sql in known_migrations(backend):
            if version > current:
                for statement in _statements(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name))
                current = version
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return int(current)


def _statements(sql: str) -> list[str]:
    # Our migration files hold plain DDL; no semicolons inside strings or triggers.
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


# --- PostgreSQL (asyncio-flavoured: called on the trio-asyncio loop by welcomebot.store.postgres) ---------


async def postgres_schema_version(conn: PgConnection) -> int:
    """The version of the schema first on the connection's search_path (0 when never migrated)."""
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return 0
    return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))


async def apply_postgres_migrations(conn: PgConnection, schema: str | None = None) -> int:
    """Bring the database (``schema``, created if missing, or the search_path's first) up to date, in one
    transaction: a failed migration leaves the schema as it was. Returns the schema version."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _PG_MIGRATION_LOCK)
        if schema is not None:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at DOUBLE PRECISION NOT NULL DEFAULT extract(epoch FROM now()))"
        )
        current = await postgres_schema_version(conn)
        _refuse_newer(current, "postgres")
        for version, name, sql in known_migrations("postgres"):
            if version > current:
                await conn.execute(sql)  # no arguments: the simple protocol runs the file's statements in turn
                await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
                current = version
    return current


def quote_ident(name: str) -> str:
    """``name`` as a PostgreSQL identifier (for DDL, where parameters cannot go)."""
    return '"' + name.replace('"', '""') + '"'
