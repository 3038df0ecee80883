"""The PostgreSQL backend: asyncpg on the trio-asyncio loop that :func:`welcomebot.store.open.open_store` opens.

Every public method is trio-flavoured; the asyncpg work runs as one asyncio coroutine per call
(:meth:`PostgresStore._run`), on a connection from a pool, with parameterized statements only.

Exactly-once: the claim is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE (lease expired)`` statement; the row
lock it takes makes a second process wait and then see the first one's claim, so two processes never both win.

Reconnects: when a call fails because its connection is gone (server restarted, backend terminated), the pool's
connections are expired and the call runs once more on a fresh one, waiting up to ``_RECONNECT_WINDOW_S`` for
the server to accept connections again; if that fails too, it raises :class:`StoreUnavailable` saying what to
check, unless the store has an :class:`~welcomebot.store.outage.Outage` (``welcomebot run`` gives it one):
then the call waits for the server indefinitely. Opening the store waits only when given an Outage too. Every statement
is safe to run twice; the claim recognises its own first attempt (see :meth:`claim_welcome`).

Time: asyncpg's timeouts run on the trio-asyncio loop's clock, which is trio's; under an autojumping MockClock
they would expire while the server is still answering, so PostgreSQL tests use the real clock.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeAlias, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import msgspec
import trio
import trio_asyncio

from actors import ExponentialBackoff
from welcomebot.errors import ConfigError
from welcomebot.gateway.protocol import SavedSession
from welcomebot.store.api import (
    LATE,
    MAX_ATTEMPTS,
    QUARANTINED,
    STOPPED_WHILE_TRYING,
    AssetRecord,
    ClaimResult,
    GuildConfig,
    GuildSnapshot,
    ShardLease,
    ShardSurvey,
    WelcomeKey,
    asset_hashes,
    identify_meta_key,
    presence_id,
    quarantine_reason,
    survey_of,
)
from welcomebot.store.dump import (
    DUMP_TABLES,
    columns,
    decode_stored,
    normalize_dump,
    row_values,
    stored_values,
    validate_dump,
)
from welcomebot.store.errors import StoreError, StoreNotEmpty, StoreRefused, StoreUnavailable
from welcomebot.store.migrations import apply_postgres_migrations, postgres_schema_version
from welcomebot.store.outage import Outage

__all__ = ["PostgresStore", "PostgresTarget", "open_loop", "parse_postgres_url", "read_schema_version"]

T = TypeVar("T")
Conn: TypeAlias = "asyncpg.pool.PoolConnectionProxy[Any]"
Query: TypeAlias = Callable[[Conn], Awaitable[T]]

_PUT_ASSET = (
    f"INSERT INTO background_asset ({', '.join(columns('background_asset'))})"  # noqa: S608
    " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
)
_SELECT_ASSETS = f"SELECT {', '.join(columns('background_asset'))} FROM background_asset"  # noqa: S608
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
#: Errors that mean "no usable connection" rather than "this statement is wrong".
_CONNECTION_ERRORS = (
    OSError,  # refused, reset, timed out (TimeoutError is an OSError)
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)
_CONNECT_TIMEOUT_S = 10.0
_COMMAND_TIMEOUT_S = 60.0
_POOL_MAX = 10
#: How long a call that lost its connection waits for the server to accept connections again (a restart).
_RECONNECT_WINDOW_S = 15.0


class PostgresTarget(msgspec.Struct, frozen=True):
    """A database URL split into what asyncpg takes and what only we understand."""

    dsn: str  # for asyncpg, without our own query parameters
    schema: str | None  # ?schema=NAME: our tables live there (created by the first migration)
    where: str  # host:port/dbname, for messages (never the password)

    def server_settings(self) -> dict[str, str]:
        return {"search_path": self.schema} if self.schema else {}


def parse_postgres_url(url: str) -> PostgresTarget:
    """``postgresql://user:pw@host:5432/db?schema=NAME``; other query parameters go to asyncpg as they are."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [v for k, v in query if k == "schema"]
    schema = schemas[-1] if schemas else None
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise ConfigError(
            f"WELCOMEBOT_DATABASE_URL: schema={schema!r} is not a plain name; use letters, digits and '_' "
            "(not starting with a digit)"
        )
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    dsn = urlunsplit(parts._replace(query=rest))
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"
    return PostgresTarget(dsn=dsn, schema=schema, where=where)


