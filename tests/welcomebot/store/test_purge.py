"""Deletion on request (#29.3): every table with a guild or user id column, found from the schema itself."""

import os
import subprocess
from pathlib import Path

import msgspec
import pytest

from tests.helpers import postgres_dsn, run_welcomebot
from welcomebot.adapters.store import MetaCatchUpState, StoreGuildSnapshots
from welcomebot.app.catchup import LEGACY, Seen
from welcomebot.app.model import GuildInfo
from welcomebot.retention.purge import GUILD_COLUMNS, USER_COLUMNS, purge
from welcomebot.store import departures
from welcomebot.store.api import GuildConfig, Store, WelcomeKey
from welcomebot.store.assets import AssetStore
from welcomebot.store.open import open_store
from welcomebot.store.testing import scratch_schema

#: Tables that hold no server's or user's id (checked: a new table must be listed here or have an id column).
NO_IDS = {"gateway_session", "meta", "schema_migrations", "shard_lease"}
#: Column names that mention a guild, user or member without being one's id.
NOT_IDS: set[str] = {"member_count"}
G1, G2, U1, U2 = 1001, 1002, 2001, 2002


async def test_every_table_with_a_guild_or_user_column_is_purged(store: Store):
    """Fails when a migration adds a table or column purge would not cover: name its id column as purge
    knows it (GUILD_COLUMNS, USER_COLUMNS), or list the table in NO_IDS if it holds no one's id."""
    ids = GUILD_COLUMNS | USER_COLUMNS
    for table, cols in (await store.table_columns()).items():
        looks = [c for c in cols if any(w in c for w in ("guild", "user", "member")) and c not in NOT_IDS]
        assert set(looks) <= ids, f"{table}: {looks} look like ids purge does not know"
        assert table in NO_IDS or set(cols) & ids, f"{table} has no guild or user id column: list it in NO_IDS"


async def _seed(store: Store, root: Path) -> tuple[AssetStore, str, str]:
    assets = AssetStore(store, root, quota_guild=10**6, quota_total=10**6)
    own = await assets.put(G1, b"only guild one uses this", "image/png", 2, 2)
    shared = await assets.put(G1, b"both guilds use this", "image/png", 2, 2)
    await store.put_guild_config(GuildConfig(guild_id=G1, welcome_channel_id=5, background_ref=own))
    await store.put_guild_config(GuildConfig(guild_id=G2, welcome_channel_id=6, background_ref=shared))
    for guild in (G1, G2):
        for user in (U1, U2):
            key = WelcomeKey(guild, user, "2026-01-01T00:00:00+00:00")
            await store.claim_welcome(key, "a", 0.0, 60)
            await store.mark_posted([key], 7, None, 0.0)
        await StoreGuildSnapshots(store).put(GuildInfo(guild_id=guild, name=f"server {guild}", member_count=3))
    return assets, own, shared


async def _rows_with(store: Store, columns: frozenset[str], value: int) -> dict[str, int]:
    tables = await store.table_columns()
    targets = [(t, c) for t, cols in tables.items() for c in cols if c in columns]
    found = await store.purge_rows(targets, value, dry_run=True)
    return {t: n for t, n in found.items() if n}


async def test_purging_a_guild_leaves_no_row_with_its_id_and_keeps_what_another_guild_uses(store, tmp_path):
    assets, own, shared = await _seed(store, tmp_path / "assets")
    await departures.note(store, G1, 5.0)  # it removed the bot: the note holds its id too
    await MetaCatchUpState(store).save(0, Seen(at=1.0, counts={G1: 3, G2: 4}, joined={G1: "2026-01-01T00:00:00+00:00"},
                                               since={G1: 0.5}))  # fmt: skip
    dry = await purge(store, assets, "guild", G1, dry_run=True)
    assert dry.rows == {"background_asset": 1, "guild_config": 1, "guild_snapshot": 1, "meta": 2, "welcome_log": 2}
    assert (dry.files, dry.handed_over) == (1, 1)
    assert await _rows_with(store, GUILD_COLUMNS, G1) != {}, "a dry run removes nothing"
    done = await purge(store, assets, "guild", G1, dry_run=False)
    assert done.rows == dry.rows
    assert done.files == 1
    assert await _rows_with(store, GUILD_COLUMNS, G1) == {}
    assert await store.list_meta(departures.PREFIX) == {}
    assert await MetaCatchUpState(store).load(0) == Seen(at=1.0, counts={G2: 4}), "the catch-up keeps guild two"
    assert not assets.path(own.removeprefix("asset:")).exists()
    assert await assets.open(shared) == b"both guilds use this", "guild two's background survives"
    record = await store.get_asset(shared.removeprefix("asset:"))
    assert record is not None
    assert record.owner_guild == G2
    assert await store.get_guild_config(G2) is not None
    assert [s.guild_id for s in await store.guild_snapshots()] == [G2], "guild two's name and count are kept"
    assert await _rows_with(store, USER_COLUMNS, U1) == {"welcome_log": 1}, "guild two's log is kept"


