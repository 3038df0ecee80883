"""``welcomebot purge``: delete everything stored about one server or one user, on request."""

from __future__ import annotations

import argparse
from pathlib import Path

import trio

from welcomebot.cli._types import Subparsers
from welcomebot.errors import ConfigError
from welcomebot.retention import Kind, PurgeReport, purge
from welcomebot.settings import Settings
from welcomebot.store import backend_of, open_assets, open_store, sqlite_path

__all__ = ["register"]

#: Discord ids are snowflakes: positive 64-bit integers.
_MAX_ID = 2**63 - 1


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "purge",
        help="delete everything stored about one server (--guild) or one user (--user)",
        description=(
            "Delete every row holding the id from every table of the database named by WELCOMEBOT_DATABASE_URL "
            "(found from the schema), and for a server its uploaded files under WELCOMEBOT_DATA_DIR; a user's rows "
            "go in every server. Prints what was removed per table. Safe while the bot runs. Backups keep "
            "their copy until they are deleted (see docs/privacy.md)."
        ),
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--guild", metavar="ID", help="a server's id")
    which.add_argument("--user", metavar="ID", help="a user's id")
    parser.add_argument("--dry-run", action="store_true", help="print what would be removed; remove nothing")
    parser.set_defaults(handler=run)


def _snowflake(option: str, raw: str) -> int:
    text = raw.strip()
    if not text.isdigit() or not 0 < int(text) <= _MAX_ID:
        raise ConfigError(f"{option}: expected a Discord id (a positive whole number such as 123456789012345678), "
                          f"got {raw!r}")  # fmt: skip
    return int(text)


def run(args: argparse.Namespace, settings: Settings) -> int:
    kind: Kind = "guild" if args.guild is not None else "user"
    value = _snowflake(f"--{kind}", args.guild if kind == "guild" else args.user)
    if backend_of(settings.database_url) == "sqlite" and not Path(sqlite_path(settings.database_url)).is_file():
        # Opening it would create an empty database, and "removed 0 rows" would look like a purge.
        raise ConfigError(f"there is no SQLite database at {sqlite_path(settings.database_url)}; set "
                          "WELCOMEBOT_DATABASE_URL (and WELCOMEBOT_DATA_DIR) to the bot's own")  # fmt: skip
    report = trio.run(_purge, settings, kind, value, args.dry_run)
    for line in report.lines():
        print(line)
    return 0


async def _purge(settings: Settings, kind: Kind, value: int, dry_run: bool) -> PurgeReport:
    async with open_store(settings.database_url) as store:
        return await purge(store, open_assets(store, settings), kind, value, dry_run=dry_run)
