"""Test and benchmark helpers: a throw-away PostgreSQL schema per test, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import trio
import trio_asyncio

from welcomebot.store.migrations import quote_ident
from welcomebot.store.postgres import open_loop, parse_postgres_url

__all__ = ["DSN_VAR", "REQUIRE_VAR", "FlakyProxy", "run_sql", "scratch_schema", "with_query"]

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


class FlakyProxy:
    """A TCP proxy in front of the PostgreSQL server that can play a restart: drop every connection, then refuse
    new ones (accept and close, as a server that is starting up does) until :meth:`come_up`."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.up = True
        self.refusals = 0
        #: Set at the second refused connection: whichever attempt met the first, the retry has met one too.
        self.refused_twice = trio.Event()
        self._scopes: set[trio.CancelScope] = set()

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, client: trio.SocketStream) -> None:
        if not self.up:
            self.refusals += 1
            if self.refusals >= 2:
                self.refused_twice.set()
            await client.aclose()
            return
        with trio.CancelScope() as scope:
            self._scopes.add(scope)
            try:
                server = await trio.open_tcp_stream(*self.target)
                async with client, server, trio.open_nursery() as nursery:
                    nursery.start_soon(self._pipe, client, server, nursery.cancel_scope)
                    nursery.start_soon(self._pipe, server, client, nursery.cancel_scope)
            finally:
                self._scopes.discard(scope)

    @staticmethod
    async def _pipe(src: trio.SocketStream, dst: trio.SocketStream, done: trio.CancelScope) -> None:
        try:
            async for chunk in src:
                await dst.send_all(chunk)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        done.cancel()

    def url(self, database_url: str, port: int) -> str:
        """``database_url`` with its host and port replaced by this proxy's (listening on ``port``)."""
        parts = urlsplit(database_url)
        user, at, _ = parts.netloc.rpartition("@")
        return urlunsplit(parts._replace(netloc=f"{user}{at}127.0.0.1:{port}"))

    def go_down(self) -> None:
        self.up = False
        for scope in list(self._scopes):
            scope.cancel()

    def come_up(self) -> None:
        self.up = True
