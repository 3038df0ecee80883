"""``welcomebot backup``: write one archive with the database, the uploaded assets and a checksummed manifest."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import trio

from welcomebot.cli._types import Subparsers
from welcomebot.settings import Settings
from welcomebot.store import (
    BackupSummary,
    StoreError,
    StoreUnavailable,
    backend_of,
    open_assets,
    open_store,
    sqlite_path,
    write_backup,
)

__all__ = ["register"]


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "backup",
        help="write a backup archive (database, uploaded backgrounds, manifest with checksums)",
        description=(
            "Write one .tar.gz with a consistent snapshot of the database named by WELCOMEBOT_DATABASE_URL, "
            "the asset files under WELCOMEBOT_DATA_DIR and a manifest with the sha256 of every member. Safe "
            "while the bot runs. Restore it with `welcomebot restore PATH` into an empty database."
        ),
    )
    parser.add_argument(
        "--out",
        required=True,
        help=(
            "archive to write (replaced atomically), or a directory (an existing one, or any path ending in /, "
            "created if missing) to write a timestamped archive into"
        ),
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    out = Path(args.out)
    if args.out.endswith(("/", "\\")) or out.is_dir():
        out = out / f"welcomebot-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.tar.gz"
    if backend_of(settings.database_url) == "sqlite" and not Path(sqlite_path(settings.database_url)).is_file():
        # Opening it would create an empty database and an archive of nothing that looks like a backup.
        print(
            f"welcomebot: error: no backup was written: there is no SQLite database at "
            f"{sqlite_path(settings.database_url)}; set WELCOMEBOT_DATABASE_URL (and WELCOMEBOT_DATA_DIR) to the "
            "bot's own, as its service sets them",
            file=sys.stderr,
        )
        return 2
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        summary = trio.run(_backup, settings, out)
    except StoreUnavailable:
        raise  # the CLI's own one line and exit 2, like every command's
    except (OSError, StoreError) as exc:  # an unwritable --out, a full disk, a damaged asset file
        print(f"welcomebot: error: no backup was written: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary.public()))
    return 0


async def _backup(settings: Settings, out: Path) -> BackupSummary:
    async with open_store(settings.database_url) as store:
        return await write_backup(store, open_assets(store, settings), out)
