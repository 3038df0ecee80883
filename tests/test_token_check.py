"""The suite's token check (tests/conftest.py) can fail: an inner pytest session that leaks tokens fails."""

from pathlib import Path

import pytest

from tests.helpers import CANARY_TOKEN, find_tokens
from welcomebot.emulator.world import World

pytest_plugins = ["pytester"]

LEAKY = """
import logging
import sys

from welcomebot.emulator.world import World
from tests.helpers import CANARY_TOKEN


def test_field():
    logging.getLogger("welcomebot.x").info("connecting", extra={"auth": "Bot " + CANARY_TOKEN})


def test_traceback():
    try:
        raise RuntimeError("refused " + World(seed=7).token)
    except RuntimeError:
        logging.getLogger("actors").exception("crashed")


def test_print():
    print("token is", CANARY_TOKEN[:20] + CANARY_TOKEN[20:])


def test_subprocess(output_check):
    output_check('{"event": "starting", "token": "' + World(seed=2).token + '"}')


def test_clean():
    logging.getLogger("welcomebot.x").warning("nothing to see", extra={"guild_id": 1})
"""


def _inner(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_inner=source)
    # The conftest imports tests.helpers: the inner session finds it from the repository's root.
    root = Path(__file__).resolve().parent.parent
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", f"pythonpath={root}", *args)


def test_a_session_that_leaks_tokens_fails_and_says_where(pytester):
    result = _inner(pytester, LEAKY)
    result.assert_outcomes(passed=5)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "token check failed: 5 known test token(s)" in out  # the traceback also in pytest's log capture
    for where in ("test_field (log record): the canary token",
                  "test_traceback (log record): an emulator bot token",
                  "test_print (Captured stdout call): the canary token",
                  "test_subprocess (subprocess output): an emulator bot token"):  # fmt: skip
        assert where in out, where
    assert "test_clean" not in out.split("token check failed")[1]
    assert CANARY_TOKEN not in out, "the report masks the token"


def test_a_leak_in_an_xdist_worker_fails_the_whole_run(pytester):
    pytest.importorskip("xdist")
    result = _inner(pytester, LEAKY, "-n", "2")
    result.assert_outcomes(passed=5)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "token check failed: 5 known test token(s)" in out
    assert "test_subprocess (subprocess output): an emulator bot token" in out
    assert CANARY_TOKEN not in out


def test_a_clean_session_passes(pytester):
    result = _inner(pytester, "import logging\n\ndef test_ok():\n    logging.getLogger('x').info('fine')\n")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    assert "token check failed" not in result.stdout.str()


@pytest.mark.parametrize("seed", [0, 1, 42, 2**31])
def test_every_emulator_token_is_known(seed):
    (hit,) = find_tokens(f"Authorization: Bot {World(seed=seed).token}\n")
    assert hit.startswith("an emulator bot token: ...Authorization: Bot <an emulator bot token>")
