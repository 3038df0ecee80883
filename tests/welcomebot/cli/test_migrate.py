"""`welcomebot migrate` as an operator meets it: a real subprocess, exit codes, one line of output. A schema
newer than the code is refused by `migrate` and by `welcomebot run` alike."""

import os
import sqlite3
import subprocess
from contextlib import closing

import pytest
import trio

from tests.helpers import postgres_dsn, run_welcomebot
from welcomebot.store.migrations import known_migrations
from welcomebot.store.testing import run_sql, scratch_schema

LATEST = len(known_migrations("sqlite"))


def _migrate(url: str, *args: str, command: str = "migrate") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WELCOMEBOT_", "DISCORD_"))}
    env |= {"WELCOMEBOT_DATABASE_URL": url, "DISCORD_BOT_TOKEN": "dGVzdA.AAAA.not-a-real-token",
            "WELCOMEBOT_HTTP_ADDR": "127.0.0.1:0"}  # fmt: skip
    return run_welcomebot([command, *args], env=env)


def _check_then_migrate_then_check(url: str) -> None:
    pending = _migrate(url, "--check")
    assert pending.returncode == 1, pending.stderr
    names = ", ".join(name for _, name, _ in known_migrations("sqlite"))
    assert pending.stdout.strip() == f"schema version 0; pending: {names}"
    applied = _migrate(url)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.strip() == f"schema version {LATEST} (applied {LATEST} migrations)"
    again = _migrate(url)
    assert again.stdout.strip() == f"schema version {LATEST}"
    done = _migrate(url, "--check")
    assert (done.returncode, done.stdout.strip()) == (0, f"schema version {LATEST}; up to date")


def _refused(url: str) -> None:
    for command, args in [("migrate", ()), ("migrate", ("--check",)), ("run", ())]:
        result = _migrate(url, *args, command=command)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"schema is version 999 but this welcomebot knows only up to {LATEST}" in lines[0]


def test_sqlite_check_migrate_and_refuse_newer(tmp_path):
    path = tmp_path / "data" / "w.sqlite3"
    url = f"sqlite:///{path}"
    _check_then_migrate_then_check(url)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')")
    _refused(url)


@pytest.mark.postgres
def test_postgres_check_migrate_and_refuse_newer():
    async def main() -> None:
        async with scratch_schema(postgres_dsn()) as url:
            await trio.to_thread.run_sync(_check_then_migrate_then_check, url)
            await run_sql(url, "INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')")
            await trio.to_thread.run_sync(_refused, url)

    trio.run(main)
