"""Discord's REST API: typed calls (:class:`DiscordApi`) over the httpx client (:class:`RestClient`), whose
rate limits are the sans-IO core in ``buckets.py``; the error tree; Discord's permission arithmetic.
"""

from welcomebot.rest.api import DiscordApi, Message, MessageUser
from welcomebot.rest.buckets import Bucket, Headers, RateLimits
from welcomebot.rest.client import USER_AGENT, File, RestClient
from welcomebot.rest.errors import (
    Forbidden,
    HTTPError,
    NotFound,
    RateLimitTooLong,
    RestError,
    ServerError,
    TooManyInvalidRequests,
    TransportError,
    Unauthorized,
)
from welcomebot.rest.permissions import (
    WELCOME_NEEDS,
    Overwrite,
    Permission,
    bot_permissions,
    can_manage,
    channel_permissions,
    missing,
)
from welcomebot.rest.routes import CompiledRoute, Route

__all__ = [
    "USER_AGENT",
    "WELCOME_NEEDS",
    "Bucket",
    "CompiledRoute",
    "DiscordApi",
    "File",
    "Forbidden",
    "HTTPError",
    "Headers",
    "Message",
    "MessageUser",
    "NotFound",
    "Overwrite",
    "Permission",
    "RateLimitTooLong",
    "RateLimits",
    "RestClient",
    "RestError",
    "Route",
    "ServerError",
    "TooManyInvalidRequests",
    "TransportError",
    "Unauthorized",
    "bot_permissions",
    "can_manage",
    "channel_permissions",
    "missing",
]
