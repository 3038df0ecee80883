"""The scenarios of issue 12, each bounded in time, each against a fresh emulator and bot process."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import trio

from scripts.bench.harness.figures import JoinRecord, Outcome, count, raid_optimum_s, rate_limit_figures
from scripts.bench.harness.load import Event, Sample, Target, collect_messages, drive_joins, run_events, sample_forever
from scripts.bench.harness.postgres import PrivatePostgres, private_postgres, unavailable_reason
from scripts.bench.harness.procs import BotProcess, HarnessError, emulator_process
from scripts.bench.harness.sysstat import rss_mb
from welcomebot.app import options_with, validate_behaviour
from welcomebot.emulator import ControlClient, EmulatorInfo
from welcomebot.store import GuildConfig, open_store

__all__ = ["FULL", "QUICK", "SCENARIOS", "Plan", "ScenarioResult"]

REPO = Path(__file__).resolve().parents[3]
REST_LATENCY_S = 0.050
#: Chaos uses a short heartbeat so lost ACKs are noticed within the run (Discord's is 41.25 s).
CHAOS_HEARTBEAT_MS = 5000
#: Chaos guilds opt in to catch-up after downtime, so joins in a lost session are welcomed late, not missed.
CATCH_UP = options_with({}, validate_behaviour({"catch_up": {"enabled": True}}))


@dataclass(frozen=True)
class Plan:
    """Sizes and durations: the issue's figures (FULL), or the cut that fits in under 5 minutes (QUICK)."""

    quick: bool
    steady_s: float
    raid_joins: int
    raid_s: float
    chaos_s: float
    #: How long to wait for late welcomes after chaos; a miss costs all of it (a lost session's joins never come).
    chaos_grace_s: float
    scale_guilds: tuple[int, ...]
    idle_s: float
    render_cards: int


FULL = Plan(quick=False, steady_s=300, raid_joins=2000, raid_s=60, chaos_s=300, chaos_grace_s=60,
            scale_guilds=(1, 10_000, 50_000), idle_s=30, render_cards=300)  # fmt: skip
QUICK = Plan(quick=True, steady_s=60, raid_joins=200, raid_s=6, chaos_s=40, chaos_grace_s=10,
             scale_guilds=(1, 10_000), idle_s=3, render_cards=30)  # fmt: skip


@dataclass
class ScenarioResult:
    name: str
    figures: dict[str, Any]
    outcome: Outcome | None = None
    samples: list[Sample] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class World:
    info: EmulatorInfo
    control: ControlClient
    targets: list[Target]
    bot: BotProcess
    ready_s: float


async def seed_configs(database_url: str, targets: Sequence[Target], options: dict[str, Any]) -> None:
    """Configure every guild's first channel for welcomes before the bot starts (as the sandbox does)."""
    async with open_store(database_url) as store:
        for t in targets:
            await store.put_guild_config(GuildConfig(guild_id=t.guild_id, welcome_channel_id=t.channel_id,
                                                     options=options))  # fmt: skip


@asynccontextmanager
async def bot_world(
    workdir: Path, *, guilds: int, heartbeat_interval_ms: int = 41250, database_url: str | None = None,
    options: dict[str, Any] | None = None,
) -> AsyncIterator[World]:  # fmt: skip
    """Emulator process, configs seeded, bot process started and ready; both stopped at the end.

    The store is SQLite in the scenario's directory unless ``database_url`` names another; every guild gets
    the default settings unless ``options`` (GuildConfig.options) says otherwise.
    """
    await trio.Path(workdir).mkdir(parents=True, exist_ok=True)
    async with emulator_process(workdir, guilds=guilds, heartbeat_interval_ms=heartbeat_interval_ms) as info:
        control = ControlClient(info.control_base)
        try:
            targets = [Target(int(g["id"]), int(g["channels"][0]["id"])) for g in await control.guilds()]
            database_url = database_url or f"sqlite:///{workdir / 'data' / 'welcomebot.sqlite3'}"
            await seed_configs(database_url, targets, options or {})
            bot = BotProcess(workdir, info, database_url)
            await bot.start()
            try:
                # Discord lets a bot with max_concurrency 1 IDENTIFY one shard per 5 s, 1,000 guilds a shard.
                ready_s = await bot.wait_ready(60 + 6 * guilds / 1000)
                yield World(info, control, targets, bot, ready_s)
            finally:
                with trio.CancelScope(shield=True):
                    await bot.stop()
        finally:
            with trio.CancelScope(shield=True):
                await control.aclose()


