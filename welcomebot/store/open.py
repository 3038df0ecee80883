"""Open the store the database URL names, and read its schema version without changing it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import trio

from welcomebot.errors import ConfigError
from welcomebot.store.api import Store
from welcomebot.store.migrations import Backend, latest_version, sqlite_schema_version
from welcomebot.store.outage import Outage
from welcomebot.store.postgres import PostgresStore, open_loop, read_schema_version
from welcomebot.store.sqlite import SqliteStore

__all__ = ["backend_of", "open_store", "schema_status", "sqlite_path"]


def sqlite_path(database_url: str) -> str:
    """``sqlite:///relative.db`` → ``relative.db``; ``sqlite:////abs/path.db`` → ``/abs/path.db``."""
    return urlsplit(database_url).path[1:] or ":memory:"


def backend_of(database_url: str) -> Backend:
    scheme = urlsplit(database_url).scheme
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("postgresql", "postgres"):
        return "postgres"
    raise ConfigError(f"WELCOMEBOT_DATABASE_URL: unknown scheme {scheme!r}; use sqlite:///PATH or postgresql://…")


@asynccontextmanager
async def open_store(database_url: str, *, outage: Outage | None = None) -> AsyncIterator[Store]:
    """The migrated store; for PostgreSQL inside a trio-asyncio loop, so callers stay plain trio.

    With ``outage`` (the running bot), an unreachable PostgreSQL server is waited for, at start and on every
    call; SQLite is a local file, its errors are not an outage to wait out.
    """
    if backend_of(database_url) == "sqlite":
        store = await SqliteStore.open(sqlite_path(database_url))
        try:
            yield store
        finally:
            await store.close()
        return
    async with open_loop() as loop:
        if outage is None:
            pg = await PostgresStore.open(database_url, loop)
        else:
            pg = await outage.retrying(partial(PostgresStore.open, database_url, loop))
            pg.outage = outage
        try:
            yield pg
        finally:
            await pg.close()


async def schema_status(database_url: str) -> tuple[int, int]:
    """``(current, latest)``: the version the database is at (0: never migrated) and the newest this code knows."""
    backend = backend_of(database_url)
    if backend == "sqlite":
        current = await trio.to_thread.run_sync(_sqlite_version, sqlite_path(database_url))
    else:
        async with open_loop() as loop:
            current = await read_schema_version(database_url, loop)
    return current, latest_version(backend)


def _sqlite_version(path: str) -> int:
    if path == ":memory:" or not Path(path).exists():
        return 0
    # as_uri() escapes what a URI would read otherwise ('%41' in a folder name is not an 'A'); closing(): the
    # connection's own context manager only ends a transaction.
    with closing(sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True)) as conn:
        return sqlite_schema_version(conn)