class PostgresStore:
    def __init__(self, pool: asyncpg.Pool[Any], loop: trio_asyncio.TrioEventLoop, target: PostgresTarget) -> None:
        self._pool = pool
        self._loop = loop
        self.target = target
        #: Calls that had to be retried on a fresh connection (the server restarted or dropped us).
        self.reconnects = 0
        #: Set by ``welcomebot run``: a call that cannot reach the server waits for it instead of failing.
        self.outage: Outage | None = None

    @classmethod
    async def open(cls, url: str, loop: trio_asyncio.TrioEventLoop) -> PostgresStore:
        """Connect, migrate, and return the store. ``loop`` is the trio-asyncio loop every call runs on."""
        target = parse_postgres_url(url)

        async def create() -> asyncpg.Pool[Any]:
            pool = await asyncpg.create_pool(
                target.dsn, min_size=1, max_size=_POOL_MAX, timeout=_CONNECT_TIMEOUT_S,
                command_timeout=_COMMAND_TIMEOUT_S, server_settings=target.server_settings(), reset=_keep_session,
            )  # fmt: skip
            try:
                async with pool.acquire() as conn:
                    await apply_postgres_migrations(conn, target.schema)
            except BaseException:
                await pool.close()
                raise
            return pool

        return cls(await _connecting(target, loop, create), loop, target)

    async def close(self) -> None:
        await trio_asyncio.aio_as_trio(self._pool.close, loop=self._loop)()

    # --- running a call: one asyncio coroutine, retried once on a fresh connection --------------------

    async def _run(self, fn: Query[T]) -> T:
        if self.outage is not None:
            return await self.outage.retrying(partial(self._run_once, fn))
        return await self._run_once(fn)

    async def _run_once(self, fn: Query[T]) -> T:
        result: T = await trio_asyncio.aio_as_trio(self._attempt_twice, loop=self._loop)(fn)
        return result

    async def _attempt_twice(self, fn: Query[T]) -> T:
        try:
            return await self._attempt(fn, reconnect_window=0.0)
        except _ConnectionLost:
            self.reconnects += 1
            await self._pool.expire_connections()  # every pooled connection may be dead: use new ones
        try:
            return await self._attempt(fn, reconnect_window=_RECONNECT_WINDOW_S)
        except _ConnectionLost as lost:
            raise StoreUnavailable(_unreachable(self.target, lost.__cause__)) from lost.__cause__

    async def _attempt(self, fn: Query[T], reconnect_window: float) -> T:
        conn = await self._acquire(reconnect_window)
        try:
            return await fn(conn)
        except (*_CONNECTION_ERRORS, asyncpg.InterfaceError, asyncpg.InternalClientError) as exc:
            # A connection the server dropped while it sat in the pool can fail as "closed", or (when the drop
            # was still being read) as an InternalClientError about its protocol state: either way it is gone.
            if isinstance(exc, (*_CONNECTION_ERRORS, asyncpg.InternalClientError)) or _is_gone(conn):
                if not _is_gone(conn):
                    conn.terminate()
                raise _ConnectionLost from exc
            raise StoreError(f"PostgreSQL at {self.target.where}: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"PostgreSQL at {self.target.where} refused a statement: {exc}") from exc
        finally:
            await self._pool.release(conn)

    async def _acquire(self, reconnect_window: float) -> Conn:
        """A pooled connection; while the server refuses (restarting), try again for ``reconnect_window`` s."""
        loop = asyncio.get_running_loop()  # trio-asyncio's: its time is trio's clock
        deadline = loop.time() + reconnect_window
        backoff = ExponentialBackoff(base=0.1, cap=2.0)
        while True:
            try:
                return await self._pool.acquire()
            except _CONNECTION_ERRORS as exc:
                delay = next(backoff)
                if loop.time() + delay > deadline:
                    raise _ConnectionLost from exc
                await asyncio.sleep(delay)

    # --- guild config -------------------------------------------------------------------------------

    async def get_guild_config(self, guild_id: int) -> GuildConfig | None:
        row = await self._run(
            lambda c: c.fetchrow(
                "SELECT guild_id, welcome_channel_id, background_ref, message_template, enabled, options,"
                " channel_problem, updated_at FROM guild_config WHERE guild_id = $1",
                guild_id,
            )
        )
        if row is None:
            return None
        return GuildConfig(
            guild_id=row[0], welcome_channel_id=row[1], background_ref=row[2], message_template=row[3],
            enabled=row[4], options=msgspec.json.decode(row[5]), channel_problem=row[6], updated_at=row[7],
        )  # fmt: skip

    async def list_guild_configs(self) -> list[GuildConfig]:
        rows = await self._run(
            lambda c: c.fetch(
                "SELECT guild_id, welcome_channel_id, background_ref, message_template, enabled, options,"
                " channel_problem, updated_at FROM guild_config ORDER BY guild_id"
            )
        )
        return [
            GuildConfig(
                guild_id=r[0],
                welcome_channel_id=r[1],
                background_ref=r[2],
                message_template=r[3],
                enabled=r[4],
                options=msgspec.json.decode(r[5]),
                channel_problem=r[6],
                updated_at=r[7],
            )
            for r in rows
        ]

    async def put_guild_config(self, config: GuildConfig) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT INTO guild_config (guild_id, welcome_channel_id, background_ref, message_template, enabled,"
                " options, channel_problem, updated_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)"
                " ON CONFLICT (guild_id) DO UPDATE SET welcome_channel_id = excluded.welcome_channel_id,"
                " background_ref = excluded.background_ref, message_template = excluded.message_template,"
                " enabled = excluded.enabled, options = excluded.options,"
                " channel_problem = excluded.channel_problem, updated_at = excluded.updated_at",
                config.guild_id,
                config.welcome_channel_id,
                config.background_ref,
                config.message_template,
                config.enabled,
                msgspec.json.encode(config.options).decode(),
                config.channel_problem,
                config.updated_at,
            )
        )

    async def delete_guild_config(self, guild_id: int) -> None:
        await self._run(lambda c: c.execute("DELETE FROM guild_config WHERE guild_id = $1", guild_id))

    async def set_channel_problem(self, guild_id: int, problem: str | None, *, version: float) -> bool:
        done = await self._run(
            lambda c: c.execute(
                "UPDATE guild_config SET channel_problem = $1 WHERE guild_id = $2 AND updated_at = $3",
                problem,
                guild_id,
                version,
            )
        )
        return _count(done) > 0

    # --- welcome log --------------------------------------------------------------------------------

    async def claim_welcome(self, key: WelcomeKey, owner: str, now: float, lease_s: float) -> ClaimResult:
        """One statement decides. If the connection drops after the server committed our claim but before we
        heard so, the retry finds a claim by ``owner`` stamped with this very ``now``: that is ours."""
        attempt = 0

        async def q(c: Conn) -> ClaimResult:
            nonlocal attempt
            attempt += 1
            row = await c.fetchrow(_CLAIM, key.guild_id, key.user_id, key.joined_at, owner, now + lease_s, now)
            assert row is not None
            won, status, mine = row
            if won is not None:
                return ClaimResult.CLAIMED if won else ClaimResult.TAKEN_OVER
            if attempt > 1 and mine:
                return ClaimResult.CLAIMED
            # A row our snapshot cannot see yet was committed by a concurrent claim: held, like any live claim.
            return ClaimResult.DONE if status in ("posted", "failed") else ClaimResult.HELD

        return await self._run(q)

    async def renew_claims(self, owner: str, now: float, lease_s: float) -> int:
        done = await self._run(
            lambda c: c.execute(
                "UPDATE welcome_log SET lease_until = $1 WHERE status = 'claimed' AND owner = $2", now + lease_s, owner
            )
        )
        return _count(done)

    async def _finish(self, statement: str, keys: list[WelcomeKey], *values: Any) -> None:
        columns = ([k.guild_id for k in keys], [k.user_id for k in keys], [k.joined_at for k in keys])
        await self._run(lambda c: c.execute(statement, *columns, *values))

    async def mark_posted(self, keys: list[WelcomeKey], message_id: int, latency_ms: float | None, now: float) -> None:
        await self._finish(_MARK_POSTED, keys, message_id, latency_ms, now)

    async def mark_failed(self, keys: list[WelcomeKey], reason: str, now: float) -> None:
        await self._finish(_MARK_FAILED, keys, reason[:500], now)

    async def assign_nonce(self, keys: list[WelcomeKey], nonce: str) -> None:
        await self._finish(_ASSIGN_NONCE, keys, nonce)

    async def take_unfinished(
        self, owner: str, now: float, lease_s: float, *, dead: Sequence[str] = (), own: bool = True
    ) -> list[tuple[WelcomeKey, str | None]]:
        """Oldest first, each with the nonce of the message it was being posted in (if it got that far)."""
        owners = [*dead, owner] if own else list(dead)
        rows = await self._run(
            lambda c: c.fetch(
                "UPDATE welcome_log SET owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3"
                " WHERE status = 'claimed' AND (owner = ANY($4::text[]) OR lease_until < $3)"
                " RETURNING guild_id, user_id, joined_at, nonce, created_at",
                owner,
                now + lease_s,
                now,
                owners,
            )
        )
        rows.sort(key=lambda r: (r[4], r[2]))
        return [(WelcomeKey(r[0], r[1], r[2]), r[3]) for r in rows]

    async def retry_or_quarantine(
        self, keys: list[WelcomeKey], error: str, now: float, *, max_attempts: int = MAX_ATTEMPTS
    ) -> list[tuple[WelcomeKey, str]]:
        columns = ([k.guild_id for k in keys], [k.user_id for k in keys], [k.joined_at for k in keys])
        rows = await self._run(lambda c: c.fetch(_RETRY_OR_QUARANTINE, *columns, error[:500], now, max_attempts))
        return [(WelcomeKey(r[0], r[1], r[2]), quarantine_reason(r[3], error)) for r in rows if r[4]]

    async def quarantine_unfinished(
        self, owner: str, now: float, *, dead: Sequence[str] = (), own: bool = True, max_attempts: int = MAX_ATTEMPTS
    ) -> list[tuple[WelcomeKey, str]]:
        owners = [*dead, owner] if own else list(dead)
        rows = await self._run(
            lambda c: c.fetch(
                "UPDATE welcome_log SET status = 'failed', updated_at = $1, reason = left($4 || ' after '"
                " || attempts || ' attempts: ' || COALESCE(last_error, $5), 500)"
                " WHERE status = 'claimed' AND attempts >= $3 AND (owner = ANY($2::text[]) OR lease_until < $1)"
                " RETURNING guild_id, user_id, joined_at, reason, created_at",
                now,
                owners,
                max_attempts,
                QUARANTINED,
                STOPPED_WHILE_TRYING,
            )
        )
        rows.sort(key=lambda r: (r[4], r[2]))
        return [(WelcomeKey(r[0], r[1], r[2]), str(r[3])) for r in rows]

    async def quarantined(self, guild_id: int) -> tuple[int, str | None]:
        rows = await self._run(
            lambda c: c.fetch(
                "SELECT reason FROM welcome_log WHERE guild_id = $1 AND status = 'failed' AND reason LIKE $2"
                " ORDER BY updated_at DESC",
                guild_id,
                QUARANTINED + " %",
            )
        )
        return len(rows), (str(rows[0][0]) if rows else None)

    async def welcome_status(self, key: WelcomeKey) -> str | None:
        status = await self._run(
            lambda c: c.fetchval(
                "SELECT status FROM welcome_log WHERE guild_id = $1 AND user_id = $2 AND joined_at = $3",
                key.guild_id,
                key.user_id,
                key.joined_at,
            )
        )
        return None if status is None else str(status)

    async def schedule_delete(self, keys: list[WelcomeKey], channel_id: int, delete_at: float) -> None:
        await self._finish(_SCHEDULE_DELETE, keys, channel_id, delete_at)

    async def due_deletes(self, now: float, limit: int) -> list[tuple[int, int]]:
        rows = await self._run(
            lambda c: c.fetch(
                "SELECT channel_id, message_id FROM welcome_log WHERE delete_at <= $1 AND status = 'posted'"
                " AND message_id IS NOT NULL GROUP BY channel_id, message_id ORDER BY MIN(delete_at) LIMIT $2",
                now,
                limit,
            )
        )
        return [(int(r["channel_id"]), int(r["message_id"])) for r in rows]

    async def next_delete_at(self) -> float | None:
        found = await self._run(
            lambda c: c.fetchval("SELECT MIN(delete_at) FROM welcome_log WHERE delete_at IS NOT NULL")
        )
        return None if found is None else float(found)

    async def mark_late(self, keys: list[WelcomeKey]) -> None:
        await self._finish(_MARK_LATE, keys, LATE)

    async def deletes_done(self, message_ids: list[int]) -> None:
        await self._run(
            lambda c: c.execute(
                "UPDATE welcome_log SET delete_at = NULL WHERE message_id = ANY($1::bigint[])", message_ids
            )
        )

    async def last_welcome(self, guild_id: int, user_id: int) -> tuple[str, str, int | None, bool] | None:
        row = await self._run(
            lambda c: c.fetchrow(
                "SELECT joined_at, status, message_id, (SELECT COUNT(*) FROM welcome_log o"
                " WHERE o.guild_id = w.guild_id AND o.message_id = w.message_id) AS sharing FROM welcome_log w"
                " WHERE guild_id = $1 AND user_id = $2 AND joined_at NOT LIKE 'goodbye:%'"
                " ORDER BY joined_at DESC LIMIT 1",
                guild_id,
                user_id,
            )
        )
        if row is None:
            return None
        return str(row["joined_at"]), str(row["status"]), row["message_id"], row["sharing"] <= 1

    async def prune_welcome_log(
        self, older_than: float, *, guild_cutoffs: Mapping[int, float] | None = None, limit: int | None = None
    ) -> int:
        cutoffs = dict(guild_cutoffs or {})
        done = await self._run(
            lambda c: c.execute(
                "DELETE FROM welcome_log WHERE ctid = ANY(ARRAY(SELECT w.ctid FROM welcome_log w"
                " LEFT JOIN unnest($1::bigint[], $2::float8[]) AS k(g, t) ON k.g = w.guild_id"
                " WHERE w.status <> 'claimed' AND w.delete_at IS NULL AND w.created_at < COALESCE(k.t, $3)"
                " LIMIT $4))",
                list(cutoffs),
                list(cutoffs.values()),
                older_than,
                limit,
            )
        )
        return _count(done)

    async def recent_posts(self, channel_id: int, since: float) -> list[float]:
        rows = await self._run(
            lambda c: c.fetch(
                "SELECT MIN(w.updated_at) AS at FROM welcome_log w JOIN guild_config g ON g.guild_id = w.guild_id"
                " WHERE g.welcome_channel_id = $1 AND w.updated_at >= $2"
                " AND (w.status = 'posted' OR (w.status = 'claimed' AND w.nonce IS NOT NULL))"
                " GROUP BY COALESCE(w.nonce, w.message_id::text) ORDER BY at",
                channel_id,
                since,
            )
        )
        return [float(r[0]) for r in rows]

    # --- gateway sessions (welcomebot.gateway.session.SessionStore) ---------------------------------

    async def load(self, shard_id: int) -> SavedSession | None:
        row = await self._run(
            lambda c: c.fetchrow(
                "SELECT session_id, seq, resume_url, shard_count FROM gateway_session WHERE shard_id = $1", shard_id
            )
        )
        return None if row is None else SavedSession(row[0], row[1], row[2], row[3])

    async def save(self, shard_id: int, session: SavedSession) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT INTO gateway_session (shard_id, session_id, seq, resume_url, updated_at, shard_count)"
                " VALUES ($1, $2, $3, $4, extract(epoch FROM clock_timestamp()), $5) ON CONFLICT (shard_id) DO UPDATE"
                " SET session_id = excluded.session_id, seq = excluded.seq, resume_url = excluded.resume_url,"
                " updated_at = excluded.updated_at, shard_count = excluded.shard_count",
                shard_id,
                session.session_id,
                session.seq,
                session.resume_url,
                session.shard_count,
            )
        )

    async def clear(self, shard_id: int) -> None:
        await self._run(lambda c: c.execute("DELETE FROM gateway_session WHERE shard_id = $1", shard_id))

    # --- shard leases -------------------------------------------------------------------------------

    async def acquire_shard(self, shard_id: int, shard_count: int, owner: str, now: float, ttl: float) -> ShardLease:
        async def q(c: Conn) -> ShardLease:
            async with c.transaction():
                await c.execute(
                    "INSERT INTO shard_lease (shard_id, shard_count, owner, token, lease_until)"
                    " VALUES ($1, $2, '', 0, 0) ON CONFLICT DO NOTHING",
                    shard_id,
                    shard_count,
                )
                row = await c.fetchrow(
                    "SELECT owner, token, lease_until FROM shard_lease WHERE shard_id = $1 FOR UPDATE", shard_id
                )
                assert row is not None
                held_by, token, until = row["owner"], int(row["token"]), float(row["lease_until"])
                if held_by not in (owner, "") and until >= now:
                    return ShardLease(held_by, token, until)
                token = token if held_by == owner else token + 1
                await c.execute(
                    "UPDATE shard_lease SET shard_count = $1, owner = $2, token = $3, lease_until = $4"
                    " WHERE shard_id = $5",
                    shard_count,
                    owner,
                    token,
                    now + ttl,
                    shard_id,
                )
                return ShardLease(owner, token, now + ttl, None if held_by in (owner, "") else held_by)

        return await self._run(q)

    async def renew_shard(self, shard_id: int, owner: str, token: int, now: float, ttl: float) -> bool:
        done = await self._run(
            lambda c: c.execute(
                "UPDATE shard_lease SET lease_until = $1 WHERE shard_id = $2 AND owner = $3 AND token = $4",
                now + ttl,
                shard_id,
                owner,
                token,
            )
        )
        return _count(done) > 0

    async def release_shard(self, shard_id: int, owner: str, token: int) -> None:
        await self._run(
            lambda c: c.execute(
                "UPDATE shard_lease SET lease_until = 0 WHERE shard_id = $1 AND owner = $2 AND token = $3",
                shard_id,
                owner,
                token,
            )
        )

    async def reserve_identify(self, key: int, now: float, spacing: float) -> float:
        async def q(c: Conn) -> float:
            async with c.transaction():
                name = identify_meta_key(key)
                await c.execute("INSERT INTO meta (key, value) VALUES ($1, '0') ON CONFLICT DO NOTHING", name)
                last = float(await c.fetchval("SELECT value FROM meta WHERE key = $1 FOR UPDATE", name))
                at = max(now, last + spacing)
                await c.execute("UPDATE meta SET value = $1 WHERE key = $2", repr(at), name)
                return at

        return await self._run(q)

    async def survey_shards(self, owner: str, now: float, ttl: float) -> ShardSurvey:
        async def q(c: Conn) -> ShardSurvey:
            async with c.transaction():
                await c.execute("DELETE FROM shard_lease WHERE shard_id < 0 AND lease_until < $1", now)
                await c.execute(
                    "INSERT INTO shard_lease (shard_id, shard_count, owner, token, lease_until)"
                    " VALUES ($1, 0, $2, 0, $3) ON CONFLICT (shard_id) DO UPDATE"
                    " SET owner = excluded.owner, lease_until = excluded.lease_until",
                    presence_id(owner),
                    owner,
                    now + ttl,
                )
                rows = await c.fetch("SELECT shard_id, owner FROM shard_lease WHERE lease_until >= $1", now)
            return survey_of([(int(r["shard_id"]), str(r["owner"])) for r in rows])

        return await self._run(q)

    # --- guild snapshots (what the gateway told us about each guild) --------------------------------

    async def put_guild_snapshot(self, snapshot: GuildSnapshot) -> None:
        values = row_values("guild_snapshot", msgspec.structs.asdict(snapshot))
        await self._run(lambda c: c.execute(_PUT_SNAPSHOT, *values))

    async def guild_snapshots(self) -> list[GuildSnapshot]:
        rows = await self._run(lambda c: _read_table(c, "guild_snapshot"))
        return [msgspec.convert(row, GuildSnapshot) for row in rows]

    # --- meta ---------------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        value = await self._run(lambda c: c.fetchval("SELECT value FROM meta WHERE key = $1", key))
        return None if value is None else str(value)

    async def set_meta(self, key: str, value: str) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                key,
                value,
            )
        )

    async def delete_meta(self, key: str) -> None:
        await self._run(lambda c: c.execute("DELETE FROM meta WHERE key = $1", key))

    async def list_meta(self, prefix: str) -> dict[str, str]:
        sql = "SELECT key, value FROM meta WHERE left(key, $1) = $2"
        return {str(r[0]): str(r[1]) for r in await self._run(lambda c: c.fetch(sql, len(prefix), prefix))}

    # --- assets -------------------------------------------------------------------------------------

    async def put_asset(self, record: AssetRecord) -> bool:
        values = row_values("background_asset", msgspec.structs.asdict(record))
        done = await self._run(lambda c: c.execute(_PUT_ASSET, *values))
        return _count(done) > 0

    async def get_asset(self, content_hash: str) -> AssetRecord | None:
        rows = await self._assets("WHERE content_hash = $1", content_hash)
        return rows[0] if rows else None

    async def list_assets(self) -> list[AssetRecord]:
        return await self._assets("ORDER BY created_at, content_hash")

    async def _assets(self, where: str, *args: Any) -> list[AssetRecord]:
        rows = await self._run(lambda c: c.fetch(f"{_SELECT_ASSETS} {where}", *args))
        return [AssetRecord(**dict(r)) for r in rows]

    async def delete_asset(self, content_hash: str) -> None:
        await self._run(lambda c: c.execute("DELETE FROM background_asset WHERE content_hash = $1", content_hash))

    async def touch_asset(self, content_hash: str, now: float) -> None:
        await self._run(
            lambda c: c.execute(
                "UPDATE background_asset SET created_at = $1 WHERE content_hash = $2", now, content_hash
            )
        )

    async def asset_usage(self, guild_id: int) -> int:
        used = await self._run(
            lambda c: c.fetchval("SELECT COALESCE(SUM(size), 0) FROM background_asset WHERE owner_guild = $1", guild_id)
        )
        return int(used)

    async def total_asset_usage(self) -> int:
        return int(await self._run(lambda c: c.fetchval("SELECT COALESCE(SUM(size), 0) FROM background_asset")))

    async def referenced_assets(self) -> set[str]:
        rows = await self._run(lambda c: c.fetch("SELECT background_ref, options FROM guild_config"))
        return asset_hashes(v for ref, options in rows for v in (ref, msgspec.json.decode(options)))

    # --- introspection and purge (welcomebot.retention.purge) -------------------------------------------

    async def table_columns(self) -> dict[str, tuple[str, ...]]:
        rows = await self._run(
            lambda c: c.fetch(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
            )
        )
        found: dict[str, list[str]] = {}
        for r in rows:
            found.setdefault(str(r[0]), []).append(str(r[1]))
        return {t: tuple(cols) for t, cols in found.items()}

    async def purge_rows(self, targets: Sequence[tuple[str, str]], value: int, *, dry_run: bool) -> dict[str, int]:
        async def q(c: Conn) -> dict[str, int]:
            found: dict[str, int] = {}
            async with c.transaction():
                for table, column in targets:
                    where = f'FROM "{table}" WHERE "{column}" = $1'
                    if dry_run:
                        n = int(await c.fetchval(f"SELECT COUNT(*) {where}", value))
                    else:
                        n = _count(await c.execute(f"DELETE {where}", value))
                    found[table] = found.get(table, 0) + n
            return found

        return await self._run(q)

    # --- logical dump -------------------------------------------------------------------------------

    async def export_rows(self) -> dict[str, list[dict[str, Any]]]:
        async def q(c: Conn) -> dict[str, list[dict[str, Any]]]:
            # One snapshot for every table, so they agree with each other.
            async with c.transaction(isolation="repeatable_read", readonly=True):
                return {table: await _read_table(c, table) for table in DUMP_TABLES}

        raw = await self._run(q)
        return await trio.to_thread.run_sync(normalize_dump, raw)

    async def import_rows(self, dump: Mapping[str, list[dict[str, Any]]]) -> None:
        checked = validate_dump(dump)

        async def q(c: Conn) -> None:
            async with c.transaction():
                # No writer may slip in between the emptiness check and the restore.
                await c.execute(f"LOCK TABLE {', '.join(DUMP_TABLES)} IN EXCLUSIVE MODE")
                counts = await _counts(c)
                if any(counts.values()):
                    raise StoreNotEmpty(counts)
                for table, rows in checked.items():  # COPY: a 200k-row welcome log loads in seconds
                    records = [stored_values(table, row) for row in rows]
                    await c.copy_records_to_table(table, records=records, columns=columns(table))

        await self._run(q)

    async def is_empty(self) -> bool:
        return not any((await self._run(_counts)).values())


