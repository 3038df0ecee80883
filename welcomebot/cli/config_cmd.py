"""``welcomebot config``: check the environment and show the settings welcomebot would use."""

from __future__ import annotations

import argparse
import json

from welcomebot.cli._types import Subparsers
from welcomebot.settings import Settings

__all__ = ["register"]


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "config",
        help="check the configuration and print the effective settings (token masked)",
        description=(
            "Read every WELCOMEBOT_* variable and DISCORD_BOT_TOKEN, report the first bad value with exit "
            "code 2, or print the settings as JSON (token masked) with exit code 0."
        ),
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(settings.public(), indent=2))
    return 0
