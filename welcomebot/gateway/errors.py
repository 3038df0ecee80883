"""Gateway errors. Fatal close codes end the process with exit code 2 and a message saying what to fix."""

from __future__ import annotations

from welcomebot.errors import FatalError, WelcomeBotError

__all__ = ["GatewayError", "GatewayFatal"]


class GatewayError(WelcomeBotError):
    """Something went wrong talking to Discord's gateway."""


class GatewayFatal(GatewayError, FatalError):
    """Discord refused the connection for a reason only the operator can fix."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"gateway closed with {code}: {message}")
        self.code = code
