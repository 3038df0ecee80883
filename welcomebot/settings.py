"""Settings: one frozen Struct, read from environment variables and nothing else.

Every variable has a parser that either returns a value or raises ``ValueError`` saying what it
expected; :func:`load_settings` turns that into a :class:`~welcomebot.errors.SettingsError` naming the
variable, which the CLI prints as one line before exiting with code 2.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec

from welcomebot.errors import SettingsError
from welcomebot.secret import Secret

__all__ = ["ENV_VARS", "EnvVar", "HostPort", "Settings", "load_settings"]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["json", "text"]


class HostPort(msgspec.Struct, frozen=True):
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the operator can configure. Build it with :func:`load_settings`."""

    token: Secret | None = None
    database_url: str = "sqlite:///./welcomebot-data/welcomebot.sqlite3"
    data_dir: Path = Path("./welcomebot-data")
    http_addr: HostPort = HostPort("127.0.0.1", 8080)
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "json"
    api_base: str = "https://discord.com/api/v10"
    cdn_base: str = "https://cdn.discordapp.com"
    asset_quota_guild: int = 10_000_000
    asset_quota_total: int = 2_000_000_000
    backup_interval: float | None = None
    backup_keep: int = 24
    retention: float = 30 * 86400.0
    guild_grace: float = 7 * 86400.0

    def public(self) -> dict[str, Any]:
        """The settings as plain JSON-able values, with the token masked (for ``welcomebot config``)."""
        return {
            "token": None if self.token is None else repr(self.token),
            "database_url": _mask_password(self.database_url),
            "data_dir": str(self.data_dir),
            "http_addr": str(self.http_addr),
            "log_level": self.log_level,
            "log_format": self.log_format,
            "api_base": self.api_base,
            "cdn_base": self.cdn_base,
            "asset_quota_guild": self.asset_quota_guild,
            "asset_quota_total": self.asset_quota_total,
            "backup_interval": self.backup_interval,
            "backup_keep": self.backup_keep,
            "retention": self.retention,
            "guild_grace": self.guild_grace,
        }


# --- parsers: value in, typed value out, ValueError("expected ...") otherwise ---------------------


def parse_token(raw: str) -> Secret:
    value = raw.strip()
    if not value:
        raise ValueError("expected the bot token from the Discord developer portal, got an empty value")
    if value.lower().startswith("bot "):
        raise ValueError("expected the token alone; remove the leading 'Bot ' prefix")
    if any(c.isspace() for c in value) or not value.isascii():
        raise ValueError("expected a token of ASCII letters, digits, '.', '_' and '-' with no spaces")
    return Secret(value)


def parse_database_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme == "sqlite":
        if not parts.path or parts.path == "/":
            raise ValueError("expected sqlite:///relative/path.sqlite3 or sqlite:////absolute/path.sqlite3")
        return raw
    if parts.scheme in ("postgresql", "postgres"):
        if not parts.hostname and "host=" not in parts.query:
            raise ValueError("expected postgresql://user:password@host:5432/dbname")
        if "," not in parts.netloc:  # a multi-host list is asyncpg's to read
            try:
                port = parts.port
            except ValueError:
                raise ValueError("expected a port between 0 and 65535 after the host, such as :5432") from None
            if port is None and parts.netloc.endswith(":"):
                raise ValueError("expected a port number after the host's ':', such as :5432")
            if parts.hostname and not _is_hostname_or_ip(parts.hostname):
                raise ValueError(f"{parts.hostname!r} is not a host name or IP address")
        return raw
    raise ValueError("expected a URL starting with sqlite:/// or postgresql://")


def parse_dir(raw: str) -> Path:
    if not raw.strip():
        raise ValueError("expected a directory path, got an empty value")
    path = Path(raw).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"expected a directory, but {path} is a file")
    return path


def parse_host_port(raw: str) -> HostPort:
    expected = "expected HOST:PORT such as 127.0.0.1:8080, [::1]:8080 or 0.0.0.0:8080"
    value = raw.strip()
    if value.startswith("["):
        host, sep, port_text = value[1:].partition("]:")
    else:
        host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(expected)
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"expected a port between 0 and 65535, got {port}")
    if not _is_hostname_or_ip(host):
        raise ValueError(expected)
    return HostPort(host, port)


_LOG_LEVELS: dict[str, LogLevel] = {
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARNING": "WARNING",
    "WARN": "WARNING",
    "ERROR": "ERROR",
}
_LOG_FORMATS: dict[str, LogFormat] = {"json": "json", "text": "text"}


def parse_log_level(raw: str) -> LogLevel:
    try:
        return _LOG_LEVELS[raw.strip().upper()]
    except KeyError:
        raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR") from None


def parse_log_format(raw: str) -> LogFormat:
    try:
        return _LOG_FORMATS[raw.strip().lower()]
    except KeyError:
        raise ValueError("expected json or text") from None


def parse_base_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL such as https://discord.com/api/v10")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("expected a plain base URL without user, password, query or fragment")
    return raw.strip().rstrip("/")


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KIB|MIB|GIB)?$")
_SIZE_UNITS = {None: 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}
_DURATION = re.compile(r"(\d+)([smhd])")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_size(raw: str) -> int:
    m = _SIZE.match(raw.strip().upper())
    if not m:
        raise ValueError("expected a size such as 10MB, 500KB, 2GB or 1048576 (bytes)")
    size = int(float(m.group(1)) * _SIZE_UNITS[m.group(2)])
    if size <= 0:
        raise ValueError("expected a size above zero")
    return size


