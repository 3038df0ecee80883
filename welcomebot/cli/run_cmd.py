"""``welcomebot run``: the production entry point."""

from __future__ import annotations

import argparse

import trio

from welcomebot.app.service import BotOptions, run_bot
from welcomebot.cli._run_util import first_error, stop_on_signals
from welcomebot.cli._types import Subparsers
from welcomebot.gateway.sharding import parse_shard_range
from welcomebot.settings import Settings
from welcomebot.store.open import open_store

__all__ = ["register"]


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "run",
        help="connect to Discord and welcome new members (needs DISCORD_BOT_TOKEN)",
        description=(
            "Run the bot: connect the gateway shards, welcome every new member of the configured servers, "
            "answer the admin slash commands. SIGTERM or SIGINT stops intake, finishes in-flight welcomes "
            "(bounded by --drain-timeout) and exits 0; a second signal exits at once. Exit code 2 means "
            "the configuration or Discord refused the bot (the message says what to fix)."
        ),
    )
    parser.add_argument("--shards", type=_shards, default=None, help="shard ids this process runs, e.g. 0-3")
    parser.add_argument("--shard-count", type=int, default=None, help="total shards across all processes")
    parser.add_argument("--drain-timeout", type=float, default=30.0, help="seconds to finish welcomes on stop")
    parser.set_defaults(handler=run)


def _shards(text: str) -> range:
    try:
        return parse_shard_range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.shards is not None and args.shard_count is None:
        raise SystemExit("welcomebot: error: --shards needs --shard-count (the total across all processes)")
    options = BotOptions(shards=args.shards, shard_count=args.shard_count, drain_timeout=args.drain_timeout)
    trio.run(_main, settings, options)
    return 0


async def _main(settings: Settings, options: BotOptions) -> None:
    stop = trio.Event()
    try:
        async with trio.open_nursery() as nursery, open_store(settings.database_url) as store:
            nursery.start_soon(stop_on_signals, stop, nursery.cancel_scope)
            await run_bot(settings, store, options=options, stop=stop)
            nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        error = first_error(group)
        if error is None:
            raise
        raise error from None
