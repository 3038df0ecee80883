"""Numbered schema migrations from ``sql/<backend>/NNNN_name.sql``, applied in order, recorded, never skipped.

A database migrated by a newer welcomebot (a version we have no file for) is refused: running older code on
a newer schema could lose data.
"""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from typing import Literal

from welcomebot.store.errors import SchemaTooNew

__all__ = ["apply_migrations", "known_migrations"]

Backend = Literal["sqlite", "postgres"]
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def known_migrations(backend: Backend) -> list[tuple[int, str, str]]:
    """``(version, name, sql)`` for every migration file of ``backend``, in order."""
    folder = resources.files("welcomebot.store").joinpath("sql", backend)
    found = []
    for entry in folder.iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def apply_migrations(conn: sqlite3.Connection, backend: Backend = "sqlite") -> int:
    """Bring an SQLite database up to date; returns the schema version."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                 " applied_at REAL NOT NULL DEFAULT (strftime('%s','now')))")  # fmt: skip
    current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
    migrations = known_migrations(backend)
    latest = migrations[-1][0] if migrations else 0
    if current > latest:
        raise SchemaTooNew(current, latest)
    for version, name, sql in migrations:
        if version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        current = version
    return int(current)


def _statements(sql: str) -> list[str]:
    # Our migration files hold plain DDL; no semicolons inside strings or triggers.
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
