"""Every route welcomebot calls, as constants (the bucket key is method + template + top-level resource).

:class:`Route` and :class:`CompiledRoute` are plain data (hikari's ``internal/routes.py``): the client imports
them from here, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

_MAJOR_PARAMS = ("channel_id", "guild_id", "webhook_id", "interaction_token", "interaction_id")


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    #: Interaction callbacks and webhooks need no bot token and are outside the global limit.
    bot_auth: bool = True

    def compile(self, **params: int | str) -> CompiledRoute:
        path = self.template.format(**params)
        major = next((f"{k}={params[k]}" for k in _MAJOR_PARAMS if k in params), "")
        return CompiledRoute(self, path, major)

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


@dataclass(frozen=True)
class CompiledRoute:
    route: Route
    path: str
    major: str

    def __str__(self) -> str:
        return f"{self.route.method} {self.path}"


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
