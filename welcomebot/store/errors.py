"""Store errors, with messages that say what to do."""

from __future__ import annotations

from welcomebot.errors import ConfigError, WelcomeBotError

__all__ = [
    "AssetMissing",
    "BackupInvalid",
    "DumpInvalid",
    "QuotaExceeded",
    "SchemaTooNew",
    "StoreError",
    "StoreNotEmpty",
    "StoreRefused",
    "StoreUnavailable",
]


class StoreError(WelcomeBotError):
    """Base class of storage errors."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or opened."""


class StoreRefused(StoreUnavailable, ConfigError):
    """The database answers but refuses this configuration (login, database name): waiting will not help."""


class SchemaTooNew(StoreError, ConfigError):
    """The database was migrated by a newer welcomebot; running older code against it could lose data."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(
            f"the database schema is version {found} but this welcomebot knows only up to {known}; "
            "upgrade welcomebot (or restore a backup made by this version)"
        )


class StoreNotEmpty(StoreError):
    """A restore was pointed at a database that already holds data; restoring would mix two histories."""

    def __init__(self, counts: dict[str, int]) -> None:
        held = ", ".join(f"{n} {table}" for table, n in counts.items() if n) or "rows"
        super().__init__(
            f"the target database is not empty (it holds {held}); restore only into an empty database: "
            "point WELCOMEBOT_DATABASE_URL at a new one"
        )


class DumpInvalid(StoreError):
    """A logical dump does not have the tables, columns or types this welcomebot writes."""


class BackupInvalid(StoreError):
    """A backup archive is corrupted, truncated, tampered with or of an unknown format; nothing was restored."""


class QuotaExceeded(StoreError):
    """Storing an asset would take a guild (or the whole bot) over its storage quota."""

    def __init__(self, scope: str, used: int, adding: int, limit: int, advice: str) -> None:
        super().__init__(
            f"{scope} uses {_size(used)} of its {_size(limit)} asset quota and this upload needs {_size(adding)} "
            f"more; {advice}"
        )
        self.used = used
        self.adding = adding
        self.limit = limit


class AssetMissing(StoreError):
    """An asset reference names a file that is not in the asset store."""


def _size(n: int) -> str:
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} bytes"
