"""The gateway protocol as a state machine: payloads and time in, frames to send and events out.

No sockets, no sleeping, no trio (h11/wsproto style): the runner (:mod:`welcomebot.gateway.shard`) calls
:meth:`GatewayProtocol.connection_made`, feeds every received payload to :meth:`GatewayProtocol.receive`,
calls :meth:`GatewayProtocol.tick` at :meth:`GatewayProtocol.next_deadline`, and reports a lost connection
with its close code (:meth:`GatewayProtocol.connection_lost`). It answers with a list of events: frames to
:class:`Send`, :class:`Dispatch` es for the application, :class:`Ready`/:class:`Resumed` when a session is
live, and at most one :class:`Reconnect` or :class:`Fatal` that ends the connection.

Per events/gateway.mdx: HELLO starts heartbeats, the first after ``interval * random()``; when the next beat
is due and the previous one was never acknowledged the connection is a zombie, so we close it and RESUME.
op 1 asks for a heartbeat now; op 7 asks us to reconnect and resume; op 9 invalidates the session (``d`` says
whether it can be resumed; if not, wait 1 to 5 s and IDENTIFY afresh). Close codes: :mod:`.codes`.
"""

from __future__ import annotations

import enum
import platform
import random
from dataclasses import dataclass
from typing import Any

import msgspec

from welcomebot.gateway import events as wire
from welcomebot.gateway.codes import FATAL_MESSAGES, REIDENTIFY_CODES, CloseCode, Op

__all__ = [
    "GUILDS",
    "GUILD_MEMBERS",
    "INTENTS",
    "Dispatch",
    "Event",
    "Fatal",
    "GatewayProtocol",
    "Malformed",
    "Ready",
    "Reconnect",
    "Resumed",
    "SavedSession",
    "Send",
    "State",
]

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
#: Least privilege: guild lifecycle and member joins, nothing else.
INTENTS = GUILDS | GUILD_MEMBERS
#: Seconds to wait for HELLO on a fresh connection before trying another one.
HELLO_TIMEOUT = 20.0


class _Envelope(msgspec.Struct):
    op: int
    d: msgspec.Raw = msgspec.Raw(b"null")
    s: int | None = None
    t: str | None = None


class _Hello(msgspec.Struct):
    heartbeat_interval: int


_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_decode_hello = msgspec.json.Decoder(_Hello).decode
_decode_bool = msgspec.json.Decoder(bool).decode
_encode = msgspec.json.Encoder().encode


class State(enum.Enum):
    #: No connection (before the first one, or between a Reconnect and the next connection_made()).
    CLOSED = "closed"
    #: Connected, waiting for HELLO.
    WAITING_HELLO = "waiting_hello"
    #: IDENTIFY or RESUME sent, waiting for READY or RESUMED.
    AUTHENTICATING = "authenticating"
    #: Session live: dispatches flow.
    CONNECTED = "connected"
    #: A fatal close: never connect again.
    FAILED = "failed"


class SavedSession(msgspec.Struct, frozen=True):
    """What a RESUME needs; persisted so that a restarted process can resume."""

    session_id: str
    seq: int
    resume_url: str
    #: The shard count of the IDENTIFY that began the session (0: unknown, saved by an older version).
    shard_count: int = 0


@dataclass(frozen=True, slots=True)
class Send:
    payload: bytes
    #: Heartbeats may use the capacity reserved for them in the send limiter.
    heartbeat: bool = False

    def __repr__(self) -> str:  # IDENTIFY and RESUME payloads carry the token
        return f"Send(op={msgspec.json.decode(self.payload).get('op')}, heartbeat={self.heartbeat})"


@dataclass(frozen=True, slots=True)
class Dispatch:
    """One op-0 event. ``event`` is the decoded Struct for :data:`~.events.KNOWN_EVENTS`, else None."""

    name: str
    seq: int
    data: msgspec.Raw
    #: The session it belongs to; a fresh IDENTIFY starts a new one with sequences from 1.
    session_id: str
    event: Any = None


@dataclass(frozen=True, slots=True)
class Malformed:
    """A known event that did not decode: log it and skip it (never fatal)."""

    name: str
    seq: int
    error: str


@dataclass(frozen=True, slots=True)
class Ready:
    session_id: str
    resume_url: str
    user_id: int
    guild_count: int


