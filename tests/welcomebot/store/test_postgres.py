"""PostgreSQL specifics: migrations, a newer schema refused, two processes claiming, killed connections, a down
server. (The contract suite runs on PostgreSQL through the ``store`` fixture.)"""

import os
import socket
import sys
import textwrap
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
import pytest
import trio

from tests.helpers import fill_store as fill
from tests.helpers import run_welcomebot_in_thread
from welcomebot.errors import ConfigError
from welcomebot.store.api import ClaimResult, GuildConfig, WelcomeKey
from welcomebot.store.dump import DUMP_TABLES, columns
from welcomebot.store.errors import SchemaTooNew, StoreUnavailable
from welcomebot.store.migrations import known_migrations
from welcomebot.store.open import open_store, schema_status
from welcomebot.store.postgres import PostgresStore, parse_postgres_url
from welcomebot.store.testing import FlakyProxy, run_sql, with_query

K = WelcomeKey(1 << 22, 10 << 22, "2026-11-24T10:00:00.000000+00:00")


def test_both_backends_have_the_same_migrations():
    names = {backend: [name for _, name, _ in known_migrations(backend)] for backend in ("sqlite", "postgres")}
    assert names["postgres"] == names["sqlite"]
    assert [v for v, _, _ in known_migrations("postgres")] == list(range(1, len(names["sqlite"]) + 1))


def test_url_schema_is_ours_and_the_rest_goes_to_asyncpg():
    target = parse_postgres_url("postgresql://u:secret@db.example:6543/wb?schema=tenant_1&sslmode=require")
    assert target.schema == "tenant_1"
    assert target.dsn == "postgresql://u:secret@db.example:6543/wb?sslmode=require"
    assert target.where == "db.example:6543/wb"
    assert "secret" not in target.where
    with pytest.raises(ConfigError, match="not a plain name"):
        parse_postgres_url('postgresql://h/db?schema=x";drop')


@pytest.mark.postgres
async def test_migrations_apply_once_and_report_the_version(postgres_url):
    assert await schema_status(postgres_url) == (0, len(known_migrations("postgres")))
    async with trio.open_nursery() as nursery:  # two processes starting together: one migrates, one waits
        for _ in range(2):
            nursery.start_soon(_open_and_close, postgres_url)
    latest = len(known_migrations("postgres"))
    assert await schema_status(postgres_url) == (latest, latest)


async def _open_and_close(url: str) -> None:
    async with open_store(url):
        pass


@pytest.mark.postgres
async def test_newer_schema_is_refused(postgres_url):
    async with open_store(postgres_url):
        pass
    await run_sql(postgres_url, "INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')")
    with pytest.raises(SchemaTooNew, match="upgrade welcomebot"):
        async with open_store(postgres_url):
            pass


CLAIMER = textwrap.dedent("""
    import sys, trio
    from welcomebot.store.open import open_store
    from welcomebot.store.api import WelcomeKey, ClaimResult
    async def main(url, owner):
        async with open_store(url) as store:
            won = 0
            for i in range(200):
                if await store.claim_welcome(WelcomeKey(1, i, "t"), owner, 0.0, 600) is ClaimResult.CLAIMED:
                    won += 1
        print(won)
    trio.run(main, sys.argv[1], sys.argv[2])
""")


@pytest.mark.postgres
async def test_two_processes_never_both_claim(postgres_url):
    await _open_and_close(postgres_url)  # migrate first, so both processes start claiming at once
    wins: list[int] = []

    async def claimer(owner: str) -> None:
        done = await trio.run_process([sys.executable, "-c", CLAIMER, postgres_url, owner], capture_stdout=True)
        wins.append(int(done.stdout))

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            for owner in ("p0", "p1"):
                nursery.start_soon(claimer, owner)
    assert sum(wins) == 200, f"each of 200 joins claimed exactly once, got {wins}"


@pytest.mark.postgres
async def test_terminated_connections_are_replaced_by_the_next_call(postgres_url):
    app = f"wb-{uuid.uuid4().hex[:12]}"
    async with open_store(with_query(postgres_url, application_name=app)) as store:
        await store.put_guild_config(GuildConfig(guild_id=1, updated_at=1.0))
        killed = await run_sql(
            postgres_url,
            # The timeout makes pg_terminate_backend wait until each backend is gone.
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name = $1",
            app,
        )
        assert killed
        assert all(row[0] for row in killed)
        assert await store.get_guild_config(1) == GuildConfig(guild_id=1, updated_at=1.0)


@pytest.mark.postgres
async def test_a_connection_killed_during_a_call_is_retried_on_a_fresh_one(postgres_url):
    async with open_store(postgres_url) as store:
        assert isinstance(store, PostgresStore)
        pids: list[int] = []

        async def dies_first(c: Any) -> int:
            pids.append(await c.fetchval("SELECT pg_backend_pid()"))
            if len(pids) == 1:
                await c.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            return pids[-1]

        assert await store._run(dies_first) == pids[1] != pids[0]
        assert store.reconnects == 1


