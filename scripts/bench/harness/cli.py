"""``scripts/bench/run``: run the scenarios, write bench-results/<timestamp>/ and print one JSON line.

Exit code 0 when every scenario ran (goals met or not: the summary says which), 1 when one could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio

from scripts.bench.harness.goals import evaluate
from scripts.bench.harness.plots import write_plots
from scripts.bench.harness.scenarios import FULL, QUICK, REPO, SCENARIOS, Plan, ScenarioResult

__all__ = ["main"]


def machine() -> dict[str, Any]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                      if ln.startswith("model name")), model)  # fmt: skip
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip


async def run_all(plan: Plan, names: Sequence[str], out: Path) -> tuple[dict[str, ScenarioResult], dict[str, str]]:
    results: dict[str, ScenarioResult] = {}
    errors: dict[str, str] = {}
    for name in names:
        try:
            results[name] = await SCENARIOS[name](plan, out / name)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - one broken scenario must not lose the rest
            (out / name).mkdir(parents=True, exist_ok=True)
            (out / name / "error.txt").write_text("".join(traceback.format_exception(exc)))
            errors[name] = f"{_leaf(exc)} (traceback in {out / name / 'error.txt'})"
    return results, errors


def _leaf(exc: BaseException) -> str:
    """The first real error inside nested exception groups, as one line."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The one stdout line: where the results are, the goals, and a few figures per scenario."""
    s = summary["scenarios"]
    pick = {
        "steady": ("welcomed", "joins_sent", "misses", "duplicates", "unexpected_429", "join_to_post_ms"),
        "raid": ("welcomed", "joins_sent", "misses", "duplicates", "unexpected_429", "last_welcome_after_first_join_s",
                 "optimum_s", "vs_optimum"),
        "chaos": ("welcomed", "joins_sent", "misses", "duplicates", "unexpected_429", "join_to_post_ms"),
        "scale": ("rss_mb_at_10k", "rss_mb_per_1000_guilds", "idle_cpu_percent_per_1000_guilds"),
        "render": ("renderer",),
        "hostile-decode": ("saved", "peak_rss_mb", "rss_mb_after", "machine_load_1m"),
    }  # fmt: skip
    figures = {name: {k: s[name].get(k) for k in keys} for name, keys in pick.items() if name in s}
    return {
        "results": summary["results"], "quick": summary["quick"], "elapsed_s": summary["elapsed_s"],
        "goals": {g["goal"]: {"value": g["value"], "met": g["met"]} for g in summary["goals"]},
        "errors": summary.get("errors", {}),
        **figures,
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench/run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short cut of every scenario (under 5 minutes)")
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS), default=None,
                        help="run only this scenario (repeatable; default: all)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="results directory (default bench-results/<UTC time>)")
    args = parser.parse_args(argv)
    names = args.scenario or list(SCENARIOS)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out: Path = args.out or REPO / "bench-results" / stamp
    out.mkdir(parents=True, exist_ok=True)
    plan = QUICK if args.quick else FULL
    info = machine()
    started = time.monotonic()
    results, errors = trio.run(run_all, plan, names, out)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    scenarios: dict[str, dict[str, Any]] = {name: r.figures for name, r in results.items()}
    if "chaos" in results:
        scenarios["chaos"]["events"] = [{"at_s": at, "what": what} for at, what in results["chaos"].events]
    try:
        plots = write_plots(results, out)
    except Exception as exc:  # noqa: BLE001 - the figures matter more than the pictures: print the summary anyway
        plots, errors["plots"] = [], _leaf(exc)
    summary = {
        "results": str(out), "started": stamp, "quick": plan.quick, "elapsed_s": round(time.monotonic() - started, 1),
        "machine": info, "scenarios": scenarios, "errors": errors, "goals": evaluate(scenarios), "plots": plots,
    }  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(headline(summary), ensure_ascii=False))
    return 1 if errors else 0
