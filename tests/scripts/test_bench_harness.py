"""Smoke tests for scripts/bench/harness: the figure counting, goals and plots on canned data, and the
harness's use of the emulator process and control API, so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import trio

from scripts.bench.harness.cli import headline
from scripts.bench.harness.figures import JoinRecord, count, iso_ms, percentile, raid_optimum_s, rate_limit_figures
from scripts.bench.harness.goals import evaluate
from scripts.bench.harness.load import Sample, Target, collect_messages, drive_joins
from scripts.bench.harness.plots import write_plots
from scripts.bench.harness.procs import emulator_process
from scripts.bench.harness.scenarios import ScenarioResult
from scripts.bench.harness.sysstat import cpu_seconds, parse_cpu_seconds, parse_rss_mb, rss_mb
from welcomebot.emulator.testing import ControlClient

T0 = "2025-11-24T16:00:00.000000+00:00"


def at(ms: int) -> str:
    return f"2025-11-24T16:00:{ms // 1000:02d}.{ms % 1000:03d}000+00:00"


def canned() -> tuple[list[JoinRecord], dict[int, list[dict[str, object]]]]:
    """Four joins in two channels: one welcomed alone, two coalesced into one message, one welcomed twice and
    one never (a miss); plus a message in a channel nobody joined."""
    t0 = iso_ms(T0)
    joins = [
        JoinRecord(1, 10, 100, t0),
        JoinRecord(2, 10, 100, t0 + 1000),
        JoinRecord(3, 10, 100, t0 + 1100),
        JoinRecord(4, 20, 200, t0 + 2000),
        JoinRecord(5, 20, 200, t0 + 3000),
    ]
    messages: dict[int, list[dict[str, object]]] = {
        100: [
            {"timestamp": at(80), "mentioned_user_ids": ["1"]},
            {"timestamp": at(1300), "mentioned_user_ids": ["2", "3"]},
        ],
        200: [
            {"timestamp": at(2050), "mentioned_user_ids": ["4"]},
            {"timestamp": at(2900), "mentioned_user_ids": ["4"]},  # a duplicate welcome
        ],
    }
    return joins, messages


def test_count_figures_from_emulator_records() -> None:
    joins, messages = canned()
    outcome = count(joins, messages)
    f = outcome.figures
    assert (f["joins_sent"], f["welcomed"], f["duplicates"], f["misses"], f["messages"]) == (5, 4, 1, 1, 4)
    assert f["join_to_post_ms"] == {"p50": 80.0, "p95": 300.0, "p99": 300.0, "max": 300.0}
    assert sorted(latency for _, latency in outcome.latencies) == [50.0, 80.0, 200.0, 300.0]
    assert outcome.posts == [0.08, 1.3, 1.3, 2.05]
    assert outcome.joins == [0.0, 1.0, 1.1, 2.0, 3.0]
    assert f["last_welcome_after_first_join_s"] == 2.05


def test_count_with_nothing_posted_is_all_misses() -> None:
    joins, _ = canned()
    f = count(joins, {}).figures
    assert (f["welcomed"], f["misses"], f["join_to_post_ms"]["p95"]) == (0, 5, None)


def test_percentile_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 0.95) == 95.0
    assert percentile([7.0], 0.99) == 7.0


def test_rate_limit_figures_separate_injected_429s() -> None:
    stats = {"rate_limited_total": 12, "injected_failures": {"429": 10, "503": 4}, "invalid_requests_total": 15}
    assert rate_limit_figures(stats) == {
        "rate_limited": 12, "injected_429": 10, "unexpected_429": 2, "invalid_requests": 15, "injected_5xx": 4,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("offsets", "expected"),
    [
        ([], 0.0),
        ([0.0] * 10, 0.0),  # one full message at once
        ([0.0] * 60, 5.0),  # six messages: the sixth waits for the next 5 s window
        ([0.0] * 100, 5.0),
        ([0.0] * 101, 10.0),
        ([i / 10 for i in range(10)], 0.9),  # the message waits for its tenth member
    ],
)
def test_raid_optimum_small_cases(offsets: list[float], expected: float) -> None:
    assert raid_optimum_s(offsets) == pytest.approx(expected)


def test_raid_optimum_for_the_issue_raid() -> None:
    # 2,000 joins over 60 s: 200 full messages, 40 windows; the first opens when member 10 has joined.
    offsets = [i * 60 / 2000 for i in range(2000)]
    assert raid_optimum_s(offsets) == pytest.approx(9 * 0.03 + 39 * 5)


def test_proc_parsing_on_canned_text_and_this_process() -> None:
    status = "Name:\tpython\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n"
    assert parse_rss_mb(status) == 100.0
    assert parse_rss_mb(status, "VmHWM") == 200.0
    with pytest.raises(ValueError, match="VmRSS"):
        parse_rss_mb("Name:\tzombie\n")
    stat = "42 (a (weird) name) S 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0 1 0"
    assert parse_cpu_seconds(stat, clock_ticks=100) == 4.0
    own_rss = rss_mb(os.getpid())
    assert own_rss is not None
    assert own_rss > 1
    assert cpu_seconds(os.getpid()) is not None
    assert rss_mb(2**22 + 12345) is None  # no such process


def test_goals_met_missed_and_not_measured() -> None:
    scenarios: dict[str, dict[str, Any]] = {
        "steady": {"join_to_post_ms": {"p95": 300.0}, "unexpected_429": 0},
        "raid": {"vs_optimum": 1.1, "unexpected_429": 2},
        "scale": {"rss_mb_at_10k": 150.0},
    }
    goals = {g["goal"]: g for g in evaluate(scenarios)}
    assert goals["steady_p95_ms"]["met"] is False
    assert goals["steady_p95_ms"]["missed_by"] == "1.20x (+50)"
    assert goals["raid_vs_optimum"]["met"] is True
    assert goals["chaos_misses"]["met"] is None
    assert goals["unexpected_429s"] == {**goals["unexpected_429s"], "value": 2, "met": False, "missed_by": "+2"}
    assert goals["rss_mb_at_10k"]["met"] is True


def test_plots_on_tiny_data(tmp_path: Path) -> None:
    joins, messages = canned()
    outcome = count(joins, messages)
    samples = [Sample(float(t), 80.0 + t, 0.1 * t, t, t // 2) for t in range(4)]
    results = {
        "steady": ScenarioResult("steady", outcome.figures, outcome, samples),
        "chaos": ScenarioResult("chaos", outcome.figures, outcome, samples, [(1.0, "bot SIGKILL + restart")]),
        "scale": ScenarioResult("scale", {"runs": [{"guilds": 1, "rss_mb": 90.0}, {"guilds": 10000, "rss_mb": 150.0}]}),
    }
    written = write_plots(results, tmp_path)
    assert written == ["latency_over_time.png", "latency_cdf.png", "throughput.png", "rss.png", "rate_limits.png"]
    for name in written:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert write_plots({}, tmp_path / "empty") == []


def test_headline_is_one_small_object() -> None:
    summary = {
        "results": "bench-results/x", "quick": True, "elapsed_s": 1.0,
        "scenarios": {"steady": {"welcomed": 5, "joins_sent": 5, "misses": 0, "join_to_post_ms": {"p95": 90.0}}},
        "goals": evaluate({"steady": {"join_to_post_ms": {"p95": 90.0}, "unexpected_429": 0}}),
    }  # fmt: skip
    line = headline(summary)
    assert line["goals"]["steady_p95_ms"] == {"value": 90.0, "met": True}
    assert line["steady"]["welcomed"] == 5
    assert "raid" not in line


async def test_harness_against_a_real_emulator_process(tmp_path: Path) -> None:
    """`welcomebot emulator` as a process: the harness reads its first line, joins members and collects what
    was posted (nothing: no bot runs, so every join is a miss, counted without waiting past the deadline)."""
    async with emulator_process(tmp_path, guilds=2) as info:
        control = ControlClient(info.control_base)
        try:
            guilds = await control.guilds()
            targets = [Target(int(g["id"]), int(g["channels"][0]["id"])) for g in guilds]
            records: list[JoinRecord] = []
            await drive_joins(control, targets, count=4, per_second=1000, start=trio.current_time(), out=records)
            assert sorted(r.guild_id for r in records) == sorted([t.guild_id for t in targets] * 2)
            messages = await collect_messages(control, {t.channel_id: 2 for t in targets}, trio.current_time())
            assert count(records, messages).figures["misses"] == 4
            assert (await control.stats())["joins_sent"] == 4
        finally:
            await control.aclose()


def test_misses_after_a_lost_session_are_counted_apart() -> None:
    joins, messages = canned()  # member 5 (joined at 3.0 s) is never welcomed
    assert count(joins, messages, gaps=[2.5]).figures["misses_in_session_gaps"] == 1
    # Welcomes went on after a loss at 1.05 s (member 3 joined at 1.1 s), so a later miss is something else.
    assert count(joins, messages, gaps=[1.05]).figures["misses_in_session_gaps"] == 0
    assert count(joins, messages).figures["misses_in_session_gaps"] == 0


def test_postgres_runs_as_its_user_by_whatever_the_machine_has(monkeypatch):
    from scripts.bench.harness import postgres

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    have: set[str] = {"setpriv", "su"}
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}" if name in have else None)
    assert (postgres._as_postgres(["pg_ctl", "start"]) or [])[:2] == ["setpriv", "--reuid=postgres"]
    have.discard("setpriv")
    assert postgres._as_postgres(["pg_ctl", "-o", "-p 5"]) == ["su", "-s", "/bin/sh", "postgres", "-c",
                                                              "pg_ctl -o '-p 5'"]  # fmt: skip
    have.clear()
    assert postgres._as_postgres(["pg_ctl"]) is None
    monkeypatch.setattr(postgres, "find_bindir", lambda: Path("/usr/lib/postgresql/15/bin"))
    assert "no runuser, setpriv or su" in (postgres.unavailable_reason() or "")


def test_a_crashed_scenario_still_prints_the_summary_and_exits_1(monkeypatch, tmp_path, capsys):
    import json

    from scripts.bench.harness import cli

    async def broken(plan: object, workdir: Path) -> ScenarioResult:
        await trio.lowlevel.checkpoint()
        raise BaseExceptionGroup("nursery", [FileNotFoundError("runuser")])

    monkeypatch.setattr(cli, "SCENARIOS", {"chaos": broken})
    assert cli.main(["--quick", "--out", str(tmp_path)]) == 1
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "FileNotFoundError: runuser" in line["errors"]["chaos"]
    assert json.loads((tmp_path / "summary.json").read_text())["errors"]["chaos"] == line["errors"]["chaos"]
