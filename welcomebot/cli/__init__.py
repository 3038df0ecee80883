"""The ``welcomebot`` command line: one parser, one module per subcommand.

A subcommand module exposes ``register(subparsers)``, which adds its parser and sets ``handler`` to a
function ``(args, settings) -> exit code``. Only commands that work are registered.

Exit codes: 0 success, 1 crash (a bug: the traceback is logged), 2 configuration, unreachable database or fatal
Discord error (one line on stderr, no traceback), 130 interrupted before a clean shutdown could start.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import msgspec

from welcomebot import __version__
from welcomebot.cli import (
    backup_cmd,
    commands_cmd,
    config_cmd,
    doctor_cmd,
    emulator_cmd,
    migrate_cmd,
    purge_cmd,
    render_cmd,
    restore_cmd,
    run_cmd,
    sandbox_cmd,
)
from welcomebot.cli._types import Handler, Subparsers
from welcomebot.errors import ConfigError, FatalError
from welcomebot.logs import configure_logging
from welcomebot.settings import ENV_VARS, load_settings
from welcomebot.store import StoreUnavailable

__all__ = ["Handler", "Subparsers", "build_parser", "main"]

# Order is the order of `welcomebot --help`.
COMMANDS = (
    run_cmd, sandbox_cmd, render_cmd, emulator_cmd, commands_cmd, config_cmd, doctor_cmd, migrate_cmd, backup_cmd,
    restore_cmd, purge_cmd,
)  # fmt: skip

EXIT_OK = 0
EXIT_CRASH = 1
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    env_lines = "\n".join(f"  {v.name:<26} {v.help}" for v in ENV_VARS)
    parser = argparse.ArgumentParser(
        prog="welcomebot",
        description="Welcomes every new member of your Discord servers with a personalized image card.",
        epilog=f"configuration comes from environment variables:\n{env_lines}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"welcomebot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    for command in sub.choices.values():
        command.add_argument(
            "--log-format",
            choices=("json", "text"),
            default=None,
            help="json (one object per line, the default) or text (for a human); overrides WELCOMEBOT_LOG_FORMAT",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        settings = load_settings()
        if args.log_format is not None:
            settings = msgspec.structs.replace(settings, log_format=args.log_format)
        configure_logging(
            level=settings.log_level,
            fmt=settings.log_format,
            secrets=[settings.token] if settings.token is not None else [],
        )
        return handler(args, settings)
    except (ConfigError, FatalError, StoreUnavailable) as exc:
        print(f"welcomebot: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception:
        logging.getLogger("welcomebot").exception("crashed; this is a bug, please report it")
        return EXIT_CRASH
