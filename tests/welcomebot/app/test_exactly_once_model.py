"""Exactly-once, explored (issue 28): the state machine of ``exactly_once_model`` on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.welcomebot.app.exactly_once_model import ExactlyOnceMachine


def budget(request: pytest.FixtureRequest) -> settings:
    """The quick lane's budget, unless ``--hypothesis-profile`` names another (``deep``: the nightly one)."""
    if request.config.getoption("hypothesis_profile", None) not in (None, "default"):
        return settings()
    return settings(max_examples=100, stateful_step_count=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


def test_no_welcome_lost_or_doubled_on_sqlite(request: pytest.FixtureRequest) -> None:
    run_state_machine_as_test(ExactlyOnceMachine, settings=budget(request))
