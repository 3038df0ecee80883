"""The CLI as a user meets it: a real subprocess, its exit code and its output."""

import argparse
import json
import os
import subprocess

import pytest

from tests.helpers import CANARY_TOKEN, run_welcomebot
from welcomebot.cli import COMMANDS, build_parser


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("WELCOMEBOT_", "DISCORD_"))}
    full_env.update(env or {})
    return run_welcomebot(args, env=full_env)


def test_help_lists_each_registered_command_with_help_text():
    parser = build_parser()
    text = parser.format_help()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) == {m.__name__.rsplit(".", 1)[-1].removesuffix("_cmd") for m in COMMANDS}
    for action in sub._choices_actions:
        assert action.help, f"{action.dest} has no help text"
        assert action.dest in text
    assert "not implemented" not in text.lower()


def test_bad_http_addr_prints_one_line_and_exits_2():
    result = _run("config", env={"WELCOMEBOT_HTTP_ADDR": "localhost"})
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "WELCOMEBOT_HTTP_ADDR" in lines[0]
    assert "HOST:PORT" in lines[0]
    assert "Traceback" not in result.stderr


def test_config_prints_settings_without_token(output_check):
    result = _run("config", env={"DISCORD_BOT_TOKEN": CANARY_TOKEN})
    output_check(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["http_addr"] == "127.0.0.1:8080"
    assert CANARY_TOKEN not in result.stdout + result.stderr


def test_version():
    result = _run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("welcomebot ")


@pytest.mark.parametrize("args", [(), ("no-such-command",)])
def test_usage_errors_exit_2(args):
    assert _run(*args).returncode == 2


def test_log_format_flag_overrides_the_environment():
    result = _run("config", "--log-format", "text", env={"WELCOMEBOT_LOG_FORMAT": "json"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["log_format"] == "text"
    assert json.loads(_run("config", env={"WELCOMEBOT_LOG_FORMAT": "text"}).stdout)["log_format"] == "text"
    bad = _run("config", "--log-format", "xml")
    assert bad.returncode == 2
    assert "--log-format" in bad.stderr


def test_every_command_takes_log_format():
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, command in sub.choices.items():
        assert "--log-format" in command.format_help(), name


def test_shards_without_shard_count_is_a_config_error():
    result = _run("run", "--shards", "0-1", env={"DISCORD_BOT_TOKEN": CANARY_TOKEN})
    assert result.returncode == 2
    assert result.stderr.strip() == "welcomebot: error: --shards needs --shard-count (the total across all processes)"
