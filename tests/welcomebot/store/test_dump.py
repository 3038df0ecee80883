"""The dump's row types follow the schema; asset references are found wherever a config holds them."""

import sqlite3
import threading
from contextlib import closing
from typing import Any

from welcomebot.store import dump
from welcomebot.store.api import GuildConfig, asset_hashes
from welcomebot.store.dump import DUMP_TABLES, KEYS, columns
from welcomebot.store.sqlite import SqliteStore


async def test_row_types_name_every_column_of_the_migrated_schema(tmp_path):
    path = tmp_path / "s.sqlite3"
    await (await SqliteStore.open(path)).close()
    with closing(sqlite3.connect(path)) as conn:
        for table in DUMP_TABLES:
            info = conn.execute(f"PRAGMA table_info({table})").fetchall()
            assert {row[1] for row in info} == set(columns(table)), f"{table}: update welcomebot/store/dump.py"
            assert tuple(row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]) == KEYS[table]


def test_asset_hashes_searches_nested_values():
    assert asset_hashes(["asset:a", None, {"x": ["asset:b", {"y": "asset:c"}], "z": "builtin:asset:"}, 3]) == {
        "a",
        "b",
        "c",
    }


async def test_exported_rows_are_normalized_off_the_trio_thread(store, monkeypatch):
    threads: list[int] = []
    normalize = dump.normalize_rows

    def recording(table: str, rows: Any) -> list[dict[str, Any]]:
        threads.append(threading.get_ident())
        return normalize(table, rows)

    monkeypatch.setattr(dump, "normalize_rows", recording)
    await store.put_guild_config(GuildConfig(guild_id=1))
    await store.export_rows()
    assert len(threads) == len(DUMP_TABLES)
    assert threading.get_ident() not in threads, "a big welcome log would stall the gateway and the welcomes"
