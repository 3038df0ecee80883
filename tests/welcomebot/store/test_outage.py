"""Outage: a call that cannot reach the database runs again until it answers; a refused configuration does not."""

import logging
from itertools import pairwise

import pytest
import trio
import trio.testing

from welcomebot.store.errors import StoreRefused, StoreUnavailable
from welcomebot.store.outage import LOG_EVERY_S, RETRY_CAP_S, Outage


async def test_an_outage_is_waited_out_with_capped_backoff_and_logged_every_so_often(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    outage = Outage()
    up_at = 200.0
    attempts: list[float] = []
    seen: list[str | None] = []

    async def call() -> str:
        seen.append(outage.reason)
        attempts.append(trio.current_time())
        if trio.current_time() < up_at:
            raise StoreUnavailable("cannot reach PostgreSQL at db:5432 (ConnectionRefusedError: refused)")
        return "answer"

    with caplog.at_level(logging.INFO, logger="welcomebot.store.outage"):
        assert await outage.retrying(call) == "answer"
    gaps = [b - a for a, b in pairwise(attempts)]
    assert max(gaps) <= RETRY_CAP_S
    assert attempts[-1] - up_at <= RETRY_CAP_S, "the first attempt after the database is back answers"
    assert seen[1] == "cannot reach PostgreSQL at db:5432 (ConnectionRefusedError: refused)", "for /readyz"
    assert outage.reason is None
    assert outage.down_since is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == pytest.approx(up_at / LOG_EVERY_S, abs=1)
    assert caplog.records[-1].getMessage() == "the database answers again"
    assert outage.outages == 1


async def test_a_refused_configuration_is_raised_at_once(autojump_clock: trio.testing.MockClock) -> None:
    outage = Outage()
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        raise StoreRefused("PostgreSQL at db:5432 refused the login: password authentication failed")

    with pytest.raises(StoreRefused):
        await outage.retrying(call)
    assert calls == 1
    assert outage.reason is None
