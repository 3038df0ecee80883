"""Backups: backup → wipe → restore round-trips everything byte for byte; damaged archives are refused with
a clear message and leave the target empty; restores go only into an empty store; periodic backups rotate."""

import hashlib
import io
import json
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
import trio

from tests.helpers import fill_history
from welcomebot.render.testing import busy_photo, image_bytes, sample_avatar
from welcomebot.store.api import GuildConfig, Store, WelcomeKey
from welcomebot.store.assets import AssetStore
from welcomebot.store.backup import BackupStatus, periodic_backups, restore_backup, write_backup
from welcomebot.store.errors import BackupInvalid, StoreNotEmpty
from welcomebot.store.open import open_store
from welcomebot.store.sqlite import SqliteStore


def open_assets(store: Store, data_dir: Path) -> AssetStore:
    return AssetStore(store, data_dir / "assets", quota_guild=10**8, quota_total=10**9)


async def fill(store: Store, assets: AssetStore) -> None:
    bg = await assets.put(1 << 22, image_bytes(busy_photo(640, 360), "JPEG", quality=85), "image/jpeg", 640, 360)
    logo = await assets.put(2 << 22, image_bytes(sample_avatar(64)), "image/png", 64, 64)
    await store.put_guild_config(
        GuildConfig(
            guild_id=1 << 22,
            welcome_channel_id=5 << 22,
            background_ref=bg,
            message_template="Bienvenue {user} ✨",
            updated_at=1732500000.25,
        )
    )
    await store.put_guild_config(GuildConfig(guild_id=2 << 22, enabled=False, options={"design": {"logo": logo}}))


@pytest.fixture
async def source(tmp_path):
    store = await SqliteStore.open(tmp_path / "src" / "welcomebot.sqlite3")
    assets = open_assets(store, tmp_path / "src")
    await fill(store, assets)
    await fill_history(store)
    yield store, assets
    await store.close()


@pytest.fixture
async def backup(source, tmp_path):
    store, assets = source
    out = tmp_path / "backup.tar.gz"
    summary = await write_backup(store, assets, out)
    assert (summary.path, summary.assets, summary.rows["welcome_log"]) == (out, 2, 2)
    return out


@pytest.fixture
async def target(tmp_path):
    store = await SqliteStore.open(tmp_path / "dst" / "welcomebot.sqlite3")
    yield store, open_assets(store, tmp_path / "dst")
    await store.close()


def asset_files(assets: AssetStore) -> dict[str, bytes]:
    root = assets.root
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()} if root.exists() else {}


async def test_backup_wipe_restore_round_trips_everything_byte_for_byte(source, backup, tmp_path):
    store, assets = source
    before_rows = msgspec.json.encode(await store.export_rows())
    before_files = asset_files(assets)
    assert len(before_files) == 2
    await store.close()
    shutil.rmtree(tmp_path / "src")  # the wipe: database file and assets gone

    restored = await SqliteStore.open(tmp_path / "src" / "welcomebot.sqlite3")
    try:
        summary = await restore_backup(restored, open_assets(restored, tmp_path / "src"), backup)
        assert (summary.assets, summary.rows["guild_config"]) == (2, 2)
        assert msgspec.json.encode(await restored.export_rows()) == before_rows
        assert asset_files(open_assets(restored, tmp_path / "src")) == before_files
        config = await restored.get_guild_config(1 << 22)
        assert config is not None
        assert config.message_template == "Bienvenue {user} ✨"
        rows = (await restored.export_rows())["welcome_log"]
        claimed, posted = (WelcomeKey(r["guild_id"], r["user_id"], r["joined_at"]) for r in rows)
        assert await restored.take_unfinished("shards 0-0", 20.0, 60) == [(claimed, None)], "finished after restore"
        assert await restored.welcome_status(posted) == "posted"
    finally:
        await restored.close()


async def test_manifest_lists_every_member_with_its_checksum(backup):
    with tarfile.open(backup, "r:gz") as tar:
        names = tar.getnames()
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert names[0] == "db.json"
    assert names[-1] == "manifest.json"
    manifest = json.loads(members.pop("manifest.json"))
    assert (manifest["format"], manifest["version"]) == ("welcomebot-backup", 1)
    assert manifest["created_at"].endswith("Z")
    assert manifest["welcomebot_version"]
    assert {m["name"]: (m["sha256"], m["size"]) for m in manifest["members"]} == {
        name: (hashlib.sha256(data).hexdigest(), len(data)) for name, data in members.items()
    }


def rewrite(src: Path, dst: Path, change: Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]]) -> Path:
    with tarfile.open(src, "r:gz") as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]
    with tarfile.open(dst, "w:gz") as tar:
        for name, data in change(members):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dst


def drop_asset(members):
    first = next(i for i, (name, _) in enumerate(members) if name.startswith("assets/"))
    return members[:first] + members[first + 1 :]


def add(name: str, data: bytes = b"surprise"):
    return lambda members: [*members[:-1], (name, data), members[-1]]


def with_manifest(**changes: object) -> Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]]:
    def change(members):
        manifest = json.loads(members[-1][1]) | changes
        return [*members[:-1], ("manifest.json", json.dumps(manifest).encode())]

    return change


def tamper_db(members):
    dump = json.loads(members[0][1])
    dump["guild_config"][0]["message_template"] = "pwned"
    return [("db.json", json.dumps(dump).encode()), *members[1:]]


def flip_byte(at: float) -> Callable[[Path, Path], Path]:
    def flip(path: Path, dst: Path) -> Path:
        data = bytearray(path.read_bytes())
        data[min(int(len(data) * at), len(data) - 1)] ^= 0x40
        dst.write_bytes(bytes(data))
        return dst

    return flip


