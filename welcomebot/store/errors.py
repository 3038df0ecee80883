"""Store errors, with messages that say what to do."""

from __future__ import annotations

from welcomebot.errors import ConfigError, WelcomeBotError

__all__ = ["SchemaTooNew", "StoreError", "StoreUnavailable"]


class StoreError(WelcomeBotError):
    """Base class of storage errors."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or opened."""


class SchemaTooNew(StoreError, ConfigError):
    """The database was migrated by a newer welcomebot; running older code against it could lose data."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(
            f"the database schema is version {found} but this welcomebot knows only up to {known}; "
            "upgrade welcomebot (or restore a backup made by this version)"
        )
