"""The checks behind ``welcomebot doctor`` and the start-up warnings of ``run``: what this machine lacks.

Each check gives one :class:`Finding` with what to do. ``card_findings`` are the ones that only degrade the
cards (monochrome emoji) or break them (no raqm, missing fonts): ``run`` logs those at start instead of
failing at the first render.
"""

from __future__ import annotations

import errno
import socket
import sqlite3
import tempfile
from typing import Literal

import msgspec
import trio
from PIL import features

from welcomebot.render.errors import FontsMissingError
from welcomebot.render.fonts import FontSet
from welcomebot.settings import Settings
from welcomebot.store import StoreError, backend_of, schema_status, sqlite_path

__all__ = ["Finding", "card_findings", "check_all"]

Level = Literal["ok", "warn", "fail"]


class Finding(msgspec.Struct, frozen=True):
    level: Level
    what: str
    detail: str

    def line(self) -> str:
        return f"{self.level.upper():<4}  {self.what}: {self.detail}"


def card_findings() -> list[Finding]:
    """Text shaping and fonts: without raqm every card with text fails; without colour emoji they are grey."""
    found: list[Finding] = []
    if features.check("raqm") and features.check("fribidi"):
        found.append(Finding("ok", "text shaping", "raqm and FriBiDi found"))
    else:
        found.append(Finding("fail", "text shaping", "Pillow has no raqm/FriBiDi, so no card can be drawn; "
                             "install FriBiDi (Debian/Ubuntu: apt install libfribidi0) and restart"))  # fmt: skip
    try:
        fonts = FontSet.discover()
    except FontsMissingError as exc:
        found.append(Finding("fail", "fonts", str(exc)))
        return found
    if fonts.has_color_emoji:
        found.append(Finding("ok", "fonts", f"{len(fonts.faces)} faces, colour emoji"))
    else:
        found.append(Finding("warn", "fonts", "no colour emoji font, emoji are drawn in monochrome; copy "
                             "NotoColorEmoji.ttf (Debian: fonts-noto-color-emoji) into <venv>/share/welcomebot-fonts/"
                             " (scripts/bootstrap and the container image do)"))  # fmt: skip
    return found


async def _database(settings: Settings) -> Finding:
    url = settings.database_url
    if backend_of(url) == "sqlite" and not await trio.Path(sqlite_path(url)).is_file():
        return Finding(
            "warn",
            "database",
            f"no SQLite file at {sqlite_path(url)} yet; `welcomebot migrate` (or "
            "`run`) creates it; if the bot ran before, WELCOMEBOT_DATABASE_URL points elsewhere",
        )
    try:
        with trio.fail_after(15):
            current, latest = await schema_status(url)
    except StoreError as exc:  # its message says what to do
        return Finding("fail", "database", str(exc))
    except (OSError, sqlite3.Error, trio.TooSlowError) as exc:
        return Finding("fail", "database", f"cannot read it ({type(exc).__name__}: {exc}); check "
                       "WELCOMEBOT_DATABASE_URL and that the server is up")  # fmt: skip
    if current < latest:
        return Finding("warn", "database", f"schema version {current}, this welcomebot has {latest}; run "
                       "`welcomebot migrate` (or let `run` apply them)")  # fmt: skip
    if current > latest:
        return Finding("fail", "database", f"schema version {current} is newer than this welcomebot ({latest}); "
                       "upgrade welcomebot or restore a backup")  # fmt: skip
    return Finding("ok", "database", f"reachable, schema version {current} (up to date)")


def _data_dir(settings: Settings) -> Finding:
    folder = settings.data_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Finding("fail", "data dir", f"cannot write to {folder} ({exc.strerror or exc}); give the bot's "
                       "user that directory or set WELCOMEBOT_DATA_DIR")  # fmt: skip
    return Finding("ok", "data dir", f"{folder} is writable")


def _port(settings: Settings) -> Finding:
    addr = settings.http_addr
    family = socket.AF_INET6 if ":" in addr.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((addr.host, addr.port))
        except OSError as exc:
            busy = exc.errno == errno.EADDRINUSE
            problem = "is in use (is the bot already running?)" if busy else f"cannot be bound ({exc.strerror})"
            return Finding("fail", "health port", f"{addr} {problem}; stop that or set WELCOMEBOT_HTTP_ADDR")
    return Finding("ok", "health port", f"{addr} is free")


async def check_all(settings: Settings) -> list[Finding]:
    return [await _database(settings), *card_findings(), _data_dir(settings), _port(settings)]
