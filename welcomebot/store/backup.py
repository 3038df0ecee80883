"""Backups: one ``.tar.gz`` holding the logical dump, the asset files and a manifest with checksums.

Members, in this order: ``db.json`` (``Store.export_rows()``: one consistent snapshot, the same JSON for
SQLite and PostgreSQL, so either restores into the other), ``assets/<sha256>`` for every asset row, and
``manifest.json`` last (format, version, creation time, welcomebot version, and the sha256 and size of
every other member), so the archive is written in one pass.

Restore reads the archive twice: first it checks everything (member names, types, checksums, sizes, the
manifest's version, the dump's tables and types, assets against their rows) and writes nothing; only
then does it write the asset files and import the dump in one transaction into a store that must be empty.
A failure on the way removes the files it wrote, so a refused restore leaves the target as it was.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import re
import tarfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec
import trio

from welcomebot import __version__
from welcomebot.store.api import Store
from welcomebot.store.assets import AssetStore, atomic_file
from welcomebot.store.dump import validate_dump
from welcomebot.store.errors import BackupInvalid, DumpInvalid, StoreError, StoreNotEmpty

__all__ = [
    "FORMAT",
    "VERSION",
    "BackupStatus",
    "BackupSummary",
    "periodic_backups",
    "prune_backups",
    "restore_backup",
    "write_backup",
]

log = logging.getLogger(__name__)

FORMAT = "welcomebot-backup"
VERSION = 1
MANIFEST = "manifest.json"
DB = "db.json"
_ASSET = re.compile(r"^assets/([0-9a-f]{64})$")
_CHUNK = 1 << 20
#: Names of the periodic backups; pruning touches nothing else in the folder.
_PERIODIC = re.compile(r"^welcomebot-\d{8}T\d{6}Z\.tar\.gz$")


class Member(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    sha256: str
    size: int


class Manifest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    format: str
    version: int
    created_at: str
    welcomebot_version: str
    source: str
    members: list[Member]


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    rows: dict[str, int]
    assets: int
    bytes: int

    def public(self) -> dict[str, Any]:
        return {"path": str(self.path), "bytes": self.bytes, "assets": self.assets, "rows": self.rows}


class _AssetVanished(Exception):
    """An asset file went away after the snapshot (collected as garbage meanwhile): take a new snapshot."""


class _HashingReader:
    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data


# --- writing ------------------------------------------------------------------------------------------


async def write_backup(store: Store, assets: AssetStore, out: Path, *, now: float | None = None) -> BackupSummary:
    """Write a backup of ``store`` and its assets to ``out`` (atomically: a crash leaves no partial file)."""
    created = time.time() if now is None else now
    for _ in range(3):
        dump = await store.export_rows()
        try:
            return await trio.to_thread.run_sync(_write_archive, dump, assets, out, created, type(store).__name__)
        except _AssetVanished:
            continue
    raise StoreError("asset files kept disappearing while the backup was written; try again")


def _write_archive(dump: dict[str, list[dict[str, Any]]], assets: AssetStore, out: Path, now: float,
                   source: str) -> BackupSummary:  # fmt: skip
    members: list[Member] = []
    with atomic_file(out) as f, tarfile.open(fileobj=f, mode="w:gz") as tar:

        def add(name: str, size: int, data: IO[bytes]) -> str:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = size, int(now), 0o600
            reader = _HashingReader(data)
            tar.addfile(info, reader)
            digest = reader.digest.hexdigest()
            members.append(Member(name, digest, reader.size))
            return digest

        db = msgspec.json.encode(dump)
        add(DB, len(db), io.BytesIO(db))
        for row in dump["background_asset"]:
            content_hash = row["content_hash"]
            try:
                file = assets.path(content_hash).open("rb")
            except FileNotFoundError:
                raise _AssetVanished from None
            with file:
                size = os.fstat(file.fileno()).st_size
                if add(f"assets/{content_hash}", size, file) != content_hash:
                    raise StoreError(
                        f"the asset file {assets.path(content_hash)} is corrupted (its content does not match its "
                        "name); restore it from an older backup or remove its row, then back up again"
                    )
        manifest = Manifest(format=FORMAT, version=VERSION, created_at=_iso(now), welcomebot_version=__version__,
                            source=source, members=members)  # fmt: skip
        encoded = msgspec.json.encode(manifest)
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime, info.mode = len(encoded), int(now), 0o600
        tar.addfile(info, io.BytesIO(encoded))
    rows = {table: len(r) for table, r in dump.items()}
    return BackupSummary(out, rows, len(dump["background_asset"]), out.stat().st_size)


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


# --- restoring ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    manifest: Manifest
    dump: dict[str, list[dict[str, Any]]]
    size: int


async def restore_backup(
    store: Store, assets: AssetStore, archive: Path, *, verified: Verified | None = None
) -> BackupSummary:
    """Verify ``archive`` completely (unless ``verified`` says it was), then restore it into the empty
    ``store`` and the asset directory. Raises :class:`BackupInvalid` (nothing written) or :class:`StoreNotEmpty`.
    """
    if verified is None:
        verified = await trio.to_thread.run_sync(verify_archive, archive)
    if not await store.is_empty():
        raise StoreNotEmpty({})
    written: list[Path] = []
    try:
        await trio.to_thread.run_sync(_write_assets, archive, assets, written)
        await store.import_rows(verified.dump)
    except BaseException:
        for path in written:  # a refused or failed restore leaves the asset directory as it was
            path.unlink(missing_ok=True)
        raise
    rows = {table: len(r) for table, r in verified.dump.items()}
    return BackupSummary(archive, rows, len(verified.dump["background_asset"]), verified.size)


def verify_archive(archive: Path) -> Verified:
    """Check every member, checksum and row of a backup without writing anything."""
    seen: dict[str, Member] = {}  # every member but the manifest, as read
    kept: dict[str, bytes] = {}  # the manifest's and the dump's bytes
    with _reading(archive) as tar:
        for info in tar:
            name = info.name
            if name not in (MANIFEST, DB) and not _ASSET.match(name):
                raise _invalid(archive, f"it holds an unexpected member {name!r}")
            if not info.isfile():
                raise _invalid(archive, f"its member {name!r} is not a regular file")
            if name in seen or name in kept:
                raise _invalid(archive, f"it holds {name!r} twice")
            data = tar.extractfile(info)
            assert data is not None  # a regular file always has data
            reader = _HashingReader(data)
            chunks = []
            while chunk := reader.read(_CHUNK):
                if name in (MANIFEST, DB):
                    chunks.append(chunk)
            if name in (MANIFEST, DB):
                kept[name] = b"".join(chunks)
            if name != MANIFEST:
                seen[name] = Member(name, reader.digest.hexdigest(), reader.size)
        # tarfile ends quietly at a damaged header: read the gzip stream to its end so its CRC check speaks.
        assert tar.fileobj is not None
        while tar.fileobj.read(_CHUNK):
            pass
    if MANIFEST not in kept:
        raise _invalid(archive, f"it has no {MANIFEST}")
    manifest = _manifest(archive, kept[MANIFEST])
    listed = {m.name: m for m in manifest.members}
    for name in sorted(listed.keys() - seen.keys()):
        raise _invalid(archive, f"the member {name!r} listed in its manifest is missing")
    for name in sorted(seen.keys() - listed.keys()):
        raise _invalid(archive, f"it holds {name!r}, which its manifest does not list")
    for name, member in sorted(seen.items()):
        if member != listed[name]:
            raise _invalid(archive, f"the member {name!r} does not match its checksum (corrupted or altered)")
    try:
        dump = validate_dump(msgspec.json.decode(kept[DB]))
    except (msgspec.DecodeError, DumpInvalid) as exc:
        raise _invalid(archive, f"its database dump is not one this welcomebot can restore ({exc})") from None
    rows = {r["content_hash"]: r["size"] for r in dump["background_asset"]}
    files = {m.group(1): seen[name].size for name in seen if (m := _ASSET.match(name))}
    for content_hash, size in sorted(rows.items()):
        if files.get(content_hash) != size or listed[f"assets/{content_hash}"].sha256 != content_hash:
            raise _invalid(archive, f"the asset {content_hash[:12]}… does not match its database row")
    for content_hash in sorted(files.keys() - rows.keys()):
        raise _invalid(archive, f"the asset {content_hash[:12]}… has no database row")
    return Verified(manifest, dump, archive.stat().st_size)


def _manifest(archive: Path, data: bytes) -> Manifest:
    try:
        head = msgspec.json.decode(data)
    except msgspec.DecodeError:
        raise _invalid(archive, f"its {MANIFEST} is not JSON") from None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise _invalid(archive, f"its {MANIFEST} does not describe a welcomebot backup")
    if head.get("version") != VERSION:
        raise _invalid(
            archive,
            f"it is backup format version {head.get('version')!r}, made by welcomebot "
            f"{head.get('welcomebot_version')!r}, and this welcomebot ({__version__}) reads version {VERSION}; "
            "restore it with the welcomebot version that made it",
        )
    try:
        return msgspec.convert(head, Manifest)
    except msgspec.ValidationError as exc:
        raise _invalid(archive, f"its {MANIFEST} is malformed ({exc})") from None


def _write_assets(archive: Path, assets: AssetStore, written: list[Path]) -> None:
    with _reading(archive) as tar:
        for info in tar:
            m = _ASSET.match(info.name)
            if m is None:
                continue
            content_hash = m.group(1)
            path = assets.path(content_hash)
            data = tar.extractfile(info)
            assert data is not None
            reader = _HashingReader(data)
            existed = path.exists()
            with atomic_file(path) as f:
                while chunk := reader.read(_CHUNK):
                    f.write(chunk)
                if reader.digest.hexdigest() != content_hash:  # the file changed since it was verified
                    raise _invalid(archive, f"the asset {content_hash[:12]}… changed while it was restored")
            if not existed:
                written.append(path)


@contextmanager
def _reading(archive: Path) -> Iterator[tarfile.TarFile]:
    """``tarfile.open`` for reading, with every way a damaged gzip or tar fails turned into BackupInvalid."""
    damaged = (tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error)
    try:
        tar = tarfile.open(archive, mode="r:gz")  # noqa: SIM115  # closed below, after errors are told apart
    except FileNotFoundError:
        raise BackupInvalid(f"{archive} does not exist; give the path of a backup archive") from None
    except (*damaged, OSError) as exc:
        raise _invalid(archive, f"it is not a readable .tar.gz ({exc})") from None
    with tar:
        try:
            yield tar
        except damaged as exc:
            raise _invalid(archive, f"it is truncated or corrupted ({exc})") from None


def _invalid(archive: Path, problem: str) -> BackupInvalid:
    return BackupInvalid(f"refusing to restore {archive}: {problem}; nothing was restored, use another backup")


# --- periodic backups ---------------------------------------------------------------------------------


@dataclass
class BackupStatus:
    """What the periodic backups did, for the metrics (alert when the last success gets old) and the tests."""

    written: int = 0
    failed: int = 0
    last_success_at: float | None = None  # wall-clock seconds
    _changed: trio.Event = field(default_factory=trio.Event, repr=False)

    def _note(self, *, ok: bool, at: float) -> None:
        if ok:
            self.written += 1
            self.last_success_at = at
        else:
            self.failed += 1
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, attempts: int) -> None:
        """Return once ``attempts`` backups (written or failed) have been made."""
        while self.written + self.failed < attempts:
            await self._changed.wait()


async def periodic_backups(
    store: Store,
    assets: AssetStore,
    folder: Path,
    *,
    interval: float,
    keep: int,
    status: BackupStatus | None = None,
    wall_clock: Callable[[], float] = time.time,
) -> None:
    """Every ``interval`` seconds, a backup into ``folder``; the newest ``keep`` are kept. Failures are logged
    and retried at the next interval: a full disk must not stop the welcomes."""
    status = BackupStatus() if status is None else status
    while True:
        await trio.sleep(interval)
        now = wall_clock()
        out = folder / f"welcomebot-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now))}.tar.gz"
        try:
            summary = await write_backup(store, assets, out, now=now)
            removed = await trio.to_thread.run_sync(prune_backups, folder, keep)
        except (OSError, StoreError) as exc:
            log.error("periodic backup failed; retrying at the next interval", extra={"error": str(exc)})
            status._note(ok=False, at=now)
            continue
        log.info("backup written", extra={"path": str(summary.path), "bytes": summary.bytes, "pruned": removed})
        status._note(ok=True, at=now)


def prune_backups(folder: Path, keep: int) -> int:
    """Delete all but the newest ``keep`` periodic backups in ``folder``; returns how many were deleted."""
    names = sorted(p.name for p in folder.iterdir() if _PERIODIC.match(p.name))
    old = names[: max(0, len(names) - keep)]
    for name in old:
        (folder / name).unlink(missing_ok=True)
    return len(old)
