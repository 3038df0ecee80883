"""PNG plots of a run (matplotlib, Agg backend): readable at a glance, small enough to commit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import NullFormatter, ScalarFormatter

from scripts.bench.harness.scenarios import ScenarioResult

__all__ = ["write_plots"]

LOAD_SCENARIOS = ("steady", "raid", "chaos")
STEADY_P95_GOAL_MS = 250
RSS_GOAL_MB = 200
DPI = 72


def _save(fig: Any, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path.name


def _panels(results: Mapping[str, ScenarioResult], draw: Callable[[Axes, ScenarioResult], None], title: str,
            path: Path) -> str | None:  # fmt: skip
    """One panel per load scenario that has data, stacked, sharing nothing but the style."""
    loads = [results[n] for n in LOAD_SCENARIOS if n in results and results[n].outcome is not None]
    if not loads:
        return None
    fig, axes = plt.subplots(len(loads), 1, figsize=(8, 2.4 * len(loads)), squeeze=False)
    for ax, result in zip(axes[:, 0], loads, strict=True):
        draw(ax, result)
        ax.set_title(f"{result.name}: {title}", fontsize=10)
        ax.grid(alpha=0.3)
        for at, label in result.events:
            ax.axvline(at, color="tab:red", alpha=0.35, linewidth=0.8)
            ax.annotate(label, (at, 1.0), xycoords=("data", "axes fraction"), rotation=90, fontsize=6,
                        va="top", ha="right", color="tab:red", alpha=0.8)  # fmt: skip
    axes[-1, 0].set_xlabel("seconds since the first join")
    return _save(fig, path)


def _latency(ax: Axes, result: ScenarioResult) -> None:
    assert result.outcome is not None
    points = result.outcome.latencies
    ax.scatter([p[0] for p in points], [max(p[1], 1.0) for p in points], s=3, alpha=0.5)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel("join→post ms")
    if result.name != "raid":
        ax.axhline(STEADY_P95_GOAL_MS, color="tab:green", linestyle="--", linewidth=0.8, label="250 ms")
        ax.legend(loc="upper left", fontsize=7)


def _throughput(ax: Axes, result: ScenarioResult) -> None:
    assert result.outcome is not None
    outcome = result.outcome
    end = max([*outcome.joins, *outcome.posts, 1.0])
    bins = [float(i) for i in range(int(end) + 2)]
    ax.hist(outcome.joins, bins=bins, histtype="step", label="joins/s")
    ax.hist(outcome.posts, bins=bins, histtype="step", label="members welcomed/s")
    ax.set_ylabel("per second")
    ax.legend(loc="upper right", fontsize=7)


def _rate_limits(ax: Axes, result: ScenarioResult) -> None:
    t = [s.t for s in result.samples]
    ax.plot(t, [s.rate_limited - s.injected_429 for s in result.samples], label="unexpected 429s (goal 0)")
    ax.plot(t, [s.injected_429 for s in result.samples], linestyle="--", label="injected 429s (fault)")
    ax.set_ylabel("cumulative")
    ax.legend(loc="upper left", fontsize=7)


def _cdf(results: Mapping[str, ScenarioResult], path: Path) -> str | None:
    fig, ax = plt.subplots(figsize=(8, 3.6))
    drawn = False
    for name in LOAD_SCENARIOS:
        result = results.get(name)
        if result is None or result.outcome is None or not result.outcome.latencies:
            continue
        values = sorted(max(p[1], 1.0) for p in result.outcome.latencies)
        ax.plot(values, [(i + 1) / len(values) for i in range(len(values))], label=name)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.axvline(STEADY_P95_GOAL_MS, color="tab:green", linestyle="--", linewidth=0.8, label="250 ms")
    ax.axhline(0.95, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlabel("join→post ms (log)")
    ax.set_ylabel("fraction of welcomes")
    ax.set_title("join→post latency CDF", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _rss(results: Mapping[str, ScenarioResult], path: Path) -> str | None:
    scale = results.get("scale")
    runs = scale.figures.get("runs", []) if scale is not None else []
    loads = [results[n] for n in LOAD_SCENARIOS if n in results and results[n].samples]
    if not loads and not runs:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [2, 1]})
    for result in loads:
        left.plot([s.t for s in result.samples], [s.rss_mb for s in result.samples], label=result.name)
    left.set_xlabel("seconds since the first join")
    left.set_ylabel("bot RSS MiB")
    left.set_title("bot RSS under load", fontsize=10)
    left.grid(alpha=0.3)
    if loads:
        left.legend(fontsize=8)
    labels = [f"{r['guilds']:,}" for r in runs]
    right.bar(labels, [r["rss_mb"] or 0 for r in runs], color="tab:purple")
    right.axhline(RSS_GOAL_MB, color="tab:green", linestyle="--", linewidth=0.8, label="200 MiB at 10k")
    right.set_xlabel("idle guilds")
    right.set_title("bot RSS when idle", fontsize=10)
    right.legend(fontsize=7)
    return _save(fig, path)


def write_plots(results: Mapping[str, ScenarioResult], out: Path) -> list[str]:
    """Write the PNGs into ``out``; returns the file names written (a plot without data is left out)."""
    out.mkdir(parents=True, exist_ok=True)
    written = [
        _panels(results, _latency, "join→post latency of each join", out / "latency_over_time.png"),
        _cdf(results, out / "latency_cdf.png"),
        _panels(results, _throughput, "joins and welcomes per second", out / "throughput.png"),
        _rss(results, out / "rss.png"),
        _panels(results, _rate_limits, "429s counted by the emulator", out / "rate_limits.png"),
    ]
    return [name for name in written if name is not None]
