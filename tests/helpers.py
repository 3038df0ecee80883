"""What tests share (instead of importing each other): ``welcomebot`` subprocesses, settings, the test database.

Every ``welcomebot`` subprocess a test starts goes through here, so the suite's token check (``tests/conftest.py``)
sees all it writes: :class:`WelcomebotProcess` runs a long-lived ``python -m welcomebot ...`` under a trio
nursery, parses each stdout line as it arrives and wakes waiters (no polling), and hands every line of stdout
and stderr to ``on_output``; :func:`run_welcomebot` runs a command to its end and hands its output over the
same way. ``tests/test_layout.py`` fails on a test that starts one any other way. :func:`find_tokens` is the
check's matcher.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Final

import pytest
import trio

from welcomebot.bot import BotOptions, RunningBot, run_bot
from welcomebot.emulator import EmulatorInfo
from welcomebot.gateway.protocol import SavedSession
from welcomebot.rest import File, NotFound
from welcomebot.secret import Secret
from welcomebot.settings import Settings
from welcomebot.store import AssetRecord, GuildConfig, Store, WelcomeKey, open_store
from welcomebot.store.testing import DSN_VAR, REQUIRE_VAR

if TYPE_CHECKING:
    from pathlib import Path

    from welcomebot.emulator import RunningEmulator
    from welcomebot.render import Renderer

__all__ = [
    "CANARY_TOKEN",
    "H1",
    "HOSTILE_NAMES",
    "K1",
    "K2",
    "LIVE",
    "FakeApi",
    "Run",
    "WelcomebotPopen",
    "WelcomebotProcess",
    "asset_record",
    "bot_against",
    "bot_env",
    "bot_settings",
    "channel_of",
    "emulator_env",
    "fill_history",
    "fill_store",
    "find_tokens",
    "mentions",
    "postgres_dsn",
    "run_welcomebot",
    "run_welcomebot_in_thread",
    "start_live_bot",
    "until",
]

#: A token for tests that need one but no emulator: shaped like a real one, and it must never be logged.
CANARY_TOKEN: Final = "MTAwMDAwMDAwMDAwMDAwMDAx.CaNaRy.welcomebot-canary-token-must-never-be-logged"

#: Every token a test may hand the bot, by a name safe to print. Emulator tokens are
#: base64(bot id) + ".GwAbCd." + 38 hex digits (``emulator.world.World._make_token``), whatever the seed.
KNOWN_TOKENS: Final = (
    ("the canary token", re.compile(re.escape(CANARY_TOKEN))),
    ("an emulator bot token", re.compile(r"[A-Za-z0-9_-]+\.GwAbCd\.[0-9a-f]{38}")),
)


#: The log events that say a ``welcomebot run``'s gateway session is live.
LIVE: Final = ("gateway ready", "gateway session resumed")


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


def postgres_dsn() -> str:
    """The test server's DSN; skips when none is configured, unless PostgreSQL tests are required."""
    dsn = os.environ.get(DSN_VAR)
    if not dsn:
        if os.environ.get(REQUIRE_VAR):
            pytest.fail(f"{REQUIRE_VAR} is set but {DSN_VAR} is not; run the tests through scripts/test")
        pytest.skip(f"{DSN_VAR} is not set (scripts/test sets it from scripts/ensure-postgres)")
    return dsn


def bot_settings(emu: RunningEmulator, tmp_path: Path) -> Settings:
    """Settings for an in-process ``run_bot`` against ``emu``."""
    return Settings(token=Secret(emu.info.token), api_base=emu.info.api_base, cdn_base=emu.info.cdn_base,
                    data_dir=tmp_path)  # fmt: skip


#: The token check's entry for subprocess output, set by ``tests/conftest.py`` for the session (it knows which
#: test is running); :func:`run_welcomebot` uses it when not given one.
session_output_check: Callable[[str], None] | None = None