async def run_load(
    world: World, *, joins: int, per_second: float, targets: Sequence[Target], grace_s: float,
    events: Sequence[Event] = (), start: float | None = None,
) -> tuple[Outcome, dict[str, Any], list[Sample]]:  # fmt: skip
    """Joins at a fixed rate (and the scheduled events) while sampling; then wait for the welcomes and count."""
    records: list[JoinRecord] = []
    samples: list[Sample] = []
    start = trio.current_time() + 0.5 if start is None else start
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sample_forever, world.control, world.bot, start, samples)
        async with trio.open_nursery() as load:
            load.start_soon(run_events, events, start)
            load.start_soon(partial(drive_joins, world.control, targets, count=joins, per_second=per_second,
                                    start=start, out=records))  # fmt: skip
        expected = Counter(r.channel_id for r in records)
        messages = await collect_messages(world.control, dict(expected), trio.current_time() + grace_s)
        stats = await world.control.stats()
        nursery.cancel_scope.cancel()
    # Event times count from `start`, join offsets from the first join, which was sent at `start`.
    lost = [e.ran_at_s for e in events if e.ends_session and e.ran_at_s is not None]
    outcome = count(records, messages, gaps=lost)
    # The raw records, for a post-mortem of any miss or duplicate (the figures are computed from these).
    raw = {"joins": [vars(r) for r in records], "messages": {str(k): v for k, v in messages.items()}, "stats": stats}
    await trio.Path(world.bot.workdir / "records.json").write_text(json.dumps(raw))
    figures = {
        **outcome.figures,
        **rate_limit_figures(stats),
        "joins_seen_by_emulator": stats["joins_sent"],
        "bot_max_rss_mb": max((s.rss_mb for s in samples if s.rss_mb is not None), default=None),
        "bot_cpu_s": samples[-1].cpu_s if samples else None,
        "machine_load_1m": {"mean": round(sum(s.load_1m for s in samples) / len(samples), 2) if samples else None,
                            "max": max((s.load_1m for s in samples), default=None)},
    }  # fmt: skip
    return outcome, figures, samples


# --- steady ------------------------------------------------------------------------------------------------


async def steady(plan: Plan, workdir: Path) -> ScenarioResult:
    """600 joins/min spread over 1,000 guilds, 50 ms injected into every REST request."""
    async with bot_world(workdir, guilds=1000) as world:
        await world.control.fault("rest", latency_s=REST_LATENCY_S)
        joins = int(plan.steady_s * 10)
        outcome, figures, samples = await run_load(world, joins=joins, per_second=10.0, targets=world.targets,
                                                   grace_s=60.0)  # fmt: skip
    return ScenarioResult("steady", {"guilds": 1000, "joins_per_min": 600, "duration_s": plan.steady_s,
                                     "rest_latency_ms": REST_LATENCY_S * 1000, "startup_s": round(world.ready_s, 2),
                                     **figures}, outcome, samples)  # fmt: skip


# --- raid --------------------------------------------------------------------------------------------------