async def _read_table(c: Conn, table: str) -> list[dict[str, Any]]:
    rows = [dict(r) for r in await c.fetch(f"SELECT {', '.join(columns(table))} FROM {table}")]  # noqa: S608
    return decode_stored(table, rows)


async def _counts(c: Conn) -> dict[str, int]:
    counts = await c.fetchrow("SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {t})" for t in DUMP_TABLES))  # noqa: S608
    assert counts is not None
    return {table: int(n) for table, n in zip(DUMP_TABLES, counts, strict=True)}


@asynccontextmanager
async def open_loop() -> AsyncIterator[trio_asyncio.TrioEventLoop]:
    """``trio_asyncio.open_loop()``, raising what its body raised rather than a group around it: the loop's
    nursery is ours, not the caller's business."""
    try:
        async with trio_asyncio.open_loop() as loop:
            yield loop
    except BaseExceptionGroup as group:
        error = _only_error(group)
        raise error from error.__cause__


def _only_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop()
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        else:
            leaves.append(exc)
    return leaves[0] if len(leaves) == 1 else group


async def read_schema_version(url: str, loop: trio_asyncio.TrioEventLoop) -> int:
    """The schema version of the database ``url`` names, without migrating it (0: never migrated)."""
    target = parse_postgres_url(url)

    async def read() -> int:
        conn = await asyncpg.connect(target.dsn, timeout=_CONNECT_TIMEOUT_S, server_settings=target.server_settings())
        try:
            return await postgres_schema_version(conn)
        finally:
            await conn.close()

    return await _connecting(target, loop, read)


