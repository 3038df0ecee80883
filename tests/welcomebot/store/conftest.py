from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from welcomebot.store.api import Store
from welcomebot.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each backend, fresh and migrated. (The PostgreSQL backend joins this list when it lands.)"""
    s = await SqliteStore.open(tmp_path / "db" / "welcomebot.sqlite3")
    yield s
    await s.close()