async def raid(plan: Plan, workdir: Path) -> ScenarioResult:
    """Many joins into one guild: time until the last is welcomed vs the Discord-limited optimum."""
    async with bot_world(workdir, guilds=1) as world:
        await world.control.fault("rest", latency_s=REST_LATENCY_S)
        rate = plan.raid_joins / plan.raid_s
        # The optimum for 2,000 joins is ~195 s; allow the bot three times that before counting misses.
        budget = 3 * raid_optimum_s([i / rate for i in range(plan.raid_joins)])
        outcome, figures, samples = await run_load(world, joins=plan.raid_joins, per_second=rate,
                                                   targets=world.targets[:1], grace_s=budget)  # fmt: skip
    optimum = raid_optimum_s(outcome.joins)
    took = figures["last_welcome_after_first_join_s"]
    return ScenarioResult("raid", {
        "joins": plan.raid_joins, "over_s": plan.raid_s, "rest_latency_ms": REST_LATENCY_S * 1000, **figures,
        "optimum_s": round(optimum, 2),
        "vs_optimum": None if took is None or figures["misses"] else round(took / optimum, 3),
    }, outcome, samples)  # fmt: skip


# --- chaos -------------------------------------------------------------------------------------------------


def chaos_events(
    world: World, duration: float, notes: list[tuple[float, str]], start: float, pg: PrivatePostgres | None,
    *, outage_s: float, extra: list[BotProcess],
) -> list[Event]:  # fmt: skip
    """Faults spread over the run, the REST ones in windows that do not overlap (they share one setting).

    Issue 19's cases are among them: a same-range twin started beside the bot (it must wait, not take the bot's
    claims) that outlives a SIGKILL of the bot (it must take over); a batch split by a SIGTERM while Discord
    answers 503 to everything (re-posted whole after the restart); the shard count changed (two processes of
    two shards, then one unsharded again); a database outage of ``outage_s``. The processes started for them
    go into ``extra`` (stopped by the caller). Actions that start or stop processes take turns.
    """
    control, bot = world.control, world.bot
    procs = trio.Lock()  # one start/stop at a time: a restart never races another

    def gateway(**fault: Any) -> Callable[[], Awaitable[None]]:
        return lambda: control.fault("gateway", **fault)

    def rest(**fault: Any) -> Callable[[], Awaitable[None]]:
        return lambda: control.fault("rest", **fault)

    def cdn(latency_s: float) -> Callable[[], Awaitable[None]]:
        return lambda: control.fault("cdn", latency_s=latency_s)

    def note(what: str) -> None:
        notes.append((round(trio.current_time() - start, 2), what))

    async def ready(process: BotProcess, what: str) -> None:
        took = await process.wait_ready(90)
        note(f"{what} ready after {took:.1f} s")

    async def kill_and_restart() -> None:
        async with procs:
            await bot.kill()
            await trio.sleep(1.0)  # a supervisor's restart delay
            await bot.start()
            # With the twin holding the shard, the bot waits (not ready) until the twin stops: don't wait here.
            if twin.process is None or twin.process.returncode is not None:
                await ready(bot, "bot")

    twin = bot.sibling("twin")
    halves = [bot.sibling(f"shard-{i}-of-2", ("--shards", f"{i}-{i}", "--shard-count", "2")) for i in (0, 1)]
    extra.extend([twin, *halves])

    async def twin_start() -> None:
        async with procs:
            await twin.start()

    async def twin_stop() -> None:
        async with procs:
            await twin.stop()
            await ready(bot, "bot (after the twin stopped)")

    async def split_repost() -> None:
        async with procs:
            await control.fault("rest", fail_share=1.0, fail_status=503)
            await trio.sleep(3.0)  # welcomes batched, nonced and retrying against 503s
            await bot.stop()  # SIGTERM: the drain gives up while the welcomes' own retries still run
            await control.fault("rest", fail_share=0.0, fail_status=503)
            await bot.start()
            await ready(bot, "bot (after the 503 SIGTERM)")

    async def shard_count_change() -> None:
        async with procs:
            await bot.kill()
            for half in halves:
                await half.start()
            for half in halves:
                await ready(half, f"{half.name}")
            await trio.sleep(0.04 * duration)
            for half in halves:
                await half.kill()
            await bot.start()
            await ready(bot, "bot (unsharded again)")

    async def database_outage() -> None:
        assert pg is not None
        await pg.stop()
        await trio.sleep(outage_s)
        await pg.start()
        note("PostgreSQL back")

    ack_loss_s = 2.5 * CHAOS_HEARTBEAT_MS / 1000
    at = [(0.04, "gateway close 4000 (resumable)", gateway(kind="close", code=4000)),
          (0.08, "REST 5% 503 on", rest(fail_share=0.05, fail_status=503)),
          (0.14, "gateway close 4009 (new session)", gateway(kind="close", code=4009)),
          (0.22, "REST 5% 503 off", rest(fail_share=0.0)),
          (0.25, "heartbeat ACKs lost", gateway(kind="stop_acks", on=True)),
          (0.25 + ack_loss_s / duration, "heartbeat ACKs back", gateway(kind="stop_acks", on=False)),
          (0.32, "same-range twin started", twin_start),
          (0.42, "bot SIGKILL + restart (the twin takes over)", kill_and_restart),
          (0.52, "twin SIGTERM (the bot takes over)", twin_stop),
          (0.55, "429 storm on (30% of requests)", rest(fail_share=0.3, fail_status=429, fail_scope="user")),
          (0.62, "429 storm off", rest(fail_share=0.0, fail_status=503)),
          (0.64, "invalid session (not resumable)", gateway(kind="invalid_session", resumable=False)),
          (0.66, "REST 100% 503, SIGTERM, 503 off, restart (split re-post)", split_repost),
          (0.68, "CDN slow (3 s) on", cdn(3.0)),
          (0.76, "CDN slow off", cdn(0.0)),
          (0.80, "gateway TCP drop (no close frame)", gateway(kind="drop")),
          (0.85, "bot SIGKILL + restart", kill_and_restart),
          (0.89, "shard count 1 -> 2 processes of 2 shards -> 1 unsharded", shard_count_change)]  # fmt: skip
    if pg is not None:
        at.append((0.10, f"PostgreSQL down for {outage_s:.0f} s", database_outage))
        at.append((0.48, "PostgreSQL restart (fast)", pg.restart))
    ends_session = {"gateway close 4009 (new session)", "invalid session (not resumable)"}
    return [Event(round(f * duration, 2), label, action, ends_session=label in ends_session) for f, label, action in at]