async def _connecting(target: PostgresTarget, loop: trio_asyncio.TrioEventLoop, fn: Callable[[], Awaitable[T]]) -> T:
    try:
        result: T = await trio_asyncio.aio_as_trio(fn, loop=loop)()
        return result
    except _CONNECTION_ERRORS as exc:
        raise StoreUnavailable(_unreachable(target, exc)) from exc
    except asyncpg.InvalidAuthorizationSpecificationError as exc:
        raise StoreRefused(
            f"PostgreSQL at {target.where} refused the login: {exc}; check the user and password in "
            "WELCOMEBOT_DATABASE_URL"
        ) from exc
    except asyncpg.InvalidCatalogNameError as exc:
        raise StoreRefused(
            f"PostgreSQL at {target.where}: {exc}; create the database or fix WELCOMEBOT_DATABASE_URL"
        ) from exc


async def _keep_session(conn: asyncpg.Connection[Any]) -> None:
    """Pool reset: nothing to undo. We set no session state (no LISTEN, SET or session advisory locks), so
    asyncpg's default reset query would cost a round trip per call; an open transaction is still rolled back."""


def _is_gone(conn: Conn) -> bool:
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:  # the pool took it back already, because it closed
        return True


class _ConnectionLost(Exception):
    """Internal: the attempt failed for want of a connection (the cause says why)."""


