"""Helpers for the conformance tests: a plain websocket client on the emulator's gateway (not the bot's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import msgspec
import trio
from trio_websocket import WebSocketConnection, wrap_client_stream


@asynccontextmanager
async def gateway_client(
    url: str, query: str = "v=10&encoding=json", close_code: int = 1000
) -> AsyncIterator[WebSocketConnection]:
    """A websocket that owns its TCP stream (trio-websocket 0.12's client leaves it to the GC otherwise)."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    async with stream, trio.open_nursery() as nursery:
        ws = await wrap_client_stream(nursery, stream, parts.hostname, f"/?{query}", message_queue_size=0)
        try:
            yield ws
        finally:
            await ws.aclose(close_code)
            nursery.cancel_scope.cancel()


async def recv(ws: WebSocketConnection) -> dict[str, Any]:
    decoded: dict[str, Any] = msgspec.json.decode(await ws.get_message())
    return decoded


async def send(ws: WebSocketConnection, op: int, d: Any) -> None:
    await ws.send_message(msgspec.json.encode({"op": op, "d": d}).decode())


def identify_payload(token: str, intents: int = 3, shard: list[int] | None = None) -> dict[str, Any]:
    properties = {"os": "linux", "browser": "t", "device": "t"}
    d: dict[str, Any] = {"token": token, "intents": intents, "properties": properties}
    if shard is not None:
        d["shard"] = shard
    return d