def truncate(path: Path, dst: Path) -> Path:
    dst.write_bytes(path.read_bytes()[: len(path.read_bytes()) * 2 // 3])
    return dst


DAMAGE: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    **{
        f"flipped byte at {at:.0%}": (flip_byte(at), r"refusing to restore .*(corrupted|checksum|not a readable)")
        for at in (0.01, 0.25, 0.5, 0.75, 0.99, 1.0)  # 1.0: the gzip trailer's length
    },
    "truncated": (lambda b, d: truncate(b, d), r"refusing to restore .*(truncated|not a readable)"),
    "missing member": (lambda b, d: rewrite(b, d, drop_asset), r"listed in its manifest is missing"),
    "extra member": (lambda b, d: rewrite(b, d, add("assets/" + "e" * 64)), r"which its manifest does not list"),
    "path traversal": (lambda b, d: rewrite(b, d, add("../x")), r"unexpected member '\.\./x'"),
    "absolute path": (lambda b, d: rewrite(b, d, add("/etc/cron.d/x")), r"unexpected member '/etc/cron.d/x'"),
    "altered dump": (lambda b, d: rewrite(b, d, tamper_db), r"'db.json' does not match its checksum"),
    "unknown version": (
        lambda b, d: rewrite(b, d, with_manifest(version=2, welcomebot_version="9.0")),
        r"format version 2, made by welcomebot '9.0'.* reads version 1; restore it with",
    ),
    "no manifest": (lambda b, d: rewrite(b, d, lambda m: m[:-1]), r"it has no manifest.json"),
    "not a backup": (lambda b, d: (d.write_bytes(b"PK\x03\x04 a zip, say"), d)[1], r"not a readable \.tar\.gz"),
    "duplicate": (lambda b, d: rewrite(b, d, lambda m: [m[0], *m]), r"holds 'db.json' twice"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
async def test_a_damaged_archive_is_refused_and_the_target_stays_empty(backup, target, tmp_path, damage):
    make, message = DAMAGE[damage]
    damaged = make(backup, tmp_path / "damaged.tar.gz")
    store, assets = target
    with pytest.raises(BackupInvalid, match=message) as info:
        await restore_backup(store, assets, damaged)
    assert str(info.value).endswith("nothing was restored, use another backup")
    assert "\n" not in str(info.value)
    assert await store.is_empty()
    assert asset_files(assets) == {}


async def test_a_missing_archive_is_a_clear_error(target, tmp_path):
    with pytest.raises(BackupInvalid, match="does not exist; give the path of a backup archive"):
        await restore_backup(target[0], target[1], tmp_path / "nope.tar.gz")


async def test_restore_into_a_non_empty_store_is_refused_and_writes_nothing(backup, target):
    store, assets = target
    await store.put_guild_config(GuildConfig(guild_id=9))
    with pytest.raises(StoreNotEmpty, match=r"not empty.*point WELCOMEBOT_DATABASE_URL at a new one"):
        await restore_backup(store, assets, backup)
    assert asset_files(assets) == {}
    assert [r["guild_id"] for r in (await store.export_rows())["guild_config"]] == [9]


async def test_periodic_backups_keep_the_newest(source, tmp_path, autojump_clock):
    store, assets = source
    status = BackupStatus()
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "operator-notes.txt").write_text("not ours: never pruned")
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: periodic_backups(
                store,
                assets,
                folder,
                interval=1800,
                keep=2,
                status=status,
                wall_clock=lambda: 1.7e9 + trio.current_time() - start,
            )
        )
        await status.wait_for(3)
        assert trio.current_time() - start >= 3 * 1800
        nursery.cancel_scope.cancel()
    assert (status.written, status.failed) == (3, 0)
    assert sorted(p.name for p in folder.iterdir()) == [
        "operator-notes.txt",
        "welcomebot-20231114T231320Z.tar.gz",
        "welcomebot-20231114T234320Z.tar.gz",
    ]
    assert status.last_success_at == 1.7e9 + 3 * 1800


async def test_a_failed_periodic_backup_is_counted_and_retried(source, tmp_path, autojump_clock):
    store, assets = source
    status = BackupStatus()
    blocker = tmp_path / "backups"
    blocker.write_text("a file where the folder should be")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: periodic_backups(store, assets, blocker, interval=60, keep=2, status=status))
        await status.wait_for(2)
        nursery.cancel_scope.cancel()
    assert (status.written, status.failed, status.last_success_at) == (0, 2, None)


@pytest.mark.postgres
async def test_sqlite_backup_restores_into_postgres_and_back(postgres_url, tmp_path):
    async with open_store(f"sqlite:///{tmp_path}/a.sqlite3") as store:
        assets = open_assets(store, tmp_path / "a")
        await fill(store, assets)
        await fill_history(store)
        before = msgspec.json.encode(await store.export_rows())
        files = asset_files(assets)
        referenced = await store.referenced_assets()
        await write_backup(store, assets, tmp_path / "from-sqlite.tar.gz")
    async with open_store(postgres_url) as pg:
        pg_assets = open_assets(pg, tmp_path / "pg")
        await restore_backup(pg, pg_assets, tmp_path / "from-sqlite.tar.gz")
        assert msgspec.json.encode(await pg.export_rows()) == before, "the same dump, byte for byte"
        assert asset_files(pg_assets) == files
        assert await pg.referenced_assets() == referenced
        await write_backup(pg, pg_assets, tmp_path / "from-postgres.tar.gz")
    async with open_store(f"sqlite:///{tmp_path}/b.sqlite3") as back:
        back_assets = open_assets(back, tmp_path / "b")
        await restore_backup(back, back_assets, tmp_path / "from-postgres.tar.gz")
        assert msgspec.json.encode(await back.export_rows()) == before
        assert asset_files(back_assets) == files
