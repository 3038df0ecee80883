"""Test and benchmark helpers: a throw-away PostgreSQL schema per test, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import trio_asyncio

from welcomebot.store.migrations import quote_ident
from welcomebot.store.postgres import open_loop, parse_postgres_url

__all__ = ["DSN_VAR", "REQUIRE_VAR", "run_sql", "scratch_schema", "with_query"]

#: Where the PostgreSQL test server is (scripts/test exports it from scripts/ensure-postgres).
DSN_VAR = "WELCOMEBOT_TEST_POSTGRES_DSN"
#: Set (by scripts/test) when PostgreSQL tests must run: an unreachable server then fails them, never skips.
REQUIRE_VAR = "WELCOMEBOT_REQUIRE_POSTGRES"


def with_query(url: str, **params: str) -> str:
    """``url`` with query parameters added or replaced."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True)) | params
    return urlunsplit(parts._replace(query=urlencode(query)))


@asynccontextmanager
async def scratch_schema(dsn: str | None = None, prefix: str = "t") -> AsyncIterator[str]:
    """A database URL whose ``?schema=`` is fresh and unique (the store creates it); dropped on exit."""
    dsn = dsn or os.environ[DSN_VAR]
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    try:
        yield with_query(dsn, schema=schema)
    finally:
        async with open_loop() as loop:
            await trio_asyncio.aio_as_trio(_drop, loop=loop)(dsn, schema)


async def _drop(dsn: str, schema: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
    finally:
        await conn.close()


async def run_sql(url: str, statement: str, *args: Any) -> list[Any]:
    """Run one statement on its own connection (in the URL's ``?schema=``) and return the rows."""
    target = parse_postgres_url(url)

    async def run() -> list[Any]:
        conn = await asyncpg.connect(target.dsn, server_settings=target.server_settings())
        try:
            return await conn.fetch(statement, *args)
        finally:
            await conn.close()

    async with open_loop() as loop:
        rows: list[Any] = await trio_asyncio.aio_as_trio(run, loop=loop)()
    return rows
