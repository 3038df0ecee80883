"""Open the store the database URL names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from welcomebot.errors import ConfigError
from welcomebot.store.api import Store
from welcomebot.store.sqlite import SqliteStore

__all__ = ["open_store", "sqlite_path"]


def sqlite_path(database_url: str) -> str:
    """``sqlite:///relative.db`` → ``relative.db``; ``sqlite:////abs/path.db`` → ``/abs/path.db``."""
    return urlsplit(database_url).path[1:] or ":memory:"


@asynccontextmanager
async def open_store(database_url: str) -> AsyncIterator[Store]:
    scheme = urlsplit(database_url).scheme
    if scheme == "sqlite":
        store = await SqliteStore.open(sqlite_path(database_url))
    else:
        raise ConfigError(
            f"WELCOMEBOT_DATABASE_URL: the {scheme} backend is not available in this build; use sqlite:///PATH"
        )
    try:
        yield store
    finally:
        await store.close()
