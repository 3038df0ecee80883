"""Guilds that removed the bot, noted in ``meta`` as ``guild_left:<guild id>`` = when (epoch seconds).

Written on GUILD_DELETE without ``unavailable`` (:class:`welcomebot.adapters.store.StoreDepartures`), removed on
GUILD_CREATE; once older than ``WELCOMEBOT_GUILD_GRACE`` the guild's data is deleted
(:meth:`welcomebot.retention.prune.Pruner.purge_departed`), the note with it (:func:`welcomebot.retention.purge.purge`).
"""

from __future__ import annotations

from welcomebot.store.api import Store

__all__ = ["PREFIX", "departed", "forget", "key", "note"]

PREFIX = "guild_left:"


def key(guild_id: int) -> str:
    return f"{PREFIX}{guild_id}"


async def note(store: Store, guild_id: int, now: float) -> bool:
    """Note that the bot left ``guild_id`` at ``now``; False (the first time kept) when noted already."""
    if await store.get_meta(key(guild_id)) is not None:
        return False
    await store.set_meta(key(guild_id), repr(now))
    return True


async def forget(store: Store, guild_id: int) -> None:
    await store.delete_meta(key(guild_id))


async def departed(store: Store, before: float) -> list[int]:
    """Guilds the bot left before ``before``, earliest first (an unreadable note counts as just written)."""
    found: list[tuple[float, int]] = []
    for name, value in (await store.list_meta(PREFIX)).items():
        try:
            at, guild_id = float(value), int(name.removeprefix(PREFIX))
        except ValueError:
            continue
        if at < before:
            found.append((at, guild_id))
    return [guild_id for _, guild_id in sorted(found)]
