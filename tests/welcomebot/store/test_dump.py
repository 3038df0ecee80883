"""The dump's row types follow the schema; asset references are found wherever a config holds them."""

import sqlite3

from welcomebot.store.api import asset_hashes
from welcomebot.store.dump import DUMP_TABLES, KEYS, columns
from welcomebot.store.sqlite import SqliteStore


async def test_row_types_name_every_column_of_the_migrated_schema(tmp_path):
    path = tmp_path / "s.sqlite3"
    await (await SqliteStore.open(path)).close()
    with sqlite3.connect(path) as conn:
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
