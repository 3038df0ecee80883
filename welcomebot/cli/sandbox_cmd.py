"""``welcomebot sandbox``: see the bot work end to end with no Discord account and no token."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import trio

from welcomebot.cli._types import Subparsers
from welcomebot.cli.sandbox import SandboxOptions, run_sandbox, summary_line
from welcomebot.settings import Settings

__all__ = ["register"]


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "sandbox",
        help="run the real bot against a local Discord emulator and watch it welcome members (no token)",
        description=(
            "Start the Discord emulator and the real bot in this process (SQLite in a temporary directory), "
            "make members with varied names (emoji, CJK, Arabic, very long, missing and animated avatars) "
            "join, write each posted card to --out, and print a JSON summary: welcomes posted, join→post "
            "latency percentiles, 429s, duplicates and misses, all counted from the emulator's records."
        ),
    )
    parser.add_argument("--guilds", type=_positive, default=3, help="servers to create (default 3)")
    parser.add_argument("--joins", type=_positive, default=24, help="members who join (default 24)")
    parser.add_argument("--rate", type=float, default=600.0, help="joins per minute, 0 for all at once (default 600)")
    parser.add_argument("--out", type=Path, default=Path("sandbox-out"), help="where to write cards (sandbox-out)")
    parser.add_argument("--seed", type=int, default=0, help="seed for ids and avatars (default 0)")
    parser.set_defaults(handler=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def run(args: argparse.Namespace, settings: Settings) -> int:
    options = SandboxOptions(guilds=args.guilds, joins=args.joins, rate_per_min=args.rate, out=args.out, seed=args.seed)
    summary = trio.run(run_sandbox, options)
    print(summary_line(summary))
    sys.stdout.flush()
    ok = summary["misses"] == 0 and summary["duplicates"] == 0
    return 0 if ok else 1
