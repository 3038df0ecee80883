"""For tests: ``welcomebot`` subprocesses whose JSON log lines a test can wait on, and the known test tokens.

:class:`WelcomebotProcess` runs ``python -m welcomebot ...`` under a trio nursery, parses each stdout line as
it arrives and wakes waiters (no polling), and hands every line of stdout and stderr to ``on_output`` so the
suite's token check sees what the process wrote. :func:`find_tokens` is that check's matcher.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, Final

import trio

from welcomebot.emulator import EmulatorInfo

__all__ = ["CANARY_TOKEN", "WelcomebotProcess", "bot_env", "find_tokens", "until"]

#: A token for tests that need one but no emulator: shaped like a real one, and it must never be logged.
CANARY_TOKEN: Final = "MTAwMDAwMDAwMDAwMDAwMDAx.CaNaRy.welcomebot-canary-token-must-never-be-logged"  # noqa: S105

#: Every token a test may hand the bot, by a name safe to print. Emulator tokens are
#: base64(bot id) + ".GwAbCd." + 38 hex digits (``emulator.world.World._make_token``), whatever the seed.
KNOWN_TOKENS: Final = (
    ("the canary token", re.compile(re.escape(CANARY_TOKEN))),
    ("an emulator bot token", re.compile(r"[A-Za-z0-9_-]+\.GwAbCd\.[0-9a-f]{38}")),
)


async def until(check: Callable[[], Awaitable[bool]], every: float = 0.05) -> None:
    """Poll ``check`` until it is true: for state only readable by asking (``/readyz``, ``/metrics``).

    Bound it with the test's ``trio.fail_after``.
    """
    while True:
        if await check():
            return
        await trio.sleep(every)


def find_tokens(text: str) -> list[str]:
    """One line per token found in ``text``: its name and some context, with the token itself masked."""
    found = []
    for name, pattern in KNOWN_TOKENS:
        for match in pattern.finditer(text):
            before = text[max(0, match.start() - 60) : match.start()]
            after = text[match.end() : match.end() + 20]
            context = f"{before}<{name}>{after}".replace("\n", "\\n")
            found.append(f"{name}: ...{context}...")
    return found


def bot_env(info: EmulatorInfo, database_url: str, **overrides: str) -> dict[str, str]:
    """The environment of a ``welcomebot run`` against ``info``'s emulator: JSON logs, ops on a free port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WELCOMEBOT_", "DISCORD_"))}
    env.update(
        DISCORD_BOT_TOKEN=info.token,
        WELCOMEBOT_API_BASE=info.api_base,
        WELCOMEBOT_CDN_BASE=info.cdn_base,
        WELCOMEBOT_DATABASE_URL=database_url,
        WELCOMEBOT_HTTP_ADDR="127.0.0.1:0",
        WELCOMEBOT_LOG_FORMAT="json",
    )
    env.update(overrides)
    return env


class WelcomebotProcess:
    """``await WelcomebotProcess.start(nursery, ["run"], env, on_output)``; cancelling the nursery kills it."""

    def __init__(self, process: trio.Process, on_output: Callable[[str], None]) -> None:
        self.process = process
        #: stdout lines parsed as JSON objects (a line that is not one is kept as ``{"raw": line}``).
        self.records: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self._on_output = on_output
        self._changed = trio.Event()
        self._streams_open = 2

    @classmethod
    async def start(
        cls, nursery: trio.Nursery, args: Sequence[str], env: dict[str, str], on_output: Callable[[str], None]
    ) -> WelcomebotProcess:
        command = [sys.executable, "-m", "welcomebot", *args]
        run = partial(trio.run_process, command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        process: trio.Process = await nursery.start(run)
        self = cls(process, on_output)
        assert process.stdout is not None
        assert process.stderr is not None
        nursery.start_soon(self._pump, process.stdout, self._record)
        nursery.start_soon(self._pump, process.stderr, self.stderr.append)
        return self

    @property
    def finished(self) -> bool:
        """Both output streams reached end of file (the process has exited or closed them)."""
        return self._streams_open == 0

    async def wait_for(self, event: str | tuple[str, ...], *, after: int = 0) -> dict[str, Any]:
        """The first record from index ``after`` on whose ``event`` starts with ``event`` (or one of them)."""
        index = after
        while True:
            for record in self.records[index:]:
                if str(record.get("event", "")).startswith(event):
                    return record
            index = len(self.records)
            if self.finished:
                tail = "\n".join(self.stderr[-5:])
                raise AssertionError(f"welcomebot ended without logging {event!r}; stderr ends with:\n{tail}")
            await self._changed.wait()

    async def wait_for_all(self, event: str, count: int) -> list[dict[str, Any]]:
        """Wait until ``count`` records with that ``event`` prefix exist; returns them."""
        while True:
            matching = [r for r in self.records if str(r.get("event", "")).startswith(event)]
            if len(matching) >= count:
                return matching
            if self.finished:
                raise AssertionError(f"welcomebot ended after {len(matching)} of {count} {event!r} records")
            await self._changed.wait()

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: no drain, no session saved, no lease released (a crash, an OOM kill)."""
        self.process.send_signal(signal.SIGKILL)

    async def exited(self) -> int:
        """The exit code, once the process has exited and all its output has been read."""
        await self.process.wait()
        while not self.finished:
            await self._changed.wait()
        assert self.process.returncode is not None
        return self.process.returncode

    def _record(self, line: str) -> None:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        self.records.append(record if isinstance(record, dict) else {"raw": line})

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _pump(self, stream: trio.abc.ReceiveStream, take: Callable[[str], None]) -> None:
        buffer = b""
        async with stream:
            while chunk := await stream.receive_some(1 << 16):
                *lines, buffer = (buffer + chunk).split(b"\n")
                for raw in lines:
                    self._line(raw, take)
            if buffer:
                self._line(buffer, take)
        self._streams_open -= 1
        self._wake()

    def _line(self, raw: bytes, take: Callable[[str], None]) -> None:
        line = raw.decode(errors="replace")
        self._on_output(line)
        take(line)
        self._wake()
