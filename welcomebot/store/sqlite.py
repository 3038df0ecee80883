"""The embedded SQLite backend: stdlib ``sqlite3`` on a worker thread, WAL, one connection, one writer.

Durability: WAL with ``synchronous=NORMAL`` keeps every committed transaction across a killed process
(only an operating-system crash or power loss can lose the last commits); that is the guarantee the
welcome log and configs need, at a fraction of FULL's fsyncs.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import trio

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
from welcomebot.store.errors import StoreError, StoreNotEmpty, StoreUnavailable
from welcomebot.store.migrations import apply_migrations

__all__ = ["SqliteStore"]

T = TypeVar("T")


class SqliteStore:
    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self.path = path
        self._lock = trio.Lock()
        self._limiter = trio.CapacityLimiter(1)

    @classmethod
    async def open(cls, path: str | Path) -> SqliteStore:
        text = str(path)

        def connect() -> sqlite3.Connection:
            if text != ":memory:":
                Path(text).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(text, check_same_thread=False, isolation_level=None, timeout=30)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=30000")
                conn.execute("PRAGMA foreign_keys=ON")
                apply_migrations(conn, "sqlite")
            except BaseException:
                conn.close()  # a refused schema (SchemaTooNew) or an unusable file must not leak the handle
                raise
            return conn

        try:
            conn = await trio.to_thread.run_sync(connect)
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"cannot open the SQLite database at {text}: {exc}") from exc
        return cls(conn, text)

    async def close(self) -> None:
        async with self._lock:
            await trio.to_thread.run_sync(self._conn.close)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        async with self._lock:
            try:
                return await trio.to_thread.run_sync(fn, self._conn, limiter=self._limiter)
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"SQLite at {self.path} failed: {exc}") from exc
            except sqlite3.Error as exc:  # a constraint, a corrupt file: the caller degrades on StoreError
                raise StoreError(f"SQLite at {self.path} refused a statement: {exc}") from exc

    # --- guild config -------------------------------------------------------------------------------

    async def get_guild_config(self, guild_id: int) -> GuildConfig | None:
        def q(c: sqlite3.Connection) -> Any:
            return c.execute(
                "SELECT guild_id, welcome_channel_id, background_ref, message_template, enabled, options,"
                " channel_problem, updated_at FROM guild_config WHERE guild_id = ?",
                (guild_id,),
            ).fetchone()

        row = await self._run(q)
        if row is None:
            return None
        return GuildConfig(
            guild_id=row[0], welcome_channel_id=row[1], background_ref=row[2], message_template=row[3],
            enabled=bool(row[4]), options=msgspec.json.decode(row[5]), channel_problem=row[6], updated_at=row[7],
        )  # fmt: skip

    async def list_guild_configs(self) -> list[GuildConfig]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT guild_id, welcome_channel_id, background_ref, message_template, enabled, options,"
                " channel_problem, updated_at FROM guild_config ORDER BY guild_id"
            ).fetchall()
        )
        return [
            GuildConfig(
                guild_id=r[0],
                welcome_channel_id=r[1],
                background_ref=r[2],
                message_template=r[3],
                enabled=bool(r[4]),
                options=msgspec.json.decode(r[5]),
                channel_problem=r[6],
                updated_at=r[7],
            )
            for r in rows
        ]

    async def put_guild_config(self, config: GuildConfig) -> None:
        values = (
            config.guild_id, config.welcome_channel_id, config.background_ref, config.message_template,
            int(config.enabled), msgspec.json.encode(config.options).decode(), config.channel_problem,
            config.updated_at,
        )  # fmt: skip

        def q(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO guild_config (guild_id, welcome_channel_id, background_ref, message_template, enabled,"
                " options, channel_problem, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (guild_id) DO UPDATE SET welcome_channel_id = excluded.welcome_channel_id,"
                " background_ref = excluded.background_ref, message_template = excluded.message_template,"
                " enabled = excluded.enabled, options = excluded.options,"
                " channel_problem = excluded.channel_problem, updated_at = excluded.updated_at",
                values,
            )

        await self._run(q)

    async def delete_guild_config(self, guild_id: int) -> None:
        await self._run(lambda c: c.execute("DELETE FROM guild_config WHERE guild_id = ?", (guild_id,)))

    async def set_channel_problem(self, guild_id: int, problem: str | None, *, version: float) -> bool:
        return bool(
            await self._run(
                lambda c: (
                    c.execute(
                        "UPDATE guild_config SET channel_problem = ? WHERE guild_id = ? AND updated_at = ?",
                        (problem, guild_id, version),
                    ).rowcount
                )
            )
        )

    # --- welcome log --------------------------------------------------------------------------------

    async def claim_welcome(self, key: WelcomeKey, owner: str, now: float, lease_s: float) -> ClaimResult:
        k = (key.guild_id, key.user_id, key.joined_at)

        def q(c: sqlite3.Connection) -> ClaimResult:
            with _immediate(c):
                inserted = c.execute(
                    "INSERT INTO welcome_log (guild_id, user_id, joined_at, status, owner, lease_until, created_at,"
                    " updated_at) VALUES (?, ?, ?, 'claimed', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (*k, owner, now + lease_s, now, now),
                ).rowcount
                if inserted:
                    result = ClaimResult.CLAIMED
                else:
                    taken = c.execute(
                        "UPDATE welcome_log SET owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?"
                        " WHERE guild_id = ? AND user_id = ? AND joined_at = ? AND status = 'claimed'"
                        " AND lease_until < ?",
                        (owner, now + lease_s, now, *k, now),
                    ).rowcount
                    if taken:
                        result = ClaimResult.TAKEN_OVER
                    else:
                        status = c.execute(
                            "SELECT status FROM welcome_log WHERE guild_id = ? AND user_id = ? AND joined_at = ?", k
                        ).fetchone()[0]
                        result = ClaimResult.HELD if status == "claimed" else ClaimResult.DONE
            return result

        return await self._run(q)

    async def renew_claims(self, owner: str, now: float, lease_s: float) -> int:
        return await self._run(
            lambda c: (
                c.execute(
                    "UPDATE welcome_log SET lease_until = ? WHERE status = 'claimed' AND owner = ?",
                    (now + lease_s, owner),
                ).rowcount
            )
        )

    async def _finish(self, keys: list[WelcomeKey], sets: str, values: tuple[Any, ...]) -> None:
        rows = [(*values, k.guild_id, k.user_id, k.joined_at) for k in keys]

        def q(c: sqlite3.Connection) -> None:
            with _immediate(c):
                c.executemany(
                    f"UPDATE welcome_log SET {sets} WHERE guild_id = ? AND user_id = ? AND joined_at = ?",  # noqa: S608
                    rows,
                )

        await self._run(q)

    async def mark_posted(self, keys: list[WelcomeKey], message_id: int, latency_ms: float | None, now: float) -> None:
        await self._finish(keys, "status = 'posted', message_id = ?, latency_ms = ?, updated_at = ?",
                           (message_id, latency_ms, now))  # fmt: skip

    async def mark_failed(self, keys: list[WelcomeKey], reason: str, now: float) -> None:
        await self._finish(keys, "status = 'failed', reason = ?, updated_at = ?", (reason[:500], now))

    async def assign_nonce(self, keys: list[WelcomeKey], nonce: str) -> None:
        await self._finish(keys, "nonce = ?", (nonce,))

    async def take_unfinished(
        self, owner: str, now: float, lease_s: float, *, dead: Sequence[str] = (), own: bool = True
    ) -> list[tuple[WelcomeKey, str | None]]:
        """Oldest first, each with the nonce of the message it was being posted in (if it got that far)."""
        owners = [*dead, owner] if own else list(dead)
        marks = ", ".join("?" * len(owners)) or "NULL"

        def q(c: sqlite3.Connection) -> list[tuple[int, int, str, str | None]]:
            with _immediate(c):
                rows = c.execute(
                    "SELECT guild_id, user_id, joined_at, nonce FROM welcome_log WHERE status = 'claimed'"  # noqa: S608
                    f" AND (owner IN ({marks}) OR lease_until < ?) ORDER BY created_at, joined_at",
                    (*owners, now),
                ).fetchall()
                c.executemany(
                    "UPDATE welcome_log SET owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?"
                    " WHERE guild_id = ? AND user_id = ? AND joined_at = ?",
                    [(owner, now + lease_s, now, *r[:3]) for r in rows],
                )
            return rows

        return [(WelcomeKey(*r[:3]), r[3]) for r in await self._run(q)]

    async def retry_or_quarantine(
        self, keys: list[WelcomeKey], error: str, now: float, *, max_attempts: int = MAX_ATTEMPTS
    ) -> list[tuple[WelcomeKey, str]]:
        def q(c: sqlite3.Connection) -> list[tuple[WelcomeKey, str]]:
            quarantined: list[tuple[WelcomeKey, str]] = []
            with _immediate(c):
                for key in keys:
                    k = (key.guild_id, key.user_id, key.joined_at)
                    row = c.execute(
                        "SELECT attempts FROM welcome_log WHERE guild_id = ? AND user_id = ? AND joined_at = ?"
                        " AND status = 'claimed'",
                        k,
                    ).fetchone()
                    if row is None:
                        continue  # finished meanwhile (posted by a takeover, say): nothing to try
                    if row[0] >= max_attempts:
                        reason = quarantine_reason(row[0], error)
                        c.execute(
                            "UPDATE welcome_log SET status = 'failed', reason = ?, last_error = ?, updated_at = ?"
                            " WHERE guild_id = ? AND user_id = ? AND joined_at = ?",
                            (reason, error[:500], now, *k),
                        )
                        quarantined.append((key, reason))
                    else:
                        c.execute(
                            "UPDATE welcome_log SET attempts = attempts + 1, last_error = ?, updated_at = ?"
                            " WHERE guild_id = ? AND user_id = ? AND joined_at = ?",
                            (error[:500], now, *k),
                        )
            return quarantined

        return await self._run(q)

    async def quarantine_unfinished(
        self, owner: str, now: float, *, dead: Sequence[str] = (), own: bool = True, max_attempts: int = MAX_ATTEMPTS
    ) -> list[tuple[WelcomeKey, str]]:
        owners = [*dead, owner] if own else list(dead)
        marks = ", ".join("?" * len(owners)) or "NULL"

        def q(c: sqlite3.Connection) -> list[tuple[WelcomeKey, str]]:
            with _immediate(c):
                rows = c.execute(
                    "SELECT guild_id, user_id, joined_at, attempts, last_error FROM welcome_log"  # noqa: S608
                    f" WHERE status = 'claimed' AND attempts >= ? AND (owner IN ({marks}) OR lease_until < ?)"
                    " ORDER BY created_at, joined_at",
                    (max_attempts, *owners, now),
                ).fetchall()
                done = [(WelcomeKey(*r[:3]), quarantine_reason(r[3], r[4] or STOPPED_WHILE_TRYING)) for r in rows]
                c.executemany(
                    "UPDATE welcome_log SET status = 'failed', reason = ?, updated_at = ?"
                    " WHERE guild_id = ? AND user_id = ? AND joined_at = ?",
                    [(reason, now, k.guild_id, k.user_id, k.joined_at) for k, reason in done],
                )
            return done

        return await self._run(q)

    async def quarantined(self, guild_id: int) -> tuple[int, str | None]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT reason FROM welcome_log WHERE guild_id = ? AND status = 'failed' AND reason LIKE ?"
                " ORDER BY updated_at DESC",
                (guild_id, QUARANTINED + " %"),
            ).fetchall()
        )
        return len(rows), (str(rows[0][0]) if rows else None)

    async def welcome_status(self, key: WelcomeKey) -> str | None:
        row = await self._run(
            lambda c: c.execute(
                "SELECT status FROM welcome_log WHERE guild_id = ? AND user_id = ? AND joined_at = ?",
                (key.guild_id, key.user_id, key.joined_at),
            ).fetchone()
        )
        return None if row is None else str(row[0])

    async def last_welcome(self, guild_id: int, user_id: int) -> tuple[str, str, int | None, bool] | None:
        row = await self._run(
            lambda c: c.execute(
                "SELECT joined_at, status, message_id, (SELECT COUNT(*) FROM welcome_log o"
                " WHERE o.guild_id = w.guild_id"
                " AND o.message_id = w.message_id) FROM welcome_log w WHERE guild_id = ? AND user_id = ?"
                " AND joined_at NOT LIKE 'goodbye:%' ORDER BY joined_at DESC LIMIT 1",
                (guild_id, user_id),
            ).fetchone()
        )
        return None if row is None else (str(row[0]), str(row[1]), row[2], row[3] <= 1)

    async def schedule_delete(self, keys: list[WelcomeKey], channel_id: int, delete_at: float) -> None:
        await self._finish(keys, "channel_id = ?, delete_at = ?", (channel_id, delete_at))

    async def due_deletes(self, now: float, limit: int) -> list[tuple[int, int]]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT channel_id, message_id FROM welcome_log WHERE delete_at <= ? AND status = 'posted'"
                " AND message_id IS NOT NULL GROUP BY channel_id, message_id ORDER BY MIN(delete_at) LIMIT ?",
                (now, limit),
            ).fetchall()
        )
        return [(int(r[0]), int(r[1])) for r in rows]

    async def next_delete_at(self) -> float | None:
        row = await self._run(
            lambda c: c.execute("SELECT MIN(delete_at) FROM welcome_log WHERE delete_at IS NOT NULL").fetchone()
        )
        return None if row[0] is None else float(row[0])

    async def mark_late(self, keys: list[WelcomeKey]) -> None:
        await self._finish(keys, "reason = ?", (LATE,))

    async def deletes_done(self, message_ids: list[int]) -> None:
        await self._run(
            lambda c: c.executemany(
                "UPDATE welcome_log SET delete_at = NULL WHERE message_id = ?", [(m,) for m in message_ids]
            )
        )

    async def prune_welcome_log(
        self, older_than: float, *, guild_cutoffs: Mapping[int, float] | None = None, limit: int | None = None
    ) -> int:
        cutoffs = msgspec.json.encode({str(g): t for g, t in (guild_cutoffs or {}).items()}).decode()
        return await self._run(
            lambda c: (
                c.execute(
                    "DELETE FROM welcome_log WHERE rowid IN (SELECT w.rowid FROM welcome_log w"
                    " LEFT JOIN (SELECT CAST(key AS INTEGER) AS g, value AS t FROM json_each(?)) k ON k.g = w.guild_id"
                    " WHERE w.status != 'claimed' AND w.delete_at IS NULL AND w.created_at < COALESCE(k.t, ?)"
                    " LIMIT ?)",
                    (cutoffs, older_than, -1 if limit is None else limit),
                ).rowcount
            )
        )

    async def recent_posts(self, channel_id: int, since: float) -> list[float]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT MIN(w.updated_at) AS at FROM welcome_log w JOIN guild_config g ON g.guild_id = w.guild_id"
                " WHERE g.welcome_channel_id = ? AND w.updated_at >= ?"
                " AND (w.status = 'posted' OR (w.status = 'claimed' AND w.nonce IS NOT NULL))"
                " GROUP BY COALESCE(w.nonce, CAST(w.message_id AS TEXT)) ORDER BY at",
                (channel_id, since),
            ).fetchall()
        )
        return [float(r[0]) for r in rows]

    # --- shard leases -------------------------------------------------------------------------------

    async def acquire_shard(self, shard_id: int, shard_count: int, owner: str, now: float, ttl: float) -> ShardLease:
        def q(c: sqlite3.Connection) -> ShardLease:
            with _immediate(c):
                row = c.execute(
                    "SELECT owner, token, lease_until FROM shard_lease WHERE shard_id = ?", (shard_id,)
                ).fetchone()
                if row is None:
                    c.execute(
                        "INSERT INTO shard_lease (shard_id, shard_count, owner, token, lease_until)"
                        " VALUES (?, ?, ?, 1, ?)",
                        (shard_id, shard_count, owner, now + ttl),
                    )
                    return ShardLease(owner, 1, now + ttl)
                held_by, token, until = row
                if held_by != owner and until >= now:
                    return ShardLease(held_by, token, until)
                token = token if held_by == owner else token + 1
                c.execute(
                    "UPDATE shard_lease SET shard_count = ?, owner = ?, token = ?, lease_until = ? WHERE shard_id = ?",
                    (shard_count, owner, token, now + ttl, shard_id),
                )
                return ShardLease(owner, token, now + ttl, None if held_by == owner else held_by)

        return await self._run(q)

    async def renew_shard(self, shard_id: int, owner: str, token: int, now: float, ttl: float) -> bool:
        return bool(
            await self._run(
                lambda c: (
                    c.execute(
                        "UPDATE shard_lease SET lease_until = ? WHERE shard_id = ? AND owner = ? AND token = ?",
                        (now + ttl, shard_id, owner, token),
                    ).rowcount
                )
            )
        )

    async def release_shard(self, shard_id: int, owner: str, token: int) -> None:
        await self._run(
            lambda c: c.execute(
                "UPDATE shard_lease SET lease_until = 0 WHERE shard_id = ? AND owner = ? AND token = ?",
                (shard_id, owner, token),
            )
        )

    async def reserve_identify(self, key: int, now: float, spacing: float) -> float:
        def q(c: sqlite3.Connection) -> float:
            name = identify_meta_key(key)
            with _immediate(c):
                row = c.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
                at = max(now, (float(row[0]) if row is not None else -math.inf) + spacing)
                c.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (name, repr(at)),
                )
                return at

        return await self._run(q)

    async def survey_shards(self, owner: str, now: float, ttl: float) -> ShardSurvey:
        def q(c: sqlite3.Connection) -> ShardSurvey:
            with _immediate(c):
                c.execute("DELETE FROM shard_lease WHERE shard_id < 0 AND lease_until < ?", (now,))
                c.execute(
                    "INSERT INTO shard_lease (shard_id, shard_count, owner, token, lease_until) VALUES (?, 0, ?, 0, ?)"
                    " ON CONFLICT (shard_id) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until",
                    (presence_id(owner), owner, now + ttl),
                )
                rows = c.execute("SELECT shard_id, owner FROM shard_lease WHERE lease_until >= ?", (now,)).fetchall()
            return survey_of([(int(r[0]), str(r[1])) for r in rows])

        return await self._run(q)

    # --- gateway sessions (welcomebot.gateway.session.SessionStore) ---------------------------------

    async def load(self, shard_id: int) -> SavedSession | None:
        row = await self._run(
            lambda c: c.execute(
                "SELECT session_id, seq, resume_url, shard_count FROM gateway_session WHERE shard_id = ?",
                (shard_id,),
            ).fetchone()
        )
        return None if row is None else SavedSession(row[0], row[1], row[2], row[3])

    async def save(self, shard_id: int, session: SavedSession) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT INTO gateway_session (shard_id, session_id, seq, resume_url, updated_at, shard_count)"
                " VALUES (?, ?, ?, ?, strftime('%s','now'), ?) ON CONFLICT (shard_id) DO UPDATE SET"
                " session_id = excluded.session_id, seq = excluded.seq, resume_url = excluded.resume_url,"
                " updated_at = excluded.updated_at, shard_count = excluded.shard_count",
                (shard_id, session.session_id, session.seq, session.resume_url, session.shard_count),
            )
        )

    async def clear(self, shard_id: int) -> None:
        await self._run(lambda c: c.execute("DELETE FROM gateway_session WHERE shard_id = ?", (shard_id,)))

    # --- guild snapshots (what the gateway told us about each guild) --------------------------------

    async def put_guild_snapshot(self, snapshot: GuildSnapshot) -> None:
        values = row_values("guild_snapshot", msgspec.structs.asdict(snapshot))
        await self._run(lambda c: c.execute(_PUT_SNAPSHOT, values))

    async def guild_snapshots(self) -> list[GuildSnapshot]:
        rows = await self._run(lambda c: _read_table(c, "guild_snapshot"))
        return [msgspec.convert(row, GuildSnapshot) for row in rows]

    # --- meta ---------------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        row = await self._run(lambda c: c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone())
        return None if row is None else str(row[0])

    async def set_meta(self, key: str, value: str) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        )

    async def delete_meta(self, key: str) -> None:
        await self._run(lambda c: c.execute("DELETE FROM meta WHERE key = ?", (key,)))

    async def list_meta(self, prefix: str) -> dict[str, str]:
        sql = "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?"
        return {str(k): str(v) for k, v in await self._run(lambda c: c.execute(sql, (len(prefix), prefix)).fetchall())}

    # --- assets -------------------------------------------------------------------------------------

    async def put_asset(self, record: AssetRecord) -> bool:
        values = row_values("background_asset", msgspec.structs.asdict(record))
        return bool(
            await self._run(
                lambda c: (
                    c.execute(
                        f"INSERT INTO background_asset ({', '.join(columns('background_asset'))})"  # noqa: S608
                        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        values,
                    ).rowcount
                )
            )
        )

    async def get_asset(self, content_hash: str) -> AssetRecord | None:
        rows = await self._assets("WHERE content_hash = ?", (content_hash,))
        return rows[0] if rows else None

    async def list_assets(self) -> list[AssetRecord]:
        return await self._assets("ORDER BY created_at, content_hash", ())

    async def _assets(self, where: str, params: tuple[Any, ...]) -> list[AssetRecord]:
        cols = columns("background_asset")
        rows = await self._run(
            lambda c: c.execute(f"SELECT {', '.join(cols)} FROM background_asset {where}", params).fetchall()  # noqa: S608
        )
        return [AssetRecord(**dict(zip(cols, r, strict=True))) for r in rows]

    async def delete_asset(self, content_hash: str) -> None:
        await self._run(lambda c: c.execute("DELETE FROM background_asset WHERE content_hash = ?", (content_hash,)))

    async def touch_asset(self, content_hash: str, now: float) -> None:
        await self._run(
            lambda c: c.execute(
                "UPDATE background_asset SET created_at = ? WHERE content_hash = ?", (now, content_hash)
            )
        )

    async def asset_usage(self, guild_id: int) -> int:
        row = await self._run(
            lambda c: c.execute(
                "SELECT COALESCE(SUM(size), 0) FROM background_asset WHERE owner_guild = ?", (guild_id,)
            ).fetchone()
        )
        return int(row[0])

    async def total_asset_usage(self) -> int:
        row = await self._run(lambda c: c.execute("SELECT COALESCE(SUM(size), 0) FROM background_asset").fetchone())
        return int(row[0])

    async def referenced_assets(self) -> set[str]:
        rows = await self._run(lambda c: c.execute("SELECT background_ref, options FROM guild_config").fetchall())
        return asset_hashes(v for ref, options in rows for v in (ref, msgspec.json.decode(options)))

    # --- introspection and purge (welcomebot.retention.purge) -------------------------------------------

    async def table_columns(self) -> dict[str, tuple[str, ...]]:
        def q(c: sqlite3.Connection) -> dict[str, tuple[str, ...]]:
            tables = [r[0] for r in c.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )]  # fmt: skip
            return {t: tuple(r[1] for r in c.execute("SELECT * FROM pragma_table_info(?)", (t,))) for t in tables}

        return await self._run(q)

    async def purge_rows(self, targets: Sequence[tuple[str, str]], value: int, *, dry_run: bool) -> dict[str, int]:
        def q(c: sqlite3.Connection) -> dict[str, int]:
            found: dict[str, int] = {}
            with _immediate(c):
                for table, column in targets:
                    where = f'FROM "{table}" WHERE "{column}" = ?'
                    if dry_run:
                        n = int(c.execute(f"SELECT COUNT(*) {where}", (value,)).fetchone()[0])
                    else:
                        n = c.execute(f"DELETE {where}", (value,)).rowcount
                    found[table] = found.get(table, 0) + n
            return found

        return await self._run(q)

    # --- logical dump -------------------------------------------------------------------------------

    async def export_rows(self) -> dict[str, list[dict[str, Any]]]:
        def q(c: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
            # One read transaction: WAL gives it a snapshot, so the tables agree with each other.
            c.execute("BEGIN")
            try:
                return {table: _read_table(c, table) for table in DUMP_TABLES}
            finally:
                c.execute("COMMIT")

        raw = await self._run(q)
        return await trio.to_thread.run_sync(normalize_dump, raw)

    async def import_rows(self, dump: Mapping[str, list[dict[str, Any]]]) -> None:
        checked = validate_dump(dump)

        def q(c: sqlite3.Connection) -> None:
            with _immediate(c):
                counts = _counts(c)
                if any(counts.values()):
                    raise StoreNotEmpty(counts)
                for table, rows in checked.items():
                    cols = columns(table)
                    c.executemany(
                        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",  # noqa: S608
                        [stored_values(table, row) for row in rows],
                    )

        await self._run(q)

    async def is_empty(self) -> bool:
        return not any((await self._run(_counts)).values())


@contextmanager
def _immediate(c: sqlite3.Connection) -> Iterator[None]:
    """A write transaction, rolled back if its body fails: one left open would swallow every later autocommit
    write of this connection (never committed) and refuse every later BEGIN."""
    c.execute("BEGIN IMMEDIATE")
    try:
        yield
        c.execute("COMMIT")
    except BaseException:
        if c.in_transaction:  # SQLite rolls back by itself after some errors (disk full, I/O)
            c.execute("ROLLBACK")
        raise


def _read_table(c: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    cols = columns(table)
    rows = [dict(zip(cols, r, strict=True)) for r in c.execute(f"SELECT {', '.join(cols)} FROM {table}")]  # noqa: S608
    return decode_stored(table, rows)


def _counts(c: sqlite3.Connection) -> dict[str, int]:
    return {t: int(c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in DUMP_TABLES}  # noqa: S608


_PUT_SNAPSHOT = (
    "INSERT INTO guild_snapshot (guild_id, name, icon, member_count, system_channel_id, session_id, seq, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id) DO UPDATE SET name = excluded.name, icon = excluded.icon,"
    " member_count = excluded.member_count, system_channel_id = excluded.system_channel_id,"
    " session_id = excluded.session_id, seq = excluded.seq, updated_at = excluded.updated_at"
)
