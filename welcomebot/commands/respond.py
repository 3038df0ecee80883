"""Answering one interaction: ephemeral replies, deferral, and Discord's 3 s / 15 min clocks.

Discord shows "The application did not respond" unless the first callback arrives within 3 s of the
interaction; after a deferral (type 5, "thinking…") the original response can be edited for 15 minutes.
A :class:`Responder` sends exactly one callback: the answer itself when it is ready in time, otherwise the
deferral (at :data:`DEFER_AFTER_S`, or at once for commands known to be slow), followed by an edit.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import trio

from welcomebot.rest import RestError

if TYPE_CHECKING:
    from welcomebot.commands.model import Invocation
    from welcomebot.rest import DiscordApi, File

__all__ = ["DEFER_AFTER_S", "EPHEMERAL", "Reply", "Responder"]

log = logging.getLogger(__name__)

#: Message flag: only the invoker sees the response.
EPHEMERAL: Final = 1 << 6
CHANNEL_MESSAGE: Final = 4  # callback type: answer now
DEFERRED_CHANNEL_MESSAGE: Final = 5  # callback type: "thinking…", edit the original later
#: Defer when the answer is not ready by then: leaves 2 s of Discord's 3 s for the callback itself.
DEFER_AFTER_S: Final = 1.0


@dataclass(frozen=True)
class Reply:
    content: str
    files: list[File] = field(default_factory=list)


class _State(enum.Enum):
    FRESH = "fresh"
    DEFERRED = "deferred"
    ANSWERED = "answered"
    FAILED = "failed"  # the callback was refused (too late, already acknowledged): nothing more to send


class Responder:
    def __init__(self, api: DiscordApi, invocation: Invocation) -> None:
        self._api = api
        self._call = invocation
        self._lock = trio.Lock()
        self._state = _State.FRESH

    @property
    def state(self) -> str:
        return self._state.value

    async def defer(self) -> None:
        """Acknowledge now ("thinking…", visible to the invoker only); the answer comes as an edit."""
        async with self._lock:
            if self._state is _State.FRESH:
                await self._callback({"type": DEFERRED_CHANNEL_MESSAGE, "data": {"flags": EPHEMERAL}},
                                     _State.DEFERRED)  # fmt: skip

    async def defer_after(self, delay: float) -> None:
        """Defer unless answered within ``delay`` seconds of the interaction's arrival."""
        await trio.sleep_until(self._call.received_at + delay)
        await self.defer()

    async def answer(self, reply: Reply) -> None:
        """Send the answer: as the callback if nothing was sent yet, else by editing the deferred response."""
        if reply.files:
            await self.defer()  # attachments go through the edit, which takes them as a plain message does
        async with self._lock:
            data: dict[str, Any] = {"content": reply.content[:2000], "allowed_mentions": {"parse": []}}
            if self._state is _State.FRESH:
                await self._callback({"type": CHANNEL_MESSAGE, "data": {**data, "flags": EPHEMERAL}}, _State.ANSWERED)
            elif self._state is _State.DEFERRED:
                try:
                    await self._api.edit_original(self._call.application_id, self._call.token, data,
                                                  files=reply.files or None)  # fmt: skip
                except RestError as exc:
                    log.warning("could not edit the deferred response", extra=self._extra(exc))
                self._state = _State.ANSWERED

    async def _callback(self, payload: dict[str, Any], then: _State) -> None:
        try:
            await self._api.interaction_callback(self._call.id, self._call.token, payload)
        except RestError as exc:
            # 10062 Unknown interaction: later than 3 s (a delayed dispatch); 40060: acknowledged already.
            log.warning("interaction callback refused", extra=self._extra(exc))
            self._state = _State.FAILED
            return
        self._state = then

    def _extra(self, exc: Exception) -> dict[str, Any]:
        return {"interaction_id": self._call.id, "command": self._call.command, "guild_id": self._call.guild_id,
                "error": str(exc)}  # fmt: skip
