"""A small HTTP/1.1 server on trio and h11 (the emulator and the ops endpoints): one task per connection,
keep-alive, size limits.

Handlers are plain ``async (Request) -> Response`` functions; the server knows nothing of Discord. A HEAD
request gets the headers its GET would (Content-Length included) and no body; a handler that raises is
logged under the server's name (``"emulator handler crashed"``, ``"ops handler crashed"``) and answered 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import h11
import trio

__all__ = ["Handler", "Request", "Response", "json_response", "serve_http"]

log = logging.getLogger(__name__)

MAX_BODY = 32 * 1024 * 1024  # a little above Discord's largest upload, so we can answer 413 ourselves
READ_SIZE = 65536
IDLE_TIMEOUT = 120.0


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    path: str = ""
    query: dict[str, list[str]] = field(default_factory=dict)
    #: Set by a handler to drop the connection after the response is computed but before it is sent
    #: (the "lost response" fault).
    drop_response: bool = False

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        self.path = parts.path
        self.query = parse_qs(parts.query, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = "application/json"


Handler = Callable[[Request], Awaitable[Response]]


def json_response(status: int, payload: bytes, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, payload, headers or [])


async def serve_http(
    handler: Handler,
    host: str,
    port: int,
    *,
    name: str,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled; ``started()`` with the bound port. ``name`` says whose server it is in the logs."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()[1]
    task_status.started(bound)

    async def connection(stream: trio.SocketStream) -> None:
        await _connection(stream, handler, name)

    await trio.serve_listeners(connection, listeners)


async def _connection(stream: trio.abc.Stream, handler: Handler, name: str) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
    try:
        async with stream:
            while True:
                request = await _read_request(stream, conn)
                if request is None:
                    return
                try:
                    response = await handler(request)
                except Exception:
                    log.exception("%s handler crashed", name, extra={"path": request.path})
                    response = Response(500, b'{"message": "500: Internal Server Error", "code": 0}')
                if request.drop_response:
                    return
                await _send_response(stream, conn, response, head=request.method == "HEAD")
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
    except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError, trio.TooSlowError):
        return  # one client's broken or idle connection ends that connection, never the server


async def _read_request(stream: trio.abc.Stream, conn: h11.Connection) -> Request | None:
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            with trio.fail_after(IDLE_TIMEOUT):
                data = bytes(await stream.receive_some(READ_SIZE))
            conn.receive_data(data)
            if not data and conn.their_state is not h11.SEND_BODY and head is None:
                return None
            continue
        if isinstance(event, h11.Request):
            head = event
            length = dict(event.headers).get(b"content-length")
            if length is not None and int(length) > MAX_BODY:
                await _send_response(
                    stream, conn, Response(413, b'{"message": "Request entity too large", "code": 40005}')
                )
                return None
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY:
                return None
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in head.headers}
            return Request(head.method.decode(), head.target.decode("latin-1"), headers, bytes(body))
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None


async def _send_response(
    stream: trio.abc.Stream, conn: h11.Connection, response: Response, *, head: bool = False
) -> None:
    headers = [(k.encode(), v.encode()) for k, v in response.headers]
    if response.content_type is not None:
        headers.append((b"content-type", response.content_type.encode()))
    headers.append((b"content-length", str(len(response.body)).encode()))
    chunks = [conn.send(h11.Response(status_code=response.status, headers=headers))]
    if response.body and not head:  # h11 refuses a body on a HEAD response (RFC 9110 9.3.2: none is sent)
        chunks.append(conn.send(h11.Data(data=response.body)))
    chunks.append(conn.send(h11.EndOfMessage()))
    await stream.send_all(b"".join(c for c in chunks if c))
