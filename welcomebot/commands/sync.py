"""Registering the slash commands with Discord: one bulk overwrite, and only when the definitions changed.

Discord allows 200 command creates a day per guild and rate-limits the overwrite route hard, so the hash of
what was last registered is kept in the store's meta table (per scope: global, or one guild) and a start
with unchanged definitions sends nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from welcomebot.commands.definitions import COMMANDS, Command, definitions_hash, definitions_payload

if TYPE_CHECKING:
    from welcomebot.rest import DiscordApi
    from welcomebot.store import Store

__all__ = ["meta_key", "sync_commands"]

log = logging.getLogger(__name__)


def meta_key(guild_id: int | None) -> str:
    return "commands_hash:global" if guild_id is None else f"commands_hash:guild:{guild_id}"


async def sync_commands(
    api: DiscordApi,
    store: Store,
    *,
    guild_id: int | None = None,
    force: bool = False,
    commands: tuple[Command, ...] = COMMANDS,
) -> bool:
    """Overwrite the registered commands when they differ from ``commands`` (always with ``force``).

    Returns True when Discord was called. Global commands reach every server the bot is in; a guild's
    commands (``guild_id``) update at once, which suits testing a new version on one server.
    """
    digest = definitions_hash(commands)
    key = meta_key(guild_id)
    if not force and await store.get_meta(key) == digest:
        log.info("slash commands unchanged; not registering", extra={"guild_id": guild_id})
        return False
    application_id = int((await api.get_current_application())["id"])
    registered = await api.bulk_overwrite_commands(application_id, definitions_payload(commands), guild_id)
    await store.set_meta(key, digest)
    log.info("slash commands registered", extra={"guild_id": guild_id, "count": len(registered)})
    return True
