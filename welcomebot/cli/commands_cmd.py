"""``welcomebot commands sync [--guild ID]``: register the admin slash commands with Discord now."""

from __future__ import annotations

import argparse
import json

import trio

from welcomebot.cli._types import Subparsers
from welcomebot.commands import definitions_payload, sync_commands
from welcomebot.errors import ConfigError
from welcomebot.rest import DiscordApi, RestClient
from welcomebot.settings import Settings
from welcomebot.store import open_store

__all__ = ["register"]


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "commands",
        help="register the admin slash commands with Discord",
        description=(
            "Manage the slash commands (/welcome, /preview, /set-background, /card, /behaviour). `welcomebot "
            "run` registers them by itself when they changed; use `sync` to do it now, e.g. with --guild to try "
            "a new version on "
            "one server first (guild commands update at once, global ones within about an hour)."
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sync = actions.add_parser("sync", help="overwrite the registered commands with this version's definitions")
    sync.add_argument("--guild", type=_snowflake, default=None, metavar="ID", help="register in this server only")
    sync.set_defaults(handler=run)


def _snowflake(text: str) -> int:
    if not text.isdigit() or not 17 <= len(text) <= 20:
        raise argparse.ArgumentTypeError(f"{text!r} is not a server id (right-click the server → Copy Server ID)")
    return int(text)


def run(args: argparse.Namespace, settings: Settings) -> int:
    trio.run(_sync, settings, args.guild)
    return 0


async def _sync(settings: Settings, guild_id: int | None) -> None:
    if settings.token is None:
        raise ConfigError("DISCORD_BOT_TOKEN: not set; create a bot in the Discord developer portal and set its token")
    rest = RestClient(settings.token, api_base=settings.api_base)
    try:
        async with open_store(settings.database_url) as store:
            await sync_commands(DiscordApi(rest), store, guild_id=guild_id, force=True)
    finally:
        await rest.aclose()
    names = [c["name"] for c in definitions_payload()]
    print(json.dumps({"registered": names, "scope": "global" if guild_id is None else str(guild_id)}))
