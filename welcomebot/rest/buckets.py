"""Discord's REST rate limits, from the client's side (topics/rate-limits.mdx). Sans-IO: ``now`` passed in.

- A route's bucket is keyed by method + route template + its top-level resource (channel, guild,
  webhook/interaction token). When a response names its ``X-RateLimit-Bucket``, routes sharing that hash
  share one bucket (per top-level resource).
- :meth:`RateLimits.acquire` answers "how long to wait before sending": pre-emptive, so a burst queues
  here instead of bouncing off a 429. A bucket we know nothing about lets one request through at a time
  until the first response teaches its limit.
- A global limiter keeps all requests under ``global_per_second`` in any sliding second (default
  :data:`GLOBAL_PER_SECOND`, 45: a margin under Discord's 50/s), except interaction endpoints, which the
  global limit does not cover.
- 429s: ``retry_after`` blocks the bucket (or everything, for ``global``); ``shared`` scope is not ours and
  does not count as an invalid request.
- Invalid requests (401, 403, 429 not shared) are counted in a sliding 10 minutes; past ``invalid_ceiling``
  (far below Discord's 10,000 ban line) the client refuses to send.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

__all__ = ["GLOBAL_PER_SECOND", "Bucket", "Headers", "RateLimits"]

#: Requests a second this process sends at most (interactions aside): the one figure the client and this core
#: use, a margin under Discord's 50 per bot.
GLOBAL_PER_SECOND: Final = 45


@dataclass(frozen=True)
class Headers:
    """The rate-limit headers of one response, parsed."""

    limit: int | None = None
    remaining: int | None = None
    reset_after: float | None = None
    bucket: str | None = None
    scope: str | None = None
    is_global: bool = False
    retry_after: float | None = None

    @classmethod
    def parse(cls, headers: dict[str, str], retry_after_body: float | None = None) -> Headers:
        def num(name: str) -> float | None:
            value = headers.get(name)
            try:
                return float(value) if value is not None else None
            except ValueError:
                return None

        limit = num("x-ratelimit-limit")
        remaining = num("x-ratelimit-remaining")
        retry = retry_after_body if retry_after_body is not None else num("retry-after")
        return cls(
            limit=None if limit is None else int(limit),
            remaining=None if remaining is None else int(remaining),
            reset_after=num("x-ratelimit-reset-after"),
            bucket=headers.get("x-ratelimit-bucket"),
            scope=headers.get("x-ratelimit-scope"),
            is_global=headers.get("x-ratelimit-global", "").lower() == "true",
            retry_after=retry,
        )


@dataclass
class Bucket:
    limit: int | None = None
    remaining: int | None = None
    reset_at: float = 0.0
    #: Requests sent and not yet answered, while the limit is unknown.
    in_flight: int = 0

    def wait(self, now: float) -> float:
        if now >= self.reset_at and self.limit is not None:
            self.remaining = self.limit
        if self.limit is None:
            return 0.0 if self.in_flight == 0 else -1.0  # -1: wait for a response, not for time
        if self.remaining is not None and self.remaining <= 0:
            return max(0.0, self.reset_at - now)
        return 0.0


class RateLimits:
    def __init__(
        self, *, global_per_second: int = GLOBAL_PER_SECOND, invalid_ceiling: int = 1000, invalid_window: float = 600.0
    ) -> None:
        self.global_per_second = global_per_second
        self.invalid_ceiling = invalid_ceiling
        self.invalid_window = invalid_window
        self._hash_of: dict[str, str] = {}  # route key (method + template) -> bucket hash
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._global_blocked_until = 0.0
        self._global_sent: deque[float] = deque()  # when each finished request's response came back
        self._global_in_flight = 0
        self._invalid: deque[float] = deque()
        self.rate_limited: dict[str, int] = {}

    def bucket(self, route_key: str, major: str) -> Bucket:
        key = (self._hash_of.get(route_key, route_key), major)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket()
        return bucket

    def acquire(self, route_key: str, major: str, now: float, *, global_limited: bool = True) -> float:
        """0 and the request is accounted for; > 0 seconds to wait; -1 to wait for an in-flight response."""
        if global_limited:
            if now < self._global_blocked_until:
                return self._global_blocked_until - now
            # A sliding second, not a fixed one: at most N in *any* second, so whatever second Discord
            # counts in, it never sees more than N from us. A request counts from when it is sent until a second
            # after its response: it reached Discord somewhere in between, and a loaded event loop or a slow
            # network can delay a send enough to bunch it with later ones in Discord's second.
            sent = self._global_sent
            while sent and sent[0] <= now - 1.0:
                sent.popleft()
            if len(sent) + self._global_in_flight >= self.global_per_second:
                return sent[0] + 1.0 - now if sent else -1.0
        bucket = self.bucket(route_key, major)
        wait = bucket.wait(now)
        if wait != 0:
            return wait
        if bucket.limit is None:
            bucket.in_flight += 1
        elif bucket.remaining is not None:
            bucket.remaining -= 1
        if global_limited:
            self._global_in_flight += 1
        return 0.0

    def _finished(self, now: float, global_limited: bool) -> None:
        if global_limited:
            self._global_in_flight = max(0, self._global_in_flight - 1)
            self._global_sent.append(now)

    def release(self, route_key: str, major: str, now: float, *, global_limited: bool = True) -> None:
        """The request ended without a response (transport error): let the next one try."""
        self._finished(now, global_limited)
        bucket = self.bucket(route_key, major)
        bucket.in_flight = max(0, bucket.in_flight - 1)

    def update(
        self, route_key: str, major: str, status: int, headers: Headers, now: float, *, global_limited: bool = True
    ) -> None:
        """Learn from a response."""
        self._finished(now, global_limited)
        if headers.bucket is not None and self._hash_of.get(route_key) != headers.bucket:
            old = self._buckets.pop((self._hash_of.get(route_key, route_key), major), None)
            self._hash_of[route_key] = headers.bucket
            if old is not None:
                self._buckets.setdefault((headers.bucket, major), old)
        bucket = self.bucket(route_key, major)
        bucket.in_flight = max(0, bucket.in_flight - 1)
        if headers.limit is not None:
            bucket.limit = headers.limit
        if headers.remaining is not None and headers.reset_after is not None:
            bucket.remaining = headers.remaining
            bucket.reset_at = now + headers.reset_after
        if status == 429:
            scope = headers.scope or ("global" if headers.is_global else "user")
            self.rate_limited[scope] = self.rate_limited.get(scope, 0) + 1
            retry = headers.retry_after if headers.retry_after is not None else 1.0
            if scope == "global" or headers.is_global:
                self._global_blocked_until = max(self._global_blocked_until, now + retry)
            else:
                bucket.remaining = 0
                bucket.reset_at = max(bucket.reset_at, now + retry)
        if status in (401, 403) or (status == 429 and headers.scope != "shared"):
            self._invalid.append(now)

    def invalid_count(self, now: float) -> int:
        while self._invalid and self._invalid[0] <= now - self.invalid_window:
            self._invalid.popleft()
        return len(self._invalid)

    def over_invalid_ceiling(self, now: float) -> bool:
        return self.invalid_count(now) >= self.invalid_ceiling
