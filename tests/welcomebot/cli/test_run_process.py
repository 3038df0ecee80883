"""`welcomebot run` as an operator meets it: real processes, exit codes, signals."""

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from welcomebot.ops.testing import CANARY_TOKEN


@pytest.fixture
def emulator() -> Iterator[dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "welcomebot", "emulator", "--guilds", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    yield info
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    proc.stdout.close()


def _env(info: dict[str, str], token: str, tmp_path: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WELCOMEBOT_", "DISCORD_"))}
    env.update({
        "DISCORD_BOT_TOKEN": token, "WELCOMEBOT_API_BASE": info["api_base"], "WELCOMEBOT_CDN_BASE": info["cdn_base"],
        "WELCOMEBOT_DATABASE_URL": f"sqlite:///{tmp_path}/w.sqlite3", "WELCOMEBOT_LOG_FORMAT": "json",
        # Port 0: the ops server listens from the start, and the default 8080 may be another test's (one failed
        # under xdist with "Address already in use").
        "WELCOMEBOT_HTTP_ADDR": "127.0.0.1:0",
    })  # fmt: skip
    return env


def test_rejected_token_exits_2_with_one_clear_line(emulator, tmp_path, output_check):
    token = CANARY_TOKEN
    result = subprocess.run([sys.executable, "-m", "welcomebot", "run"], env=_env(emulator, token, tmp_path),
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    output_check(result.stdout + result.stderr)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "DISCORD_BOT_TOKEN" in lines[0]
    assert token not in result.stderr + result.stdout


def test_health_endpoints_then_sigterm_stops_cleanly_with_exit_0(emulator, tmp_path, output_check):
    env = _env(emulator, emulator["token"], tmp_path)
    with subprocess.Popen([sys.executable, "-m", "welcomebot", "run"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:  # fmt: skip
        assert proc.stdout is not None
        metrics_url = ready = None
        for line in proc.stdout:
            output_check(line)
            record = json.loads(line)
            if record.get("event") == "health and metrics served":
                metrics_url = record["url"]
            if record.get("event", "").startswith("gateway ready"):
                ready = True
            if metrics_url and ready:
                break
        assert metrics_url is not None
        base = metrics_url.removesuffix("/metrics")
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        assert httpx.get(f"{base}/readyz", timeout=10).json() == {"ready": True, "reasons": []}
        metrics = httpx.get(metrics_url, timeout=10).text
        assert "welcomebot_welcomes_total" in metrics
        assert "welcomebot_gateway_connected_shards 1.0" in metrics
        assert 'welcomebot_rest_requests_total{route="GET /gateway/bot",status="200"}' in metrics
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    output_check(out + err)
    assert proc.returncode == 0, err
    assert emulator["token"] not in out + err


def test_a_busy_health_port_exits_2_with_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WELCOMEBOT_", "DISCORD_"))}
        env |= {"DISCORD_BOT_TOKEN": "x" * 59, "WELCOMEBOT_HTTP_ADDR": f"127.0.0.1:{port}",
                "WELCOMEBOT_DATABASE_URL": f"sqlite:///{tmp_path}/w.sqlite3"}  # fmt: skip
        result = subprocess.run([sys.executable, "-m", "welcomebot", "run"], env=env, capture_output=True, text=True,
                                timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"WELCOMEBOT_HTTP_ADDR: cannot listen on 127.0.0.1:{port}" in lines[0]


def test_no_session_starts_left_exits_2_with_one_line_and_the_reset_time(emulator, tmp_path):
    """#25.2: Discord's session start limit used up: no IDENTIFY, exit 2, one line saying when it resets."""
    httpx.patch(f"{emulator['control_base']}/application", json={"identify_remaining": 0}).raise_for_status()
    env = _env(emulator, emulator["token"], tmp_path)
    result = subprocess.run([sys.executable, "-m", "welcomebot", "run"], env=env, capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "session start limit is used up" in lines[0]
    assert " UTC" in lines[0]
    assert "resets at 20" in lines[0]