def parse_duration(raw: str) -> float:
    value = raw.strip().lower().replace(" ", "")
    if not value or _DURATION.sub("", value):
        raise ValueError("expected a duration such as 30m, 1h or 1h30m (units s, m, h, d)")
    seconds = sum(int(n) * _DURATION_UNITS[unit] for n, unit in _DURATION.findall(value))
    if seconds < 60:
        raise ValueError("expected at least 1m between backups")
    return float(seconds)


def parse_retention(raw: str) -> float:
    value = raw.strip().lower().replace(" ", "")
    if not value or _DURATION.sub("", value):
        raise ValueError("expected a duration such as 30d, 7d or 36h (units s, m, h, d)")
    seconds = sum(int(n) * _DURATION_UNITS[unit] for n, unit in _DURATION.findall(value))
    if seconds < 86400:
        # A day of log is what keeps a replayed or caught-up join from being welcomed twice.
        raise ValueError("expected at least 1d: a shorter log could welcome a replayed join twice")
    return float(seconds)


def parse_grace(raw: str) -> float:
    value = raw.strip().lower().replace(" ", "")
    if not value or _DURATION.sub("", value):
        raise ValueError("expected a duration such as 7d, 3d or 12h (units s, m, h, d)")
    seconds = sum(int(n) * _DURATION_UNITS[unit] for n, unit in _DURATION.findall(value))
    if seconds < 3600:
        raise ValueError("expected at least 1h, time for an admin who removed the bot by mistake to add it back")
    return float(seconds)


def parse_positive_int(raw: str) -> int:
    value = raw.strip()
    if not value.isdigit() or int(value) < 1:
        raise ValueError("expected a whole number of at least 1")
    return int(value)


@dataclass(frozen=True)
class EnvVar:
    """One environment variable: the Settings field it fills, its parser and a line for the docs."""

    name: str
    field: str
    parse: Callable[[str], Any]
    help: str
    secret: bool = False


ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar("DISCORD_BOT_TOKEN", "token", parse_token, "Bot token (required by `run`).", secret=True),
    EnvVar("WELCOMEBOT_DATABASE_URL", "database_url", parse_database_url, "sqlite:///PATH or postgresql://…"),
    EnvVar("WELCOMEBOT_DATA_DIR", "data_dir", parse_dir, "Directory for assets, backups and SQLite."),
    EnvVar("WELCOMEBOT_HTTP_ADDR", "http_addr", parse_host_port, "Health and metrics listener."),
    EnvVar("WELCOMEBOT_LOG_LEVEL", "log_level", parse_log_level, "DEBUG, INFO, WARNING or ERROR."),
    EnvVar("WELCOMEBOT_LOG_FORMAT", "log_format", parse_log_format, "json (default) or text."),
    EnvVar("WELCOMEBOT_API_BASE", "api_base", parse_base_url, "Discord REST base URL."),
    EnvVar("WELCOMEBOT_CDN_BASE", "cdn_base", parse_base_url, "Discord CDN base URL."),
    EnvVar("WELCOMEBOT_ASSET_QUOTA_GUILD", "asset_quota_guild", parse_size, "Uploads per server (default 10MB)."),
    EnvVar("WELCOMEBOT_ASSET_QUOTA_TOTAL", "asset_quota_total", parse_size, "Uploads in total (default 2GB)."),
    EnvVar("WELCOMEBOT_BACKUP_INTERVAL", "backup_interval", parse_duration, "Periodic backups, e.g. 30m (off)."),
    EnvVar("WELCOMEBOT_BACKUP_KEEP", "backup_keep", parse_positive_int, "Periodic backups kept (default 24)."),
    EnvVar("WELCOMEBOT_RETENTION", "retention", parse_retention, "Longest a welcome is logged (default 30d)."),
    EnvVar("WELCOMEBOT_GUILD_GRACE", "guild_grace", parse_grace, "Data of a server that removed the bot (7d)."),
)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read :class:`Settings` from ``environ`` (default ``os.environ``).

    Unset and empty variables take the default, except the token, where an empty value is an error
    (an empty ``DISCORD_BOT_TOKEN=`` is almost always a broken secret mount).
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for var in ENV_VARS:
        raw = env.get(var.name)
        if raw is None or (raw == "" and not var.secret):
            continue
        try:
            values[var.field] = var.parse(raw)
        except ValueError as exc:
            shown = "" if var.secret else f" (got {raw!r})"
            raise SettingsError(var.name, f"{exc}{shown}") from None
    settings = Settings(**values)
    if settings.asset_quota_guild > settings.asset_quota_total:
        raise SettingsError(
            "WELCOMEBOT_ASSET_QUOTA_GUILD",
            f"the per-server quota ({settings.asset_quota_guild} bytes) is above the total "
            f"({settings.asset_quota_total} bytes, WELCOMEBOT_ASSET_QUOTA_TOTAL); lower it or raise the total",
        )
    return settings


def _is_hostname_or_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.split(".")
        if labels[-1].isdigit():  # 256.1.1.1 is a broken IPv4 address, not a name (no top-level domain is numeric)
            return False
        return all(label and len(label) <= 63 and label.replace("-", "").isalnum() for label in labels)
    return True


def _mask_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":****@", 1)
    return parts._replace(netloc=netloc).geturl()
