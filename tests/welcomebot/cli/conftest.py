"""An emulator process for the tests that run ``welcomebot run`` processes against one."""

import json
import signal
from collections.abc import Callable, Iterator

import pytest

from tests.helpers import WelcomebotPopen


@pytest.fixture
def emulator(output_check: Callable[[str], None]) -> Iterator[dict[str, str]]:
    """``welcomebot emulator --guilds 1``; its first stdout line (JSON: bases, token) is what this yields."""
    with WelcomebotPopen(["emulator", "--guilds", "1"], env=None, on_output=output_check) as proc:
        info = json.loads(proc.readline(check=False))  # the bases and the token, for the bot under test
        yield info
        proc.send_signal(signal.SIGTERM)
        code, _, err = proc.finish(timeout=30)
        assert code == 0, err
