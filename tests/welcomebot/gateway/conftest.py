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


class FakeGateway:
    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self.interval_ms = INTERVAL_MS
        self.acks = True
        self.members_intent = True
        #: Close with this code instead of answering IDENTIFY.
        self.close_on_identify: int | None = None
        self.received: list[Received] = []
        self.resources: list[str] = []
        self.sessions: dict[str, FakeSession] = {}
        self.connections = 0
        self.refuse = 0  # the next N connection attempts fail with OSError
        self.attempts: list[float] = []
        self._current: tuple[WebSocketConnection, FakeSession | None, trio.abc.Stream, bool] | None = None
        self._zlib: zlib._Compress | None = None
        self.live = trio.Event()
        self.closed = trio.Event()

    # --- what the client calls --------------------------------------------------------------------------

    async def open_stream(self, host: str, port: int, tls: bool) -> trio.abc.Stream:
        self.attempts.append(trio.current_time())
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
        if self._current is not None and self._current[1] is session:
            with contextlib.suppress(ConnectionClosed):  # it stays in the log for the RESUME
                await self._send(raw)

    async def drop(self) -> None:
        """Kill the current connection without a close frame."""
        assert self._current is not None
        stream = self._current[2]
        self._current = None
        await stream.aclose()

    async def close(self, code: int) -> None:
        assert self._current is not None
        ws = self._current[0]
        self._current = None
        await ws.aclose(code)

    async def wait_connected(self) -> None:
        await self.live.wait()

    # --- the server -------------------------------------------------------------------------------------

    async def _send(self, raw: bytes) -> None:
        assert self._current is not None
        ws, _, _, compress = self._current
        if compress:
            assert self._zlib is not None
            await ws.send_message(self._zlib.compress(raw) + self._zlib.flush(zlib.Z_SYNC_FLUSH))
        else:
            await ws.send_message(raw.decode())

    async def _serve(self, stream: trio.abc.Stream) -> None:
        async with trio.open_nursery() as nursery:
            request = await wrap_server_stream(nursery, cast("trio.SocketStream", stream), max_message_size=2**24)
            ws = await request.accept()
            self.connections += 1
            conn = self.connections
            self.resources.append(request.path)
            compress = "compress=zlib-stream" in request.path
            self._zlib = zlib.compressobj() if compress else None
            self._current = (ws, None, stream, compress)
            if self.live.is_set():
                self.live = trio.Event()
            try:
                await self._send(msgspec.json.encode({"op": 10, "d": {"heartbeat_interval": self.interval_ms}}))
                while True:
                    message = await ws.get_message()
                    payload = msgspec.json.decode(message)
                    self.received.append(Received(trio.current_time(), conn, payload["op"], payload.get("d")))
                    if self._current is None or self._current[0] is not ws:
                        continue
                    await self._on(ws, stream, compress, payload["op"], payload.get("d"))
            except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            finally:
                if self._current is not None and self._current[0] is ws:
                    self._current = None
                self.closed.set()
                nursery.cancel_scope.cancel()

    async def _on(self, ws: WebSocketConnection, stream: trio.abc.Stream, compress: bool, op: int, d: Any) -> None:
        if op == 1 and self.acks:
            await self._send(b'{"op":11,"d":null}')
        elif op == 2:
            if d["token"] != TOKEN:
                await self.close(4004)
                return
            if self.close_on_identify is not None:
                await self.close(self.close_on_identify)
                return
            if d["intents"] & 2 and not self.members_intent:
                await self.close(4014)
                return
            session = FakeSession(f"session-{len(self.sessions) + 1}", d["shard"])
            self.sessions[session.session_id] = session
            self._current = (ws, session, stream, compress)
            user = {"id": "42", "username": "welcomebot", "bot": True}
            ready = {"v": 10, "session_id": session.session_id, "resume_gateway_url": "wss://resume.test/",
                     "user": user, "guilds": [{"id": "100", "unavailable": True}], "shard": d["shard"],
                     "application": {"id": "42", "flags": 0}}  # fmt: skip
            await self._send(session.frame("READY", ready))
            guild = {"id": "100", "name": "Test", "owner_id": "7", "member_count": 1,
                     "channels": [{"id": "200", "type": 0, "name": "welcome"}],
                     "roles": [{"id": "100", "name": "@everyone", "permissions": "1024"}]}  # fmt: skip
            await self._send(session.frame("GUILD_CREATE", guild))
            self.live.set()
        elif op == 6:
            resumed = self.sessions.get(d["session_id"])
            if d["token"] != TOKEN:
                await self.close(4004)
                return
            if resumed is None:
                await self._send(b'{"op":9,"d":false}')
                return
            self._current = (ws, resumed, stream, compress)
            for seq, raw in list(resumed.log):
                if seq > d["seq"]:
                    await self._send(raw)
            await self._send(resumed.frame("RESUMED", {}))
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
