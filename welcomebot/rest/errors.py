"""REST errors: what went wrong, on which route, and what an admin or operator should do about it.

::

    RestError
    ├── HTTPError(status, code, route)        Discord answered with an error
    │   ├── Unauthorized                      401: the token was rejected
    │   ├── Forbidden                         403: 50013 Missing Permissions, 50001 Missing Access, ...
    │   ├── NotFound                          404: 10003 Unknown Channel, 10007 Unknown Member, ...
    │   └── ServerError                       5xx after the retries
    ├── RateLimitTooLong(retry_after)         a 429 asking for a longer wait than we allow
    ├── TooManyInvalidRequests                we stopped ourselves before Discord's invalid-request ban
    └── TransportError                        timeouts and connection errors after the retries
"""

from __future__ import annotations

from welcomebot.errors import FatalError, WelcomeBotError

__all__ = [
    "Forbidden",
    "HTTPError",
    "NotFound",
    "RateLimitTooLong",
    "RestError",
    "ServerError",
    "TooManyInvalidRequests",
    "TransportError",
    "Unauthorized",
]

#: What to tell an admin for Discord's JSON error codes we meet in practice.
_ADVICE = {
    50001: "the bot cannot see {where}: give it View Channel there",
    50013: "the bot lacks a permission in {where}: grant it View Channel, Send Messages and Attach Files",
    10003: "{where} no longer exists: pick another channel with /welcome channel",
    10004: "the bot is no longer in {where}",
    10007: "the member has left {where}",
    50007: "the member does not accept direct messages",
}


class RestError(WelcomeBotError):
    """Base class of REST errors."""


class HTTPError(RestError):
    def __init__(self, status: int, code: int, message: str, route: str, where: str = "") -> None:
        self.status = status
        self.code = code
        self.route = route
        self.discord_message = message
        advice = _ADVICE.get(code, "").format(where=where or "that resource")
        text = f"{route} failed with HTTP {status}"
        if code:
            text += f" (Discord code {code}: {message})"
        if advice:
            text += f": {advice}"
        super().__init__(text)


class Unauthorized(HTTPError, FatalError):
    """The token was rejected; nothing more can be sent with it (the CLI exits with code 2)."""

    def __init__(self, status: int, code: int, message: str, route: str, where: str = "") -> None:
        super().__init__(status, code, message, route, where)
        self.args = (
            f"{route}: Discord rejected the bot token (HTTP 401); reset it in the developer portal "
            "(Bot → Reset Token) and set DISCORD_BOT_TOKEN to the new one",
        )


class Forbidden(HTTPError):
    pass


class NotFound(HTTPError):
    pass


class ServerError(HTTPError):
    pass


class RateLimitTooLong(RestError):
    def __init__(self, route: str, retry_after: float) -> None:
        super().__init__(f"{route} is rate limited for {retry_after:.0f} s, longer than we wait; try again later")
        self.retry_after = retry_after


class TooManyInvalidRequests(RestError):
    def __init__(self, count: int, window: float) -> None:
        super().__init__(
            f"{count} requests failed with 401/403/429 in the last {window:.0f} s; holding off to stay clear of "
            "Discord's temporary ban. Fix the permissions the log names, then restart."
        )


class TransportError(RestError):
    pass
