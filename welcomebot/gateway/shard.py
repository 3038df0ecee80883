"""One shard's connection, in trio: the thin shell around :class:`~welcomebot.gateway.protocol.GatewayProtocol`.

:func:`run_shard` owns the websocket, feeds the protocol, sends what it says through the 120-per-60-s
:class:`~.ratelimit.SendLimiter` (heartbeats have reserved room), reconnects with exponential backoff and
full jitter (RESUME goes to ``resume_gateway_url``), and hands dispatches to the application over a memory
channel.

Backpressure: the reader never awaits the application. It puts each dispatch into a bounded internal
buffer with ``send_nowait`` and a forwarder task moves them on to the application's channel. A slow
application therefore never stops us reading HEARTBEAT_ACKs (which would look like a zombie connection).
If the buffer fills up, the reader does not drop anything: it rewinds the protocol's sequence to the last
dispatch it buffered, closes the connection resumably, waits until the application has drained half the
buffer, and RESUMEs, so Discord replays the rest (the session survives a short absence).

Checkpoints (DESIGN.md, exactly-once rule 4). The sequence we persist for a RESUME must never run ahead of
what the application has durably handled, so the runner never persists what it merely received. The rule:
**the application calls** ``handle.checkpoint(session_id, seq)`` **with a sequence such that every
dispatch of that session up to ``seq`` is durably handled** -- including the ones it has no use for (its
sequence watermark treats those as done at once). The runner saves ``(session_id, checkpointed seq,
resume_url)`` through the :class:`~.session.SessionStore` at most once per ``persist_interval`` and once
more on shutdown. A new session (READY) is saved with sequence 0: resuming from it replays everything.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, wrap_client_stream

from actors import ExponentialBackoff
from welcomebot.errors import first_leaf
from welcomebot.gateway.codes import CloseCode
from welcomebot.gateway.errors import GatewayFatal
from welcomebot.gateway.inflate import ZlibStream
from welcomebot.gateway.protocol import (
    INTENTS,
    Dispatch,
    Event,
    Fatal,
    GatewayProtocol,
    Malformed,
    Ready,
    Reconnect,
    Resumed,
    SavedSession,
    Send,
)
from welcomebot.gateway.ratelimit import SendLimiter
from welcomebot.gateway.session import SessionStore
from welcomebot.secret import Secret

__all__ = ["MAX_MESSAGE_SIZE", "OpenStream", "ShardConfig", "ShardHandle", "run_shard"]

log = logging.getLogger(__name__)

FELL_BEHIND = "the application fell behind"
#: A session live this long resets the backoff; a gateway that drops us right after READY keeps backing off.
STABLE_AFTER = 30.0

#: A GUILD_CREATE of a large guild is well above trio-websocket's default of 1 MiB (which closes with 1009).
MAX_MESSAGE_SIZE = 64 * 1024 * 1024

#: ``(host, port, tls) -> stream``: how to reach the gateway; tests pass an in-memory stream here.
OpenStream = Callable[[str, int, bool], Awaitable[trio.abc.Stream]]


@dataclass(frozen=True)
class ShardConfig:
    token: Secret
    gateway_url: str
    shard_id: int = 0
    shard_count: int = 1
    compress: bool = False
    intents: int = INTENTS
    max_backoff: float = 60.0
    #: Dispatches buffered between the reader and the application (see the module docstring).
    buffer_size: int = 4096
    persist_interval: float = 1.0
    connect_timeout: float = 30.0
    open_stream: OpenStream | None = None
    #: Awaited before each fresh IDENTIFY (not before a RESUME): the manager's per-bucket spacing.
    identify_gate: Callable[[int], Awaitable[None]] | None = None


class ShardHandle:
    """What the application and the manager see of a running shard: checkpoints in, state and counters out."""

    def __init__(self, shard_id: int) -> None:
        self.shard_id = shard_id
        #: Set once the first session is READY or RESUMED.
        self.live = trio.Event()
        self.connected = False
        self.session_id: str | None = None
        self.latency: float | None = None
        #: The last HEARTBEAT_ACK (trio clock) and the interval it should come in: /readyz's zombie check.
        self.last_ack_at: float | None = None
        self.heartbeat_interval: float | None = None
        self.identifies = 0
        self.resumes = 0
        #: Ended connections by reason (metrics).
        self.reconnects: Counter[str] = Counter()
        self.malformed = 0
        self._checkpoint: tuple[str, int] | None = None
        self._dirty = trio.Event()

    def checkpoint(self, session_id: str, seq: int) -> None:
        """Every dispatch of ``session_id`` up to ``seq`` is durably handled; a RESUME may start after it."""
        if session_id != self.session_id:
            return  # a late checkpoint from a session that was replaced: its sequences mean nothing now
        if self._checkpoint is None or seq > self._checkpoint[1]:
            self._checkpoint = (session_id, seq)
            self._dirty.set()

    @property
    def checkpointed(self) -> int | None:
        return None if self._checkpoint is None else self._checkpoint[1]

    def _new_session(self, session_id: str) -> None:
        self.session_id = session_id
        self._checkpoint = (session_id, 0)
        self._dirty.set()


async def run_shard(
    config: ShardConfig,
    dispatch_send: trio.MemorySendChannel[Dispatch],
    session_store: SessionStore,
    *,
    rng: random.Random | None = None,
    task_status: trio.TaskStatus[ShardHandle] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run one shard until cancelled; raises :class:`GatewayFatal` when Discord refuses it for good."""
    runner = _Runner(config, session_store, rng or random.Random())
    with dispatch_send:
        fatal = await runner.run(dispatch_send, task_status)
    raise GatewayFatal(fatal.code, fatal.message)


