"""A private, throwaway PostgreSQL server for the chaos scenario: initdb in a temp dir, its own port.

Never the shared server on 5432 that other people's tests use: this one is made here, restarted here, and
removed at the end. As root, the server runs as the ``postgres`` user (PostgreSQL refuses to run as root), by
runuser, setpriv or su, whichever the machine has; with none of them the scenario runs without it, and says so.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from scripts.bench.harness.procs import free_port

__all__ = ["PrivatePostgres", "find_bindir", "private_postgres", "unavailable_reason"]


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl are (on PATH, or Debian's /usr/lib/postgresql/N/bin), or None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parent.parent.name)
    return candidates[-1].parent if candidates else None


class PrivatePostgres:
    def __init__(self, root: Path, bindir: Path, port: int) -> None:
        self.root = root
        self.bindir = bindir
        self.port = port
        self.restarts = 0

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def _pg_ctl(self, *args: str) -> None:
        await _run([str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-l", str(self.root / "server.log"),
                    *args])  # fmt: skip

    async def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        await self._pg_ctl("-o", options, "-w", "start")

    async def restart(self) -> None:
        """A fast restart, as an operator's `systemctl restart postgresql` does: sessions are cut."""
        await self._pg_ctl("-m", "fast", "-w", "restart")
        self.restarts += 1

    async def stop(self) -> None:
        await self._pg_ctl("-m", "immediate", "-w", "stop")


def _as_postgres(command: list[str]) -> list[str] | None:
    """``command`` run as the ``postgres`` user when we are root, or None when nothing here can switch users."""
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *command]
    if shutil.which("setpriv"):
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *command]
    if shutil.which("su"):
        return ["su", "-s", "/bin/sh", "postgres", "-c", shlex.join(command)]
    return None


def unavailable_reason() -> str | None:
    """Why no private server can run here (recorded in the results), or None when one can."""
    if find_bindir() is None:
        return "PostgreSQL server programs (initdb, pg_ctl) not found"
    if _as_postgres(["true"]) is None:
        return "running as root with no runuser, setpriv or su to start PostgreSQL as the postgres user"
    return None


async def _run(command: list[str]) -> None:
    wrapped = _as_postgres(command)
    assert wrapped is not None, "private_postgres checks unavailable_reason() first"
    await trio.run_process(wrapped, capture_stdout=True, capture_stderr=True)


@asynccontextmanager
async def private_postgres() -> AsyncIterator[PrivatePostgres | None]:
    """A running private server for the block, or None when :func:`unavailable_reason` says why not."""
    bindir = find_bindir()
    if bindir is None or unavailable_reason() is not None:
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="welcomebot-bench-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        server = PrivatePostgres(root, bindir, free_port())
        await _run([str(bindir / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres", "--no-sync"])
        await server.start()
        try:
            yield server
        finally:
            with trio.CancelScope(shield=True):
                await server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
