"""Discord's REST rate limits as the server applies them (topics/rate-limits.mdx). Sans-IO: ``now`` in.

- Per-route buckets, keyed by the bucket hash and the top-level resource (channel, guild, webhook),
  each a fixed window that opens with its first request: ``limit`` requests, then 429 until the reset.
- A global limit per bot (50 requests per second), not applied to interaction endpoints.
- The invalid-request counter: 401, 403 and 429 (except ``shared`` scope) in a sliding 10 minutes; past
  the ban threshold every request is refused with Cloudflare's bare 1015 answer.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass

__all__ = ["BucketSpec", "Decision", "RateLimiter"]


@dataclass(frozen=True)
class BucketSpec:
    name: str
    limit: int
    period: float

    @property
    def hash(self) -> str:
        return hashlib.md5(self.name.encode(), usedforsecurity=False).hexdigest()


@dataclass
class _Window:
    opened_at: float
    used: int = 0


@dataclass(frozen=True)
class Decision:
    """What to answer: allowed (with headers) or a 429 (with its scope and retry_after)."""

    allowed: bool
    headers: list[tuple[str, str]]
    retry_after: float = 0.0
    scope: str | None = None  # "user", "global", "shared" on 429
    banned: bool = False


class RateLimiter:
    def __init__(
        self,
        *,
        global_per_second: int = 50,
        invalid_ban_threshold: int = 10_000,
        invalid_window: float = 600.0,
        epoch_offset: float = 0.0,
    ) -> None:
        self.global_per_second = global_per_second
        self.invalid_ban_threshold = invalid_ban_threshold
        self.invalid_window = invalid_window
        #: Added to ``now`` to give the epoch seconds in ``X-RateLimit-Reset``.
        self.epoch_offset = epoch_offset
        self._windows: dict[tuple[str, str], _Window] = {}
        self._global: _Window | None = None
        self._invalid: deque[float] = deque()
        self.invalid_total = 0

    def check(self, spec: BucketSpec | None, major: str, now: float, *, global_limited: bool = True) -> Decision:
        """Account one request to ``spec`` for resource ``major`` at ``now``."""
        if self.banned(now):
            return Decision(False, [], retry_after=self.invalid_window, scope="global", banned=True)
        if global_limited and self.global_per_second > 0:
            g = self._global
            if g is None or now >= g.opened_at + 1.0:
                g = self._global = _Window(now)
            if g.used >= self.global_per_second:
                retry = round(g.opened_at + 1.0 - now, 3)
                return Decision(False, [("X-RateLimit-Global", "true")], retry_after=retry, scope="global")
            g.used += 1
        if spec is None:
            return Decision(True, [])
        key = (spec.hash, major)
        w = self._windows.get(key)
        if w is None or now >= w.opened_at + spec.period:
            w = self._windows[key] = _Window(now)
        reset_after = w.opened_at + spec.period - now
        if w.used >= spec.limit:
            headers = self._headers(spec, 0, reset_after, now)
            return Decision(False, headers, retry_after=round(reset_after, 3), scope="user")
        w.used += 1
        return Decision(True, self._headers(spec, spec.limit - w.used, reset_after, now))

    def count_invalid(self, status: int, now: float, *, scope: str | None = None) -> None:
        if status in (401, 403) or (status == 429 and scope != "shared"):
            self._invalid.append(now)
            self.invalid_total += 1

    def banned(self, now: float) -> bool:
        while self._invalid and self._invalid[0] <= now - self.invalid_window:
            self._invalid.popleft()
        return len(self._invalid) >= self.invalid_ban_threshold

    def invalid_in_window(self, now: float) -> int:
        self.banned(now)
        return len(self._invalid)

    def _headers(self, spec: BucketSpec, remaining: int, reset_after: float, now: float) -> list[tuple[str, str]]:
        return [
            ("X-RateLimit-Limit", str(spec.limit)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Reset", f"{now + reset_after + self.epoch_offset:.3f}"),
            ("X-RateLimit-Reset-After", f"{reset_after:.3f}"),
            ("X-RateLimit-Bucket", spec.hash),
        ]
