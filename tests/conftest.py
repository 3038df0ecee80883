"""Fixtures every test may use. Layer-specific fixtures live in the conftest.py beside their tests.

The token check: the bot token must never reach a log line. For the whole session, every log record any
test makes (formatted with all its fields and tracebacks, before any redaction), everything pytest captured
for each test (stdout, stderr, log), and all output of the ``welcomebot`` subprocesses tests run through
``tests/helpers.py`` (its ``run_welcomebot``, ``WelcomebotPopen`` and ``WelcomebotProcess``, fed by the
``output_check`` fixture or the session's check) are searched for the known test tokens (``tests.helpers``: the
emulator's bot tokens and :data:`CANARY_TOKEN`). Any hit fails the session and is listed, token masked.
Records are made at INFO and above, as in production (``httpx`` at WARNING, as ``configure_logging`` sets it).
Under pytest-xdist each worker checks its own tests and hands its hits to the controller, which fails the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator

import pytest
from hypothesis import HealthCheck, settings

from tests import helpers
from tests.helpers import find_tokens
from welcomebot.logs import JsonFormatter

#: The nightly budget of the exactly-once explorer (tests/welcomebot/app/exactly_once_model.py), and of every other
#: property test: ``pytest --hypothesis-profile=deep``.
settings.register_profile("deep", max_examples=20_000, stateful_step_count=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


class TokenCheck:
    def __init__(self) -> None:
        self.leaks: dict[str, None] = {}  # ordered, and a section seen in two reports is listed once

    def scan(self, where: str, text: str) -> None:
        for hit in find_tokens(text):
            self.leaks[f"{where}: {hit}"] = None


class _RecordSink(logging.Handler):
    """Scans each record as it is made, so nothing has to be kept."""

    def __init__(self, check: TokenCheck) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.check = check
        self.where = "outside any test"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except (TypeError, ValueError, KeyError):  # a record that cannot be formatted must still be searched
            text = f"{record.msg!r} {record.args!r} {vars(record)!r}"
        self.check.scan(f"{self.where} (log record)", text)


_CHECK = pytest.StashKey[TokenCheck]()
_SINK = pytest.StashKey[_RecordSink]()
_BASELINE = pytest.StashKey[list[logging.Handler]]()


def pytest_configure(config: pytest.Config) -> None:
    check = config.stash[_CHECK] = TokenCheck()
    sink = config.stash[_SINK] = _RecordSink(check)
    helpers.session_output_check = lambda text: check.scan(f"{sink.where} (subprocess output)", text)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # In a parallel run the slow tests start first, so the run does not end with one worker on a long test.
    if config.getoption("numprocesses", None):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    sink = item.config.stash[_SINK]
    root = logging.getLogger()
    # Every test starts from the session's logging setup plus the sink: a test that ran the CLI in-process
    # (configure_logging) leaves a handler writing to its closed capture stream, and drops the sink.
    baseline = item.config.stash.setdefault(_BASELINE, [h for h in root.handlers if h is not sink] + [sink])
    root.handlers[:] = baseline
    root.setLevel(logging.INFO)
    sink.where = item.nodeid
    try:
        return (yield)
    finally:
        sink.where = "outside any test"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    check = item.config.stash[_CHECK]
    for title, content in report.sections:
        check.scan(f"{item.nodeid} ({title})", content)
    return report


_WORKER_KEY = "welcomebot_token_leaks"


def pytest_sessionfinish(session: pytest.Session) -> None:
    leaks = session.config.stash[_CHECK].leaks
    workeroutput = getattr(session.config, "workeroutput", None)  # set on an xdist worker only
    if workeroutput is not None:
        workeroutput[_WORKER_KEY] = list(leaks)
    if leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown without it
def pytest_testnodedown(node: object, error: object) -> None:
    """On the xdist controller: a finished worker's hits join the controller's own, which fail the session."""
    config: pytest.Config = node.config  # type: ignore[attr-defined]
    found: list[str] = getattr(node, "workeroutput", {}).get(_WORKER_KEY, [])
    for line in found:
        config.stash[_CHECK].leaks[line] = None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    leaks = config.stash[_CHECK].leaks
    if leaks:
        terminalreporter.write_sep("=", f"token check failed: {len(leaks)} known test token(s) in the output", red=True)
        for line in list(leaks)[:50]:
            terminalreporter.write_line(line)


@pytest.fixture
def output_check(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Give it what a subprocess wrote (e.g. ``WelcomebotProcess``'s ``on_output``); the token check searches it."""
    check = request.config.stash[_CHECK]
    where = f"{request.node.nodeid} (subprocess output)"
    return lambda text: check.scan(where, text)
