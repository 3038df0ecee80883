"""The REST client: one pooled httpx client, Discord's rate limits kept before sending, bounded retries.

Requests to one bucket (route + top-level resource, e.g. one channel's messages) go out one at a time in
FIFO order, so welcomes to a channel arrive in the order they were asked for. 5xx answers, timeouts and
connection resets are retried with exponential backoff and full jitter, bounded in count and in total
time; 4xx answers are never retried, except 429 after its ``retry_after``. Message creates carry a nonce
with ``enforce_nonce`` so a retry after a lost response cannot post twice.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx
import msgspec
import trio

from actors import ExponentialBackoff
from welcomebot import __version__
from welcomebot.rest.buckets import GLOBAL_PER_SECOND, Headers, RateLimits
from welcomebot.rest.errors import (
    Forbidden,
    HTTPError,
    NotFound,
    RateLimitTooLong,
    ServerError,
    TooManyInvalidRequests,
    TransportError,
    Unauthorized,
)
from welcomebot.rest.routes import CompiledRoute, Route
from welcomebot.secret import Secret

__all__ = ["USER_AGENT", "File", "RestClient"]

log = logging.getLogger(__name__)

USER_AGENT: Final = f"DiscordBot (https://github.com/welcomebot/welcomebot, {__version__})"


@dataclass(frozen=True)
class File:
    name: str
    data: bytes
    description: str | None = None
    content_type: str = "application/octet-stream"


class RestClient:
    def __init__(
        self,
        token: Secret,
        *,
        api_base: str,
        transport: httpx.AsyncBaseTransport | None = None,
        global_per_second: int = GLOBAL_PER_SECOND,
        max_attempts: int = 5,
        max_retry_wait: float = 60.0,
        timeout: float = 15.0,
        rng: random.Random | None = None,
    ) -> None:
        self._token = token
        self._http = httpx.AsyncClient(
            base_url=api_base.rstrip("/"),
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
            headers={"User-Agent": USER_AGENT},
        )
        self.limits = RateLimits(global_per_second=global_per_second)
        self._max_attempts = max_attempts
        self._max_retry_wait = max_retry_wait
        self._rng = rng or random.Random()
        self._locks: dict[tuple[str, str], trio.StrictFIFOLock] = {}
        self.requests: Counter[tuple[str, int]] = Counter()
        #: Discord's clock minus ours, from the ``Date`` header of the latest answer (None: none seen yet).
        self._skew: float | None = None

    def discord_time(self) -> float | None:
        """Discord's "now" (epoch seconds, to about a second) as its latest answer's ``Date`` said, carried
        forward on our clock; None before any answer had one. Discord's time windows (the nonce's) run on it."""
        return None if self._skew is None else time.time() + self._skew

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        compiled: CompiledRoute,
        *,
        json: Any = None,
        files: list[File] | None = None,
        params: dict[str, str | int] | None = None,
        where: str = "",
    ) -> Any:
        """Send one request, keeping the rate limits, retrying what may be retried; the decoded JSON answer."""
        route = compiled.route
        lock_key = (route.key, compiled.major)
        lock = self._locks.get(lock_key)
        if lock is None:
            lock = self._locks[lock_key] = trio.StrictFIFOLock()
        async with lock:
            return await self._send(compiled, json, files, params, where)

    async def _send(self, compiled: CompiledRoute, json: Any, files: list[File] | None,
                    params: dict[str, str | int] | None, where: str) -> Any:  # fmt: skip
        route = compiled.route
        backoff = ExponentialBackoff(0.5, 2.0, 8.0, rng=self._rng)
        deadline = trio.current_time() + 120.0
        attempt = 0
        while True:
            await self._wait_turn(compiled)
            attempt += 1
            try:
                response = await self._http.request(
                    route.method, compiled.path, headers=self._headers(route, json is not None and not files),
                    params=params, **_body(json, files),
                )  # fmt: skip
            except httpx.TransportError as exc:
                self.limits.release(route.key, compiled.major, trio.current_time(), global_limited=route.bot_auth)
                if attempt >= self._max_attempts or trio.current_time() > deadline:
                    raise TransportError(f"{compiled} failed after {attempt} attempts: {type(exc).__name__}") from exc
                await trio.sleep(next(backoff))
                continue
            except BaseException:
                # Cancelled (a deadline, a drain) or a bug: the request may never be answered, so give back its
                # place in the bucket and the global second now, or every later request would wait for it forever.
                self.limits.release(route.key, compiled.major, trio.current_time(), global_limited=route.bot_auth)
                raise
            now = trio.current_time()
            status = response.status_code
            self.requests[(route.key, status)] += 1
            self._note_date(response.headers.get("date"))
            body = _decode(response)
            headers = Headers.parse(
                {k.lower(): v for k, v in response.headers.items()},
                body.get("retry_after") if status == 429 and isinstance(body, dict) else None,
            )
            self.limits.update(route.key, compiled.major, status, headers, now, global_limited=route.bot_auth)
            if status < 300:
                return body
            if status == 429:
                retry = headers.retry_after if headers.retry_after is not None else 1.0
                log.warning("rate limited by Discord", extra={"route": route.key, "scope": headers.scope,
                                                              "retry_after": retry})  # fmt: skip
                if retry > self._max_retry_wait:
                    raise RateLimitTooLong(str(compiled), retry)
                if attempt >= self._max_attempts * 2:
                    raise RateLimitTooLong(str(compiled), retry)
                continue  # the bucket (or the global limiter) now holds the wait
            if status >= 500:
                if attempt >= self._max_attempts or now > deadline:
                    raise _error(ServerError, status, body, compiled, where)
                await trio.sleep(next(backoff))
                continue
            raise _error(_ERRORS.get(status, HTTPError), status, body, compiled, where)

    def _note_date(self, header: str | None) -> None:
        if header is None:
            return
        with contextlib.suppress(TypeError, ValueError):  # a malformed Date: keep the last good one
            # Date has whole seconds: the true time is on average half a second later.
            self._skew = parsedate_to_datetime(header).timestamp() + 0.5 - time.time()

    async def _wait_turn(self, compiled: CompiledRoute) -> None:
        route = compiled.route
        while True:
            now = trio.current_time()
            if self.limits.over_invalid_ceiling(now):
                raise TooManyInvalidRequests(self.limits.invalid_count(now), self.limits.invalid_window)
            wait = self.limits.acquire(route.key, compiled.major, now, global_limited=route.bot_auth)
            if wait == 0:
                return
            # -1: another route sharing this bucket is waiting for its first answer
            await trio.sleep(wait if wait > 0 else 0.05)

    def _headers(self, route: Route, is_json: bool) -> dict[str, str]:
        headers = {"Content-Type": "application/json"} if is_json else {}
        if route.bot_auth:
            headers["Authorization"] = f"Bot {self._token.reveal()}"
        return headers


_ERRORS: dict[int, type[HTTPError]] = {401: Unauthorized, 403: Forbidden, 404: NotFound}


def _body(json: Any, files: list[File] | None) -> dict[str, Any]:
    if not files:
        return {} if json is None else {"content": msgspec.json.encode(json)}
    payload = dict(json or {})
    payload["attachments"] = [
        {"id": str(i), "filename": f.name, **({"description": f.description} if f.description else {})}
        for i, f in enumerate(files)
    ]
    return {
        "data": {"payload_json": msgspec.json.encode(payload).decode()},
        "files": [(f"files[{i}]", (f.name, f.data, f.content_type)) for i, f in enumerate(files)],
    }


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    if not response.headers.get("content-type", "").startswith("application/json"):
        return {"message": response.text[:200]}
    try:
        return msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return {"message": "undecodable answer"}


def _error(kind: type[HTTPError], status: int, body: Any, compiled: CompiledRoute, where: str) -> HTTPError:
    code = body.get("code", 0) if isinstance(body, dict) else 0
    message = body.get("message", "") if isinstance(body, dict) else ""
    return kind(status, int(code or 0), str(message), str(compiled.route.key), where)