def _unreachable(target: PostgresTarget, exc: BaseException | None) -> str:
    return (
        f"cannot reach PostgreSQL at {target.where} ({type(exc).__name__}: {exc}); check that the server is "
        "running and that WELCOMEBOT_DATABASE_URL names the right host and port"
    )


def _count(status: str) -> int:
    # asyncpg returns the command tag, e.g. "UPDATE 3".
    return int(status.rsplit(" ", 1)[-1])


# The claim: insert, or take over an expired claim; `won` is NULL when neither happened (the row is someone's).
# The sub-selects read the statement's snapshot, from before a concurrent claim we waited for committed.
_CLAIM = """
WITH claim AS (
    INSERT INTO welcome_log AS w (guild_id, user_id, joined_at, status, owner, lease_until, created_at, updated_at)
    VALUES ($1, $2, $3, 'claimed', $4, $5, $6, $6)
    ON CONFLICT (guild_id, user_id, joined_at) DO UPDATE
        SET owner = excluded.owner, lease_until = excluded.lease_until, attempts = w.attempts + 1,
            updated_at = excluded.updated_at
        WHERE w.status = 'claimed' AND w.lease_until < excluded.updated_at
    RETURNING w.attempts = 1 AS fresh
), old AS (
    SELECT status, owner = $4 AND updated_at = $6 AS mine FROM welcome_log
    WHERE guild_id = $1 AND user_id = $2 AND joined_at = $3
)
SELECT (SELECT fresh FROM claim), (SELECT status FROM old), (SELECT mine FROM old)
"""


