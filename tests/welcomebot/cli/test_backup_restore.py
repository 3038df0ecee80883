"""``welcomebot backup`` and ``welcomebot restore`` as an operator runs them: subprocesses, exit codes, output."""

import json
import os
import subprocess
from pathlib import Path

import trio

from tests.helpers import run_welcomebot
from welcomebot.store.api import GuildConfig
from welcomebot.store.assets import AssetStore
from welcomebot.store.sqlite import SqliteStore


def _run(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WELCOMEBOT_", "DISCORD_"))}
    env["WELCOMEBOT_DATA_DIR"] = str(data_dir)
    env["WELCOMEBOT_DATABASE_URL"] = f"sqlite:///{data_dir}/welcomebot.sqlite3"
    env["WELCOMEBOT_LOG_FORMAT"] = "text"
    return run_welcomebot(args, env=env, timeout=120)


async def _seed(data_dir: Path) -> str:
    store = await SqliteStore.open(data_dir / "welcomebot.sqlite3")
    ref = await AssetStore(store, data_dir / "assets", quota_guild=10**6, quota_total=10**6).put(
        7, b"normalized image bytes", "image/png", 2, 2
    )
    await store.put_guild_config(GuildConfig(guild_id=7, welcome_channel_id=8, background_ref=ref))
    await store.close()
    return ref


async def _config(data_dir: Path) -> GuildConfig | None:
    store = await SqliteStore.open(data_dir / "welcomebot.sqlite3")
    try:
        return await store.get_guild_config(7)
    finally:
        await store.close()


def test_backup_then_restore_elsewhere(tmp_path):
    source, target, out = tmp_path / "source", tmp_path / "target", tmp_path / "backups"
    ref = trio.run(_seed, source)
    out.mkdir()

    made = _run("backup", "--out", str(out), data_dir=source)
    assert made.returncode == 0, made.stderr
    summary = json.loads(made.stdout)
    archive = Path(summary["path"])
    assert archive.parent == out
    assert archive.name.startswith("welcomebot-")
    assert (summary["assets"], summary["rows"]["guild_config"]) == (1, 1)

    restored = _run("restore", str(archive), data_dir=target)
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["assets"] == 1
    config = trio.run(_config, target)
    assert config is not None
    assert config.background_ref == ref
    digest = ref.removeprefix("asset:")
    assert (target / "assets" / digest[:2] / digest[2:]).read_bytes() == b"normalized image bytes"

    again = _run("restore", str(archive), data_dir=target)
    assert again.returncode == 2
    assert again.stdout == ""
    assert again.stderr.count("\n") == 1
    assert "the target database is not empty" in again.stderr


def test_a_truncated_archive_exits_2_with_one_line_and_restores_nothing(tmp_path):
    trio.run(_seed, tmp_path / "source")
    archive = tmp_path / "b.tar.gz"
    assert _run("backup", "--out", str(archive), data_dir=tmp_path / "source").returncode == 0
    archive.write_bytes(archive.read_bytes()[:-40])

    result = _run("restore", str(archive), data_dir=tmp_path / "target")
    assert result.returncode == 2
    assert result.stderr.startswith(f"welcomebot: error: refusing to restore {archive}: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "target").exists(), "refused before anything was written, the database included"


def test_an_unwritable_data_dir_exits_2_with_one_line_and_restores_nothing(tmp_path):
    trio.run(_seed, tmp_path / "source")
    archive = tmp_path / "b.tar.gz"
    assert _run("backup", "--out", str(archive), data_dir=tmp_path / "source").returncode == 0
    target = tmp_path / "target"
    target.mkdir()
    (target / "assets").write_text("not a directory")  # where the asset files must go

    result = _run("restore", str(archive), data_dir=target)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("welcomebot: error: could not write the restored files ")
    assert result.stderr.count("\n") == 1
    assert trio.run(_config, target) is None, "nothing restored"


def test_an_unwritable_out_exits_2_with_one_line(tmp_path):
    trio.run(_seed, tmp_path / "source")
    (tmp_path / "file").write_text("not a directory")

    result = _run("backup", "--out", str(tmp_path / "file" / "b.tar.gz"), data_dir=tmp_path / "source")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("welcomebot: error: no backup was written: ")
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_a_missing_sqlite_database_exits_2_with_one_line_and_creates_nothing(tmp_path):
    data_dir, out = tmp_path / "nothing-here", tmp_path / "backups"
    out.mkdir()

    result = _run("backup", "--out", str(out), data_dir=data_dir)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("welcomebot: error: no backup was written: there is no SQLite database at ")
    assert "WELCOMEBOT_DATABASE_URL" in result.stderr
    assert result.stderr.count("\n") == 1
    assert list(out.iterdir()) == []
    assert not (data_dir / "welcomebot.sqlite3").exists(), "no empty database made on the way"


def test_an_unreachable_postgres_exits_2_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WELCOMEBOT_", "DISCORD_"))}
    env |= {"WELCOMEBOT_DATA_DIR": str(tmp_path), "WELCOMEBOT_LOG_FORMAT": "text",
            "WELCOMEBOT_DATABASE_URL": "postgresql://nobody:x@127.0.0.1:1/none"}  # fmt: skip
    result = run_welcomebot(["backup", "--out", str(tmp_path / "b.tar.gz")], env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("welcomebot: error: ")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "b.tar.gz").exists()


def test_out_ending_in_a_slash_is_a_folder_made_if_missing(tmp_path):
    trio.run(_seed, tmp_path / "source")
    folder = tmp_path / "new" / "backups"

    made = _run("backup", "--out", f"{folder}/", data_dir=tmp_path / "source")
    assert made.returncode == 0, made.stderr
    (archive,) = folder.iterdir()
    assert archive.name.startswith("welcomebot-")
    assert archive.name.endswith(".tar.gz")
    assert Path(json.loads(made.stdout)["path"]) == archive
