"""``welcomebot migrate``: bring the database WELCOMEBOT_DATABASE_URL names up to this version's schema."""

from __future__ import annotations

import argparse

import trio

from welcomebot.cli._types import Subparsers
from welcomebot.settings import Settings
from welcomebot.store import SchemaTooNew, backend_of, known_migrations, open_store, schema_status

__all__ = ["register"]

EXIT_PENDING = 1


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "migrate",
        help="apply pending schema migrations to the database and print its version",
        description=(
            "Apply the pending migrations to WELCOMEBOT_DATABASE_URL (welcomebot run also does this at start) "
            "and print the schema version. With --check, change nothing: exit 0 when up to date, 1 when "
            "migrations are pending. A database migrated by a newer welcomebot is refused with exit code 2."
        ),
    )
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if migrations are pending")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    url = settings.database_url
    current, latest = trio.run(schema_status, url)
    if current > latest:
        raise SchemaTooNew(current, latest)
    if args.check:
        pending = [name for version, name, _ in known_migrations(backend_of(url)) if version > current]
        if pending:
            print(f"schema version {current}; pending: {', '.join(pending)}")
            return EXIT_PENDING
        print(f"schema version {current}; up to date")
        return 0
    trio.run(_apply, url)
    after, _ = trio.run(schema_status, url)
    applied = after - current
    print(f"schema version {after}" + (f" (applied {applied} migration{'s' * (applied != 1)})" if applied else ""))
    return 0


async def _apply(url: str) -> None:
    async with open_store(url):
        pass
