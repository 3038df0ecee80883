"""``welcomebot emulator``: run the local Discord emulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys

import msgspec
import trio

from welcomebot.cli._types import Subparsers
from welcomebot.emulator import AdvanceableClock, Emulator, EmulatorConfig
from welcomebot.settings import Settings

__all__ = ["register"]


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "emulator",
        help="run a local Discord emulator (gateway, REST, CDN, control API) for tests and demos",
        description=(
            "Serve an emulated Discord API v10 on loopback. When ready, print one JSON line with api_base, "
            "gateway_url, cdn_base, control_base, token and application_id, then serve until SIGINT or "
            "SIGTERM. Point the bot at it with WELCOMEBOT_API_BASE, WELCOMEBOT_CDN_BASE and DISCORD_BOT_TOKEN."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="HTTP port for REST, CDN and control (0: any free)")
    parser.add_argument("--gateway-port", type=int, default=0, help="websocket port for the gateway (0: any free)")
    parser.add_argument("--guilds", type=_count, default=1, help="guilds to create at start (default 1)")
    parser.add_argument("--members", type=_count, default=5, help="members per guild at start (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed for ids, names and avatars (default 0)")
    parser.add_argument(
        "--heartbeat-interval-ms",
        type=int,
        default=41250,
        help="gateway heartbeat interval (default 41250)",
    )
    parser.add_argument(
        "--start-ms",
        type=int,
        default=None,
        help="the world's clock at start, in ms since 1970 (default: the real clock, as Discord's); give a fixed "
        "value only for a reproducible run",
    )
    parser.set_defaults(handler=run)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def run(args: argparse.Namespace, settings: Settings) -> int:
    config = EmulatorConfig(
        host=args.host,
        port=args.port,
        gateway_port=args.gateway_port,
        guilds=args.guilds,
        members=args.members,
        seed=args.seed,
        heartbeat_interval_ms=args.heartbeat_interval_ms,
        start_ms=args.start_ms,
    )
    trio.run(_serve, config, clock=AdvanceableClock())  # POST /_control/clock moves it forward
    return 0


async def _serve(config: EmulatorConfig) -> None:
    emulator = Emulator(config)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            info = await nursery.start(emulator.serve)
            sys.stdout.write(msgspec.json.encode(info).decode() + "\n")
            sys.stdout.flush()
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break
