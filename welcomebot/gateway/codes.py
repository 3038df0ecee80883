"""Gateway opcodes and close codes (topics/opcodes-and-status-codes.mdx), and what each close means.

The close-code policy is data, like hikari's ``ShardCloseCode``: every code we know sits in exactly one of
:data:`RESUME_CODES`, :data:`REIDENTIFY_CODES` or :data:`FATAL_CODES`. Codes we do not know (and every
code below 4000, including a close without a frame) keep the session and try to RESUME.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["FATAL_CODES", "FATAL_MESSAGES", "REIDENTIFY_CODES", "RESUME_CODES", "CloseCode", "Op"]


class Op(enum.IntEnum):
    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class CloseCode(enum.IntEnum):
    #: Ours: any code but 1000/1001 keeps the session resumable (events/gateway.mdx, "Closing").
    RESUMABLE_CLOSE = 3000
    UNKNOWN_ERROR = 4000
    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    INVALID_SEQ = 4007
    RATE_LIMITED = 4008
    SESSION_TIMED_OUT = 4009
    INVALID_SHARD = 4010
    SHARDING_REQUIRED = 4011
    INVALID_API_VERSION = 4012
    INVALID_INTENTS = 4013
    DISALLOWED_INTENTS = 4014


#: Reconnect and RESUME: the session survives these.
RESUME_CODES: Final = frozenset(
    {
        CloseCode.UNKNOWN_ERROR,
        CloseCode.UNKNOWN_OPCODE,
        CloseCode.DECODE_ERROR,
        CloseCode.NOT_AUTHENTICATED,
        CloseCode.ALREADY_AUTHENTICATED,
        CloseCode.RATE_LIMITED,
    }
)

#: Reconnect with a fresh IDENTIFY: the session is gone.
REIDENTIFY_CODES: Final = frozenset({CloseCode.INVALID_SEQ, CloseCode.SESSION_TIMED_OUT})

#: Do not reconnect: only the operator can fix these. Messages never contain the token.
FATAL_MESSAGES: Final[dict[int, str]] = {
    CloseCode.AUTHENTICATION_FAILED: (
        "the token was rejected; reset it in the developer portal (Bot → Reset Token) and set "
        "DISCORD_BOT_TOKEN to the new one"
    ),
    CloseCode.INVALID_SHARD: "the shard id or count is invalid; check --shards and --shard-count",
    CloseCode.SHARDING_REQUIRED: (
        "the bot is in too many guilds for this shard count; run with a higher --shard-count "
        "(GET /gateway/bot recommends one)"
    ),
    CloseCode.INVALID_API_VERSION: "the gateway API version is no longer accepted; upgrade welcomebot",
    CloseCode.INVALID_INTENTS: "the gateway intents are invalid; this is a bug in welcomebot, please report it",
    CloseCode.DISALLOWED_INTENTS: (
        "the bot asked for the Server Members intent, which is not enabled: enable the Server Members Intent "
        "for the application in the developer portal (Bot → Privileged Gateway Intents), then restart"
    ),
}

FATAL_CODES: Final = frozenset(FATAL_MESSAGES)