async def test_purging_a_user_removes_their_rows_in_every_guild(store, tmp_path):
    assets, _, _ = await _seed(store, tmp_path / "assets")
    done = await purge(store, assets, "user", U1, dry_run=False)
    assert done.rows == {"welcome_log": 2}
    assert await _rows_with(store, USER_COLUMNS, U1) == {}
    assert await _rows_with(store, USER_COLUMNS, U2) == {"welcome_log": 2}


# --- the real command, as an operator runs it ---------------------------------------------------------


def _cli(*args: str, url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WELCOMEBOT_", "DISCORD_"))}
    env |= {"WELCOMEBOT_DATA_DIR": str(data_dir), "WELCOMEBOT_DATABASE_URL": url, "WELCOMEBOT_LOG_FORMAT": "text"}
    return run_welcomebot(["purge", *args], env=env, timeout=120)


async def _command_leaves_no_row(url: str, data_dir: Path) -> None:
    async with open_store(url) as store:
        await _seed(store, data_dir / "assets")
    dry = _cli("--guild", str(G1), "--dry-run", url=url, data_dir=data_dir)
    assert dry.returncode == 0, dry.stderr
    assert "welcome_log: would remove 2 rows" in dry.stdout.splitlines()
    for option, value in (("--guild", G1), ("--user", U2)):
        result = _cli(option, str(value), url=url, data_dir=data_dir)
        assert result.returncode == 0, result.stderr
        assert "welcome_log: removed " in result.stdout
    async with open_store(url) as store:
        assert await _rows_with(store, GUILD_COLUMNS, G1) == {}
        assert await _rows_with(store, USER_COLUMNS, U2) == {}
        assert await _rows_with(store, USER_COLUMNS, U1) == {"welcome_log": 1}


async def test_the_purge_command_on_sqlite(tmp_path):
    await _command_leaves_no_row(f"sqlite:///{tmp_path}/welcomebot.sqlite3", tmp_path)


@pytest.mark.postgres
async def test_the_purge_command_on_postgres(tmp_path):
    async with scratch_schema(postgres_dsn()) as url:
        await _command_leaves_no_row(url, tmp_path)


@pytest.mark.parametrize("bad", ["abc", "0", "-5", "99999999999999999999"])
def test_a_bad_id_exits_2_with_one_line(tmp_path, bad):
    result = _cli("--user", bad, url=f"sqlite:///{tmp_path}/db.sqlite3", data_dir=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("welcomebot: error: --user: expected a Discord id")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "db.sqlite3").exists()


def test_an_unreachable_database_exits_2_with_one_line(tmp_path):
    result = _cli("--guild", "5", url="postgresql://nobody:x@127.0.0.1:1/none", data_dir=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("welcomebot: error: ")
    assert result.stderr.count("\n") == 1


def test_a_missing_sqlite_database_exits_2_with_one_line_and_creates_none(tmp_path):
    result = _cli("--guild", "5", url=f"sqlite:///{tmp_path}/none.sqlite3", data_dir=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("welcomebot: error: there is no SQLite database at ")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "none.sqlite3").exists()


async def test_every_shards_catch_up_record_is_read_back_whatever_its_shard_id(store):
    """After a change of shard count a guild's record is under another shard id (#19, chaos run)."""
    state = MetaCatchUpState(store)
    await store.set_meta(MetaCatchUpState.KEY, msgspec.json.encode(Seen(at=1.0)).decode())  # an older version's
    await state.save(0, Seen(at=2.0, counts={G1: 3}))
    await state.save(3, Seen(at=3.0, since={G2: 2.5}))
    await store.set_meta(MetaCatchUpState.KEY + ":x", "not ours")
    assert await state.load_all() == {LEGACY: Seen(at=1.0), 0: Seen(at=2.0, counts={G1: 3}),
                                      3: Seen(at=3.0, since={G2: 2.5})}  # fmt: skip