def run_welcomebot(
    args: Sequence[str],
    *,
    env: dict[str, str] | None,
    on_output: Callable[[str], None] | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m welcomebot ARGS`` run to its end (``env`` None: this process's); its stdout and stderr go to
    ``on_output`` (default: the session's token check) before the result is returned."""
    check = on_output if on_output is not None else session_output_check
    assert check is not None, "run_welcomebot runs under pytest, whose conftest.py sets session_output_check"
    result = subprocess.run([sys.executable, "-m", "welcomebot", *args], env=env, cwd=cwd, capture_output=True,
                            text=True, timeout=timeout, check=False)  # fmt: skip
    check(result.stdout)
    check(result.stderr)
    return result


def emulator_env(info: dict[str, str], token: str, database_url: str, **overrides: str) -> dict[str, str]:
    """:func:`bot_env` for an emulator process (``info``: the JSON line ``welcomebot emulator`` prints first)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WELCOMEBOT_", "DISCORD_"))}
    env.update(
        DISCORD_BOT_TOKEN=token,
        WELCOMEBOT_API_BASE=info["api_base"],
        WELCOMEBOT_CDN_BASE=info["cdn_base"],
        WELCOMEBOT_DATABASE_URL=database_url,
        # Port 0: the ops server listens from the start, and a fixed one may be another test's under xdist.
        WELCOMEBOT_HTTP_ADDR="127.0.0.1:0",
        WELCOMEBOT_LOG_FORMAT="json",
    )
    env.update(overrides)
    return env


class WelcomebotPopen:
    """``python -m welcomebot ARGS`` for a synchronous test: stdout read line by line as the test goes
    (:meth:`readline`, :meth:`lines`), stderr drained by a thread (the pipe never fills), every line handed to
    ``on_output``. Use it as a context manager: a process still running at the end is killed."""

    def __init__(self, args: Sequence[str], *, env: dict[str, str] | None, on_output: Callable[[str], None]) -> None:
        self._on_output = on_output
        self.process = subprocess.Popen([sys.executable, "-m", "welcomebot", *args], env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        self.stderr: list[str] = []
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._on_output(line)
            self.stderr.append(line)

    def readline(self, *, check: bool = True) -> str:
        """The next stdout line; ``check=False`` only for a line that hands a token out by design (the
        emulator's first line is what a client connects with)."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if check:
            self._on_output(line)
        return line

    def lines(self) -> Iterator[str]:
        while line := self.readline():
            yield line

    def send_signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        """Wait for the exit: the exit code, the rest of stdout, all of stderr."""
        assert self.process.stdout is not None
        rest = self.process.stdout.read()
        self._on_output(rest)
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout)
        return code, rest, "".join(self.stderr)

    def __enter__(self) -> WelcomebotPopen:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join()
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.process.stdout.close()
        self.process.stderr.close()


async def start_live_bot(
    nursery: trio.Nursery, env: dict[str, str], on_output: Callable[[str], None], *args: str
) -> WelcomebotProcess:
    """``welcomebot run ARGS``, returned once its gateway session is live (READY or RESUMED logged)."""
    bot = await WelcomebotProcess.start(nursery, ["run", *args], env, on_output)
    await bot.wait_for(LIVE)
    return bot


async def run_welcomebot_in_thread(
    args: Sequence[str], *, env: dict[str, str] | None
) -> subprocess.CompletedProcess[str]:
    """:func:`run_welcomebot` from trio code, in a worker thread, so the loop (an emulator in the test) runs."""
    return await trio.to_thread.run_sync(partial(run_welcomebot, args, env=env))


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
        self._unchecked = 0  # stdout lines still to skip for the token check (the emulator's info line)
        #: The emulator's info line (``start(..., info_line=True)``).
        self.info: dict[str, Any] = {}

    @classmethod
    async def start(
        cls,
        nursery: trio.Nursery,
        args: Sequence[str],
        env: dict[str, str] | None,
        on_output: Callable[[str], None],
        *,
        info_line: bool = False,
    ) -> WelcomebotProcess:
        """Start it (``env`` None: this process's). ``info_line``: its first stdout line is the emulator's
        (bases and a bot token, handed out by design): returned once it is read, kept as :attr:`info` and not
        given to ``on_output``; every other line is."""
        command = [sys.executable, "-m", "welcomebot", *args]
        run = partial(trio.run_process, command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        process: trio.Process = await nursery.start(run)
        self = cls(process, on_output)
        self._unchecked = 1 if info_line else 0
        assert process.stdout is not None
        assert process.stderr is not None
        nursery.start_soon(self._pump, process.stdout, self._record)
        nursery.start_soon(self._pump, process.stderr, self.stderr.append)
        if info_line:
            while not self.records:
                if self.finished:
                    raise AssertionError("welcomebot ended before its first line: " + "\n".join(self.stderr[-5:]))
                await self._changed.wait()
            self.info = self.records[0]
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

    def send_signal(self, sig: int) -> None:
        self.process.send_signal(sig)

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
        if take == self._record and self._unchecked:
            self._unchecked -= 1
        else:
            self._on_output(line)
        take(line)
        self._wake()


# --- a run_bot against an in-process emulator ------------------------------------------------------------


def mentions(messages: list[dict[str, Any]]) -> list[str]:
    return [u for m in messages for u in m["mentioned_user_ids"]]


@dataclass
class Run:
    bot: RunningBot
    guilds: list[dict[str, Any]]
    stop: trio.Event

    async def stop_and_drain(self) -> None:
        """What SIGTERM does: no new events, in-flight welcomes finished."""
        self.stop.set()
        await self.bot.stopped.wait()


@asynccontextmanager
async def bot_against(
    emu: RunningEmulator,
    tmp_path: Path,
    renderer: Renderer,
    *,
    configure: bool = True,
    database_url: str = "",
    options: dict[str, Any] | None = None,
) -> AsyncIterator[Run]:
    """A configured store (SQLite in ``tmp_path`` unless ``database_url`` names another) and a live bot;
    cancelled (like a dying process) when the block ends, unless it was stopped and drained before."""
    async with open_store(database_url or f"sqlite:///{tmp_path}/w.sqlite3") as store:
        guilds: list[dict[str, Any]] = await emu.control.guilds()
        if configure:
            for g in guilds:
                config = GuildConfig(guild_id=int(g["id"]), welcome_channel_id=int(g["channels"][0]["id"]),
                                     options=options or {}, updated_at=1)  # fmt: skip
                await store.put_guild_config(config)
        settings = bot_settings(emu, tmp_path)
        async with trio.open_nursery() as nursery:
            stop = trio.Event()
            bot: RunningBot = await nursery.start(
                lambda task_status: run_bot(
                    settings,
                    store,
                    options=BotOptions(drain_timeout=30),
                    stop=stop,
                    renderer=renderer,
                    task_status=task_status,
                )
            )
            for handle in bot.manager.handles.values():
                await handle.live.wait()
            yield Run(bot, guilds, stop)
            nursery.cancel_scope.cancel()


def channel_of(guild: dict[str, Any]) -> str:
    return str(guild["channels"][0]["id"])


# --- shared test data and fakes ----------------------------------------------------------------------------

#: Member names that try Markdown, links or mentions (each with its escaped form).
HOSTILE_NAMES = [
    ("[free nitro](https://evil.example)", r"\[free nitro\]\(https\://evil.example\)"),
    ("[x](<https://evil.example>)", r"\[x\]\(\<https\://evil.example\>\)"),
    ("https://evil.example/login", r"https\://evil.example/login"),
    ("<https://evil.example>", r"\<https\://evil.example\>"),
    ("# Official announcement", r"\# Official announcement"),
    ("### small heading", r"\#\#\# small heading"),
    ("-# subtext", r"\-\# subtext"),
    ("- list item", r"\- list item"),
    ("+ plus item", r"\+ plus item"),
    ("* star item", r"\* star item"),
    ("1. ordered", r"1\. ordered"),
    ("  42. indented", r"  42\. indented"),
    ("**bold**", r"\*\*bold\*\*"),
    ("*italic*", r"\*italic\*"),
    ("_italic_", r"\_italic\_"),
    ("__underline__", r"\_\_underline\_\_"),
    ("~~strike~~", r"\~\~strike\~\~"),
    ("||spoiler||", r"\|\|spoiler\|\|"),
    ("`code`", r"\`code\`"),
    ("```py\nimport os```", r"\`\`\`py import os\`\`\`"),
    ("> quoted", r"\> quoted"),
    (">>> quote all", r"\>\>\> quote all"),
    ("<t:1700000000:R>", r"\<t\:1700000000\:R\>"),
    ("<@123456789012345678>", r"\<\@123456789012345678\>"),
    ("<@&123456789012345678>", r"\<\@&123456789012345678\>"),
    ("<#123456789012345678>", r"\<\#123456789012345678\>"),
    ("</ban:123456789012345678>", r"\</ban\:123456789012345678\>"),
    ("<:pepe:123456789012345678>", r"\<\:pepe\:123456789012345678\>"),
    ("@everyone", r"\@everyone"),
    ("@here", r"\@here"),
    ("a\\*b", r"a\\\*b"),
    ("line\n# two", r"line \# two"),
    ("ada.lovelace-99", "ada.lovelace-99"),
    ("Zoë 🌸", "Zoë 🌸"),
]


class FakeApi:
    def __init__(self, *, refuse: bool = False) -> None:
        self.calls: list[tuple[float, str, dict[str, Any], list[File] | None]] = []
        self.refuse = refuse
        self.final = 0  # answers (type 4 callbacks and edits)
        self.changed = trio.Event()

    def _record(self, kind: str, payload: dict[str, Any], files: list[File] | None) -> None:
        self.calls.append((trio.current_time(), kind, payload, files))
        self.final += kind == "edit" or payload.get("type") == 4
        self.changed.set()
        self.changed = trio.Event()

    async def interaction_callback(self, iid: int, token: str, payload: dict[str, Any]) -> None:
        if self.refuse:
            raise NotFound(404, 10062, "Unknown interaction", "POST /interactions")
        self._record("callback", payload, None)

    async def edit_original(self, app: int, token: str, payload: dict[str, Any],
                            files: list[File] | None = None) -> dict[str, Any]:  # fmt: skip
        self._record("edit", payload, files)
        return {}


#: Two welcome-log keys and an asset hash the store tests fill with.
K1 = WelcomeKey(1 << 22, 10 << 22, "2026-11-24T10:00:00.000000+00:00")
K2 = WelcomeKey(1 << 22, 11 << 22, "2026-11-24T10:00:01.000000+00:00")
H1 = "a" * 64


def asset_record(content_hash: str, guild_id: int, size: int) -> AssetRecord:
    return AssetRecord(content_hash=content_hash, media_type="image/png", size=size, width=3, height=2,
                       owner_guild=guild_id, created_at=7.5)  # fmt: skip


async def fill_history(store: Store) -> None:
    """A claimed join (K1), a posted one with its nonce (K2), a gateway session and a meta value."""
    await store.claim_welcome(K1, "shards 0-0", 10.0, 60)
    await store.claim_welcome(K2, "shards 0-0", 11.0, 60)
    await store.assign_nonce([K2], "w42")
    await store.mark_posted([K2], 1 << 50, 12.25, 13.0)
    await store.save(3, SavedSession("sess", 77, "wss://resume"))
    await store.set_meta("commands_hash", "abc")


async def fill_store(store: Store) -> None:
    """fill_history, two guild configs (one with every odd value a column may hold) and an asset."""
    await fill_history(store)
    await store.put_guild_config(GuildConfig(guild_id=1 << 40, welcome_channel_id=(1 << 62) + 3,
                                             background_ref=f"asset:{H1}", message_template="hé {user} 🎉",
                                             enabled=False, options={"z": 1, "a": [True, None, 1.5]},
                                             channel_problem="forbidden", updated_at=1732500000.123456))  # fmt: skip
    await store.put_guild_config(GuildConfig(guild_id=2, updated_at=3.0))
    await store.put_asset(asset_record(H1, 1 << 40, 12345))
