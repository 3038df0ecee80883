"""``/healthz`` (the process runs), ``/readyz`` (200, or 503 with reasons), ``/metrics`` (Prometheus text)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
import trio

from welcomebot.httpserver import Request, Response, serve_http
from welcomebot.ops.metrics import CONTENT_TYPE, Metrics

__all__ = ["serve_ops"]

ReadyCheck = Callable[[], Awaitable[tuple[bool, list[str]]]]


async def serve_ops(host: str, port: int, metrics: Metrics, ready: ReadyCheck, *,
                    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:  # fmt: skip
    async def handle(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"method not allowed\n", [("Allow", "GET, HEAD")], "text/plain")
        if request.path == "/healthz":
            return Response(200, b"ok\n", content_type="text/plain")
        if request.path == "/readyz":
            ok, reasons = await ready()
            return Response(200 if ok else 503, msgspec.json.encode({"ready": ok, "reasons": reasons}))
        if request.path == "/metrics":
            return Response(200, metrics.render(), content_type=CONTENT_TYPE)
        return Response(404, b"not found\n", content_type="text/plain")

    await serve_http(handle, host, port, name="ops", task_status=task_status)
