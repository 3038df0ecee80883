from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.helpers import postgres_dsn
from welcomebot.store.api import Store
from welcomebot.store.open import open_store
from welcomebot.store.testing import scratch_schema


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A database URL with a fresh schema of its own, dropped after the test."""
    async with scratch_schema(postgres_dsn()) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test."""
    return str(request.param)


@asynccontextmanager
async def _fresh(backend: str, folder: Path) -> AsyncIterator[Store]:
    """A fresh, migrated store: SQLite in ``folder``, PostgreSQL in a schema of its own (dropped after)."""
    if backend == "sqlite":
        async with open_store(f"sqlite:///{folder}/welcomebot.sqlite3") as s:
            yield s
        return
    async with scratch_schema(postgres_dsn()) as url, open_store(url) as s:
        yield s


@pytest.fixture
async def store(backend: str, tmp_path: Path) -> AsyncIterator[Store]:
    """Each backend, fresh and migrated."""
    async with _fresh(backend, tmp_path / "db") as s:
        yield s


@pytest.fixture
async def other_store(backend: str, tmp_path: Path) -> AsyncIterator[Store]:
    """A second fresh store of the same backend (a restore target)."""
    async with _fresh(backend, tmp_path / "other") as s:
        yield s
