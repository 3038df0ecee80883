"""Gateway errors. Fatal close codes end the process with exit code 2 and a message saying what to fix."""

from __future__ import annotations

from datetime import datetime

from welcomebot.errors import FatalError, WelcomeBotError

__all__ = ["GatewayError", "GatewayFatal", "SessionStartsUsedUp"]


class GatewayError(WelcomeBotError):
    """Something went wrong talking to Discord's gateway."""


class GatewayFatal(GatewayError, FatalError):
    """Discord refused the connection for a reason only the operator can fix."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"gateway closed with {code}: {message}")
        self.code = code


class SessionStartsUsedUp(GatewayFatal):
    """``session_start_limit.remaining`` is 0: no shard may IDENTIFY until Discord's reset (exit code 2)."""

    def __init__(self, reset_at: datetime) -> None:
        GatewayError.__init__(
            self,
            f"Discord's session start limit is used up (too many IDENTIFYs in 24 h, usually a restart loop); it "
            f"resets at {reset_at:%Y-%m-%d %H:%M:%S} UTC: stop what keeps restarting the bot and start it after that",
        )
        self.code = 0
        self.reset_at = reset_at
