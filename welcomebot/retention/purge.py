"""Delete everything stored about one guild or one user (``welcomebot purge``), found from the schema itself.

The tables and their columns are read from the database (not listed here), so a table a later migration adds
is purged as soon as it has a guild or user id column named as below; ``tests/welcomebot/store/test_purge.py``
fails when a table has a column that looks like such an id but is not one of these names.

A guild's uploaded assets go with it: their rows (``background_asset.owner_guild``) and their files. An asset
another guild's config also uses (the same bytes uploaded twice are stored once) keeps its file and is
handed to that guild, so purging one server never breaks another's card.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import msgspec
import trio

from welcomebot.adapters import MetaCatchUpState
from welcomebot.app import Seen
from welcomebot.store import AssetStore, Store, asset_hashes, departures

__all__ = ["GUILD_COLUMNS", "USER_COLUMNS", "PurgeReport", "purge", "targets"]

#: Columns holding the id of a guild (a server) or of a user, wherever they appear.
GUILD_COLUMNS = frozenset({"guild_id", "owner_guild"})
USER_COLUMNS = frozenset({"user_id"})

Kind = Literal["guild", "user"]


@dataclass
class PurgeReport:
    kind: Kind
    id: int
    dry_run: bool
    rows: dict[str, int] = field(default_factory=dict)  # table → rows
    files: int = 0  # asset files
    handed_over: int = 0  # assets kept for another guild that uses them

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        out = [f"{table}: {verb} {n} row{'s' * (n != 1)}" for table, n in sorted(self.rows.items())]
        out.append(f"asset files: {verb} {self.files}")
        if self.handed_over:
            out.append(f"assets also used by another server, kept for it: {self.handed_over}")
        return out


async def _purge_meta(store: Store, guild_id: int, *, dry_run: bool) -> int:
    """The guild's entries in ``meta``: its departure note, and its id in each shard's catch-up record (its
    member count and last join time, rewritten without it); how many entries were (or would be) changed."""
    changed = 0
    if await store.get_meta(departures.key(guild_id)) is not None:
        changed += 1
        if not dry_run:
            await departures.forget(store, guild_id)
    for name, raw in (await store.list_meta(MetaCatchUpState.KEY)).items():
        try:
            seen = msgspec.json.decode(raw, type=Seen)
        except msgspec.DecodeError:
            continue  # read as no record by the catch-up too
        if guild_id in seen.counts or guild_id in seen.joined or guild_id in seen.since:
            changed += 1
            if not dry_run:
                kept = msgspec.structs.replace(
                    seen,
                    counts={g: n for g, n in seen.counts.items() if g != guild_id},
                    joined={g: j for g, j in seen.joined.items() if g != guild_id},
                    since={g: t for g, t in seen.since.items() if g != guild_id},
                )
                await store.set_meta(name, msgspec.json.encode(kept).decode())
    return changed


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def targets(tables: dict[str, tuple[str, ...]], kind: Kind) -> list[tuple[str, str]]:
    """``(table, column)`` for every column of ``tables`` that holds a ``kind`` id."""
    wanted = GUILD_COLUMNS if kind == "guild" else USER_COLUMNS
    return [(table, column) for table, cols in sorted(tables.items()) for column in cols if column in wanted]


async def purge(store: Store, assets: AssetStore, kind: Kind, value: int, *, dry_run: bool) -> PurgeReport:
    report = PurgeReport(kind, value, dry_run)
    gone: list[str] = []
    found = targets(await store.table_columns(), kind)
    if kind == "guild":
        users: dict[str, int] = {}  # each other guild's config → the assets it uses
        for config in await store.list_guild_configs():
            if config.guild_id != value:
                for content_hash in asset_hashes([config.background_ref, config.options]):
                    users.setdefault(content_hash, config.guild_id)
        owned = [a for a in await store.list_assets() if a.owner_guild == value]
        shared = [a for a in owned if a.content_hash in users]
        report.handed_over = len(shared)
        if not dry_run:
            for asset in shared:  # the other guild's quota pays for it from now on
                await store.delete_asset(asset.content_hash)
                await store.put_asset(msgspec.structs.replace(asset, owner_guild=users[asset.content_hash]))
        gone = [a.content_hash for a in owned if a.content_hash not in users]
        report.files = sum([await trio.to_thread.run_sync(assets.path(h).exists) for h in gone])
    report.rows = await store.purge_rows(found, value, dry_run=dry_run)
    if kind == "guild":
        report.rows["meta"] = report.rows.get("meta", 0) + await _purge_meta(store, value, dry_run=dry_run)
        if not report.rows["meta"]:
            del report.rows["meta"]
    if kind == "guild" and not dry_run:
        await trio.to_thread.run_sync(_unlink, [assets.path(h) for h in gone])
    if dry_run and report.handed_over:  # counted above as still this guild's, but they would be handed over
        report.rows["background_asset"] -= report.handed_over
    return report
