from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from welcomebot.store.api import Store
from welcomebot.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test. (The PostgreSQL backend joins this list when it lands.)"""
    return str(request.param)


async def _open(backend: str, folder: Path) -> Store:
    assert backend == "sqlite"
    return await SqliteStore.open(folder / "welcomebot.sqlite3")


@pytest.fixture
async def store(backend: str, tmp_path: Path) -> AsyncIterator[Store]:
    """Each backend, fresh and migrated."""
    s = await _open(backend, tmp_path / "db")
    yield s
    await s.close()


@pytest.fixture
async def other_store(backend: str, tmp_path: Path) -> AsyncIterator[Store]:
    """A second fresh store of the same backend (a restore target)."""
    s = await _open(backend, tmp_path / "other")
    yield s
    await s.close()
