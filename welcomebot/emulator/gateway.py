"""The emulated gateway: HELLO, IDENTIFY, heartbeats, READY/GUILD_CREATE, dispatches, RESUME, close codes.

Faithful to ``events/gateway.mdx`` and ``topics/opcodes-and-status-codes.mdx``. Each identified session
keeps a replay buffer of its dispatches, so a client that reconnects and RESUMEs within the resume window
receives everything it missed, in order. :meth:`GatewayServer.dispatch` never blocks: a client too slow
to keep up is disconnected, as Discord does, and its events wait in the buffer for the RESUME.
"""

from __future__ import annotations

import logging
import random
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import msgspec
import trio
import zstandard
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, serve_websocket

from welcomebot.emulator.gateway_schemas import GatewayValidator
from welcomebot.emulator.openapi import SpecViolation

__all__ = ["DIRECT_MESSAGES", "GUILDS", "GUILD_MEMBERS", "GUILD_MESSAGES", "GatewayBackend", "GatewayServer"]

log = logging.getLogger(__name__)

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
#: Every documented intent bit (events/gateway.mdx, "List of Intents").
KNOWN_INTENTS = sum(1 << b for b in (*range(22), 24, 25))
MAX_CLIENT_PAYLOAD = 4096
SEND_LIMIT = 120
SEND_WINDOW = 60.0
MAX_GUILDS_PER_SHARD = 2500
#: max_concurrency IDENTIFYs per this many seconds, one per rate_limit_key (events/gateway.mdx, Sharding).
IDENTIFY_WINDOW_S = 5.0
OUTBOX_SIZE = 50_000
REPLAY_LIMIT = 100_000

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class GatewayBackend(Protocol):
    token: str
    application_id: int
    members_intent_enabled: bool
    presences_intent_enabled: bool
    message_content_intent_enabled: bool
    identify_remaining: int
    max_concurrency: int

    def bot_user(self) -> dict[str, Any]: ...
    def application_partial(self) -> dict[str, Any]: ...
    def guild_ids(self) -> list[int]: ...
    def guild_create(self, guild_id: int) -> dict[str, Any]: ...
    def guild_members(self, guild_id: int) -> list[dict[str, Any]] | None: ...
    def guild_unavailable(self, guild_id: int) -> bool: ...


class _Close(Exception):  # control flow inside a connection; never escapes it
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class Session:
    """One identified session; outlives its connection until the resume window closes."""

    session_id: str
    shard_id: int
    shard_count: int
    intents: int
    seq: int = 0
    replay: deque[tuple[int, bytes]] = field(default_factory=lambda: deque(maxlen=REPLAY_LIMIT))
    outbox: trio.MemorySendChannel[bytes] | None = None
    connected: bool = False
    dead: bool = False
    disconnected_at: float | None = None
    identify_count: int = 1
    resume_count: int = 0
    dispatched: int = 0

    def owns(self, guild_id: int | None) -> bool:
        # Events without a guild (DMs) go to shard 0 only (events/gateway.mdx, Sharding).
        shard = 0 if guild_id is None else (guild_id >> 22) % self.shard_count
        return shard == self.shard_id

    def push(self, event: str, data: Any) -> None:
        self.seq += 1
        frame = _encode({"op": 0, "t": event, "s": self.seq, "d": data})
        self.replay.append((self.seq, frame))
        self.dispatched += 1
        if self.outbox is not None:
            try:
                self.outbox.send_nowait(frame)
            except trio.WouldBlock:
                # Too slow to keep up: Discord drops such a connection; the buffer keeps the events.
                self.outbox.close()
                self.outbox = None
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                # The connection is going away; the replay buffer keeps the event for the RESUME.
                self.outbox = None


