"""The gateway protocol as a state machine: frames and time in, frames to send and events out.

No sockets, no sleeping, no trio: the runner (:mod:`welcomebot.gateway.shard`) feeds it every received
payload (:meth:`GatewayProtocol.receive`), calls :meth:`GatewayProtocol.tick` at
:meth:`GatewayProtocol.next_deadline`, and reports a lost connection with its close code
(:meth:`GatewayProtocol.connection_lost`). It answers with :class:`Send` frames and application events.

Per events/gateway.mdx: HELLO starts heartbeats, the first after ``interval * random()``; a heartbeat sent
while the previous one is still unacknowledged means a zombie connection, so we reconnect and RESUME. op 1
asks for a heartbeat now; op 7 asks us to reconnect and resume; op 9 invalidates the session (``d`` says
whether it can be resumed; if not, wait 1 to 5 s and IDENTIFY afresh).
"""

from __future__ import annotations

import enum
import platform
import random
from dataclasses import dataclass

import msgspec

from welcomebot.gateway.codes import FATAL_MESSAGES, REIDENTIFY_CODES, CloseCode, Op

__all__ = [
    "GUILDS",
    "GUILD_MEMBERS",
    "INTENTS",
    "Dispatch",
    "Event",
    "Fatal",
    "GatewayProtocol",
    "Reconnect",
    "ResumeState",
    "Send",
    "State",
]

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
#: Least privilege: guild lifecycle and member joins, nothing else.
INTENTS = GUILDS | GUILD_MEMBERS


class _Envelope(msgspec.Struct):
    op: int
    d: msgspec.Raw = msgspec.Raw(b"null")
    s: int | None = None
    t: str | None = None


class _Ready(msgspec.Struct):
    session_id: str
    resume_gateway_url: str


class _Hello(msgspec.Struct):
    heartbeat_interval: int


_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_decode_ready = msgspec.json.Decoder(_Ready).decode
_decode_hello = msgspec.json.Decoder(_Hello).decode
_decode_bool = msgspec.json.Decoder(bool).decode
_encode = msgspec.json.Encoder().encode


class State(enum.Enum):
    #: Connected, waiting for HELLO.
    WAITING_HELLO = "waiting_hello"
    #: IDENTIFY or RESUME sent, waiting for READY or RESUMED.
    AUTHENTICATING = "authenticating"
    #: Session live: dispatches flow.
    CONNECTED = "connected"
    #: The connection is finished (reconnect pending or fatal).
    CLOSED = "closed"


class ResumeState(msgspec.Struct, frozen=True):
    """What a RESUME needs; persisted so that a restarted process can resume."""

    session_id: str
    seq: int
    resume_url: str


@dataclass(frozen=True)
class Send:
    payload: bytes
    #: Heartbeats may use the capacity reserved for them in the send limiter.
    heartbeat: bool = False


@dataclass(frozen=True)
class Dispatch:
    name: str
    seq: int
    data: msgspec.Raw
    #: The session it belongs to; a fresh IDENTIFY starts a new one with sequences from 1.
    session_id: str


@dataclass(frozen=True)
class Reconnect:
    """Close this connection (``close_code``, if still open) and connect again after ``delay`` seconds."""

    resume: bool
    reason: str
    delay: float = 0.0
    close_code: int = CloseCode.RESUMABLE_CLOSE


@dataclass(frozen=True)
class Fatal:
    code: int
    message: str


Event = Send | Dispatch | Reconnect | Fatal