@dataclass(frozen=True, slots=True)
class Resumed:
    session_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Close this connection (with ``close_code`` if still open) and connect again after ``delay`` seconds."""

    resume: bool
    delay: float
    reason: str
    close_code: int = CloseCode.RESUMABLE_CLOSE


@dataclass(frozen=True, slots=True)
class Fatal:
    code: int
    message: str


Event = Send | Dispatch | Malformed | Ready | Resumed | Reconnect | Fatal


class GatewayProtocol:
    """One shard's protocol state across its connections (the session outlives a connection)."""

    def __init__(
        self,
        token: str,
        *,
        shard: tuple[int, int] = (0, 1),
        intents: int = INTENTS,
        rng: random.Random | None = None,
        saved: SavedSession | None = None,
    ) -> None:
        self._token = token
        self.shard = shard
        self.intents = intents
        self._rng = rng or random.Random()
        self.session_id: str | None = saved.session_id if saved else None
        self.resume_url: str | None = saved.resume_url if saved else None
        self.seq: int | None = saved.seq if saved else None
        self.state = State.CLOSED
        self.heartbeat_interval: float | None = None
        self._next_beat: float | None = None
        self._awaiting_ack = False
        self._last_beat_at: float | None = None
        self.latency: float | None = None
        #: When the last HEARTBEAT_ACK arrived, kept across reconnects so readiness sees a run without ACKs.
        self.last_ack_at: float | None = None

    def __repr__(self) -> str:  # never the token
        return f"<GatewayProtocol shard={self.shard} state={self.state.value} session={self.session_id}>"

    @property
    def can_resume(self) -> bool:
        return self.session_id is not None and self.seq is not None

    def saved_session(self) -> SavedSession | None:
        if self.session_id is None or self.seq is None or self.resume_url is None:
            return None
        return SavedSession(self.session_id, self.seq, self.resume_url, self.shard[1])

    # --- inputs -------------------------------------------------------------------------------------------

    def connection_made(self, now: float | None = None) -> None:
        """A new connection is open. With ``now``, :meth:`tick` gives up on it if no HELLO comes in time."""
        if self.state is State.FAILED:
            raise RuntimeError("the gateway closed this shard for good; do not reconnect")
        self.state = State.WAITING_HELLO
        self._next_beat = None if now is None else now + HELLO_TIMEOUT
        self._awaiting_ack = False

    def receive(self, payload: bytes | str, now: float) -> list[Event]:
        if self.state in (State.CLOSED, State.FAILED):
            return []  # frames still buffered after we decided to reconnect
        try:
            envelope = _decode_envelope(payload)
        except (msgspec.DecodeError, UnicodeDecodeError):
            return self._reconnect(True, "undecodable payload from the gateway", close_code=CloseCode.DECODE_ERROR)
        match envelope.op:
            case Op.DISPATCH:
                return self._on_dispatch(envelope)
            case Op.HEARTBEAT_ACK:
                self._awaiting_ack = False
                self.last_ack_at = now
                if self._last_beat_at is not None:
                    self.latency = now - self._last_beat_at
                return []
            case Op.HEARTBEAT:
                return [self._beat(now)] if self.heartbeat_interval is not None else []
            case Op.HELLO:
                return self._on_hello(envelope.d, now)
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
                delay = self._rng.uniform(1.0, 5.0)
                return self._reconnect(False, "session invalidated (op 9)", delay=delay, close_code=1000)
        return []  # unknown opcodes are ignored, never fatal

    def tick(self, now: float) -> list[Event]:
        if self._next_beat is None or now < self._next_beat:
            return []
        if self.state is State.WAITING_HELLO:
            return self._reconnect(True, "no HELLO from the gateway")
        if self._awaiting_ack:
            return self._reconnect(True, "no heartbeat ACK before the next beat (zombie connection)")
        return [self._beat(now)]

    def next_deadline(self) -> float | None:
        return self._next_beat

    def connection_lost(self, now: float, code: int | None) -> list[Event]:
        """The transport closed (``code`` None: no close frame). Says what to do next."""
        if self.state in (State.CLOSED, State.FAILED):
            return []  # we closed it ourselves, after a Reconnect or Fatal
        self._stop()
        if code is not None and code in FATAL_MESSAGES:
            self.state = State.FAILED
            return [Fatal(code, FATAL_MESSAGES[code])]
        if code is not None and code in REIDENTIFY_CODES:
            self._forget_session()
            return [Reconnect(False, 0.0, f"session ended by the gateway (close {code})", close_code=1000)]
        if code in (1000, 1001):  # a normal close by the server; Discord then allows a RESUME still
            return [Reconnect(self.can_resume, 0.0, f"connection closed by the gateway ({code})")]
        reason = f"connection lost (close {code})" if code is not None else "connection lost (no close frame)"
        return [Reconnect(self.can_resume, 0.0, reason)]

    def request_reconnect(self, reason: str) -> list[Event]:
        """The runner wants this connection gone (e.g. the application fell behind); keep the session."""
        if self.state in (State.CLOSED, State.FAILED):
            return []
        return self._reconnect(True, reason)

    def rewind(self, seq: int) -> None:
        """Resume from ``seq`` instead: dispatches after it were received but never handed over."""
        if self.seq is not None and seq < self.seq:
            self.seq = seq

    # --- internals ----------------------------------------------------------------------------------------

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

    def _on_dispatch(self, envelope: _Envelope) -> list[Event]:
        name = envelope.t or ""
        seq = envelope.s
        if seq is None:
            return []  # every dispatch carries a sequence; one without cannot be resumed past
        events: list[Event] = []
        try:
            decoded = wire.decode_event(name, envelope.d)
        except msgspec.DecodeError as exc:
            if name == "READY":
                return self._reconnect(False, f"malformed READY: {exc}", close_code=1000)
            if self.seq is None or seq > self.seq:
                self.seq = seq
            return [Malformed(name, seq, str(exc))]
        if self.seq is None or seq > self.seq or name == "READY":
            self.seq = seq
        if isinstance(decoded, wire.Ready):
            self.session_id = decoded.session_id
            self.resume_url = decoded.resume_gateway_url
            self.state = State.CONNECTED
            events.append(Ready(decoded.session_id, decoded.resume_gateway_url, decoded.user.id, len(decoded.guilds)))
        elif name == "RESUMED":
            self.state = State.CONNECTED
            events.append(Resumed(self.session_id or "", seq))
        if self.session_id is None:
            return events  # a dispatch before READY belongs to no session we can resume
        events.append(Dispatch(name, seq, envelope.d, self.session_id, decoded))
        return events

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

    def _stop(self) -> None:
        self.state = State.CLOSED
        self._next_beat = None
        self._awaiting_ack = False

    def _reconnect(
        self, resume: bool, reason: str, *, delay: float = 0.0, close_code: int = CloseCode.RESUMABLE_CLOSE
    ) -> list[Event]:
        self._stop()
        return [Reconnect(resume and self.can_resume, delay, reason, close_code)]