class GatewayServer:
    def __init__(
        self,
        backend: GatewayBackend,
        *,
        heartbeat_interval_ms: int = 41250,
        resume_window_s: float = 300.0,
        seed: int = 0,
    ) -> None:
        self.backend = backend
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.resume_window_s = resume_window_s
        self._rng = random.Random(seed)
        self._sessions: dict[str, Session] = {}
        self._acks = True
        self._kicks: list[tuple[str | None, dict[str, Any]]] = []
        self._kick_event = trio.Event()
        self.url = ""
        self.counters: dict[str, int] = {
            "identifies": 0,
            "resumes": 0,
            "invalid_sessions": 0,
            "connections": 0,
            "refused": 0,
            "identify_refused": 0,
        }
        #: When each rate_limit_key (shard_id % max_concurrency) last started a session.
        self._identified_at: dict[int, float] = {}
        self.refusing = False
        self.closes: dict[int, int] = {}
        #: Connections per transport compression asked for (``?compress=``).
        self.compressed: dict[str, int] = {}
        #: Set to check every payload sent against the docs' schemas (tests); mismatches land in spec_violations.
        self.validator: GatewayValidator | None = None
        self.spec_violations: list[str] = []

    # --- public API for the REST/control side -------------------------------------------------------

    async def serve(
        self, host: str, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                lambda task_status: serve_websocket(
                    self._handle,
                    host,
                    port,
                    None,
                    handler_nursery=nursery,
                    max_message_size=1 << 20,
                    message_queue_size=16,
                    task_status=task_status,
                )
            )
            bound = server.port
            self.url = f"ws://{host}:{bound}"
            task_status.started(bound)

    def dispatch(self, event: str, data: dict[str, Any], *, guild_id: int | None, intent: int | None) -> None:
        if guild_id is not None and self.backend.guild_unavailable(guild_id):
            return  # a guild in an outage sends nothing until its GUILD_CREATE
        for session in self._live_sessions():
            if intent is not None and not session.intents & intent:
                continue
            if session.owns(guild_id):
                session.push(event, data)

    def sessions(self) -> list[dict[str, Any]]:
        return [
            {
                "session_id": s.session_id,
                "shard": [s.shard_id, s.shard_count],
                "intents": s.intents,
                "seq": s.seq,
                "connected": s.connected,
                "dead": s.dead,
                "identify_count": s.identify_count,
                "resume_count": s.resume_count,
                "dispatched": s.dispatched,
            }
            for s in self._sessions.values()
        ]

    def stats(self) -> dict[str, Any]:
        return {**self.counters, "closes": {str(k): v for k, v in self.closes.items()},
                "dispatched": sum(s.dispatched for s in self._sessions.values()),
                "compressed": dict(self.compressed), "spec_violations": list(self.spec_violations)}  # fmt: skip

    def check_payload(self, frame: bytes) -> None:
        """A payload the gateway sends must match the docs' schema for it; a mismatch is an emulator bug."""
        if self.validator is None:
            return
        try:
            self.validator.validate(_decode(frame))
        except SpecViolation as exc:
            log.error("EMULATOR BUG: a gateway payload does not match Discord's docs: %s", exc)
            self.spec_violations.append(str(exc))

    def inject_fault(self, fault: dict[str, Any]) -> None:
        kind = fault.get("kind")
        if kind == "stop_acks":
            self._acks = not bool(fault.get("on", True))
            return
        if kind == "expire":
            # As if the resume window had passed for every disconnected session: a RESUME gets op 9.
            for session in self._sessions.values():
                if not session.connected:
                    session.dead = True
            return
        if kind == "refuse":
            # An outage: handshakes fail with 503 until lifted (live connections are left alone).
            self.refusing = bool(fault.get("on", True))
            return
        if kind not in ("close", "drop", "reconnect", "invalid_session", "heartbeat_request"):
            raise ValueError(f"unknown gateway fault {kind!r}")
        self._kicks.append((fault.get("session_id"), fault))
        self._kick_event.set()

    # --- connections --------------------------------------------------------------------------------

    def _live_sessions(self) -> list[Session]:
        now = trio.current_time()
        live = []
        for s in list(self._sessions.values()):
            if s.dead:
                continue
            if not s.connected and s.disconnected_at is not None and now - s.disconnected_at > self.resume_window_s:
                s.dead = True
                continue
            live.append(s)
        return live

    async def _handle(self, request: WebSocketRequest) -> None:
        if self.refusing:
            self.counters["refused"] += 1
            await request.reject(503, body=b"gateway unavailable")
            return
        ws = await request.accept()
        self.counters["connections"] += 1
        query = parse_qs(urlsplit(request.path).query)
        compress = query.get("compress", [None])[0]
        if compress in ("zlib-stream", "zstd-stream"):
            self.compressed[compress] = self.compressed.get(compress, 0) + 1
        conn = _Connection(self, ws, compress if compress in ("zlib-stream", "zstd-stream") else None)
        try:
            if query.get("v", [None])[0] != "10":
                raise _Close(4012, "Invalid API version")
            if query.get("encoding", ["json"])[0] != "json":
                raise _Close(4002, "Decode error: only encoding=json is served here")
            await conn.run()
        except _Close as close:
            self.closes[close.code] = self.closes.get(close.code, 0) + 1
            if conn.session is not None and close.code not in (4000, 1001, 1006, 3000):
                conn.session.dead = True
            with trio.move_on_after(2):
                await ws.aclose(close.code, close.reason)
        except ConnectionClosed as closed:
            # A client closing with 1000 or 1001 ends its session (events/gateway.mdx, Resuming).
            if conn.session is not None and closed.reason is not None and closed.reason.code in (1000, 1001):
                conn.session.dead = True
        finally:
            conn.detach()


