"""A scripted fake gateway on in-memory streams, so runner tests are deterministic on the MockClock.

It behaves like events/gateway.mdx describes, in the smallest way: HELLO on connect, READY + GUILD_CREATE
after IDENTIFY, replay + RESUMED after RESUME, ACKs for heartbeats (unless told not to), close codes on
demand. It records every payload the client sent with the (virtual) time it arrived.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import msgspec
import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_server_stream

TOKEN = "MTIz.fake-gateway.secret-token"
INTERVAL_MS = 10_000


@dataclass
class Received:
    at: float
    conn: int
    op: int
    d: Any


@dataclass
class FakeSession:
    session_id: str
    shard: list[int]
    seq: int = 0
    log: list[tuple[int, bytes]] = field(default_factory=list)

    def frame(self, name: str, data: Any) -> bytes:
        self.seq += 1
        raw = msgspec.json.encode({"op": 0, "t": name, "s": self.seq, "d": data})
        self.log.append((self.seq, raw))
        return raw


@dataclass
class Conn:
    ws: WebSocketConnection
    stream: trio.abc.Stream
    compressor: Any = None  # zlib.compressobj() when the client asked for zlib-stream
    session: FakeSession | None = None

    async def send(self, raw: bytes) -> None:
        if self.compressor is not None:
            await self.ws.send_message(self.compressor.compress(raw) + self.compressor.flush(zlib.Z_SYNC_FLUSH))
        else:
            await self.ws.send_message(raw.decode())


class FakeGateway:
    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self.interval_ms = INTERVAL_MS
        self.acks = True
        self.members_intent = True
        #: Accept connections but never say HELLO.
        self.silent = False
        #: Close with this code instead of answering IDENTIFY.
        self.close_on_identify: int | None = None
        self.received: list[Received] = []
        self.resources: list[str] = []
        self.sessions: dict[str, FakeSession] = {}
        self.connections = 0
        self.refuse = 0  # the next N connection attempts fail with OSError
        self.attempts: list[float] = []
        self.hosts: list[str] = []
        #: The latest connection: what drop(), close() and dispatch() act on.
        self.current: Conn | None = None
        self.live = trio.Event()

    # --- what the client calls --------------------------------------------------------------------------

    async def open_stream(self, host: str, port: int, tls: bool) -> trio.abc.Stream:
        self.attempts.append(trio.current_time())
        self.hosts.append(host)
        if self.refuse > 0:
            self.refuse -= 1
            raise OSError("connection refused")
        client, server = trio.testing.memory_stream_pair()
        self._nursery.start_soon(self._serve, server)
        return client

    # --- what tests call --------------------------------------------------------------------------------

    def ops(self, op: int) -> list[Received]:
        return [r for r in self.received if r.op == op]

    async def dispatch(self, name: str, data: Any, session_id: str | None = None) -> None:
        """Record an event in the session (delivered now if connected, else replayed on RESUME)."""
        session = self.sessions[session_id] if session_id else next(iter(self.sessions.values()))
        raw = session.frame(name, data)
        if self.current is not None and self.current.session is session:
            with contextlib.suppress(ConnectionClosed):  # it stays in the log for the RESUME
                await self.current.send(raw)

    async def send_op(self, op: int, d: Any = None) -> None:
        assert self.current is not None
        await self.current.send(msgspec.json.encode({"op": op, "d": d, "s": None, "t": None}))

    async def drop(self) -> None:
        """Kill the current connection without a close frame."""
        assert self.current is not None
        conn, self.current = self.current, None
        self._not_live()
        await conn.stream.aclose()

    async def close(self, code: int, conn: Conn | None = None) -> None:
        conn = conn or self.current
        assert conn is not None
        if conn is self.current:
            self.current = None
            self._not_live()
        await conn.ws.aclose(code)

    async def wait_connected(self) -> None:
        """Until the latest connection has a session (READY or RESUMED sent)."""
        await self.live.wait()

    def _not_live(self) -> None:
        if self.live.is_set():
            self.live = trio.Event()

    # --- the server -------------------------------------------------------------------------------------

    async def _serve(self, stream: trio.abc.Stream) -> None:
        async with trio.open_nursery() as nursery:
            request = await wrap_server_stream(nursery, cast("trio.SocketStream", stream), max_message_size=2**24)
            ws = await request.accept()
            self.connections += 1
            number = self.connections
            self.resources.append(request.path)
            conn = Conn(ws, stream, zlib.compressobj() if "compress=zlib-stream" in request.path else None)
            self.current = conn
            self._not_live()
            try:
                if self.silent:
                    await trio.sleep_forever()
                await conn.send(msgspec.json.encode({"op": 10, "d": {"heartbeat_interval": self.interval_ms}}))
                while True:
                    payload = msgspec.json.decode(await ws.get_message())
                    self.received.append(Received(trio.current_time(), number, payload["op"], payload.get("d")))
                    await self._on(conn, payload["op"], payload.get("d"))
            except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            finally:
                if self.current is conn:
                    self.current = None
                    self._not_live()
                nursery.cancel_scope.cancel()

    async def _on(self, conn: Conn, op: int, d: Any) -> None:
        if op == 1 and self.acks:
            await conn.send(b'{"op":11,"d":null}')
        elif op == 2:
            if d["token"] != TOKEN:
                await self.close(4004, conn)
                return
            if self.close_on_identify is not None:
                await self.close(self.close_on_identify, conn)
                return
            if d["intents"] & 2 and not self.members_intent:
                await self.close(4014, conn)
                return
            session = FakeSession(f"session-{len(self.sessions) + 1}", d["shard"])
            self.sessions[session.session_id] = session
            conn.session = session
            user = {"id": "42", "username": "welcomebot", "bot": True}
            ready = {"v": 10, "session_id": session.session_id, "resume_gateway_url": "wss://resume.test/",
                     "user": user, "guilds": [{"id": "100", "unavailable": True}], "shard": d["shard"],
                     "application": {"id": "42", "flags": 0}}  # fmt: skip
            await conn.send(session.frame("READY", ready))
            guild = {"id": "100", "name": "Test", "owner_id": "7", "member_count": 1,
                     "channels": [{"id": "200", "type": 0, "name": "welcome"}],
                     "roles": [{"id": "100", "name": "@everyone", "permissions": "1024"}]}  # fmt: skip
            await conn.send(session.frame("GUILD_CREATE", guild))
            self.live.set()
        elif op == 6:
            if d["token"] != TOKEN:
                await self.close(4004, conn)
                return
            resumed = self.sessions.get(d["session_id"])
            if resumed is None:
                await conn.send(b'{"op":9,"d":false}')
                return
            conn.session = resumed
            for seq, raw in list(resumed.log):
                if seq > d["seq"]:
                    await conn.send(raw)
            await conn.send(resumed.frame("RESUMED", {}))
            self.live.set()


def member_add(user_id: int, guild_id: int = 100) -> dict[str, Any]:
    return {"guild_id": str(guild_id), "user": {"id": str(user_id), "username": f"user{user_id}"},
            "joined_at": "2026-11-25T00:00:00+00:00", "roles": [], "pending": False, "flags": 0}  # fmt: skip


@pytest.fixture
async def fake_gateway() -> AsyncIterator[FakeGateway]:
    async with trio.open_nursery() as nursery:
        yield FakeGateway(nursery)
        nursery.cancel_scope.cancel()


@pytest.fixture
def add_payload() -> Any:
    return member_add