@pytest.mark.postgres
async def test_a_claim_committed_before_its_connection_died_is_still_ours(postgres_url, monkeypatch):
    """The server committed the claim, then the connection died before the answer came: the retry must not
    mistake our own claim for someone else's (that join would never be welcomed)."""
    async with open_store(postgres_url) as store:
        assert isinstance(store, PostgresStore)
        run = store._run
        calls = 0

        async def answer_lost_once(fn: Any) -> Any:
            async def then_die(c: Any) -> Any:
                nonlocal calls
                calls += 1
                result = await fn(c)
                if calls == 1:
                    await c.execute("SELECT pg_terminate_backend(pg_backend_pid())")
                return result

            return await run(then_die)

        monkeypatch.setattr(store, "_run", answer_lost_once)
        assert await store.claim_welcome(K, "a", 100.0, 60) is ClaimResult.CLAIMED
        assert calls == 2
        assert await store.claim_welcome(K, "a", 101.0, 60) is ClaimResult.HELD, "a later replay is still dropped"


@pytest.mark.postgres
async def test_a_connection_that_keeps_dying_is_store_unavailable(postgres_url):
    async with open_store(postgres_url) as store:
        assert isinstance(store, PostgresStore)

        async def always_dies(c: Any) -> None:
            await c.execute("SELECT pg_terminate_backend(pg_backend_pid())")

        with pytest.raises(StoreUnavailable, match="check that the server is running"):
            await store._run(always_dies)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_down_server_is_store_unavailable_with_what_to_check():
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres"
    with pytest.raises(StoreUnavailable) as info:
        async with open_store(url):
            pass
    message = str(info.value)
    assert "cannot reach PostgreSQL at 127.0.0.1:" in message
    assert "WELCOMEBOT_DATABASE_URL" in message


@pytest.mark.postgres
async def test_a_refused_login_exits_2_with_one_line(postgres_url, tmp_path):
    """A wrong password is configuration, not an outage: waiting would not help."""
    parts = urlsplit(postgres_url)
    url = urlunsplit(parts._replace(netloc=f"welcomebot_no_such_user:hunter2@{parts.hostname}:{parts.port or 5432}"))
    env = {"DISCORD_BOT_TOKEN": "dGVzdA.AAAA.not-a-real-token", "WELCOMEBOT_DATABASE_URL": url,
           "WELCOMEBOT_HTTP_ADDR": "127.0.0.1:0", "WELCOMEBOT_DATA_DIR": str(tmp_path)}  # fmt: skip
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("WELCOMEBOT_", "DISCORD_"))}
    with trio.fail_after(60):
        result = await run_welcomebot_in_thread(["run"], env=keep | env)
    stderr = result.stderr
    assert result.returncode == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "refused the login" in lines[0]
    assert "hunter2" not in stderr


@pytest.mark.postgres
async def test_row_types_name_every_column_of_the_migrated_schema(postgres_url):
    async with open_store(postgres_url):
        pass
    for table in DUMP_TABLES:
        found = await run_sql(
            postgres_url,
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = $1",
            table,
        )
        assert {r[0] for r in found} == set(columns(table)), f"{table}: sql/postgres and welcomebot/store/dump.py"


@pytest.mark.postgres
async def test_dumps_cross_between_backends_byte_for_byte(postgres_url, tmp_path):
    async with open_store(f"sqlite:///{tmp_path}/a.sqlite3") as lite, open_store(postgres_url) as pg:
        await fill(lite)
        dump = msgspec.json.encode(await lite.export_rows())
        await pg.import_rows(msgspec.json.decode(dump))
        assert msgspec.json.encode(await pg.export_rows()) == dump, "SQLite → PostgreSQL"
    async with open_store(f"sqlite:///{tmp_path}/b.sqlite3") as back, open_store(postgres_url) as pg:
        await back.import_rows(await pg.export_rows())
        assert msgspec.json.encode(await back.export_rows()) == dump, "PostgreSQL → SQLite"


@pytest.mark.postgres
async def test_a_server_restart_is_waited_out_by_the_call_that_meets_it(postgres_url):
    parts = urlsplit(postgres_url)
    proxy = FlakyProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(proxy.serve)
        url = proxy.url(postgres_url, port)
        async with open_store(url) as store:
            assert isinstance(store, PostgresStore)
            await store.put_guild_config(GuildConfig(guild_id=1, updated_at=1.0))
            proxy.go_down()

            async def restart_done() -> None:
                await proxy.refused_twice.wait()  # the retry was refused at least once: it has to wait
                proxy.come_up()

            nursery.start_soon(restart_done)
            with trio.fail_after(30):
                assert await store.claim_welcome(K, "a", 5.0, 60) is ClaimResult.CLAIMED
            assert store.reconnects == 1
            assert await store.get_guild_config(1) == GuildConfig(guild_id=1, updated_at=1.0)
        nursery.cancel_scope.cancel()
