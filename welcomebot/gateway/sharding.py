"""Which shards this process runs, and when each may IDENTIFY (topics/gateway.mdx, "Sharding").

``GET /gateway/bot`` gives the recommended shard count and the session start limit. Discord lets
``max_concurrency`` shards IDENTIFY per 5 s, one per rate-limit bucket ``shard_id % max_concurrency``;
each IDENTIFY (not a RESUME) spends one of ``session_start_limit.remaining``, which refills
``reset_after`` milliseconds later. Several processes can split one bot's shards with
``--shards A-B --shard-count N``, or all run ``--shards auto`` and divide them through the shard leases
(:func:`auto_quota`).

Pure parts (:func:`parse_shard_range`, :func:`plan_shards`, :class:`IdentifySchedule`) take time as an
argument; :class:`~welcomebot.gateway.manager.ShardManager` does the waiting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import msgspec

from welcomebot.errors import ConfigError

__all__ = [
    "IDENTIFY_SPACING",
    "GatewayBot",
    "IdentifySchedule",
    "SessionStartLimit",
    "ShardPlan",
    "auto_quota",
    "parse_shard_range",
    "plan_shards",
]

#: Seconds between two IDENTIFYs of the same bucket.
IDENTIFY_SPACING = 5.0


class SessionStartLimit(msgspec.Struct, frozen=True):
    total: int
    remaining: int
    #: Milliseconds until ``remaining`` is back to ``total``.
    reset_after: int
    max_concurrency: int = 1


class GatewayBot(msgspec.Struct, frozen=True):
    """The body of ``GET /gateway/bot``."""

    url: str
    shards: int
    session_start_limit: SessionStartLimit


@dataclass(frozen=True)
class ShardPlan:
    url: str
    shard_ids: range
    shard_count: int
    max_concurrency: int


def parse_shard_range(text: str) -> range:
    """``"3"`` or ``"0-7"`` (inclusive, as in ``--shards 0-7``) to a range of shard ids."""
    first, sep, last = text.strip().partition("-")
    try:
        start = int(first)
        stop = int(last) if sep else start
    except ValueError:
        raise ConfigError(f"--shards {text!r}: expected a shard id or a range like 0-3") from None
    if start < 0 or stop < start:
        raise ConfigError(f"--shards {text!r}: the range must be A-B with 0 <= A <= B")
    return range(start, stop + 1)


def plan_shards(gateway: GatewayBot, *, shards: range | None = None, shard_count: int | None = None) -> ShardPlan:
    """This process's shards: all of Discord's recommendation unless the operator chose a range and count."""
    count = shard_count if shard_count is not None else gateway.shards
    if count < 1:
        raise ConfigError(f"--shard-count {count}: a bot has at least one shard")
    ids = shards if shards is not None else range(count)
    if ids.stop > count:
        raise ConfigError(f"--shards {ids.start}-{ids.stop - 1} is outside --shard-count {count} (ids 0-{count - 1})")
    return ShardPlan(gateway.url, ids, count, max(1, gateway.session_start_limit.max_concurrency))


def auto_quota(owner: str, shard_count: int, holders: Mapping[int, str], owners: Iterable[str]) -> int:
    """How many shards ``owner`` should run under ``--shards auto``: the count divided over the live owners,
    the remainder to those holding most already (then by owner id), so every owner computes the same split
    from the same survey and a join or a death moves as few shards as it can."""
    live = set(owners) | {owner}
    held = Counter(o for shard_id, o in holders.items() if shard_id < shard_count)
    order = sorted(live, key=lambda o: (-held[o], o))
    base, extra = divmod(shard_count, len(live))
    return base + (1 if order.index(owner) < extra else 0)


class IdentifySchedule:
    """Hands out IDENTIFY slots: per bucket :data:`IDENTIFY_SPACING` apart, within the session start limit."""

    def __init__(self, limit: SessionStartLimit, now: float, spacing: float = IDENTIFY_SPACING) -> None:
        self.max_concurrency = max(1, limit.max_concurrency)
        self.spacing = spacing
        self._next: dict[int, float] = {}
        self.update(limit, now)

    def update(self, limit: SessionStartLimit, now: float) -> None:
        """Take fresh numbers from ``GET /gateway/bot``."""
        self.remaining = limit.remaining
        self.reset_at = now + limit.reset_after / 1000

    def reserve(self, shard_id: int, now: float) -> float | None:
        """The time this shard may IDENTIFY (the slot is taken), or None: no session starts left until
        :attr:`reset_at`; refresh with :meth:`update` then and ask again."""
        if self.remaining <= 0:
            return None
        bucket = shard_id % self.max_concurrency
        at = max(now, self._next.get(bucket, now))
        self._next[bucket] = at + self.spacing
        self.remaining -= 1
        return at
