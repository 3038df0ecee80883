"""Drive the emulator over its control API: paced joins, scheduled faults, a once-a-second sampler, and the
final collection of every welcome channel's messages."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

from scripts.bench.harness.figures import JoinRecord, iso_ms
from scripts.bench.harness.procs import BotProcess
from scripts.bench.harness.sysstat import rss_mb
from welcomebot.cli.sandbox import NAMES
from welcomebot.emulator import ControlClient

__all__ = ["Event", "Sample", "Target", "collect_messages", "drive_joins", "run_events", "sample_forever"]


@dataclass(frozen=True)
class Target:
    guild_id: int
    channel_id: int


@dataclass(frozen=True)
class Sample:
    t: float
    rss_mb: float | None
    cpu_s: float
    rate_limited: int
    injected_429: int
    #: The machine's 1-minute load average: the machine is shared, so the figures need this beside them.
    load_1m: float = 0.0


@dataclass
class Event:
    """One scheduled action (a fault, a kill); ``at_s`` from the start of the load, filled in when it ran."""

    at_s: float
    label: str
    action: Callable[[], Awaitable[None]]
    ran_at_s: float | None = field(default=None)
    #: The gateway session is lost for good (no RESUME): Discord will not replay what it missed.
    ends_session: bool = False


async def drive_joins(
    control: ControlClient, targets: Sequence[Target], *, count: int, per_second: float, start: float,
    out: list[JoinRecord],
) -> None:  # fmt: skip
    """Make ``count`` members join round-robin over ``targets`` at ``per_second``, on an absolute schedule
    (a slow answer delays neither the next join nor the rate); each join is recorded as the emulator saw it."""
    limiter = trio.CapacityLimiter(32)

    async def one(i: int) -> None:
        target = targets[i % len(targets)]
        username, global_name, avatar = NAMES[i % len(NAMES)]
        async with limiter:
            member = await control.join(target.guild_id, username=f"{username}{i}", global_name=global_name,
                                        avatar=avatar)  # fmt: skip
        out.append(JoinRecord(int(member["user_id"]), target.guild_id, target.channel_id, iso_ms(member["joined_at"])))

    async with trio.open_nursery() as nursery:
        for i in range(count):
            await trio.sleep_until(start + i / per_second)
            nursery.start_soon(one, i)


async def run_events(events: Sequence[Event], start: float) -> None:
    """Each event at its time, in its own task (a slow one, such as a restart, does not delay the next)."""
    async with trio.open_nursery() as nursery:
        for event in sorted(events, key=lambda e: e.at_s):
            await trio.sleep_until(start + event.at_s)
            event.ran_at_s = round(trio.current_time() - start, 2)
            nursery.start_soon(event.action)


async def sample_forever(control: ControlClient, bot: BotProcess, start: float, out: list[Sample]) -> None:
    """Once a second: the bot's RSS and CPU (from /proc) and the emulator's 429 counters."""
    while True:
        stats = await control.stats()
        pid = bot.pid
        out.append(Sample(
            t=round(trio.current_time() - start, 2),
            rss_mb=None if pid is None else rss_mb(pid),
            cpu_s=round(bot.cpu_total(), 2),
            rate_limited=int(stats["rate_limited_total"]),
            injected_429=int(stats["injected_failures"].get("429", 0)),
            load_1m=os.getloadavg()[0],
        ))  # fmt: skip
        await trio.sleep(1.0)


async def collect_messages(
    control: ControlClient, expected: dict[int, int], deadline: float
) -> dict[int, list[dict[str, Any]]]:
    """Each channel's messages once they mention the expected number of members, or at ``deadline``.

    The emulator long-polls (it wakes on every posted message), so this waits for the bot without polling.
    """
    found: dict[int, list[dict[str, Any]]] = {}
    limiter = trio.CapacityLimiter(8)

    async def one(channel_id: int, want: int) -> None:
        async with limiter:
            while True:
                # Short polls: the emulator's HTTP server closes a connection idle for 120 s.
                wait_s = min(30.0, max(0.0, deadline - trio.current_time()))
                try:
                    messages = await control.wait_for_mentions(channel_id, want, wait_s=wait_s)
                except httpx.TransportError:
                    if trio.current_time() > deadline + 30:
                        raise
                    continue  # a dropped keep-alive connection: ask again
                if wait_s < 30.0 or sum(len(m["mentioned_user_ids"]) for m in messages) >= want:
                    found[channel_id] = messages
                    return

    async with trio.open_nursery() as nursery:
        for channel_id, want in expected.items():
            nursery.start_soon(one, channel_id, want)
    return found
