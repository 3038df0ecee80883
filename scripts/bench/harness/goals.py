"""The issue's goals beside the measured figures (pure): met, missed and by how much, or not measured."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["evaluate"]


def _goal(name: str, text: str, value: float | None, limit: float) -> dict[str, Any]:
    """An at-most goal; ``missed_by`` says how far over the limit, as the ratio and the difference."""
    if value is None:
        return {"goal": name, "wanted": text, "value": None, "met": None, "missed_by": None}
    met = value <= limit
    missed_by = None
    if not met:
        missed_by = f"+{value - limit:g}" if limit == 0 else f"{value / limit:.2f}x (+{value - limit:.4g})"
    return {"goal": name, "wanted": text, "value": value, "met": met, "missed_by": missed_by}


def _get(scenarios: Mapping[str, Mapping[str, Any]], name: str, *path: str) -> Any:
    node: Any = scenarios.get(name)
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def evaluate(scenarios: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Goals from issue 12, judged on each scenario's figures (a scenario not run is 'not measured')."""
    unexpected = [_get(scenarios, n, "unexpected_429") for n in ("steady", "raid", "chaos")]
    measured = [u for u in unexpected if u is not None]
    return [
        _goal("steady_p95_ms", "steady join→post p95 <= 250 ms",
              _get(scenarios, "steady", "join_to_post_ms", "p95"), 250),
        _goal("raid_vs_optimum", "raid: last welcome within 1.2x of the Discord-limited optimum",
              _get(scenarios, "raid", "vs_optimum"), 1.2),
        _goal("chaos_misses", "chaos: 0 misses", _get(scenarios, "chaos", "misses"), 0),
        _goal("chaos_duplicates", "chaos: 0 duplicates", _get(scenarios, "chaos", "duplicates"), 0),
        _goal("unexpected_429s", "0 unexpected 429s (steady, raid, chaos; injected ones excluded)",
              sum(measured) if measured else None, 0),
        _goal("rss_mb_at_10k", "bot RSS <= 200 MiB with 10k idle guilds", _get(scenarios, "scale", "rss_mb_at_10k"),
              200),
        _goal("hostile_decode_peak_rss_mb", "four 40 MP uploads at once: bot RSS <= 400 MB",
              _get(scenarios, "hostile-decode", "peak_rss_mb"), 400),
        _goal("hostile_decode_rss_mb_after", "and back <= 200 MB afterwards",
              _get(scenarios, "hostile-decode", "rss_mb_after"), 200),
    ]  # fmt: skip