class _Runner:
    def __init__(self, config: ShardConfig, store: SessionStore, rng: random.Random) -> None:
        self.config = config
        self.store = store
        self.rng = rng
        self.handle = ShardHandle(config.shard_id)
        self.limiter = SendLimiter()
        self.protocol: GatewayProtocol | None = None
        self._saved: SavedSession | None = None
        self._buffered: tuple[str, int] | None = None
        self._room = trio.Event()
        self._live_since: float | None = None

    def _extra(self, **fields: object) -> dict[str, object]:
        return {"shard": self.config.shard_id, "session_id": self.handle.session_id, **fields}

    async def run(self, out: trio.MemorySendChannel[Dispatch], task_status: trio.TaskStatus[ShardHandle]) -> Fatal:
        saved = self._saved = await self._load()
        protocol = self.protocol = GatewayProtocol(
            self.config.token.reveal(),
            shard=(self.config.shard_id, self.config.shard_count),
            intents=self.config.intents,
            rng=self.rng,
            saved=saved,
        )
        if saved is not None:
            self.handle.session_id = saved.session_id
            self.handle._checkpoint = (saved.session_id, saved.seq)
        buffer_send, buffer_receive = trio.open_memory_channel[Dispatch](self.config.buffer_size)
        self._buffer = buffer_send
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._forward, buffer_receive, out)
                nursery.start_soon(self._persist_loop)
                task_status.started(self.handle)
                fatal = await self._connect_loop(protocol)
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await self._persist()
        return fatal

    async def _load(self) -> SavedSession | None:
        """The saved session, unless it was identified with another shard count (issue 19.3): it carries the
        guilds of that sharding's shard, so a RESUME would miss this shard's own guilds' events for good."""
        saved = await self.store.load(self.config.shard_id)
        if saved is not None and saved.shard_count not in (0, self.config.shard_count):
            log.warning(
                "saved session was identified with %d shards, not %d; identifying afresh",
                saved.shard_count,
                self.config.shard_count,
                extra=self._extra(saved_shard_count=saved.shard_count),
            )
            await self.store.clear(self.config.shard_id)
            return None
        return saved

    async def _connect_loop(self, protocol: GatewayProtocol) -> Fatal:
        backoff = ExponentialBackoff(min(1.0, self.config.max_backoff), 2.0, self.config.max_backoff, rng=self.rng)
        while True:
            resume = protocol.can_resume and protocol.resume_url is not None
            if not resume and self.config.identify_gate is not None:
                await self.config.identify_gate(self.config.shard_id)
            url = protocol.resume_url if resume and protocol.resume_url else self.config.gateway_url
            self._live_since = None
            outcome = await self._connect_once(url, protocol)
            self.handle.connected = False
            if isinstance(outcome, Fatal):
                log.error("gateway refused the shard: %s", outcome.message, extra=self._extra(close_code=outcome.code))
                return outcome
            self.handle.reconnects[outcome.reason] += 1
            if not protocol.can_resume and self._saved is not None:
                await self.store.clear(self.config.shard_id)
                self._saved = None
            if outcome.reason == FELL_BEHIND:
                await self._wait_for_room()
            if self._was_stable():
                backoff.reset()  # it worked for a while: the first retry comes soon
            delay = max(outcome.delay, next(backoff))
            log.warning(
                "gateway connection ended (%s); reconnecting in %.2f s",
                outcome.reason,
                delay,
                extra=self._extra(reason=outcome.reason, resume=protocol.can_resume, retry_in_s=round(delay, 2)),
            )
            await trio.sleep(delay)

    def _was_stable(self) -> bool:
        return self._live_since is not None and trio.current_time() - self._live_since >= STABLE_AFTER

    async def _connect_once(self, url: str, protocol: GatewayProtocol) -> Reconnect | Fatal:
        # except*: the handshake runs inside _open's nursery, so a refused handshake (a gateway outage
        # answering 503) arrives wrapped in an exception group, not bare.
        try:
            async with self._open(url) as ws:
                protocol.connection_made(trio.current_time())
                return await self._drive(ws, protocol)
        except* (OSError, HandshakeError, trio.TooSlowError, trio.BrokenResourceError) as group:
            failure = first_leaf(group)
        events = protocol.connection_lost(trio.current_time(), None)
        outcome = _outcome(events)
        reason = f"could not connect: {type(failure).__name__}"
        return outcome or Reconnect(protocol.can_resume, 0.0, reason)

    @asynccontextmanager
    async def _open(self, url: str) -> AsyncIterator[WebSocketConnection]:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        tls = parts.scheme == "wss"
        port = parts.port or (443 if tls else 80)
        query = "v=10&encoding=json" + ("&compress=zlib-stream" if self.config.compress else "")
        resource = f"{parts.path or '/'}?{query}"
        with trio.fail_after(self.config.connect_timeout):
            stream = await (self.config.open_stream or _open_tcp)(host, port, tls)
        async with stream, trio.open_nursery() as nursery:
            with trio.fail_after(self.config.connect_timeout):
                # trio-websocket annotates SocketStream | SSLStream but only uses the Stream interface.
                ws = await wrap_client_stream(
                    nursery,
                    cast("trio.SocketStream", stream),
                    host,
                    resource,
                    max_message_size=MAX_MESSAGE_SIZE,
                    message_queue_size=16,
                )
            try:
                yield ws
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(2):
                    # Never 1000/1001 here: those end the session (events/gateway.mdx, Resuming), and a
                    # shutdown or restart must leave it resumable for the next start.
                    await ws.aclose(CloseCode.RESUMABLE_CLOSE)
                nursery.cancel_scope.cancel()

    async def _drive(self, ws: WebSocketConnection, protocol: GatewayProtocol) -> Reconnect | Fatal:
        inflater = ZlibStream() if self.config.compress else None
        ended: list[Reconnect | Fatal] = []
        wake = [trio.Event()]

        async def handle(events: list[Event], nursery: trio.Nursery) -> None:
            for event in events:
                if ended:
                    return
                match event:
                    case Send():
                        await self._send(ws, event)
                    case Dispatch():
                        if not self._buffer_dispatch(event):
                            protocol.rewind(self._rewind_to(event))
                            await handle(protocol.request_reconnect(FELL_BEHIND), nursery)
                            return
                    case Malformed():
                        self.handle.malformed += 1
                        log.warning(
                            "skipped a malformed %s: %s", event.name, event.error, extra=self._extra(seq=event.seq)
                        )
                    case Ready():
                        self._live_since = trio.current_time()
                        self.handle.connected = True
                        self.handle.identifies += 1
                        self.handle._new_session(event.session_id)
                        self.handle.live.set()
                        log.info("gateway ready with %d guilds", event.guild_count, extra=self._extra())
                    case Resumed():
                        self._live_since = trio.current_time()
                        self.handle.connected = True
                        self.handle.resumes += 1
                        self.handle.live.set()
                        log.info("gateway session resumed", extra=self._extra(seq=event.seq))
                    case Reconnect() | Fatal():
                        ended.append(event)
                        if isinstance(event, Reconnect):
                            with trio.CancelScope(shield=True), trio.move_on_after(2):
                                await ws.aclose(event.close_code)
                        nursery.cancel_scope.cancel()
                        return

        async def timer(nursery: trio.Nursery) -> None:
            # Sleep until the protocol's next deadline, or until a received frame may have moved it.
            while True:
                deadline = protocol.next_deadline()
                with trio.move_on_at(math.inf if deadline is None else deadline):
                    await wake[0].wait()
                    wake[0] = trio.Event()
                    continue
                await handle(protocol.tick(trio.current_time()), nursery)
                self.handle.latency = protocol.latency

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
                    self.handle.last_ack_at = protocol.last_ack_at
                    self.handle.heartbeat_interval = protocol.heartbeat_interval
                    wake[0].set()
            except ConnectionClosed as closed:
                nursery.cancel_scope.cancel()
                if not ended:
                    code = None if closed.reason is None else closed.reason.code
                    outcome = _outcome(protocol.connection_lost(trio.current_time(), None if code == 1006 else code))
                    ended.append(outcome or Reconnect(protocol.can_resume, 0.0, "connection lost"))
        return ended[0] if ended else Reconnect(protocol.can_resume, 0.0, "connection ended")

    def _buffer_dispatch(self, dispatch: Dispatch) -> bool:
        try:
            self._buffer.send_nowait(dispatch)
        except trio.WouldBlock:
            return False
        self._buffered = (dispatch.session_id, dispatch.seq)
        return True

    def _rewind_to(self, refused: Dispatch) -> int:
        if self._buffered is not None and self._buffered[0] == refused.session_id:
            return self._buffered[1]
        return 0

    async def _send(self, ws: WebSocketConnection, send: Send) -> None:
        while True:
            wait = self.limiter.acquire(trio.current_time(), heartbeat=send.heartbeat)
            if wait <= 0:
                break
            await trio.sleep(wait)
        with contextlib.suppress(ConnectionClosed):  # the reader sees the close and reports it
            await ws.send_message(send.payload.decode())

    async def _forward(
        self, buffer: trio.MemoryReceiveChannel[Dispatch], out: trio.MemorySendChannel[Dispatch]
    ) -> None:
        async with buffer:
            async for dispatch in buffer:
                await out.send(dispatch)
                if self._has_room():
                    self._room.set()

    def _has_room(self) -> bool:
        return self._buffer.statistics().current_buffer_used <= self.config.buffer_size // 2

    async def _wait_for_room(self) -> None:
        """Reconnecting into a full buffer would only overflow again: first let the application catch up."""
        if not self._has_room():
            self._room = trio.Event()
            log.info("waiting for the application to catch up before resuming", extra=self._extra())
            await self._room.wait()

    async def _persist_loop(self) -> None:
        while True:
            await self.handle._dirty.wait()
            self.handle._dirty = trio.Event()
            await self._persist()
            await trio.sleep(self.config.persist_interval)

    async def _persist(self) -> None:
        """Save (session, checkpointed sequence, resume URL) when it changed."""
        protocol = self.protocol
        mark = self.handle._checkpoint
        if protocol is None or mark is None or protocol.resume_url is None or mark[0] != protocol.session_id:
            return
        state = SavedSession(mark[0], mark[1], protocol.resume_url, self.config.shard_count)
        if state != self._saved:
            await self.store.save(self.config.shard_id, state)
            self._saved = state


def _outcome(events: list[Event]) -> Reconnect | Fatal | None:
    for event in events:
        if isinstance(event, Reconnect | Fatal):
            return event
    return None


async def _open_tcp(host: str, port: int, tls: bool) -> trio.abc.Stream:
    tcp = await trio.open_tcp_stream(host, port)
    if not tls:
        return tcp
    stream = trio.SSLStream(tcp, ssl.create_default_context(), server_hostname=host)
    await stream.do_handshake()
    return stream