# One failed try at claimed keys ($1-$3 arrays): at the limit ($6) the claim is quarantined, else the next try is
# counted. RETURNING gives the attempts and whether the row was quarantined (the reason: quarantine_reason).
_RETRY_OR_QUARANTINE = """
UPDATE welcome_log AS w SET
    last_error = $4, updated_at = $5,
    status = CASE WHEN w.attempts >= $6 THEN 'failed' ELSE w.status END,
    reason = CASE WHEN w.attempts >= $6 THEN left('quarantined after ' || w.attempts || ' attempts: ' || $4, 500)
             ELSE w.reason END,
    attempts = CASE WHEN w.attempts >= $6 THEN w.attempts ELSE w.attempts + 1 END
FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS k(guild_id, user_id, joined_at)
WHERE w.guild_id = k.guild_id AND w.user_id = k.user_id AND w.joined_at = k.joined_at AND w.status = 'claimed'
RETURNING w.guild_id, w.user_id, w.joined_at, w.attempts, w.status = 'failed'
"""


def _batch_update(sets: str) -> str:
    """One statement for all keys, matched against three parallel arrays ($1-$3); ``sets`` uses $4 on."""
    return (
        f"UPDATE welcome_log AS w SET {sets}"  # noqa: S608  # our constant SET clauses only
        " FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS k(guild_id, user_id, joined_at)"
        " WHERE w.guild_id = k.guild_id AND w.user_id = k.user_id AND w.joined_at = k.joined_at"
    )


_MARK_POSTED = _batch_update("status = 'posted', message_id = $4, latency_ms = $5, updated_at = $6")
_MARK_FAILED = _batch_update("status = 'failed', reason = $4, updated_at = $5")
_MARK_LATE = _batch_update("reason = $4")
_SCHEDULE_DELETE = _batch_update("channel_id = $4, delete_at = $5")
_ASSIGN_NONCE = _batch_update("nonce = $4")


_PUT_SNAPSHOT = (
    "INSERT INTO guild_snapshot (guild_id, name, icon, member_count, system_channel_id, session_id, seq, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    " ON CONFLICT (guild_id) DO UPDATE SET name = excluded.name, icon = excluded.icon,"
    " member_count = excluded.member_count, system_channel_id = excluded.system_channel_id,"
    " session_id = excluded.session_id, seq = excluded.seq, updated_at = excluded.updated_at"
)
