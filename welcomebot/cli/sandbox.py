"""``welcomebot sandbox``: the emulator and the real bot in one process, members joining, a summary at the end.

Everything counted in the summary comes from the emulator's records (what Discord would have seen), not
from the bot's own word: welcomes posted, duplicates, misses, 429s, join→post latency.
"""

from __future__ import annotations

import logging
import statistics
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import msgspec
import trio

from welcomebot.bot import BotOptions, run_bot
from welcomebot.emulator import ControlClient, Emulator, EmulatorConfig
from welcomebot.secret import Secret
from welcomebot.settings import Settings
from welcomebot.store import GuildConfig, SqliteStore

__all__ = ["SandboxOptions", "run_sandbox"]

log = logging.getLogger(__name__)

#: Names that exercise the renderer: scripts, emoji, right-to-left, very long, and plain.
NAMES: list[tuple[str, str | None, str]] = [
    ("ada", "Ada Lovelace", "static"),
    ("sakura", "さくら 🌸", "animated"),
    ("mohammed", "محمد علي", "static"),
    ("wang", "王芳", "none"),
    ("gamer", "🎮 Pro Gamer 🎮", "animated"),
    ("verylong", "Maximilian Alexander von Habsburg-Lothringen the Third", "static"),
    ("dmitri", "Дмитрий", "none"),
    ("sarah", "שרה כהן", "static"),
    ("arjun", "अर्जुन", "static"),
    ("somchai", "สมชาย", "none"),
    ("eleni", "Ελένη", "animated"),
    ("noname", None, "none"),
]


@dataclass(frozen=True)
class SandboxOptions:
    guilds: int = 3
    joins: int = 24
    rate_per_min: float = 600.0
    out: Path | None = None
    seed: int = 0
    timeout: float = 300.0
    #: Injected into every emulated REST request (the benchmark uses 50 ms, as Discord often takes).
    rest_latency_s: float = 0.0


async def run_sandbox(options: SandboxOptions, *, progress: TextIO = sys.stderr) -> dict[str, Any]:
    """Run the whole thing and return the summary (also what the CLI prints)."""
    with tempfile.TemporaryDirectory(prefix="welcomebot-sandbox-") as tmp:
        emulator = Emulator(EmulatorConfig(guilds=options.guilds, members=3, seed=options.seed))
        async with trio.open_nursery() as nursery:
            info = await nursery.start(emulator.serve)
            control = ControlClient(info.control_base)
            store = await SqliteStore.open(Path(tmp) / "welcomebot.sqlite3")
            try:
                guilds = await control.guilds()
                if options.rest_latency_s:
                    await control.fault("rest", latency_s=options.rest_latency_s)
                for g in guilds:
                    await store.put_guild_config(
                        GuildConfig(
                            guild_id=int(g["id"]), welcome_channel_id=int(g["channels"][0]["id"]), updated_at=1.0
                        )
                    )
                settings = Settings(
                    token=Secret(info.token),
                    api_base=info.api_base,
                    cdn_base=info.cdn_base,
                    database_url=f"sqlite:///{tmp}/welcomebot.sqlite3",
                    data_dir=Path(tmp),
                )
                stop = trio.Event()
                bot = await nursery.start(
                    lambda task_status: run_bot(
                        settings, store, options=BotOptions(), stop=stop, task_status=task_status
                    )
                )
                for handle in bot.manager.handles.values():
                    await handle.live.wait()
                started = trio.current_time()
                joined = await _make_joins(control, guilds, options, progress)
                with trio.move_on_after(options.timeout):
                    await _wait_for_welcomes(emulator, joined, progress)
                summary = _summary(emulator, joined, trio.current_time() - started)
                summary["rate_limited"] = (await control.stats())["rate_limited_total"]
                stop.set()
                await bot.stopped.wait()
                if options.out is not None:
                    summary["cards_written"] = _write_cards(emulator, options.out)
            finally:
                await control.aclose()
                await store.close()
                nursery.cancel_scope.cancel()
    return summary


async def _make_joins(
    control: ControlClient, guilds: list[dict[str, Any]], options: SandboxOptions, progress: TextIO
) -> dict[int, int]:
    """Members join at the given rate, round-robin over the guilds; returns user id → guild id."""
    interval = 60.0 / options.rate_per_min if options.rate_per_min > 0 else 0.0
    joined: dict[int, int] = {}
    for i in range(options.joins):
        username, global_name, avatar = NAMES[i % len(NAMES)]
        guild_id = int(guilds[i % len(guilds)]["id"])
        member = await control.join(guild_id, username=f"{username}{i}", global_name=global_name, avatar=avatar)
        joined[int(member["user_id"])] = guild_id
        if interval:
            await trio.sleep(interval)
    print(f"sandbox: {options.joins} members joined {len(guilds)} servers", file=progress)
    return joined


async def _wait_for_welcomes(emulator: Emulator, joined: dict[int, int], progress: TextIO) -> None:
    reported = 0
    while True:
        welcomed = len(_welcomed(emulator).keys() & joined.keys())
        if welcomed >= reported + 10 or (welcomed == len(joined) and welcomed != reported):
            print(f"sandbox: {welcomed}/{len(joined)} welcomed", file=progress)
            reported = welcomed
        if welcomed >= len(joined):
            return
        await trio.sleep(0.1)


def _welcomed(emulator: Emulator) -> dict[int, list[tuple[Any, Any]]]:
    """User id → every (message, attachment or None) that welcomed them, from the emulator's records."""
    seen: dict[int, list[tuple[Any, Any]]] = {}
    for channel_id, messages in emulator.world.messages.items():
        if channel_id == 0:
            continue
        for message in messages:
            for i, user in enumerate(message.mentions):
                attachment = message.attachments[i] if i < len(message.attachments) else None
                seen.setdefault(user.id, []).append((message, attachment))
    return seen


def _ms(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp() * 1000


def _summary(emulator: Emulator, joined: dict[int, int], elapsed: float) -> dict[str, Any]:
    welcomed = _welcomed(emulator)
    latencies = []
    for user_id in joined:
        for message, _ in welcomed.get(user_id, [])[:1]:
            member = emulator.world.guilds[joined[user_id]].members.get(user_id)
            if member is not None:
                latencies.append(_ms(message.timestamp) - _ms(member.joined_at))
    latencies.sort()

    def pct(p: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1)

    return {
        "joins": len(joined),
        "welcomed": sum(1 for u in joined if u in welcomed),
        "duplicates": sum(len(welcomed[u]) - 1 for u in joined if u in welcomed),
        "misses": sum(1 for u in joined if u not in welcomed),
        "messages": sum(len(m) for c, m in emulator.world.messages.items() if c != 0),
        "join_to_post_ms": {
            "p50": pct(0.50),
            "p95": pct(0.95),
            "p99": pct(0.99),
            "mean": round(statistics.fmean(latencies), 1) if latencies else None,
        },
        "elapsed_s": round(elapsed, 2),
    }


def _write_cards(emulator: Emulator, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for user_id, entries in _welcomed(emulator).items():
        for _, attachment in entries[:1]:
            if attachment is not None:
                extension = attachment.filename.rsplit(".", 1)[-1]
                (out / f"welcome-{user_id}.{extension}").write_bytes(attachment.data)
                count += 1
    return count


def summary_line(summary: dict[str, Any]) -> str:
    return msgspec.json.encode(summary).decode()
