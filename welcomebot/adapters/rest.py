"""The pipeline's Poster and Members ports over Discord's REST API."""

from __future__ import annotations

from typing import Any

from welcomebot.adapters.actions import files_for_rest
from welcomebot.app import CardFile, ChannelBroken, ChannelProblem, Join, PostedMessage
from welcomebot.rest import DiscordApi, Forbidden, NotFound

__all__ = ["RestMembers", "RestPoster"]


class RestPoster:
    """The pipeline's Poster over Discord's REST API: 403/404 become :class:`ChannelBroken`."""

    def __init__(self, api: DiscordApi) -> None:
        self._api = api

    async def post(
        self,
        channel_id: int,
        *,
        content: str,
        files: list[CardFile],
        mention_user_ids: list[int],
        nonce: str,
        embeds: list[dict[str, Any]] | None = None,
    ) -> PostedMessage:
        try:
            message = await self._api.create_message(
                channel_id,
                content=content,
                embeds=embeds,
                files=files_for_rest(files),
                mention_user_ids=mention_user_ids,
                nonce=nonce,
            )
        except NotFound as exc:
            raise ChannelBroken(ChannelProblem.MISSING, str(exc)) from exc
        except Forbidden as exc:
            raise ChannelBroken(ChannelProblem.FORBIDDEN, str(exc)) from exc
        return PostedMessage(message.id, message.content, frozenset(u.id for u in message.mentions))


class RestMembers:
    """Members for finishing old claims after a restart; None when they have left."""

    def __init__(self, api: DiscordApi) -> None:
        self._api = api

    async def fetch(self, guild_id: int, user_id: int, joined_at: str) -> Join | None:
        try:
            member = await self._api.get_guild_member(guild_id, user_id)
        except (NotFound, Forbidden):
            return None
        if member.get("joined_at") != joined_at:
            return None  # they left and came back: that later join has its own welcome
        return _member_join(guild_id, member)

    async def page(self, guild_id: int, *, after: int, limit: int) -> list[Join]:
        """A page of the member list (user-id order) for the catch-up after downtime."""
        members = await self._api.list_guild_members(guild_id, limit=limit, after=after)
        return [_member_join(guild_id, m) for m in members if m.get("joined_at")]


def _member_join(guild_id: int, member: dict[str, Any]) -> Join:
    user = member["user"]
    return Join(
        guild_id=guild_id,
        user_id=int(user["id"]),
        joined_at=str(member["joined_at"]),
        username=user["username"],
        global_name=user.get("global_name"),
        avatar=user.get("avatar"),
        bot=bool(user.get("bot")),
        pending=bool(member.get("pending")),
    )