async def chaos(plan: Plan, workdir: Path) -> ScenarioResult:
    """Steady load while the gateway, REST, CDN, the database and the bot processes themselves misbehave."""
    outage_s = 10.0 if plan.quick else 60.0  # issue 19: a minute; the quick cut keeps it inside its 40 s
    extra: list[BotProcess] = []
    async with (
        private_postgres() as pg,
        bot_world(workdir, guilds=1000, heartbeat_interval_ms=CHAOS_HEARTBEAT_MS,
                  database_url=None if pg is None else pg.dsn, options=CATCH_UP) as world,
    ):  # fmt: skip
        try:
            await world.control.fault("rest", latency_s=REST_LATENCY_S)
            notes: list[tuple[float, str]] = []
            start = trio.current_time() + 0.5
            events = chaos_events(world, plan.chaos_s, notes, start, pg, outage_s=outage_s, extra=extra)
            outcome, figures, samples = await run_load(world, joins=int(plan.chaos_s * 10), per_second=10.0,
                                                       targets=world.targets, grace_s=plan.chaos_grace_s,
                                                       events=events, start=start)  # fmt: skip
            sessions = await world.control.sessions()
            gateway = (await world.control.stats())["gateway"]
        finally:
            with trio.CancelScope(shield=True):
                for process in extra:
                    await process.stop()
    ran = [(e.ran_at_s, e.label) for e in events if e.ran_at_s is not None]
    return ScenarioResult("chaos", {
        "guilds": 1000, "joins_per_min": 600, "duration_s": plan.chaos_s, "rest_latency_ms": REST_LATENCY_S * 1000,
        "heartbeat_interval_ms": CHAOS_HEARTBEAT_MS, "bot_starts": world.bot.starts + sum(p.starts for p in extra),
        **figures,
        "gateway_identifies": sum(s["identify_count"] for s in sessions),
        "gateway_resumes": sum(s["resume_count"] for s in sessions),
        "gateway_closes": gateway.get("closes", {}),
        "catch_up_after_downtime": True,
        "store": f"postgresql (private server, down {outage_s:.0f} s once, restarted once)" if pg is not None else
                 f"sqlite ({unavailable_reason()}: no PostgreSQL outage or restart)",
    }, outcome, samples, sorted(ran + notes))  # fmt: skip