class GatewayProtocol:
    """One shard's protocol state across its connections."""

    def __init__(
        self,
        token: str,
        *,
        shard: tuple[int, int] = (0, 1),
        intents: int = INTENTS,
        rng: random.Random | None = None,
        resume: ResumeState | None = None,
    ) -> None:
        self._token = token
        self.shard = shard
        self.intents = intents
        self._rng = rng or random.Random()
        self.session_id: str | None = resume.session_id if resume else None
        self.resume_url: str | None = resume.resume_url if resume else None
        self.seq: int | None = resume.seq if resume else None
        self.state = State.CLOSED
        self.heartbeat_interval: float | None = None
        self._next_beat: float | None = None
        self._awaiting_ack = False
        self.last_ack_at: float | None = None
        self.latency: float | None = None
        self._last_beat_at: float | None = None

    def __repr__(self) -> str:  # never the token
        return f"<GatewayProtocol shard={self.shard} state={self.state.value} session={self.session_id}>"

    @property
    def can_resume(self) -> bool:
        return self.session_id is not None and self.seq is not None

    def resume_state(self) -> ResumeState | None:
        if self.session_id is None or self.seq is None or self.resume_url is None:
            return None
        return ResumeState(self.session_id, self.seq, self.resume_url)

    # --- inputs -------------------------------------------------------------------------------------

    def connection_made(self) -> None:
        self.state = State.WAITING_HELLO
        self._next_beat = None
        self._awaiting_ack = False

    def receive(self, payload: bytes | str, now: float) -> list[Event]:
        try:
            envelope = _decode_envelope(payload)
        except msgspec.DecodeError:
            return self._reconnect(True, "undecodable payload from the gateway", close_code=CloseCode.DECODE_ERROR)
        match envelope.op:
            case Op.HELLO:
                return self._on_hello(envelope.d, now)
            case Op.HEARTBEAT_ACK:
                self._awaiting_ack = False
                self.last_ack_at = now
                if self._last_beat_at is not None:
                    self.latency = now - self._last_beat_at
                return []
            case Op.HEARTBEAT:
                return [self._beat(now)]
            case Op.RECONNECT:
                return self._reconnect(True, "the gateway asked us to reconnect (op 7)")
            case Op.INVALID_SESSION:
                try:
                    resumable = _decode_bool(envelope.d)
                except msgspec.DecodeError:
                    resumable = False
                if resumable:
                    return self._reconnect(True, "session invalidated, resumable (op 9)")
                self._forget_session()
                return self._reconnect(False, "session invalidated (op 9)", delay=self._rng.uniform(1.0, 5.0),
                                       close_code=1000)  # fmt: skip
            case Op.DISPATCH:
                return self._on_dispatch(envelope, now)
        return []  # unknown opcodes are ignored, never fatal

    def tick(self, now: float) -> list[Event]:
        if self.state is State.CLOSED or self._next_beat is None or now < self._next_beat:
            return []
        if self._awaiting_ack:
            return self._reconnect(True, "no heartbeat ACK before the next beat (zombie connection)")
        return [self._beat(now)]

    def next_deadline(self) -> float | None:
        return None if self.state is State.CLOSED else self._next_beat

    def connection_lost(self, code: int | None) -> list[Event]:
        """The transport closed (``code`` None: no close frame). What to do next."""
        if self.state is State.CLOSED and code is None:
            return []
        self.state = State.CLOSED
        self._next_beat = None
        if code is not None and code in FATAL_MESSAGES:
            return [Fatal(code, FATAL_MESSAGES[code])]
        if code is not None and code in REIDENTIFY_CODES:
            self._forget_session()
            return [Reconnect(False, f"session ended by the gateway (close {code})", close_code=1000)]
        return [Reconnect(self.can_resume, f"connection lost (close {code})" if code else "connection lost")]

    # --- internals ----------------------------------------------------------------------------------

    def _on_hello(self, d: msgspec.Raw, now: float) -> list[Event]:
        try:
            hello = _decode_hello(d)
        except msgspec.DecodeError:
            return self._reconnect(True, "malformed HELLO", close_code=CloseCode.DECODE_ERROR)
        self.heartbeat_interval = hello.heartbeat_interval / 1000
        self._next_beat = now + self.heartbeat_interval * self._rng.random()
        self._awaiting_ack = False
        self.state = State.AUTHENTICATING
        if self.can_resume:
            assert self.session_id is not None
            resume = {"token": self._token, "session_id": self.session_id, "seq": self.seq}
            return [Send(_encode({"op": Op.RESUME, "d": resume}))]
        identify = {
            "token": self._token,
            "intents": self.intents,
            "properties": {"os": platform.system().lower() or "linux", "browser": "welcomebot", "device": "welcomebot"},
            "shard": list(self.shard),
            "large_threshold": 50,
        }
        return [Send(_encode({"op": Op.IDENTIFY, "d": identify}))]

    def _on_dispatch(self, envelope: _Envelope, now: float) -> list[Event]:
        if envelope.s is not None:
            self.seq = envelope.s
        name = envelope.t or ""
        if name == "READY":
            try:
                ready = _decode_ready(envelope.d)
            except msgspec.DecodeError:
                return self._reconnect(False, "malformed READY", close_code=1000)
            self.session_id = ready.session_id
            self.resume_url = ready.resume_gateway_url
            self.state = State.CONNECTED
        elif name == "RESUMED":
            self.state = State.CONNECTED
        if self.session_id is None or envelope.s is None:
            return []
        return [Dispatch(name, envelope.s, envelope.d, self.session_id)]

    def _beat(self, now: float) -> Send:
        assert self.heartbeat_interval is not None
        self._awaiting_ack = True
        self._last_beat_at = now
        self._next_beat = now + self.heartbeat_interval
        return Send(_encode({"op": Op.HEARTBEAT, "d": self.seq}), heartbeat=True)

    def _forget_session(self) -> None:
        self.session_id = None
        self.seq = None
        self.resume_url = None

    def _reconnect(self, resume: bool, reason: str, *, delay: float = 0.0,
                   close_code: int = CloseCode.RESUMABLE_CLOSE) -> list[Event]:  # fmt: skip
        self.state = State.CLOSED
        self._next_beat = None
        return [Reconnect(resume and self.can_resume, reason, delay, close_code)]
