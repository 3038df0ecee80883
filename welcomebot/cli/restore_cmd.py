"""``welcomebot restore``: verify a backup archive completely, then restore it into an empty store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import trio

from welcomebot.cli._types import Subparsers
from welcomebot.settings import Settings
from welcomebot.store import BackupInvalid, StoreNotEmpty, open_assets, open_store
from welcomebot.store.backup import BackupSummary, restore_backup, verify_archive

__all__ = ["register"]


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "restore",
        help="restore a backup archive into an empty database and data directory",
        description=(
            "Check every member of the archive against its manifest's checksums first (nothing is written if "
            "one fails), then write the asset files under WELCOMEBOT_DATA_DIR and the rows into the database "
            "named by WELCOMEBOT_DATABASE_URL, which must be empty (SQLite or PostgreSQL, whichever made the "
            "backup). Exit code 2: the archive was refused or the database is not empty; nothing changed."
        ),
    )
    parser.add_argument("archive", type=Path, metavar="PATH", help="a backup written by `welcomebot backup`")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        summary = trio.run(_restore, settings, args.archive)
    except (BackupInvalid, StoreNotEmpty) as exc:
        print(f"welcomebot: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the asset files could not be written (full disk, a read-only or odd data directory)
        print(f"welcomebot: error: could not write the restored files ({exc}); nothing was restored: check "
              "WELCOMEBOT_DATA_DIR and its free space", file=sys.stderr)  # fmt: skip
        return 2
    print(json.dumps(summary.public()))
    return 0


async def _restore(settings: Settings, archive: Path) -> BackupSummary:
    # Verified before the database is even opened: a refused archive leaves no trace, not even a new file.
    verified = await trio.to_thread.run_sync(verify_archive, archive)
    async with open_store(settings.database_url) as store:
        return await restore_backup(store, open_assets(store, settings), archive, verified=verified)
