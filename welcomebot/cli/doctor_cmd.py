"""``welcomebot doctor``: check this machine and configuration, one line per check with what to do."""

from __future__ import annotations

import argparse

import trio

from welcomebot.cli._types import Subparsers
from welcomebot.ops import check_all
from welcomebot.settings import Settings

__all__ = ["register"]


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "doctor",
        help="check the database, text shaping, fonts, data dir and health port, saying what to fix",
        description=(
            "Check what `welcomebot run` needs on this machine: the database is reachable and migrated, Pillow "
            "has raqm and FriBiDi, the fonts and colour emoji are found, the data directory is writable and the "
            "health port is free. One line each (OK, WARN or FAIL, and what to do). Exit 0 without FAIL, else 1."
        ),
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    findings = trio.run(check_all, settings)
    for finding in findings:
        print(finding.line())
    return 1 if any(f.level == "fail" for f in findings) else 0