# --- scale -------------------------------------------------------------------------------------------------


async def _guilds_delivered(control: ControlClient, guilds: int) -> int:
    """Wait until the emulator has dispatched a GUILD_CREATE for every guild (READY counts once per shard)."""
    while True:
        sessions = await control.sessions()
        if sessions and sum(s["dispatched"] for s in sessions) >= guilds + len(sessions):
            return len(sessions)
        await trio.sleep(0.25)


async def scale_one(workdir: Path, guilds: int, idle_s: float) -> dict[str, Any]:
    async with bot_world(workdir, guilds=guilds) as world:
        shards = await _guilds_delivered(world.control, guilds)
        delivered_s = trio.current_time() - world.bot.started_at
        await trio.sleep(idle_s / 3)  # let the last GUILD_CREATEs be processed before measuring idle
        pid = world.bot.pid
        assert pid is not None
        cpu0, t0 = world.bot.cpu_total(), trio.current_time()
        await trio.sleep(idle_s)
        idle_cpu = (world.bot.cpu_total() - cpu0) / (trio.current_time() - t0)
        return {
            "guilds": guilds, "shards": shards, "ready_s": round(world.ready_s, 2),
            "all_guilds_delivered_s": round(delivered_s, 2), "cpu_s_to_ready": round(cpu0, 2),
            "rss_mb": _r(rss_mb(pid)), "peak_rss_mb": _r(rss_mb(pid, "VmHWM")),
            "idle_cpu_percent": round(100 * idle_cpu, 2),
        }  # fmt: skip


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def scale(plan: Plan, workdir: Path) -> ScenarioResult:
    """RSS and idle CPU of the bot with 1, 10k (and 50k) guilds in GUILD_CREATE; start-up time to ready."""
    runs = [await scale_one(workdir / f"guilds-{n}", n, plan.idle_s) for n in plan.scale_guilds]
    by = {r["guilds"]: r for r in runs}
    figures: dict[str, Any] = {"runs": runs, "idle_s": plan.idle_s}
    small, large = min(by), max(by)
    if large > small and by[large]["rss_mb"] is not None and by[small]["rss_mb"] is not None:
        per = 1000 / (large - small)
        figures["rss_mb_per_1000_guilds"] = round((by[large]["rss_mb"] - by[small]["rss_mb"]) * per, 2)
        figures["idle_cpu_percent_per_1000_guilds"] = round(
            (by[large]["idle_cpu_percent"] - by[small]["idle_cpu_percent"]) * per, 3
        )
    if 10_000 in by:
        figures["rss_mb_at_10k"] = by[10_000]["rss_mb"]
    return ScenarioResult("scale", figures)


# --- render ------------------------------------------------------------------------------------------------


async def render(plan: Plan, workdir: Path) -> ScenarioResult:
    """scripts/bench/render as it is, its JSON line included."""
    await trio.Path(workdir).mkdir(parents=True, exist_ok=True)
    result = await trio.run_process([sys.executable, str(REPO / "scripts" / "bench" / "render"),
                                     "--cards", str(plan.render_cards)], capture_stdout=True, check=False)  # fmt: skip
    lines = result.stdout.decode().strip().splitlines()
    if result.returncode != 0 or not lines:
        raise HarnessError(f"scripts/bench/render failed with exit code {result.returncode}")
    return ScenarioResult("render", json.loads(lines[-1]))


