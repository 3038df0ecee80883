"""SQLite specifics: migrations, refusal of a newer schema, two processes, a killed writer, a bad path."""

import signal
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing

import pytest
import trio

from welcomebot.store.api import ClaimResult, GuildConfig, WelcomeKey
from welcomebot.store.errors import SchemaTooNew, StoreError, StoreUnavailable
from welcomebot.store.migrations import apply_migrations, known_migrations
from welcomebot.store.open import open_store, schema_status
from welcomebot.store.sqlite import SqliteStore


def test_migration_files_are_numbered_and_shipped():
    versions = [v for v, _, _ in known_migrations("sqlite")]
    assert versions == list(range(1, len(versions) + 1))


async def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "w.sqlite3"
    store = await SqliteStore.open(path)
    await store.close()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')")
    with pytest.raises(SchemaTooNew, match="upgrade welcomebot"):
        await SqliteStore.open(path)


async def test_unusable_path_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreUnavailable, match="cannot open the SQLite database"):
        await SqliteStore.open(blocker / "db.sqlite3")


CLAIMER = textwrap.dedent("""
    import sys, trio
    from welcomebot.store.sqlite import SqliteStore
    from welcomebot.store.api import WelcomeKey, ClaimResult
    async def main(path, owner):
        store = await SqliteStore.open(path)
        won = 0
        for i in range(200):
            if await store.claim_welcome(WelcomeKey(1, i, "t"), owner, 0.0, 600) is ClaimResult.CLAIMED:
                won += 1
        await store.close()
        print(won)
    trio.run(main, sys.argv[1], sys.argv[2])
""")


def test_two_processes_never_both_claim(tmp_path):
    path = str(tmp_path / "shared.sqlite3")
    trio.run(_create, path)
    procs = [subprocess.Popen([sys.executable, "-c", CLAIMER, path, f"p{i}"], stdout=subprocess.PIPE, text=True)
             for i in range(2)]  # fmt: skip
    wins = [int(p.communicate(timeout=120)[0]) for p in procs]
    assert sum(wins) == 200, f"each of 200 joins claimed exactly once, got {wins}"


async def _create(path: str) -> None:
    await (await SqliteStore.open(path)).close()


WRITER = textwrap.dedent("""
    import sys, trio
    from welcomebot.store.sqlite import SqliteStore
    from welcomebot.store.api import GuildConfig
    async def main(path):
        store = await SqliteStore.open(path)
        i = 0
        while True:
            await store.put_guild_config(GuildConfig(guild_id=i, welcome_channel_id=i, updated_at=float(i)))
            print(i, flush=True)
            i += 1
    trio.run(main, sys.argv[1])
""")


def test_killed_writer_loses_no_committed_config(tmp_path):
    path = str(tmp_path / "kill.sqlite3")
    with subprocess.Popen([sys.executable, "-c", WRITER, path], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        committed = -1
        for line in proc.stdout:
            committed = int(line)
            if committed >= 300:
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    missing = trio.run(_missing_configs, path, committed)
    assert missing == [], "configs committed before the kill must survive it"


async def _missing_configs(path: str, committed: int) -> list[int]:
    store = await SqliteStore.open(path)
    missing = [i for i in range(committed + 1) if await store.get_guild_config(i) is None]
    await store.close()
    return missing


@pytest.mark.parametrize("refused", ["assign_nonce", "take_unfinished"])
async def test_a_refused_batch_write_leaves_no_transaction_open(tmp_path, refused):
    path = tmp_path / "w.sqlite3"
    store = await SqliteStore.open(path)
    await store.claim_welcome(WelcomeKey(1, 2, "t"), "old", 0.0, 1.0)
    with closing(sqlite3.connect(path)) as conn, conn:  # the database refuses one write, as a full disk would
        conn.execute("CREATE TRIGGER refuse BEFORE UPDATE ON welcome_log WHEN NEW.nonce = 'bad' OR NEW.owner = 'bad'"
                     " BEGIN SELECT RAISE(ABORT, 'refused'); END")  # fmt: skip
    with pytest.raises(StoreError, match=r"SQLite at .* refused a statement: refused"):
        await _refused_write(store, refused)
    # The connection works on, and what it writes next is committed (not held in a transaction left open).
    assert await store.claim_welcome(WelcomeKey(1, 3, "t"), "me", 0.0, 600) is ClaimResult.CLAIMED
    await store.put_guild_config(GuildConfig(guild_id=7))
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM guild_config").fetchone()[0] == 1
    await store.close()


async def _refused_write(store: SqliteStore, which: str) -> None:
    if which == "assign_nonce":
        await store.assign_nonce([WelcomeKey(1, 2, "t")], "bad")
    else:
        await store.take_unfinished("bad", 10.0, 600)


def test_two_processes_migrating_at_once_apply_each_migration_once(tmp_path):
    path = tmp_path / "w.sqlite3"
    with (
        closing(sqlite3.connect(path, isolation_level=None)) as first,
        closing(sqlite3.connect(path, isolation_level=None)) as second,
    ):

        def other_process_first(statement: str) -> None:
            # The other process migrates just before this one takes the write lock.
            if statement.startswith("BEGIN IMMEDIATE"):
                first.set_trace_callback(None)
                apply_migrations(second)

        first.set_trace_callback(other_process_first)
        assert apply_migrations(first) == len(known_migrations("sqlite"))
        assert first.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == len(known_migrations("sqlite"))


async def test_schema_status_reads_the_file_open_store_migrated(tmp_path):
    url = f"sqlite:///{tmp_path}/data%41/w.sqlite3"  # '%41' is a plain name on disk, not an escaped 'A'
    async with open_store(url):
        pass
    latest = len(known_migrations("sqlite"))
    assert await schema_status(url) == (latest, latest)
