"""Helpers for tests: sample images (good and hostile) and a raw HTTP server that misbehaves on request.

:class:`HostileServer` writes exactly the bytes a route gives it (no HTTP library on the server side), so a
test can lie in Content-Length, drip a body, stall, or send garbage. Routes are raw responses built with
:func:`http_response`, or async functions that write to the stream themselves.
"""

from __future__ import annotations

import io
import ssl
import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio
from PIL import Image

from welcomebot.render.testing import busy_photo, image_bytes

__all__ = [
    "HostileServer",
    "Route",
    "animated_gif",
    "drip",
    "http_response",
    "photo_bytes",
    "png_header_only",
    "redirect",
    "rotated_jpeg",
    "stall",
]


def photo_bytes(fmt: str = "PNG", size: tuple[int, int] = (640, 360)) -> bytes:
    return image_bytes(busy_photo(*size), fmt)


def rotated_jpeg(size: tuple[int, int] = (640, 360), orientation: int = 6) -> bytes:
    """A JPEG stored ``size`` wide whose EXIF says to display it rotated (6: 90 degrees clockwise)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return image_bytes(busy_photo(*size), "JPEG", exif=exif.tobytes())


def animated_gif(size: tuple[int, int] = (400, 200), colours: tuple[str, ...] = ("red", "blue", "lime")) -> bytes:
    frames = [Image.new("RGB", size, colour) for colour in colours]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A few dozen bytes that claim a ``width`` x ``height`` RGBA PNG (a decompression-bomb header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b"")
    )


def http_response(
    status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None, *, length: int | None = None
) -> bytes:
    """Raw response bytes; ``length`` overrides Content-Length (-1 leaves it out: the body ends at close)."""
    fields = {"Content-Type": "image/png", "Connection": "close", **(headers or {})}
    declared = len(body) if length is None else length
    if declared >= 0:
        fields["Content-Length"] = str(declared)
    head = f"HTTP/1.1 {status} Whatever\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode("latin-1") + body


def redirect(location: str, status: int = 302) -> bytes:
    return http_response(status, headers={"Location": location, "Content-Type": "text/html"})


Route = bytes | Callable[[trio.abc.Stream, "HostileServer"], Awaitable[None]]


async def drip(stream: trio.abc.Stream, server: HostileServer) -> None:
    """A slow server: headers, then one byte a second (virtual seconds under MockClock)."""
    await stream.send_all(http_response(length=10_000))
    server.stalled.set()
    while True:
        await stream.send_all(b"\x89")
        await trio.sleep(1)


async def stall(stream: trio.abc.Stream, server: HostileServer) -> None:
    """A server that accepts the connection and reads the request but never answers."""
    server.stalled.set()
    await trio.sleep_forever()


@dataclass
class HostileServer:
    routes: dict[str, Route] = field(default_factory=dict)
    #: Set when a route starts stalling, so a test can jump a MockClock past the fetch's timeout.
    stalled: trio.Event = field(default_factory=trio.Event)
    #: (request target, lower-cased headers) of every request, in order.
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    #: Serve https with this context (e.g. a certificate from ``trustme``) instead of plain http.
    ssl_context: ssl.SSLContext | None = None
    port: int = 0

    @property
    def origin(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started()
        await trio.serve_listeners(self._connection, listeners)

    async def _connection(self, plain: trio.SocketStream) -> None:
        stream: trio.abc.Stream = plain
        if self.ssl_context is not None:
            stream = trio.SSLStream(plain, self.ssl_context, server_side=True)
        try:
            async with stream:
                head = b""
                while b"\r\n\r\n" not in head:
                    data = await stream.receive_some(4096)
                    if not data:
                        return
                    head += data
                line, *lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
                target = line.split(" ")[1]
                headers = dict((k.strip().lower(), v.strip()) for k, _, v in (h.partition(":") for h in lines))
                self.requests.append((target, headers))
                route = self.routes.get(target, http_response(404, b"not here", {"Content-Type": "text/plain"}))
                if isinstance(route, bytes):
                    await stream.send_all(route)
                else:
                    await route(stream, self)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return  # the client gave up, as it should with hostile routes
