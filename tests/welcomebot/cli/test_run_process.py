"""`welcomebot run` as an operator meets it: real processes, exit codes, signals."""

import json
import os
import signal
import socket

import httpx

from tests.helpers import CANARY_TOKEN, WelcomebotPopen, emulator_env, run_welcomebot


def _env(info: dict[str, str], token: str, tmp_path: object) -> dict[str, str]:
    return emulator_env(info, token, f"sqlite:///{tmp_path}/w.sqlite3")


def test_rejected_token_exits_2_with_one_clear_line(emulator, tmp_path, output_check):
    token = CANARY_TOKEN
    result = run_welcomebot(["run"], env=_env(emulator, token, tmp_path), on_output=output_check)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "DISCORD_BOT_TOKEN" in lines[0]
    assert token not in result.stderr + result.stdout


def test_health_endpoints_then_sigterm_stops_cleanly_with_exit_0(emulator, tmp_path, output_check):
    env = _env(emulator, emulator["token"], tmp_path)
    with WelcomebotPopen(["run"], env=env, on_output=output_check) as proc:
        metrics_url = ready = None
        for line in proc.lines():
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
        code, out, err = proc.finish(timeout=60)
    assert code == 0, err
    assert emulator["token"] not in out + err


def test_a_busy_health_port_exits_2_with_one_line(tmp_path, output_check):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WELCOMEBOT_", "DISCORD_"))}
        env |= {"DISCORD_BOT_TOKEN": "x" * 59, "WELCOMEBOT_HTTP_ADDR": f"127.0.0.1:{port}",
                "WELCOMEBOT_DATABASE_URL": f"sqlite:///{tmp_path}/w.sqlite3"}  # fmt: skip
        result = run_welcomebot(["run"], env=env, on_output=output_check)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"WELCOMEBOT_HTTP_ADDR: cannot listen on 127.0.0.1:{port}" in lines[0]


def test_no_session_starts_left_exits_2_with_one_line_and_the_reset_time(emulator, tmp_path, output_check):
    """#25.2: Discord's session start limit used up: no IDENTIFY, exit 2, one line saying when it resets."""
    httpx.patch(f"{emulator['control_base']}/application", json={"identify_remaining": 0}).raise_for_status()
    env = _env(emulator, emulator["token"], tmp_path)
    result = run_welcomebot(["run"], env=env, on_output=output_check)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "session start limit is used up" in lines[0]
    assert " UTC" in lines[0]
    assert "resets at 20" in lines[0]
