"""Uploaded assets (backgrounds, fonts): content-addressed files under the data directory, with quotas.

The bytes arrive already validated and normalized (``welcomebot.images``); they are stored once per sha256
as ``<root>/ab/cdef…`` (identical uploads from any guild share one file) and referenced from configs as
``asset:<sha256>``. The store's ``background_asset`` row says who uploaded it first: that guild's quota
pays for it. Files are written atomically (temporary file, fsync, rename, fsync of the directory), so a
crash leaves either the whole file or none.

Garbage collection removes assets no config refers to, once they are older than :data:`GRACE_S`: an
upload is stored before the config that will refer to it is saved (and a preview may use it unsaved), and
the grace period keeps it through that gap. ``welcomebot run`` collects at startup and every GRACE_S; code
that changes a config may call :meth:`AssetStore.collect_garbage` at once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import trio

from welcomebot.settings import Settings
from welcomebot.store.api import ASSET_PREFIX, AssetRecord, Store
from welcomebot.store.errors import AssetMissing, QuotaExceeded, StoreError

__all__ = [
    "GRACE_S",
    "AssetStore",
    "GarbageReport",
    "asset_ref",
    "atomic_file",
    "open_assets",
    "parse_ref",
    "write_atomic",
]

log = logging.getLogger(__name__)

#: Unreferenced assets younger than this are kept: uploaded for a config not saved yet, or for a preview.
GRACE_S = 3600.0
_HASH = re.compile(r"^[0-9a-f]{64}$")


def asset_ref(content_hash: str) -> str:
    return ASSET_PREFIX + content_hash


def parse_ref(ref: str) -> str | None:
    """The sha256 an ``asset:<sha256>`` ref names; None for other refs (built-ins, URLs)."""
    if not ref.startswith(ASSET_PREFIX):
        return None
    content_hash = ref[len(ASSET_PREFIX) :]
    if not _HASH.match(content_hash):
        raise AssetMissing(f"{ref!r} is not a valid asset reference; upload the image again")
    return content_hash


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Write ``path`` all-or-nothing: a temporary file beside it, fsync, rename, fsync the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_atomic(path: Path, data: bytes) -> None:
    with atomic_file(path) as f:
        f.write(data)


@dataclass(frozen=True)
class GarbageReport:
    rows: int  # asset rows deleted
    files: int  # files deleted (with or without a row)
    bytes: int


class AssetStore:
    def __init__(
        self,
        store: Store,
        root: Path,
        *,
        quota_guild: int,
        quota_total: int,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.root = root
        self.quota_guild = quota_guild
        self.quota_total = quota_total
        self._now = wall_clock
        # Quota checks, writes and garbage collection in this process go one at a time, so a collection
        # never deletes a file whose row is being written and two uploads never both fit the last megabyte.
        self._lock = trio.Lock()

    def path(self, content_hash: str) -> Path:
        return self.root / content_hash[:2] / content_hash[2:]

    async def put(self, guild_id: int, data: bytes, media_type: str, width: int, height: int) -> str:
        """Store normalized bytes for ``guild_id``; returns the ref (``asset:<sha256>``) for its config."""
        content_hash = hashlib.sha256(data).hexdigest()
        path = self.path(content_hash)
        async with self._lock:
            if await self._store.get_asset(content_hash) is not None:
                if not await trio.to_thread.run_sync(path.exists):
                    await trio.to_thread.run_sync(write_atomic, path, data)  # heal a file lost from disk
                # Its config is saved after this returns: a collection in between must see a fresh upload.
                await self._store.touch_asset(content_hash, self._now())
                return asset_ref(content_hash)
            used = await self._store.asset_usage(guild_id)
            if used + len(data) > self.quota_guild:
                raise QuotaExceeded(
                    "this server", used, len(data), self.quota_guild,
                    "remove unused backgrounds or upload a smaller image",
                )  # fmt: skip
            total = await self._store.total_asset_usage()
            if total + len(data) > self.quota_total:
                raise QuotaExceeded(
                    "this bot", total, len(data), self.quota_total,
                    "ask the bot's operator to raise WELCOMEBOT_ASSET_QUOTA_TOTAL",
                )  # fmt: skip
            await trio.to_thread.run_sync(write_atomic, path, data)
            record = AssetRecord(content_hash=content_hash, media_type=media_type, size=len(data), width=width,
                                 height=height, owner_guild=guild_id, created_at=self._now())  # fmt: skip
            await self._store.put_asset(record)
        return asset_ref(content_hash)

    async def open(self, ref: str) -> bytes:
        """The bytes of an ``asset:<sha256>`` ref; :class:`AssetMissing` if it is not stored."""
        content_hash = parse_ref(ref)
        if content_hash is None:
            raise AssetMissing(f"{ref!r} is not an asset reference")
        try:
            return await trio.to_thread.run_sync(self.path(content_hash).read_bytes)
        except FileNotFoundError:
            raise AssetMissing(f"the asset {content_hash[:12]}… is missing; upload the image again") from None

    async def background(self, ref: str) -> bytes | None:
        """For the card renderer: an asset's bytes, or None (default background) for other or missing refs."""
        try:
            return None if parse_ref(ref) is None else await self.open(ref)
        except AssetMissing as exc:
            log.warning("background unavailable; using the default", extra={"error": str(exc)})
            return None

    async def collect_garbage(self) -> GarbageReport:
        """Delete assets no config refers to (past the grace period), and stray files without a row."""
        async with self._lock:
            cutoff = self._now() - GRACE_S
            referenced = await self._store.referenced_assets()
            rows = {a.content_hash: a for a in await self._store.list_assets()}
            dead = [a for h, a in rows.items() if h not in referenced and a.created_at < cutoff]
            for asset in dead:
                await self._store.delete_asset(asset.content_hash)
            files, freed = await trio.to_thread.run_sync(self._sweep, set(rows), {a.content_hash for a in dead}, cutoff)
        report = GarbageReport(rows=len(dead), files=files, bytes=freed)
        if dead or files:
            log.info("asset garbage collected", extra={"rows": report.rows, "files": files, "bytes": freed})
        return report

    async def collect_garbage_every(self, interval: float) -> None:
        """Collect now and then: configs change in other processes too (commands, other shard ranges)."""
        while True:
            await trio.sleep(interval)
            try:
                await self.collect_garbage()
            except (OSError, StoreError) as exc:
                log.error("asset garbage collection failed; retrying later", extra={"error": str(exc)})

    def _sweep(self, rows: set[str], dead: set[str], cutoff: float) -> tuple[int, int]:
        """Remove the files of ``dead`` assets, and files without a row unless modified after ``cutoff``
        (another process may be writing that row now)."""
        removed = freed = 0
        if not self.root.exists():
            return 0, 0
        for path in self.root.glob("*/*"):
            content_hash = path.parent.name + path.name
            if not path.is_file() or (content_hash in rows and content_hash not in dead):
                continue
            stat = path.stat()
            if content_hash not in dead and stat.st_mtime >= cutoff:
                continue
            path.unlink(missing_ok=True)
            removed += 1
            freed += stat.st_size
        return removed, freed


def open_assets(store: Store, settings: Settings) -> AssetStore:
    """The asset store the settings describe: ``$WELCOMEBOT_DATA_DIR/assets`` with the configured quotas."""
    return AssetStore(
        store,
        settings.data_dir / "assets",
        quota_guild=settings.asset_quota_guild,
        quota_total=settings.asset_quota_total,
    )
