"""How long the welcome log keeps a row: while a feature of its guild may still read it, never past the ceiling.

Each guild's horizon is the longest window its features use: the rejoin gate (``rejoin_window_hours``), the
quick-leave delete (``quick_leave_minutes``) and the catch-up (``max_age_minutes``, at most a day), and never
less than :data:`BASE_S`, the day in which a replayed join (a RESUME, Discord's nonce window, a restart's
catch-up) must still find its claim or be welcomed twice. ``WELCOMEBOT_RETENTION`` caps it. Rows still claimed
(a welcome not finished, which nonce reconciliation may still read) and rows whose message is still to be
auto-deleted are kept whatever their age.

``welcomebot run`` prunes every :data:`EVERY_S` in batches of :data:`BATCH` rows, one short statement each, so
the log is never locked for long while welcomes are claimed.

A guild that removed the bot (noted by :class:`welcomebot.adapters.store.StoreDepartures`)
keeps its data for ``WELCOMEBOT_GUILD_GRACE`` in case it adds the bot back; then the same round deletes all of it
as ``welcomebot purge --guild`` would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import trio

from welcomebot.app import behaviour_of
from welcomebot.retention.purge import purge
from welcomebot.store import AssetStore, GuildConfig, Store, StoreError, departures

__all__ = ["BASE_S", "BATCH", "EVERY_S", "Pruner", "horizon_s", "prune_once"]

log = logging.getLogger(__name__)

#: Every guild keeps at least a day of its log: the catch-up looks back at most a day, and replays come sooner.
BASE_S = 24 * 3600.0
BATCH = 500
EVERY_S = 3600.0


def horizon_s(config: GuildConfig, retention_s: float) -> float:
    """How long ``config``'s guild needs its welcome-log rows, capped at ``retention_s``."""
    behaviour = behaviour_of(config.options, guild_id=config.guild_id)
    windows = [
        BASE_S,
        behaviour.gate.rejoin_window_hours * 3600,
        behaviour.auto_delete.quick_leave_minutes * 60,
        behaviour.catch_up.max_age_minutes * 60 if behaviour.catch_up.enabled else 0.0,
    ]
    return min(retention_s, max(windows))


async def prune_once(store: Store, now: float, retention_s: float, *, batch: int = BATCH) -> int:
    """Delete every welcome-log row past its guild's horizon, ``batch`` rows per statement; how many went."""
    default = min(BASE_S, retention_s)
    cutoffs = {
        config.guild_id: now - horizon
        for config in await store.list_guild_configs()
        if (horizon := horizon_s(config, retention_s)) != default
    }
    total = 0
    while True:
        removed = await store.prune_welcome_log(now - default, guild_cutoffs=cutoffs, limit=batch)
        total += removed
        if removed < batch:
            return total
        await trio.lowlevel.checkpoint()  # between batches, let the claims waiting for the database go first


class Pruner:
    """The periodic pruning of ``welcomebot run``: the welcome log by age, then the guilds gone for good."""

    def __init__(
        self,
        store: Store,
        retention_s: float,
        *,
        assets: AssetStore | None = None,
        grace_s: float = 7 * 86400.0,
        wall_clock: Callable[[], float] = time.time,
        every_s: float = EVERY_S,
    ) -> None:
        self._store = store
        self._assets = assets
        self._retention_s = retention_s
        self._grace_s = grace_s
        self._now = wall_clock
        self._every_s = every_s
        #: Rows deleted, by reason (``welcomebot_pruned_rows_total``).
        self.pruned = 0
        self.guild_rows = 0
        #: Guilds whose data was deleted after they removed the bot (``welcomebot_guilds_purged_total``).
        self.guilds_purged = 0

    async def purge_departed(self) -> None:
        """Delete the data of every guild that removed the bot more than the grace period ago."""
        if self._assets is None:
            return
        for guild_id in await departures.departed(self._store, self._now() - self._grace_s):
            if await self._store.get_meta(departures.key(guild_id)) is None:
                continue  # added back while this round purged the guilds before it
            report = await purge(self._store, self._assets, "guild", guild_id, dry_run=False)
            rows = sum(report.rows.values())
            self.guild_rows += rows
            self.guilds_purged += 1
            log.info("deleted the data of a server that removed the bot", extra={
                "guild_id": guild_id, "rows": rows, "files": report.files, "grace_s": self._grace_s})  # fmt: skip

    async def run(self) -> None:
        while True:
            try:
                removed = await prune_once(self._store, self._now(), self._retention_s)
            except StoreError as exc:
                log.error("pruning the welcome log failed; retrying later", extra={"error": str(exc)})
            else:
                self.pruned += removed
                if removed:
                    log.info("welcome log pruned", extra={"rows": removed})
            try:
                await self.purge_departed()
            except (OSError, StoreError) as exc:
                log.error("deleting a departed server's data failed; retrying later", extra={"error": str(exc)})
            await trio.sleep(self._every_s)
