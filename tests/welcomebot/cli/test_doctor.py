"""``welcomebot doctor`` as an operator runs it: one line per check, FAIL says what to do, exit 1 on any."""

import os
import socket
import subprocess

from PIL import features

from tests.helpers import run_welcomebot
from welcomebot.ops import doctor
from welcomebot.render.fonts import FontSet


def _doctor(env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WELCOMEBOT_", "DISCORD_"))}
    env |= {"WELCOMEBOT_HTTP_ADDR": "127.0.0.1:0", **env_extra}
    return run_welcomebot(["doctor"], env=env, timeout=120)


def test_a_healthy_setup_is_all_ok_or_warn(tmp_path):
    result = _doctor({"WELCOMEBOT_DATA_DIR": str(tmp_path), "WELCOMEBOT_DATABASE_URL": f"sqlite:///{tmp_path}/w.db"})
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0].split(maxsplit=1)[1] for line in lines] == [
        "database", "text shaping", "fonts", "data dir", "health port"]  # fmt: skip
    assert lines[0].startswith("WARN  database: no SQLite file at ")
    assert "welcomebot migrate" in lines[0]


def test_each_failure_is_one_line_naming_what_to_change(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _doctor({"WELCOMEBOT_DATA_DIR": str(blocker / "data"), "WELCOMEBOT_HTTP_ADDR": f"127.0.0.1:{port}",
                          "WELCOMEBOT_DATABASE_URL": "postgresql://nobody:x@127.0.0.1:1/none"})  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 3, result.stdout
    assert "WELCOMEBOT_DATABASE_URL" in fails[0]
    assert "WELCOMEBOT_DATA_DIR" in fails[1]
    assert f"127.0.0.1:{port} is in use" in fails[2]
    assert "WELCOMEBOT_HTTP_ADDR" in fails[2]


def test_without_raqm_or_colour_emoji_the_findings_say_how_to_get_them(monkeypatch):
    monkeypatch.setattr(features, "check", lambda name: False)
    monkeypatch.setattr(FontSet, "has_color_emoji", False)
    shaping, fonts = doctor.card_findings()
    assert shaping.level == "fail"
    assert "apt install libfribidi0" in shaping.detail
    assert fonts.level == "warn"
    assert "fonts-noto-color-emoji" in fonts.detail
    assert "share/welcomebot-fonts" in fonts.detail
