"""The :class:`~welcomebot.app.reconcile.History` port over Discord's REST API."""

from __future__ import annotations

import time
from collections.abc import Callable

import trio

from welcomebot.app import OwnMessage
from welcomebot.rest import DiscordApi, Permission, bot_permissions

__all__ = ["RestHistory"]

DISCORD_EPOCH_MS = 1420070400000
PAGE = 100


class RestHistory:
    def __init__(self, api: DiscordApi, *, wall_clock: Callable[[], float] = time.time) -> None:
        self._api = api
        self._wall_clock = wall_clock
        self._bot_id: int | None = None
        self._lock = trio.Lock()

    async def _me(self) -> int:
        async with self._lock:
            if self._bot_id is None:
                self._bot_id = int((await self._api.get_current_user())["id"])
            return self._bot_id

    async def discord_now(self) -> float:
        now = self._api.client.discord_time()
        if now is None:
            await self._me()  # any answer carries Discord's Date
            now = self._api.client.discord_time()
        return self._wall_clock() if now is None else now

    async def own_messages(
        self, guild_id: int, channel_id: int, since: float, max_pages: int
    ) -> list[OwnMessage] | None:
        bot_id = await self._me()
        perms = await bot_permissions(self._api, guild_id, channel_id, bot_id)
        needs = Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY
        if perms is None or perms & needs != needs:
            return None
        after = max(0, int(since * 1000) - DISCORD_EPOCH_MS) << 22
        own: list[OwnMessage] = []
        for _ in range(max_pages):
            page = await self._api.get_channel_messages(channel_id, after=after, limit=PAGE)
            for message in sorted(page, key=lambda m: int(m["id"])):
                if int(message["author"]["id"]) == bot_id:
                    own.append(OwnMessage(int(message["id"]), _named(message)))
            if len(page) < PAGE:
                break
            after = max(int(m["id"]) for m in page)
        return own


def _named(message: dict[str, object]) -> frozenset[int]:
    """The users a message pings: Discord's ``mentions`` (what ``allowed_mentions`` let through)."""
    mentions = message.get("mentions")
    if not isinstance(mentions, list):
        return frozenset()
    return frozenset(int(u["id"]) for u in mentions if isinstance(u, dict) and "id" in u)
