"""One shard's connection, in trio: the thin shell around :class:`~welcomebot.gateway.protocol.GatewayProtocol`.

It owns the websocket (and its TCP stream, so a server-side close never leaks the socket), feeds the
protocol, sends what it says (through the 120-per-60-s send window, with room kept for heartbeats),
reconnects with exponential backoff and full jitter, and hands dispatches to the application over a
memory channel.

Sequence checkpoints (DESIGN.md, exactly-once rule 4): the shard persists its session for a restarted
process to RESUME, but the sequence it writes comes from ``checkpoint()``, the application's count of
what is durably handled, never from what merely arrived.
"""

from __future__ import annotations

import logging
import math
import random
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, wrap_client_stream

from actors import ExponentialBackoff, FixedWindow
from welcomebot.gateway.errors import GatewayFatal
from welcomebot.gateway.inflate import ZlibStream
from welcomebot.gateway.protocol import Dispatch, Event, Fatal, GatewayProtocol, Reconnect, ResumeState, Send
from welcomebot.secret import Secret

__all__ = ["MemorySessionStore", "SessionStore", "Shard", "ShardConfig"]

log = logging.getLogger(__name__)

SEND_LIMIT = 120
SEND_WINDOW = 60.0
#: Sends kept free for heartbeats within each window.
HEARTBEAT_RESERVE = 5
MAX_MESSAGE = 16 * 1024 * 1024  # a GUILD_CREATE of a large guild is well above trio-websocket's 1 MiB
CHECKPOINT_EVERY = 5.0


class SessionStore(Protocol):
    async def load_session(self, shard_id: int) -> ResumeState | None: ...
    async def save_session(self, shard_id: int, state: ResumeState) -> None: ...
    async def clear_session(self, shard_id: int) -> None: ...


class MemorySessionStore:
    def __init__(self) -> None:
        self.sessions: dict[int, ResumeState] = {}

    async def load_session(self, shard_id: int) -> ResumeState | None:
        await trio.lowlevel.checkpoint()
        return self.sessions.get(shard_id)

    async def save_session(self, shard_id: int, state: ResumeState) -> None:
        await trio.lowlevel.checkpoint()
        self.sessions[shard_id] = state

    async def clear_session(self, shard_id: int) -> None:
        await trio.lowlevel.checkpoint()
        self.sessions.pop(shard_id, None)


@dataclass(frozen=True)
class ShardConfig:
    token: Secret
    gateway_url: str
    shard_id: int = 0
    shard_count: int = 1
    compress: bool = False
    max_backoff: float = 60.0