# --- hostile-decode ----------------------------------------------------------------------------------------

#: Discord's MANAGE_GUILD permission: what /set-background asks of the invoker.
_MANAGE_GUILD = 1 << 5


def hostile_png(side: int = 6300) -> bytes:
    """A ``side`` x ``side`` RGBA PNG (40 MP at 6300) that compresses to ~200 KB: huge decoded, tiny on disk."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (side, side), (20, 40, 200, 255))
    ImageDraw.Draw(image).ellipse(
        (side // 60, side // 60, side - side // 60, side - side // 60), fill=(200, 10, 10, 128)
    )
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=True)
    return buf.getvalue()


async def _upload(world: World, guild: dict[str, Any], data: bytes, answers: list[str]) -> None:
    with trio.fail_after(30):
        while True:  # the emulator invokes only registered commands; the bot registers them after READY
            try:
                created = await world.control.interaction(
                    guild_id=guild["id"], channel_id=guild["channels"][0]["id"], user_id=guild["owner_id"],
                    name="set-background", permissions=_MANAGE_GUILD, attachment=("big.png", "image/png", data),
                )  # fmt: skip
                break
            except RuntimeError as exc:
                if " 404 " not in str(exc):
                    raise
                await trio.sleep(0.2)
    record = await world.control.wait_answered(created["id"], wait_s=120)
    answers.append(record["original"]["content"] if record.get("answered") else "(no answer)")


async def hostile_decode(plan: Plan, workdir: Path) -> ScenarioResult:
    """Four 40 MP RGBA PNG backgrounds (154-200 KB each) uploaded at once across three servers: the bot's peak
    RSS while they decode and its RSS once they are done (issue 18.5: under 400 MB and back under 200 MB)."""
    side = 6300  # the quick cut too: a smaller image would not test the budget
    data = await trio.to_thread.run_sync(hostile_png, side)
    async with bot_world(workdir, guilds=3) as world:
        pid = world.bot.pid
        assert pid is not None
        await trio.sleep(1)  # settle after ready
        guilds = await world.control.guilds()
        before = rss_mb(pid)
        peak = 0.0
        answers: list[str] = []
        load = [os.getloadavg()[0]]

        async def sample() -> None:
            nonlocal peak
            while True:
                peak = max(peak, rss_mb(pid) or 0.0)
                load.append(os.getloadavg()[0])
                await trio.sleep(0.05)

        started = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sample)
            async with trio.open_nursery() as uploads:
                for i in range(4):
                    uploads.start_soon(_upload, world, guilds[i % 3], data, answers)
            decode_s = trio.current_time() - started
            await trio.sleep(3)  # what stays resident once the decodes are over
            nursery.cancel_scope.cancel()
        after = rss_mb(pid)
        high_water = rss_mb(pid, "VmHWM")
    saved = sum(a.startswith("Background saved") for a in answers)
    return ScenarioResult("hostile-decode", {
        "uploads": 4, "servers": 3, "image": f"{side}px RGBA PNG, {len(data) // 1024} KB", "saved": saved,
        "answers": sorted(set(answers)), "rss_mb_before": _r(before), "peak_rss_mb": _r(max(peak, high_water or 0.0)),
        "rss_mb_after": _r(after), "uploads_done_s": round(decode_s, 1),
        "machine_load_1m": {"mean": round(sum(load) / len(load), 2), "max": round(max(load), 2)},
    })  # fmt: skip


SCENARIOS: dict[str, Callable[[Plan, Path], Awaitable[ScenarioResult]]] = {
    "steady": steady,
    "raid": raid,
    "chaos": chaos,
    "scale": scale,
    "render": render,
    "hostile-decode": hostile_decode,
}
