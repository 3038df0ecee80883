"""Count what happened from the emulator's own records (pure: control-API JSON in, figures out).

A join is welcomed when a message in its guild's welcome channel mentions the member; every further message
mentioning them is a duplicate; a join never mentioned is a miss. Latency is the posted message's timestamp
minus the member's ``joined_at``, both stamped by the emulator's clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["JoinRecord", "Outcome", "count", "iso_ms", "percentile", "raid_optimum_s", "rate_limit_figures"]


@dataclass(frozen=True)
class JoinRecord:
    user_id: int
    guild_id: int
    channel_id: int
    joined_ms: float


@dataclass(frozen=True)
class Outcome:
    """Per-scenario figures plus the series the plots need (seconds from the first join)."""

    figures: dict[str, Any]
    #: (join offset s, join→post latency ms) for every welcomed join.
    latencies: list[tuple[float, float]]
    #: post offset s of every first welcome (for throughput).
    posts: list[float]
    #: join offset s of every join.
    joins: list[float]


def iso_ms(text: str) -> float:
    return datetime.fromisoformat(text).timestamp() * 1000


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted sequence (None when empty)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def count(
    joins: Iterable[JoinRecord], messages: Mapping[int, Sequence[Mapping[str, Any]]], *, gaps: Sequence[float] = ()
) -> Outcome:
    """Figures from the joins the harness made and the messages the emulator holds, by channel id.

    ``gaps`` are the offsets (s from the first join) where the gateway session was lost for good: Discord
    does not replay the events of a lost session, so the joins from there until the first join that was
    welcomed again are counted apart, as ``misses_in_session_gaps``.
    """
    joins = list(joins)
    first_post: dict[tuple[int, int], float] = {}
    seen: dict[tuple[int, int], int] = {}
    total_messages = 0
    for channel_id, channel_messages in messages.items():
        total_messages += len(channel_messages)
        for message in channel_messages:
            posted = iso_ms(str(message["timestamp"]))
            for uid in message.get("mentioned_user_ids", []):
                key = (channel_id, int(uid))
                seen[key] = seen.get(key, 0) + 1
                first_post[key] = min(posted, first_post.get(key, posted))
    t0 = min((j.joined_ms for j in joins), default=0.0)
    series: list[tuple[float, float]] = []
    posts: list[float] = []
    duplicates = 0
    missed: list[JoinRecord] = []
    for join in joins:
        key = (join.channel_id, join.user_id)
        times = seen.get(key, 0)
        if times == 0:
            missed.append(join)
            continue
        duplicates += times - 1
        series.append(((join.joined_ms - t0) / 1000, first_post[key] - join.joined_ms))
        posts.append((first_post[key] - t0) / 1000)
    ordered = sorted(latency for _, latency in series)
    welcomed_at = sorted(offset for offset, _ in series)
    in_gaps = sum(1 for j in missed if _in_gap((j.joined_ms - t0) / 1000, gaps, welcomed_at))
    figures = {
        "joins_sent": len(joins),
        "welcomed": len(series),
        "duplicates": duplicates,
        "misses": len(missed),
        "misses_in_session_gaps": in_gaps,
        "messages": total_messages,
        "join_to_post_ms": {
            "p50": _round(percentile(ordered, 0.50)),
            "p95": _round(percentile(ordered, 0.95)),
            "p99": _round(percentile(ordered, 0.99)),
            "max": _round(ordered[-1] if ordered else None),
        },
        "last_welcome_after_first_join_s": round(max(posts), 2) if posts else None,
        # Enough to find them in the bot's log: the first few missed joins, with their offset from the first.
        "missed_sample": [
            {"guild_id": str(j.guild_id), "user_id": str(j.user_id), "join_s": round((j.joined_ms - t0) / 1000, 2)}
            for j in missed[:10]
        ],
    }
    return Outcome(figures, series, sorted(posts), sorted((j.joined_ms - t0) / 1000 for j in joins))


def _in_gap(join_s: float, gaps: Sequence[float], welcomed_at: Sequence[float]) -> bool:
    """Whether a join falls after a session loss and before the first join welcomed again after it."""
    for gap in gaps:
        if gap <= join_s:
            resumed = next((w for w in welcomed_at if w >= gap), math.inf)
            if join_s < resumed:
                return True
    return False


def rate_limit_figures(stats: Mapping[str, Any]) -> dict[str, int]:
    """429s and invalid requests from the emulator's /stats; injected 429s (a fault) are not unexpected."""
    total = int(stats.get("rate_limited_total", 0))
    injected = int(stats.get("injected_failures", {}).get("429", 0))
    return {
        "rate_limited": total,
        "injected_429": injected,
        "unexpected_429": total - injected,
        "invalid_requests": int(stats.get("invalid_requests_total", 0)),
        "injected_5xx": sum(int(v) for k, v in stats.get("injected_failures", {}).items() if k.startswith("5")),
    }


def raid_optimum_s(
    join_offsets: Sequence[float], *, per_message: int = 10, window_messages: int = 5, window_s: float = 5.0
) -> float:
    """The earliest the last member can be welcomed, counted from the first join.

    Fewest messages (``ceil(n / per_message)``, each full), each sent once its last member has joined, under
    Discord's per-channel fixed window (``window_messages`` per ``window_s``, opened by its first message).
    Rendering and network time are taken as zero, so no real bot reaches it.
    """
    ordered = sorted(join_offsets)
    if not ordered:
        return 0.0
    sent = window_open = -math.inf
    in_window = window_messages
    for i in range(math.ceil(len(ordered) / per_message)):
        ready = max(sent, ordered[min(len(ordered) - 1, (i + 1) * per_message - 1)])
        if in_window >= window_messages or ready >= window_open + window_s:
            window_open = max(ready, window_open + window_s)
            in_window = 0
        sent = max(ready, window_open)
        in_window += 1
    return sent - ordered[0]
