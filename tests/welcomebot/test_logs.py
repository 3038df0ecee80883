"""The token must not appear in any log line, whatever path it takes into the logger."""

import io
import json
import logging
import warnings
from typing import Any

import pytest

from welcomebot.logs import FIELDS, REDACTED, configure_logging
from welcomebot.secret import Secret

TOKEN = "MTE5ODc2NTQzMjEwOTg3NjU0Mw.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"


@pytest.fixture
def captured():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging(level="DEBUG", fmt="json", secrets=[Secret(TOKEN)], stream=stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.captureWarnings(False)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_line_shape(captured):
    logging.getLogger("welcomebot.pipeline").info(
        "welcome posted", extra={"guild_id": 1, "user_id": 2, "latency_ms": 12.5}
    )
    (line,) = _lines(captured)
    assert line["level"] == "info"
    assert line["logger"] == "welcomebot.pipeline"
    assert line["event"] == "welcome posted"
    assert line["guild_id"] == 1
    assert line["latency_ms"] == 12.5
    assert line["ts"].endswith("Z")


def test_token_redacted_on_every_path(captured):
    log = logging.getLogger("welcomebot.test")
    log.info(f"message with {TOKEN}")
    log.info("argument %s", TOKEN)
    log.info("header %r", {"Authorization": f"Bot {TOKEN}"})
    log.info("field", extra={"auth": f"Bot {TOKEN}", "nested": {"list": [TOKEN]}})
    log.warning("stack", stack_info=True, extra={"t": TOKEN})
    try:
        raise RuntimeError(f"failed with token {TOKEN}")
    except RuntimeError:
        log.exception("exception")
    try:
        raise ExceptionGroup("group", [ValueError(TOKEN)])
    except ExceptionGroup:
        log.exception("group")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"warning {TOKEN}", UserWarning, stacklevel=1)
    logging.getLogger("httpx").warning("GET https://x/?token=%s", TOKEN)
    out = captured.getvalue()
    assert TOKEN not in out
    assert TOKEN[:30] not in out
    assert out.count(REDACTED) >= 10
    assert len(_lines(captured)) == 9


def test_text_format_redacts_too():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = list(root.handlers)
    try:
        configure_logging(fmt="text", secrets=[Secret(TOKEN)], stream=stream)
        logging.getLogger("x").error("bad %s", TOKEN, extra={"guild_id": 5})
    finally:
        root.handlers[:] = saved
        logging.captureWarnings(False)
    out = stream.getvalue()
    assert TOKEN not in out
    assert "guild_id=5" in out
    assert " ERROR " in out


def test_text_format_is_readable_key_value():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = list(root.handlers)
    try:
        configure_logging(fmt="text", stream=stream)
        logging.getLogger("welcomebot.app.guild").info(
            "welcome posted",
            extra={"guild_id": 5, "user_ids": [1, 2], "latency_ms": 41.5, "outcome": "posted",
                   "error": 'channel said "no"', "session_id": None},
        )  # fmt: skip
    finally:
        root.handlers[:] = saved
        logging.captureWarnings(False)
    line = stream.getvalue().rstrip("\n")
    assert "\n" not in line
    head, _, fields = line.partition(" welcomebot.app.guild: welcome posted ")
    assert head.endswith(" INFO   ")
    assert (
        fields
        == 'guild_id=5 user_ids=[1,2] latency_ms=41.5 outcome=posted error="channel said \\"no\\"" session_id=null'
    )


def test_documented_fields_are_the_ones_the_json_line_uses(captured):
    logging.getLogger("x").info("e", extra={"guild_id": 1})
    (line,) = _lines(captured)
    assert set(line) <= set(FIELDS)