class Shard:
    """Run :meth:`run` in a nursery; :attr:`live` is set once the first session is READY or RESUMED."""

    def __init__(
        self,
        config: ShardConfig,
        dispatches: trio.MemorySendChannel[Dispatch],
        sessions: SessionStore,
        *,
        checkpoint: Callable[[], tuple[str, int] | None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._out = dispatches
        self._sessions = sessions
        self._checkpoint = checkpoint
        self._rng = rng or random.Random()
        self.protocol: GatewayProtocol | None = None
        self.connected = False
        self.reconnects: Counter[str] = Counter()
        self.resumes = 0
        self._window = FixedWindow(SEND_LIMIT, SEND_WINDOW)
        self._saved: ResumeState | None = None
        self.live = trio.Event()
        self._live_this_connection = False

    @property
    def shard_id(self) -> int:
        return self.config.shard_id

    def _log_extra(self, **fields: object) -> dict[str, object]:
        session = self.protocol.session_id if self.protocol else None
        return {"shard": self.shard_id, "session_id": session, **fields}

    async def run(self) -> None:
        saved = await self._sessions.load_session(self.shard_id)
        self._saved = saved
        protocol = self.protocol = GatewayProtocol(
            self.config.token.reveal(),
            shard=(self.shard_id, self.config.shard_count),
            rng=self._rng,
            resume=saved,
        )
        backoff = ExponentialBackoff(min(1.0, self.config.max_backoff), 2.0, self.config.max_backoff, rng=self._rng)
        resume = saved is not None
        with self._out:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._checkpoint_loop)
                fatal = await self._connect_loop(protocol, backoff, resume)
                nursery.cancel_scope.cancel()
        log.error("gateway refused the bot", extra=self._log_extra(code=fatal.code))
        # Raised outside the nursery, so the caller sees GatewayFatal itself, not a group.
        raise GatewayFatal(fatal.code, fatal.message)

    async def _connect_loop(self, protocol: GatewayProtocol, backoff: ExponentialBackoff, resume: bool) -> Fatal:
        while True:
            url = protocol.resume_url if resume and protocol.resume_url else self.config.gateway_url
            outcome = await self._connect_once(url, protocol)
            if isinstance(outcome, Fatal):
                return outcome
            reconnect = outcome
            self.reconnects[reconnect.reason] += 1
            resume = reconnect.resume
            if not resume:
                await self._sessions.clear_session(self.shard_id)
                self._saved = None
            if self._live_this_connection:
                backoff.reset()  # it worked for a while: the first retry comes soon
            delay = max(reconnect.delay, next(backoff))
            log.warning(
                "gateway connection ended; reconnecting",
                extra=self._log_extra(reason=reconnect.reason, resume=resume, retry_in_s=round(delay, 2)),
            )
            await trio.sleep(delay)

    async def _connect_once(self, url: str, protocol: GatewayProtocol) -> Reconnect | Fatal:
        self._live_this_connection = False
        try:
            async with self._open(url) as ws:
                protocol.connection_made()
                return await self._drive(ws, protocol)
        except (OSError, HandshakeError, trio.TooSlowError) as exc:
            self.connected = False
            events = protocol.connection_lost(None)
            reason = f"could not connect: {type(exc).__name__}"
            return Reconnect(protocol.can_resume, reason) if not events else _first_outcome(events, reason)

    @asynccontextmanager
    async def _open(self, url: str) -> AsyncIterator[WebSocketConnection]:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        resource = f"{parts.path or '/'}?v=10&encoding=json" + ("&compress=zlib-stream" if self.config.compress else "")
        with trio.fail_after(30):
            tcp = await trio.open_tcp_stream(host, port)
        stream: trio.SocketStream | trio.SSLStream[trio.SocketStream] = tcp
        if parts.scheme == "wss":
            stream = trio.SSLStream(tcp, ssl.create_default_context(), server_hostname=host)
        async with stream, trio.open_nursery() as nursery:
            with trio.fail_after(30):
                ws = await wrap_client_stream(nursery, stream, host, resource, max_message_size=MAX_MESSAGE,
                                              message_queue_size=64)  # fmt: skip
            try:
                yield ws
            finally:
                with trio.move_on_after(2) as cleanup:
                    cleanup.shield = True
                    await ws.aclose()
                nursery.cancel_scope.cancel()

    async def _drive(self, ws: WebSocketConnection, protocol: GatewayProtocol) -> Reconnect | Fatal:
        inflater = ZlibStream() if self.config.compress else None
        outcome: list[Reconnect | Fatal] = []

        async def handle(events: list[Event], nursery: trio.Nursery) -> None:
            for event in events:
                match event:
                    case Send():
                        await self._send(ws, event)
                    case Dispatch():
                        await self._deliver(event, protocol)
                    case Reconnect() | Fatal():
                        outcome.append(event)
                        if isinstance(event, Reconnect):
                            with trio.move_on_after(2) as cleanup:
                                cleanup.shield = True
                                await ws.aclose(event.close_code)
                        nursery.cancel_scope.cancel()
                        return

        rescheduled = [trio.Event()]

        async def timer(nursery: trio.Nursery) -> None:
            # Sleep until the protocol's next deadline, or until a received frame may have moved it.
            while True:
                deadline = protocol.next_deadline()
                with trio.move_on_at(deadline if deadline is not None else math.inf):
                    await rescheduled[0].wait()
                    rescheduled[0] = trio.Event()
                    continue
                await handle(protocol.tick(trio.current_time()), nursery)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(timer, nursery)
            try:
                while True:
                    message = await ws.get_message()
                    if inflater is not None:
                        payload = inflater.feed(message if isinstance(message, bytes) else message.encode())
                        if payload is None:
                            continue
                    else:
                        payload = message.encode() if isinstance(message, str) else message
                    await handle(protocol.receive(payload, trio.current_time()), nursery)
                    rescheduled[0].set()
            except ConnectionClosed as closed:
                code = None if closed.reason is None else closed.reason.code
                if code == 1006:
                    code = None
                nursery.cancel_scope.cancel()
                if not outcome:
                    events = protocol.connection_lost(code)
                    self.connected = False
                    return _first_outcome(events, "connection lost")
        self.connected = False
        return outcome[0] if outcome else Reconnect(protocol.can_resume, "connection ended")

    async def _send(self, ws: WebSocketConnection, send: Send) -> None:
        while True:
            now = trio.current_time()
            if not send.heartbeat and self._window.remaining(now) <= HEARTBEAT_RESERVE:
                await trio.sleep(self._window.period / 10)
                continue
            wait = self._window.try_take(now)
            if wait == 0:
                break
            await trio.sleep(wait)
        await ws.send_message(send.payload.decode())

    async def _deliver(self, dispatch: Dispatch, protocol: GatewayProtocol) -> None:
        if dispatch.name in ("READY", "RESUMED"):
            self.connected = True
            self._live_this_connection = True
            self.live.set()
            if dispatch.name == "RESUMED":
                self.resumes += 1
            log.info(f"gateway {dispatch.name.lower()}", extra=self._log_extra())
            await self._persist(force=True)
        await self._out.send(dispatch)

    async def _checkpoint_loop(self) -> None:
        while True:
            await trio.sleep(CHECKPOINT_EVERY)
            await self._persist()

    async def _persist(self, *, force: bool = False) -> None:
        """Save (session, safe sequence, resume URL) when it changed."""
        protocol = self.protocol
        if protocol is None or protocol.session_id is None or protocol.resume_url is None:
            return
        safe = 0
        if self._checkpoint is not None:
            mark = self._checkpoint()
            if mark is not None and mark[0] == protocol.session_id:
                safe = mark[1]
            elif self._saved is not None and self._saved.session_id == protocol.session_id:
                safe = self._saved.seq  # resumed: nothing new is durable yet
        else:
            safe = protocol.seq or 0
        state = ResumeState(protocol.session_id, min(safe, protocol.seq or 0), protocol.resume_url)
        if state != self._saved or force:
            await self._sessions.save_session(self.shard_id, state)
            self._saved = state


def _first_outcome(events: list[Event], default_reason: str) -> Reconnect | Fatal:
    for event in events:
        if isinstance(event, Reconnect | Fatal):
            return event
    return Reconnect(False, default_reason)
