"""Typed calls for what welcomebot needs from Discord's REST API, on top of :class:`RestClient`."""

from __future__ import annotations

from typing import Any

import msgspec

from welcomebot.gateway.sharding import GatewayBot
from welcomebot.rest import routes
from welcomebot.rest.client import File, RestClient

__all__ = ["DiscordApi", "Message", "MessageUser"]


class MessageUser(msgspec.Struct, frozen=True):
    id: int


class Message(msgspec.Struct, frozen=True):
    id: int
    channel_id: int
    content: str = ""
    nonce: int | str | None = None
    mentions: list[MessageUser] = []


def _convert(value: Any, kind: type[Any]) -> Any:
    return msgspec.convert(value, kind, strict=False)


class DiscordApi:
    def __init__(self, client: RestClient) -> None:
        self.client = client

    async def get_gateway_bot(self) -> GatewayBot:
        result: GatewayBot = _convert(await self.client.request(routes.GET_GATEWAY_BOT.compile()), GatewayBot)
        return result

    async def get_current_user(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.client.request(routes.GET_CURRENT_USER.compile())
        return result

    async def get_current_application(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.client.request(routes.GET_CURRENT_APPLICATION.compile())
        return result

    async def create_message(
        self,
        channel_id: int,
        *,
        content: str = "",
        files: list[File] | None = None,
        embeds: list[dict[str, Any]] | None = None,
        mention_user_ids: list[int] | None = None,
        nonce: str | None = None,
    ) -> Message:
        """Post a message that pings only ``mention_user_ids``; a nonce makes a retry safe."""
        payload: dict[str, Any] = {
            "content": content,
            "allowed_mentions": {"parse": [], "users": [str(u) for u in (mention_user_ids or [])][:100]},
        }
        if embeds:
            payload["embeds"] = embeds
        if nonce is not None:
            payload["nonce"] = nonce
            payload["enforce_nonce"] = True
        body = await self.client.request(
            routes.CREATE_MESSAGE.compile(channel_id=channel_id), json=payload, files=files,
            where=f"channel {channel_id}",
        )  # fmt: skip
        result: Message = _convert(body, Message)
        return result

    async def get_channel_messages(self, channel_id: int, *, after: int, limit: int = 100) -> list[dict[str, Any]]:
        """Up to ``limit`` messages right after message id ``after``, newest first (Discord's order); empty when
        the bot lacks Read Message History there (Discord answers so, without an error)."""
        route = routes.GET_CHANNEL_MESSAGES.compile(channel_id=channel_id)
        result: list[dict[str, Any]] = await self.client.request(
            route, params={"after": after, "limit": limit}, where=f"channel {channel_id}"
        )
        return result

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        route = routes.DELETE_MESSAGE.compile(channel_id=channel_id, message_id=message_id)
        await self.client.request(route, where=f"channel {channel_id}")

    async def create_dm(self, user_id: int) -> int:
        """The id of the bot's DM channel with ``user_id`` (Discord returns the same one every time)."""
        body = await self.client.request(routes.CREATE_DM.compile(), json={"recipient_id": str(user_id)},
                                         where=f"user {user_id}")  # fmt: skip
        return int(body["id"])

    async def add_member_role(self, guild_id: int, user_id: int, role_id: int) -> None:
        route = routes.ADD_MEMBER_ROLE.compile(guild_id=guild_id, user_id=user_id, role_id=role_id)
        await self.client.request(route, where=f"guild {guild_id}")

    async def get_channel(self, channel_id: int) -> dict[str, Any]:
        result: dict[str, Any] = await self.client.request(
            routes.GET_CHANNEL.compile(channel_id=channel_id), where=f"channel {channel_id}"
        )
        return result

    async def get_guild(self, guild_id: int, *, with_counts: bool = False) -> dict[str, Any]:
        params: dict[str, str | int] = {"with_counts": "true"} if with_counts else {}
        result: dict[str, Any] = await self.client.request(
            routes.GET_GUILD.compile(guild_id=guild_id), params=params, where=f"guild {guild_id}"
        )
        return result

    async def get_guild_channels(self, guild_id: int) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.client.request(
            routes.GET_GUILD_CHANNELS.compile(guild_id=guild_id), where=f"guild {guild_id}"
        )
        return result

    async def get_guild_member(self, guild_id: int, user_id: int) -> dict[str, Any]:
        result: dict[str, Any] = await self.client.request(
            routes.GET_GUILD_MEMBER.compile(guild_id=guild_id, user_id=user_id), where=f"guild {guild_id}"
        )
        return result

    async def list_guild_members(self, guild_id: int, *, limit: int = 1000, after: int = 0) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.client.request(
            routes.LIST_GUILD_MEMBERS.compile(guild_id=guild_id), params={"limit": limit, "after": after},
            where=f"guild {guild_id}",
        )  # fmt: skip
        return result

    async def interaction_callback(self, interaction_id: int, token: str, payload: dict[str, Any],
                                   files: list[File] | None = None) -> None:  # fmt: skip
        route = routes.INTERACTION_CALLBACK.compile(interaction_id=interaction_id, interaction_token=token)
        await self.client.request(route, json=payload, files=files)

    async def edit_original(self, application_id: int, token: str, payload: dict[str, Any],
                            files: list[File] | None = None) -> dict[str, Any]:  # fmt: skip
        route = routes.EDIT_ORIGINAL.compile(application_id=application_id, interaction_token=token)
        result: dict[str, Any] = await self.client.request(route, json=payload, files=files)
        return result

    async def create_followup(self, application_id: int, token: str, payload: dict[str, Any],
                              files: list[File] | None = None) -> dict[str, Any]:  # fmt: skip
        route = routes.CREATE_FOLLOWUP.compile(application_id=application_id, interaction_token=token)
        result: dict[str, Any] = await self.client.request(route, json=payload, files=files)
        return result

    async def bulk_overwrite_commands(self, application_id: int, commands: list[dict[str, Any]],
                                      guild_id: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
        if guild_id is None:
            route = routes.BULK_OVERWRITE_GLOBAL_COMMANDS.compile(application_id=application_id)
        else:
            route = routes.BULK_OVERWRITE_GUILD_COMMANDS.compile(application_id=application_id, guild_id=guild_id)
        result: list[dict[str, Any]] = await self.client.request(route, json=commands)
        return result
