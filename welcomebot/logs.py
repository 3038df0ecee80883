"""Logging: one JSON object per line on stdout, with the bot token scrubbed from every line.

Code logs with the standard library and passes structured fields through ``extra``::

    log.info("welcome posted", extra={"guild_id": g, "user_id": u, "latency_ms": 41.2})

The JSON line carries ``ts``, ``level``, ``logger``, ``event`` and the fields; ``exc`` holds a formatted
traceback when there is one. Redaction happens on the finished line, after every field, argument and
traceback has been rendered, so no path can slip the token past it. The text format (``--log-format text``)
prints the same fields as ``key=value``, quoting values that contain spaces.

Field names are an interface (operators build dashboards and alerts on them): :data:`FIELDS` lists the
stable ones, and the operator guide is checked against it. Reuse these names rather than inventing synonyms.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from typing import IO, Any

import msgspec

from welcomebot.secret import Secret
from welcomebot.settings import LogFormat, LogLevel

__all__ = ["FIELDS", "REDACTED", "JsonFormatter", "RedactingFormatter", "TextFormatter", "configure_logging"]

REDACTED = "[REDACTED]"

#: The stable field names of a log line, with what they hold.
FIELDS: dict[str, str] = {
    "ts": "UTC time, ISO 8601 with milliseconds",
    "level": "debug, info, warning or error",
    "logger": "the module that logged",
    "event": "what happened, in words (stable text: alert on it)",
    "guild_id": "the server (snowflake)",
    "user_id": "the member (snowflake)",
    "user_ids": "the members of one coalesced welcome message",
    "channel_id": "the welcome channel",
    "message_id": "the posted welcome message",
    "shard": "the gateway shard id",
    "session_id": "the gateway session",
    "dispatch": "a gateway event name, e.g. GUILD_MEMBER_ADD",
    "seq": "a gateway sequence number",
    "route": "the REST route template, e.g. POST /channels/{channel_id}/messages",
    "latency_ms": "join to posted welcome, in milliseconds",
    "outcome": "what became of a join: posted, failed, skipped_... (the welcomebot_welcomes metric's label)",
    "reason": "why a connection ended or a channel refuses posts",
    "error": "the error message (never the token, never message contents)",
    "retry_in_s": "seconds until the next attempt",
    "down_s": "seconds the database has been unreachable",
    "exc": "the traceback, for crashes",
}

# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

_encoder = msgspec.json.Encoder()


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS and not k.startswith("_")}


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)


def _timestamp(record: logging.LogRecord) -> str:
    ms = int(record.msecs)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{ms:03d}Z"


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "event", **fields, "exc"?}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in _fields(record).items():
            line.setdefault(key, _jsonable(value))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return _encoder.encode(line).decode()


def _text_value(value: Any) -> str:
    plain = _jsonable(value)
    if isinstance(plain, str) and plain and not any(c.isspace() or c in '"=' for c in plain):
        return plain
    return _encoder.encode(plain).decode()


class TextFormatter(logging.Formatter):
    """``ts level logger: event key=value ...`` for a human at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={_text_value(v)}" for k, v in _fields(record).items())
        text = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            text = f"{text} {fields}"
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        if record.stack_info:
            text = f"{text}\n{self.formatStack(record.stack_info)}"
        return text


class RedactingFormatter(logging.Formatter):
    """Wraps a formatter and replaces every secret in its finished output."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self._inner = inner
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = self._inner.format(record)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def configure_logging(
    *,
    level: LogLevel = "INFO",
    fmt: LogFormat = "json",
    secrets: Iterable[Secret] = (),
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Send all logging to ``stream`` (stdout) through the redacting formatter; returns the handler.

    Logging is process-wide by nature; this is called once, by the CLI, before anything logs.
    """
    inner: logging.Formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    handler = logging.StreamHandler(sys.stdout if stream is None else stream)
    handler.setFormatter(RedactingFormatter(inner, [s.reveal() for s in secrets]))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    # httpx logs every request URL at INFO; ours are logged with routes and buckets instead.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    return handler
