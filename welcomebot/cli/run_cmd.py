"""``welcomebot run``: the production entry point."""

from __future__ import annotations

import argparse
import logging
import os
from functools import partial

import trio

from welcomebot.bot import BotOptions, RunningBot, run_bot
from welcomebot.cli._run_util import first_error, stop_on_signals
from welcomebot.cli._types import Subparsers
from welcomebot.errors import ConfigError
from welcomebot.gateway.sharding import parse_shard_range
from welcomebot.ops import Metrics, card_findings, serve_ops
from welcomebot.settings import Settings
from welcomebot.store import Outage, open_store

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "run",
        help="connect to Discord and welcome new members (needs DISCORD_BOT_TOKEN)",
        description=(
            "Run the bot: connect the gateway shards, welcome every new member of the configured servers, "
            "answer the admin slash commands. SIGTERM or SIGINT stops intake, finishes in-flight welcomes "
            "(bounded by --drain-timeout) and exits 0; a second signal exits at once. An unreachable database is "
            "waited for (at start and while running; /readyz says so). Exit code 2 means the configuration "
            "or Discord refused the bot (the message says what to fix)."
        ),
    )
    parser.add_argument(
        "--shards",
        type=_shards,
        default=os.environ.get("WELCOMEBOT_SHARDS") or None,  # argparse applies type= to a string default
        help=(
            "shard ids this process runs, e.g. 0-3, or auto: identical replicas on one PostgreSQL divide the "
            "shards between them and take over a dead one's (with SQLite: this process runs them all); "
            "default $WELCOMEBOT_SHARDS, else every shard"
        ),
    )
    parser.add_argument(
        "--shard-count", type=int, default=None, help="total shards across all processes (default: Discord's)"
    )
    parser.add_argument("--drain-timeout", type=float, default=30.0, help="seconds to finish welcomes on stop")
    parser.set_defaults(handler=run)


def _shards(text: str) -> range | str:
    if text.strip() == "auto":
        return "auto"
    try:
        return parse_shard_range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace, settings: Settings) -> int:
    auto = args.shards == "auto"
    shards = None if auto else args.shards
    if shards is not None and args.shard_count is None:
        raise ConfigError("--shards needs --shard-count (the total across all processes)")
    options = BotOptions(shards=shards, shard_count=args.shard_count, auto=auto, drain_timeout=args.drain_timeout)
    trio.run(_main, settings, options)
    return 0


async def _main(settings: Settings, options: BotOptions) -> None:
    stop = trio.Event()
    metrics = Metrics()
    outage = Outage()
    bot: RunningBot | None = None

    async def ready() -> tuple[bool, list[str]]:
        if bot is not None:
            return await bot.ready()
        if outage.reason is not None:  # waiting for the database at start-up
            return False, [f"the database is unreachable: {outage.reason}"]
        return False, ["starting"]

    async def stop_while_starting(cancel: trio.CancelScope) -> None:
        await stop.wait()
        if bot is None:  # nothing taken in yet, nothing to drain
            cancel.cancel()

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stop_on_signals, stop, nursery.cancel_scope)
            nursery.start_soon(stop_while_starting, nursery.cancel_scope)
            addr = settings.http_addr
            try:
                port = await nursery.start(serve_ops, addr.host, addr.port, metrics, ready)
            except OSError as exc:  # a busy port or an address not on this machine: the operator's to change
                raise ConfigError(
                    f"WELCOMEBOT_HTTP_ADDR: cannot listen on {addr} ({exc.strerror or exc}); stop what uses that "
                    "port or set another address"
                ) from None
            log.info("health and metrics served", extra={"url": f"http://{addr.host}:{port}/metrics"})
            for finding in await trio.to_thread.run_sync(card_findings):  # say now what would spoil the cards
                if finding.level != "ok":
                    log.warning("cards degraded: %s", finding.detail, extra={"check": finding.what})
            async with open_store(settings.database_url, outage=outage) as store:
                bot = await nursery.start(
                    partial(run_bot, settings, store, options=options, stop=stop, metrics=metrics, outage=outage)
                )
                await bot.stopped.wait()
            nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        error = first_error(group)
        if error is None:
            raise
        raise error from None
