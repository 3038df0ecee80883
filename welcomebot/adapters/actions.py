"""The pipeline's :class:`~welcomebot.app.ports.Actions` over Discord's REST API and the store.

DMs map 50007 to :class:`DmClosed`; roles are checked against Discord's hierarchy rules before any request
(:func:`welcomebot.app.roles.role_problems`), so a misconfigured guild costs one read, not a 403 per member.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgspec

from welcomebot.app import CardFile, DmClosed, GuildRole, role_problems
from welcomebot.rest import File, Forbidden, NotFound

if TYPE_CHECKING:
    from welcomebot.adapters.store import CachedConfigs
    from welcomebot.rest import DiscordApi
    from welcomebot.store import Store

__all__ = ["RestActions", "content_type"]

log = logging.getLogger(__name__)


def content_type(filename: str) -> str:
    return {"webp": "image/webp", "png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg"}.get(
        filename.rsplit(".", 1)[-1], "application/octet-stream"
    )


def files_for_rest(files: list[CardFile]) -> list[File]:
    return [File(f.filename, f.data, f.description, content_type(f.filename)) for f in files]


class RestActions:
    def __init__(self, api: DiscordApi, store: Store, configs: CachedConfigs) -> None:
        self._api = api
        self._store = store
        self._configs = configs
        self._bot_id: int | None = None

    async def dm(self, user_id: int, *, content: str, files: list[CardFile], embeds: list[dict[str, Any]],
                 nonce: str) -> int:  # fmt: skip
        try:
            channel_id = await self._api.create_dm(user_id)
            message = await self._api.create_message(channel_id, content=content, files=files_for_rest(files),
                                                      embeds=embeds, mention_user_ids=[], nonce=nonce)  # fmt: skip
        except Forbidden as exc:
            if exc.code == 50007:
                raise DmClosed(str(exc)) from exc
            raise
        return message.id

    async def add_roles(self, guild_id: int, user_id: int, role_ids: list[int]) -> list[str]:
        if self._bot_id is None:
            self._bot_id = int((await self._api.get_current_user())["id"])
        guild = await self._api.get_guild(guild_id)
        bot = await self._api.get_guild_member(guild_id, self._bot_id)
        roles = {r.id: r for r in msgspec.convert(guild["roles"], list[GuildRole], strict=False)}
        problems = role_problems(guild_id, roles, [int(r) for r in bot["roles"]], role_ids)
        if problems:
            return problems
        for role_id in role_ids:
            try:
                await self._api.add_member_role(guild_id, user_id, role_id)
            except Forbidden as exc:
                return [f"Discord refused role {role_id}: {exc}"]
            except NotFound:
                return [f"the member left, or role {role_id} no longer exists"]
        return []

    async def delete(self, channel_id: int, message_id: int) -> None:
        try:
            await self._api.delete_message(channel_id, message_id)
        except NotFound:
            pass  # already gone: deleted by a moderator, or its channel with it
        except Forbidden as exc:
            # The bot lost access to the channel: asking again would only add invalid requests.
            where = {"channel_id": channel_id, "message_id": message_id, "error": str(exc)}
            log.warning("cannot delete a welcome; leaving it", extra=where)

    async def channel_problem(self, guild_id: int, problem: str | None) -> None:
        config = await self._store.get_guild_config(guild_id)
        if config is None or config.channel_problem == problem:
            return
        # updated_at stays: the problem is not a new configuration, and the actor retries only after one. Only
        # that column, and only on the config just read: a command may have saved a new channel meanwhile.
        if await self._store.set_channel_problem(guild_id, problem, version=config.updated_at):
            self._configs.invalidate(guild_id)
