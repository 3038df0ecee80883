"""Every route welcomebot calls, as constants (the bucket key is method + template + top-level resource)."""

from __future__ import annotations

from typing import Final

from welcomebot.rest.client import Route

GET_GATEWAY_BOT: Final = Route("GET", "/gateway/bot")
GET_CURRENT_USER: Final = Route("GET", "/users/@me")
GET_CURRENT_APPLICATION: Final = Route("GET", "/applications/@me")
CREATE_MESSAGE: Final = Route("POST", "/channels/{channel_id}/messages")
GET_CHANNEL_MESSAGES: Final = Route("GET", "/channels/{channel_id}/messages")
DELETE_MESSAGE: Final = Route("DELETE", "/channels/{channel_id}/messages/{message_id}")
GET_CHANNEL: Final = Route("GET", "/channels/{channel_id}")
GET_GUILD: Final = Route("GET", "/guilds/{guild_id}")
GET_GUILD_CHANNELS: Final = Route("GET", "/guilds/{guild_id}/channels")
GET_GUILD_MEMBER: Final = Route("GET", "/guilds/{guild_id}/members/{user_id}")
LIST_GUILD_MEMBERS: Final = Route("GET", "/guilds/{guild_id}/members")
CREATE_DM: Final = Route("POST", "/users/@me/channels")
ADD_MEMBER_ROLE: Final = Route("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
BULK_OVERWRITE_GLOBAL_COMMANDS: Final = Route("PUT", "/applications/{application_id}/commands")
BULK_OVERWRITE_GUILD_COMMANDS: Final = Route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands")
INTERACTION_CALLBACK: Final = Route(
    "POST", "/interactions/{interaction_id}/{interaction_token}/callback", bot_auth=False
)
EDIT_ORIGINAL: Final = Route(
    "PATCH", "/webhooks/{application_id}/{interaction_token}/messages/@original", bot_auth=False
)
CREATE_FOLLOWUP: Final = Route("POST", "/webhooks/{application_id}/{interaction_token}", bot_auth=False)

ALL_ROUTES: Final = (
    GET_GATEWAY_BOT, GET_CURRENT_USER, GET_CURRENT_APPLICATION, CREATE_MESSAGE, DELETE_MESSAGE, GET_CHANNEL,
    GET_GUILD, GET_GUILD_MEMBER, LIST_GUILD_MEMBERS, CREATE_DM, ADD_MEMBER_ROLE, BULK_OVERWRITE_GLOBAL_COMMANDS,
    BULK_OVERWRITE_GUILD_COMMANDS, INTERACTION_CALLBACK, EDIT_ORIGINAL, CREATE_FOLLOWUP,
    GET_GUILD_CHANNELS, GET_CHANNEL_MESSAGES,
)  # fmt: skip