class _Connection:
    """One websocket: reader loop, writer task, heartbeat deadline and fault kicks."""

    def __init__(self, server: GatewayServer, ws: WebSocketConnection, compress: str | None) -> None:
        self.server = server
        self.ws = ws
        self.session: Session | None = None
        # Transport compression (events/gateway.mdx): one context for the connection's life, each message
        # flushed: zlib ends each with Z_SYNC_FLUSH; zstd flushes a block without ending the frame.
        self.transport = compress
        self._zlib = zlib.compressobj() if compress == "zlib-stream" else None
        self._zstd = zstandard.ZstdCompressor().compressobj() if compress == "zstd-stream" else None
        #: IDENTIFY ``compress: true`` (not with transport compression: "it cannot use" both).
        self.payload_compression = False
        self._sent_times: deque[float] = deque()
        self._heartbeat_deadline = 0.0
        self._direct_send, self._direct_receive = trio.open_memory_channel[bytes](64)
        self._nursery: trio.Nursery | None = None

    def detach(self) -> None:
        s = self.session
        if s is not None and s.outbox is not None:
            s.outbox.close()
            s.outbox = None
        if s is not None:
            s.connected = False
            s.disconnected_at = trio.current_time()

    async def _send(self, frame: bytes) -> None:
        self.server.check_payload(frame)
        if self.payload_compression and frame.startswith(b'{"op":0'):
            # Payload compression (events/gateway.mdx): "some events" come as one zlib packet each; here the
            # dispatches, while heartbeat ACKs and other ops stay text.
            await self.ws.send_message(zlib.compress(frame))
            return
        if self._zlib is not None:
            await self.ws.send_message(self._zlib.compress(frame) + self._zlib.flush(zlib.Z_SYNC_FLUSH))
        elif self._zstd is not None:
            await self.ws.send_message(self._zstd.compress(frame) + self._zstd.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))
        else:
            await self.ws.send_message(frame.decode())

    async def _queue(self, frame: bytes) -> None:
        try:
            await self._direct_send.send(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            # The writer has ended: the client is gone (its ConnectionClosed is what ends the connection).
            raise ConnectionClosed(None) from None

    async def run(self) -> None:
        interval = self.server.heartbeat_interval_ms / 1000
        await self._send(
            _encode(
                {
                    "op": 10,
                    "d": {"heartbeat_interval": self.server.heartbeat_interval_ms},
                    "s": None,
                    "t": None,
                }
            )
        )
        # Discord allows some slack past the interval before it gives up on a client.
        self._heartbeat_deadline = trio.current_time() + interval * 1.5
        ending: BaseException | None = None
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._writer, nursery)
                nursery.start_soon(self._kicks, nursery)
                nursery.start_soon(self._watchdog)
                await self._reader()
                nursery.cancel_scope.cancel()
        except* _Close as group:
            ending = group.exceptions[0]
        except* ConnectionClosed as group:
            ending = group.exceptions[0]
        # Raised bare outside except*: before CPython 3.11.4 a raise inside an except* block comes out wrapped.
        if ending is not None:
            raise ending

    async def _watchdog(self) -> None:
        while True:
            await trio.sleep_until(self._heartbeat_deadline)
            if trio.current_time() >= self._heartbeat_deadline:
                raise _Close(4009, "Session timed out")

    async def _writer(self, nursery: trio.Nursery) -> None:
        async with self._direct_receive:
            async for frame in self._direct_receive:
                await self._send(frame)

    async def _pump(self, outbox: trio.MemoryReceiveChannel[bytes]) -> None:
        async with outbox:
            async for frame in outbox:
                try:
                    await self._direct_send.send(frame)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    # The writer has ended because the client went away; its ConnectionClosed ends this
                    # connection, and the session's replay buffer keeps the frame for a RESUME.
                    return
        if self.session is not None and self.session.connected:
            # The session's outbox was closed under us: the client was too slow.
            raise _Close(4000, "Unknown error: client could not keep up")

    async def _kicks(self, nursery: trio.Nursery) -> None:
        server = self.server
        while True:
            await server._kick_event.wait()
            server._kick_event = trio.Event()
            kicks, server._kicks = server._kicks, []
            for target, fault in kicks:
                if target is not None and (self.session is None or self.session.session_id != target):
                    server._kicks.append((target, fault))
                    continue
                await self._apply(fault)

    async def _apply(self, fault: dict[str, Any]) -> None:
        kind = fault["kind"]
        if kind == "close":
            raise _Close(int(fault.get("code", 4000)), str(fault.get("reason", "closed by the control API")))
        if kind == "drop":
            await self.ws._close_stream()  # no close frame: the TCP connection just ends
            raise ConnectionClosed(None)
        if kind == "reconnect":
            await self._queue(_encode({"op": 7, "d": None, "s": None, "t": None}))
        elif kind == "invalid_session":
            resumable = bool(fault.get("resumable", False))
            if not resumable and self.session is not None:
                self.session.dead = True
            await self._queue(_encode({"op": 9, "d": resumable, "s": None, "t": None}))
        elif kind == "heartbeat_request":
            await self._queue(_encode({"op": 1, "d": None, "s": None, "t": None}))

    async def _reader(self) -> None:
        while True:
            message = await self.ws.get_message()
            now = trio.current_time()
            self._count_send(now)
            raw = message.encode() if isinstance(message, str) else message
            if len(raw) > MAX_CLIENT_PAYLOAD:
                raise _Close(4002, "Decode error: payload too large")
            try:
                payload = _decode(raw)
            except msgspec.DecodeError:
                raise _Close(4002, "Decode error") from None
            if not isinstance(payload, dict) or not isinstance(payload.get("op"), int):
                raise _Close(4002, "Decode error")
            await self._on_payload(payload["op"], payload.get("d"), now)

    def _count_send(self, now: float) -> None:
        times = self._sent_times
        times.append(now)
        while times and times[0] <= now - SEND_WINDOW:
            times.popleft()
        if len(times) > SEND_LIMIT:
            raise _Close(4008, "Rate limited")

    async def _on_payload(self, op: int, d: Any, now: float) -> None:
        match op:
            case 1:
                if d is not None and not isinstance(d, int):
                    raise _Close(4001, "Unknown opcode: invalid heartbeat payload")
                self._heartbeat_deadline = now + self.server.heartbeat_interval_ms / 1000 * 1.5
                if self.server._acks:
                    await self._queue(_encode({"op": 11, "d": None, "s": None, "t": None}))
            case 2:
                await self._identify(d)
            case 6:
                await self._resume(d)
            case 8:
                if self.session is None:
                    raise _Close(4003, "Not authenticated")
                self._request_guild_members(self.session, d)
            case 3 | 4 | 31:  # presence, voice state, soundboard sounds: accepted, not modelled
                if self.session is None:
                    raise _Close(4003, "Not authenticated")
            case _:
                raise _Close(4001, "Unknown opcode")

    def _request_guild_members(self, session: Session, d: Any) -> None:
        """Request Guild Members (events/gateway-events.mdx) answered with GUILD_MEMBERS_CHUNKs of up to 1000.

        One guild per request, on this session's shard; ``query`` is a username prefix (at most 100 members,
        or every member with ``""`` and ``limit`` 0, which needs GUILD_MEMBERS: without it nothing is sent, as
        Discord does); ``user_ids`` at most 100, the unknown ones in ``not_found``; ``presences`` only with
        GUILD_PRESENCES ("Otherwise, it will always be false"); a nonce over 32 bytes is ignored.
        """
        if not isinstance(d, dict):
            raise _Close(4002, "Decode error: invalid request guild members payload")
        guild = d.get("guild_id")
        if isinstance(guild, list):  # "limited to requesting 1 guild_id per request"
            guild = guild[0] if len(guild) == 1 else None
        query, user_ids = d.get("query"), d.get("user_ids")
        if isinstance(user_ids, str | int):
            user_ids = [user_ids]
        limit = d.get("limit", 0 if query is None else None)
        if (
            not _is_snowflake(guild)
            or (query is None) == (user_ids is None)
            or (query is not None and (not isinstance(query, str) or not isinstance(limit, int) or limit < 0))
            or (user_ids is not None and (not isinstance(user_ids, list) or not all(map(_is_snowflake, user_ids))))
        ):
            raise _Close(4002, "Decode error: request guild members needs guild_id and one of query or user_ids")
        guild_id = int(str(guild))
        members = self.server.backend.guild_members(guild_id)
        if members is None or not session.owns(guild_id):
            return
        not_found: list[str] | None = None
        if isinstance(query, str):
            if query == "" and not session.intents & GUILD_MEMBERS:
                return  # the whole list (query "", any limit) needs the intent
            matched = [m for m in members if m["user"]["username"].casefold().startswith(query.casefold())]
            # "Requesting a prefix (query parameter) will return a maximum of 100 members"
            cap = (limit or len(matched)) if query == "" else min(limit or 100, 100)
            found = matched[:cap]
        else:
            assert isinstance(user_ids, list)
            wanted = [str(u) for u in user_ids[:100]]
            by_id = {m["user"]["id"]: m for m in members}
            found = [by_id[u] for u in wanted if u in by_id]
            not_found = [u for u in wanted if u not in by_id]
        nonce = d.get("nonce")
        if not isinstance(nonce, str) or len(nonce.encode()) > 32:
            nonce = None
        presences = bool(d.get("presences")) and bool(session.intents & GUILD_PRESENCES)
        chunks = [found[i : i + 1000] for i in range(0, len(found), 1000)] or [[]]
        for index, chunk in enumerate(chunks):
            data: dict[str, Any] = {"guild_id": str(guild_id), "members": chunk, "chunk_index": index,
                                    "chunk_count": len(chunks)}  # fmt: skip
            if not_found is not None and index == 0:
                data["not_found"] = not_found
            if presences:
                # Presences are not modelled: everyone is offline.
                data["presences"] = [{"user": {"id": m["user"]["id"]}, "status": "offline", "activities": [],
                                      "client_status": {}} for m in chunk]  # fmt: skip
            if nonce is not None:
                data["nonce"] = nonce
            session.push("GUILD_MEMBERS_CHUNK", data)

    async def _identify(self, d: Any) -> None:
        server = self.server
        if self.session is not None:
            raise _Close(4005, "Already authenticated")
        if not isinstance(d, dict) or not isinstance(d.get("token"), str) or not isinstance(d.get("properties"), dict):
            raise _Close(4002, "Decode error: invalid identify payload")
        if d["token"].removeprefix("Bot ") != server.backend.token:
            raise _Close(4004, "Authentication failed")
        intents = d.get("intents")
        if not isinstance(intents, int) or isinstance(intents, bool) or intents < 0 or intents & ~KNOWN_INTENTS:
            raise _Close(4013, "Invalid intent(s)")
        backend = server.backend
        allowed = (
            (GUILD_MEMBERS if backend.members_intent_enabled else 0)
            | (GUILD_PRESENCES if backend.presences_intent_enabled else 0)
            | (MESSAGE_CONTENT if backend.message_content_intent_enabled else 0)
        )
        if intents & PRIVILEGED & ~allowed:
            raise _Close(4014, "Disallowed intent(s)")
        shard = d.get("shard", [0, 1])
        if (
            not isinstance(shard, list)
            or len(shard) != 2
            or not all(isinstance(x, int) for x in shard)
            or shard[1] < 1
            or not 0 <= shard[0] < shard[1]
        ):
            raise _Close(4010, "Invalid shard")
        shard_id, shard_count = shard
        guild_ids = [g for g in server.backend.guild_ids() if (g >> 22) % shard_count == shard_id]
        if len(guild_ids) > MAX_GUILDS_PER_SHARD:
            raise _Close(4011, "Sharding required")
        # "If your app exceeds this limit, Discord will respond with a Invalid Session (opcode 9)"
        # (events/gateway.mdx, Identifying; Rate Limiting): one IDENTIFY per rate_limit_key per 5 s, and the
        # day's session starts.
        key = shard_id % max(1, server.backend.max_concurrency)
        now = trio.current_time()
        last = server._identified_at.get(key)
        if (last is not None and now - last < IDENTIFY_WINDOW_S) or server.backend.identify_remaining <= 0:
            server.counters["identify_refused"] += 1
            await self._queue(_encode({"op": 9, "d": False, "s": None, "t": None}))
            return
        server._identified_at[key] = now
        server.backend.identify_remaining -= 1
        self.payload_compression = d.get("compress") is True and self.transport is None
        server.counters["identifies"] += 1
        session = Session(f"{server._rng.getrandbits(128):032x}", shard_id, shard_count, intents)
        server._sessions[session.session_id] = session
        self._attach(session)
        session.push(
            "READY",
            {
                "v": 10,
                "user": server.backend.bot_user(),
                "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
                "session_id": session.session_id,
                "resume_gateway_url": server.url,
                "shard": [shard_id, shard_count],
                "application": server.backend.application_partial(),
            },
        )
        if intents & GUILDS:
            for gid in guild_ids:
                if server.backend.guild_unavailable(gid):
                    # "Guilds that are unavailable due to an outage will send a Guild Delete event" (Guild Create)
                    session.push("GUILD_DELETE", {"id": str(gid), "unavailable": True})
                else:
                    session.push("GUILD_CREATE", server.backend.guild_create(gid))

    async def _resume(self, d: Any) -> None:
        server = self.server
        if self.session is not None:
            raise _Close(4005, "Already authenticated")
        if not isinstance(d, dict) or not all(k in d for k in ("token", "session_id", "seq")):
            raise _Close(4002, "Decode error: invalid resume payload")
        if str(d["token"]).removeprefix("Bot ") != server.backend.token:
            raise _Close(4004, "Authentication failed")
        server._live_sessions()  # expire sessions past the resume window
        session = server._sessions.get(str(d["session_id"]))
        seq = d["seq"]
        if session is None or session.dead or session.connected or not isinstance(seq, int):
            server.counters["invalid_sessions"] += 1
            await self._queue(_encode({"op": 9, "d": False, "s": None, "t": None}))
            return
        if seq > session.seq:
            # "Reconnect and start a new session" (topics/opcodes-and-status-codes.mdx, 4007): it is over.
            session.dead = True
            raise _Close(4007, "Invalid seq")
        oldest = session.replay[0][0] if session.replay else session.seq + 1
        if seq < oldest - 1:
            session.dead = True
            server.counters["invalid_sessions"] += 1
            await self._queue(_encode({"op": 9, "d": False, "s": None, "t": None}))
            return
        server.counters["resumes"] += 1
        session.resume_count += 1
        missed = [frame for s, frame in session.replay if s > seq]
        self._attach(session, backlog=missed)
        session.push("RESUMED", {})

    def _attach(self, session: Session, backlog: list[bytes] | None = None) -> None:
        backlog = backlog or []
        send, receive = trio.open_memory_channel[bytes](OUTBOX_SIZE + len(backlog))
        for frame in backlog:
            send.send_nowait(frame)
        session.outbox = send
        session.connected = True
        session.disconnected_at = None
        self.session = session
        assert self._nursery is not None
        self._nursery.start_soon(self._pump, receive)


def _is_snowflake(value: Any) -> bool:
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return text.isdigit() and len(text) <= 20
