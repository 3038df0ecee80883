"""The emulator and the bot as separate OS processes, each started from the ``welcomebot`` command line.

The emulator prints its URLs and token as one JSON line; the bot gets them through its environment, a SQLite
(or PostgreSQL) store in the run's directory, and a free loopback port for /readyz. Both write their logs to
files in the run directory. Nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import msgspec
import trio

from scripts.bench.harness.sysstat import cpu_seconds
from welcomebot.emulator import EmulatorInfo

__all__ = ["BotProcess", "HarnessError", "emulator_process", "welcomebot_command"]


class HarnessError(Exception):
    """The benchmark could not run (a process did not start or did not become ready)."""


def welcomebot_command() -> list[str]:
    """The ``welcomebot`` console script of the interpreter running the harness."""
    script = Path(sys.executable).parent / "welcomebot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "welcomebot"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _stop(process: trio.Process, grace_s: float) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        with trio.move_on_after(grace_s):
            await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()


@asynccontextmanager
async def emulator_process(
    workdir: Path, *, guilds: int, members: int = 0, heartbeat_interval_ms: int = 41250, start_timeout_s: float = 180
) -> AsyncIterator[EmulatorInfo]:
    """Run ``welcomebot emulator`` for the block; yields what it printed on its first line."""
    # Discord's clock is the real one (the bot's catch-up compares joined_at with its own clock).
    command = [*welcomebot_command(), "emulator", "--guilds", str(guilds), "--members", str(members),
               "--heartbeat-interval-ms", str(heartbeat_interval_ms),
               "--start-ms", str(int(time.time() * 1000))]  # fmt: skip
    with (workdir / "emulator.log").open("ab") as log:
        process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE, stderr=log)
        try:
            assert process.stdout is not None
            line = b""
            with trio.move_on_after(start_timeout_s):
                while not line.endswith(b"\n"):
                    chunk = await process.stdout.receive_some(4096)
                    if not chunk:
                        break
                    line += chunk
            if not line.endswith(b"\n"):
                raise HarnessError(f"the emulator did not start; see {workdir / 'emulator.log'}")
            yield msgspec.json.decode(line.split(b"\n", 1)[0], type=EmulatorInfo)
        finally:
            with trio.CancelScope(shield=True):
                await _stop(process, 10)


class BotProcess:
    """``welcomebot run`` against the emulator; can be SIGKILLed and started again on the same store."""

    def __init__(
        self, workdir: Path, info: EmulatorInfo, database_url: str, *, args: Sequence[str] = (), name: str = "bot"
    ) -> None:
        self.workdir = workdir
        self.info = info
        self.database_url = database_url
        #: Extra ``welcomebot run`` arguments (``--shards 1-1 --shard-count 2``); ``name`` names the log file.
        self.args = tuple(args)
        self.name = name
        self.ops_port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("WELCOMEBOT_", "DISCORD_"))},
            "DISCORD_BOT_TOKEN": info.token,
            "WELCOMEBOT_API_BASE": info.api_base,
            "WELCOMEBOT_CDN_BASE": info.cdn_base,
            "WELCOMEBOT_DATABASE_URL": database_url,
            "WELCOMEBOT_DATA_DIR": str(workdir / "data"),
            "WELCOMEBOT_HTTP_ADDR": f"127.0.0.1:{self.ops_port}",
        }
        self.process: trio.Process | None = None
        self.started_at = 0.0
        #: CPU seconds of earlier (killed) incarnations, so totals survive restarts.
        self.cpu_before = 0.0
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return None if self.process is None or self.process.returncode is not None else self.process.pid

    def cpu_total(self) -> float:
        pid = self.pid
        now = cpu_seconds(pid) if pid is not None else None
        return self.cpu_before + (now or 0.0)

    async def start(self) -> None:
        with (self.workdir / f"{self.name}.log").open("ab") as log:
            self.process = await trio.lowlevel.open_process(
                [*welcomebot_command(), "run", *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.started_at = trio.current_time()
        self.starts += 1

    async def wait_ready(self, timeout_s: float) -> float:
        """Seconds from start until /readyz answers 200 (every shard connected, store reachable)."""
        url = f"http://127.0.0.1:{self.ops_port}/readyz"
        async with httpx.AsyncClient(timeout=5) as http:
            with trio.move_on_after(timeout_s):
                while True:
                    if self.process is None or self.process.returncode is not None:
                        raise HarnessError(f"the bot exited during start-up; see {self.workdir / self.name}.log")
                    try:
                        if (await http.get(url)).status_code == 200:
                            return trio.current_time() - self.started_at
                    except httpx.TransportError:
                        pass  # not listening yet
                    await trio.sleep(0.05)
        raise HarnessError(f"the bot was not ready within {timeout_s:.0f} s; see {self.workdir / self.name}.log")

    def sibling(self, name: str, args: Sequence[str] = ()) -> BotProcess:
        """Another ``welcomebot run`` on the same emulator and store (a twin, or one of several shard processes)."""
        return BotProcess(self.workdir, self.info, self.database_url, args=args, name=name)

    async def kill(self) -> None:
        """SIGKILL: no drain, no session saved beyond what was already committed."""
        if self.process is None:
            return
        self.cpu_before = self.cpu_total()
        self.process.kill()
        await self.process.wait()

    async def stop(self, grace_s: float = 40) -> None:
        if self.process is not None:
            self.cpu_before = self.cpu_total()
            await _stop(self.process, grace_s)
