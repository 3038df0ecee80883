"""A tiny fake backend and a plain trio-websocket client harness for driving ``GatewayServer`` directly."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_client_stream

from welcomebot.emulator.gateway import GatewayServer

TOKEN = "fake-token"


class FakeBackend:
    token = TOKEN
    application_id = 99
    members_intent_enabled = True
    presences_intent_enabled = False
    message_content_intent_enabled = False
    identify_remaining = 1000
    max_concurrency = 2  # two shards may identify at once (tests of one shard's limit set it to 1)

    def __init__(self, guild_ids: list[int]) -> None:
        self._guild_ids = guild_ids

    def bot_user(self) -> dict[str, Any]:
        return {"id": "99", "username": "welcomebot", "discriminator": "0", "bot": True, "avatar": None}

    def application_partial(self) -> dict[str, Any]:
        return {"id": "99", "flags": 0}

    def guild_ids(self) -> list[int]:
        return list(self._guild_ids)

    def guild_members(self, guild_id: int) -> list[dict[str, Any]] | None:
        return [] if guild_id in self._guild_ids else None

    def guild_create(self, guild_id: int) -> dict[str, Any]:
        return {"id": str(guild_id), "name": f"g{guild_id}", "channels": [], "roles": [], "member_count": 1}

    def guild_unavailable(self, guild_id: int) -> bool:
        return False


class Client:
    """One raw websocket connection with optional zlib-stream inflation."""

    def __init__(self, ws: WebSocketConnection, compress: bool) -> None:
        self.ws = ws
        self.inflater = zlib.decompressobj() if compress else None
        self.raw: list[bytes] = []

    async def recv(self) -> dict[str, Any]:
        message = await self.ws.get_message()
        if self.inflater is not None:
            assert isinstance(message, bytes)
            self.raw.append(message)
            message = self.inflater.decompress(message)
        decoded: dict[str, Any] = msgspec.json.decode(message)
        return decoded

    async def send(self, op: int, d: Any) -> None:
        await self.ws.send_message(msgspec.json.encode({"op": op, "d": d}).decode())

    async def hello(self) -> dict[str, Any]:
        frame = await self.recv()
        assert frame["op"] == 10
        return frame

    async def identify(self, intents: int = 3, shard: list[int] | None = None, token: str = TOKEN) -> dict[str, Any]:
        d: dict[str, Any] = {
            "token": token,
            "intents": intents,
            "properties": {"os": "l", "browser": "t", "device": "t"},
        }
        if shard is not None:
            d["shard"] = shard
        await self.send(2, d)
        ready = await self.recv()
        assert ready["t"] == "READY", ready
        return ready

    async def close_code(self) -> int | None:
        try:
            while True:
                await self.ws.get_message()
        except ConnectionClosed as closed:
            return None if closed.reason is None else closed.reason.code


class Harness:
    def __init__(self, server: GatewayServer, port: int) -> None:
        self.server = server
        self.port = port

    def connect(self, query: str = "v=10&encoding=json", close_code: int = 3000) -> AbstractAsyncContextManager[Client]:
        """A client that closes with ``close_code`` when the block ends (3000 keeps the session resumable)."""
        return self._connect(query, close_code)

    @asynccontextmanager
    async def _connect(self, query: str, close_code: int) -> AsyncIterator[Client]:
        # Owns its TCP stream: trio-websocket 0.12's client leaves the socket to the GC on server closes.
        stream = await trio.open_tcp_stream("127.0.0.1", self.port)
        async with stream, trio.open_nursery() as nursery:
            ws = await wrap_client_stream(nursery, stream, "127.0.0.1", f"/?{query}", message_queue_size=0)
            try:
                yield Client(ws, "compress=zlib-stream" in query)
            finally:
                await ws.aclose(close_code)
                nursery.cancel_scope.cancel()


@pytest.fixture
def make_gateway() -> Callable[..., AbstractAsyncContextManager[Harness]]:
    @asynccontextmanager
    async def make(guild_ids: list[int] | None = None, **kw: Any) -> AsyncIterator[Harness]:
        backend = FakeBackend(guild_ids if guild_ids is not None else [1 << 22, 2 << 22])
        server = GatewayServer(backend, **kw)
        async with trio.open_nursery() as nursery:
            port = await nursery.start(server.serve, "127.0.0.1", 0)
            yield Harness(server, port)
            nursery.cancel_scope.cancel()

    return make
