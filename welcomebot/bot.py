"""``welcomebot run`` as a function: everything wired together in one nursery tree.

Start-up: store → REST → unfinished claims from a previous run → shards. Shutdown (``stop`` set, e.g. by
SIGTERM): intake stops first (the shards close, persisting their sessions), then the guild actors finish
what they hold, bounded by ``drain_timeout``; whatever is left stays claimed in the welcome log and is
finished by the next start.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import trio

from actors import ThreadPoolActor
from welcomebot.adapters import (
    CachedConfigs,
    MetaCatchUpState,
    RenderedCards,
    RestActions,
    RestHistory,
    RestMembers,
    RestPoster,
    StoreDepartures,
    StoreGuildSnapshots,
    StoreShardLeases,
    StoreWelcomeLog,
)
from welcomebot.app import ChannelTurns, Guilds, Outcome, Pipeline
from welcomebot.commands import CommandContext, Dispatcher, sync_commands
from welcomebot.commands.card import StoredFonts
from welcomebot.errors import ConfigError, WelcomeBotError
from welcomebot.gateway.manager import ShardManager
from welcomebot.gateway.protocol import Dispatch
from welcomebot.gateway.shard import ShardConfig
from welcomebot.images import FetchPolicy
from welcomebot.ops import Metrics, ShardHealth, readiness
from welcomebot.render import AvatarFetcher, Renderer
from welcomebot.render.fonts import MAX_FONT_BYTES
from welcomebot.rest import DiscordApi, RestClient
from welcomebot.retention import Pruner
from welcomebot.secret import Secret
from welcomebot.settings import Settings
from welcomebot.store import GRACE_S, AssetStore, BackupStatus, Outage, Store, backend_of, open_assets, periodic_backups

__all__ = ["BotOptions", "Counters", "RunningBot", "run_bot"]

log = logging.getLogger(__name__)

RENEW_EVERY_S = 60.0


def new_owner_id() -> str:
    """``host:pid:random``: unique per process, and says which process it is in the logs and the welcome log."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class BotOptions:
    shards: range | None = None
    shard_count: int | None = None
    #: ``--shards auto``: share every shard with the other auto processes on the same PostgreSQL. SQLite
    #: serves one process, which then runs every shard itself.
    auto: bool = False
    drain_timeout: float = 30.0
    render_threads: int = 2
    compress: bool = False
    #: Who holds this process's claims and shard leases: unique per process, never the shard range (two
    #: processes given the same range must not take each other's claims).
    owner: str = field(default_factory=new_owner_id)


@dataclass
class Counters:
    """Outcomes by count, for ``stats()`` and the tests (the pipeline's Observer).

    Latency and render samples are not kept here: one per welcome would grow forever; the Prometheus
    histograms of :class:`Metrics` hold them in fixed buckets.
    """

    outcomes: dict[str, int] = field(default_factory=dict)

    def welcomed(self, outcome: Outcome, count: int = 1) -> None:
        self.outcomes[outcome.value] = self.outcomes.get(outcome.value, 0) + count

    def join_to_post(self, seconds: float) -> None:
        pass

    def rendered(self, seconds: float) -> None:
        pass


class _Fanout:
    """One Observer feeding several (the run's counters and the Prometheus metrics)."""

    def __init__(self, *observers: Counters | Metrics) -> None:
        self._observers = observers

    def welcomed(self, outcome: Outcome, count: int = 1) -> None:
        for o in self._observers:
            o.welcomed(outcome, count)

    def join_to_post(self, seconds: float) -> None:
        for o in self._observers:
            o.join_to_post(seconds)

    def rendered(self, seconds: float) -> None:
        for o in self._observers:
            o.rendered(seconds)


@dataclass
class RunningBot:
    pipeline: Pipeline
    manager: ShardManager
    rest: RestClient
    counters: Counters
    configs: CachedConfigs
    store: Store
    stopped: trio.Event = field(default_factory=trio.Event)
    #: Set once the start-up registration of the slash commands has finished (or failed, which is logged).
    commands_synced: trio.Event = field(default_factory=trio.Event)
    draining: bool = False
    #: The store's outage state when it waits out database outages (``welcomebot run``), for /readyz.
    outage: Outage | None = None

    async def ready(self) -> tuple[bool, list[str]]:
        """For /readyz: every shard connected and ACKed, store reachable (with the reason when not)."""
        store_problem: str | None = None
        if self.outage is not None and self.outage.reason is not None:
            store_problem = self.outage.reason
        else:
            try:
                with trio.fail_after(2):
                    await self.store.get_meta("schema")
            except trio.TooSlowError:
                store_problem = "no answer within 2 s"
            except WelcomeBotError as exc:
                store_problem = str(exc)
        shards = [
            ShardHealth(i, h.connected, h.last_ack_at, h.heartbeat_interval)
            for i, h in sorted(self.manager.handles.items())
        ]
        ready, reasons = readiness(shards, store_problem, self.draining, trio.current_time())
        waiting = [
            f"shard {i} waits for its lease: another live process ({holder}) runs it"
            for i, holder in sorted(self.manager.waiting.items())
        ]
        # A parked guild is one guild's trouble: said here, but the process stays ready (a restart would not help).
        parked = [
            f"guild {guild_id} is parked: its welcomer kept crashing ({reason}); its joins stay claimed until the "
            "next start"
            for guild_id, reason in sorted(self.pipeline.parked.items())
        ]
        # Old claims being re-posted beside the gateway (issue 19.11): said, but ready. New joins flow meanwhile,
        # so the process does its job; a 503 would only make a rolling deploy wait, or an orchestrator give up
        # on a start whose backlog is long.
        recovering = [f"recovering {self.pipeline.recovering} welcomes"] if self.pipeline.recovering else []
        return (ready and not waiting, [r for r in reasons if r != "no gateway shard started yet" or not waiting]
                + waiting + parked + recovering)  # fmt: skip

    def stats(self) -> dict[str, Any]:
        return {
            "outcomes": dict(self.counters.outcomes),
            "rate_limited": dict(self.rest.limits.rate_limited),
            "guild_actors": self.pipeline.actor_count,
            "identifies": self.manager.identifies,
            "resumes": self.manager.resumes,
        }


async def run_bot(
    settings: Settings,
    store: Store,
    *,
    options: BotOptions | None = None,
    stop: trio.Event | None = None,
    renderer: Renderer | None = None,
    metrics: Metrics | None = None,
    on_raid: Callable[[int, bool], None] | None = None,
    outage: Outage | None = None,
    task_status: trio.TaskStatus[RunningBot] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the bot until ``stop`` is set (then drain and return) or a fatal error is raised."""
    options = options or BotOptions()
    stop = trio.Event() if stop is None else stop
    if settings.token is None:
        raise ConfigError("DISCORD_BOT_TOKEN: not set; create a bot in the Discord developer portal and set its token")
    rest = RestClient(settings.token, api_base=settings.api_base)
    cards_renderer = renderer if renderer is not None else await trio.to_thread.run_sync(Renderer)
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0)) as cdn_http:
            parts = await _wire(settings, settings.token, store, options, rest, cards_renderer, cdn_http, metrics,
                                on_raid, outage)  # fmt: skip
            async with trio.open_nursery() as nursery:
                await _start_beside(nursery, parts)
                await _run_gateway(parts, stop, task_status)
                await _drain(parts.pipeline, options.drain_timeout)
                nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            await rest.aclose()
    parts.running.stopped.set()


@dataclass
class _Parts:
    """What :func:`_wire` built, for the functions that run it."""

    settings: Settings
    store: Store
    api: DiscordApi
    welcome_log: StoreWelcomeLog
    assets: AssetStore
    backups: BackupStatus
    commands: Dispatcher
    pipeline: Pipeline
    manager: ShardManager
    receive: trio.MemoryReceiveChannel[Dispatch]
    pruner: Pruner
    running: RunningBot


async def _wire(
    settings: Settings,
    token: Secret,
    store: Store,
    options: BotOptions,
    rest: RestClient,
    renderer: Renderer,
    cdn_http: httpx.AsyncClient,
    metrics: Metrics | None,
    on_raid: Callable[[int, bool], None] | None,
    outage: Outage | None,
) -> _Parts:
    """Every adapter, the pipeline, the commands and the shard manager, built before anything runs."""
    api = DiscordApi(rest)
    counters = Counters()
    observer = _Fanout(counters) if metrics is None else _Fanout(counters, metrics)
    configs = CachedConfigs(store)
    assets = open_assets(store, settings)
    welcome_log = StoreWelcomeLog(store, options.owner)
    pool = ThreadPoolActor(options.render_threads, max_queued=256)
    cards = RenderedCards(renderer, AvatarFetcher(cdn_http), cdn_base=settings.cdn_base, pool=pool,
                          background=assets.background, on_render=observer.rendered)  # fmt: skip
    snapshots = StoreGuildSnapshots(store)
    # A RESUMEd session brings no GUILD_CREATE: start from what the previous run knew.
    guilds = Guilds(await snapshots.load())
    context = _command_context(settings, store, api, configs, guilds, cards, assets)
    commands = Dispatcher(context)
    pipeline = Pipeline(
        configs=configs,
        welcome_log=welcome_log,
        members=RestMembers(api),
        cards=cards,
        poster=RestPoster(api),
        turns=ChannelTurns(recent=welcome_log.recent_post_ages),
        observer=observer,
        on_interaction=commands.submit,
        actions=RestActions(api, store, configs),
        on_raid=on_raid,
        catch_up=(MetaCatchUpState(store), RestMembers(api)),
        history=RestHistory(api),
        departures=StoreDepartures(store),
        snapshots=snapshots,
        guilds=guilds,
    )
    context.parked = pipeline.parked
    send, receive = trio.open_memory_channel[Dispatch](4096)
    manager = ShardManager(
        ShardConfig(token, "", compress=options.compress),
        api.get_gateway_bot,
        send,
        store,
        shards=options.shards,
        shard_count=options.shard_count,
        rng=random.Random(),
        leases=StoreShardLeases(store, options.owner),
        auto=options.auto and backend_of(settings.database_url) == "postgres",
    )
    pruner = Pruner(store, settings.retention, assets=assets, grace_s=settings.guild_grace)
    running = RunningBot(pipeline, manager, rest, counters, configs, store, outage=outage)
    parts = _Parts(settings, store, api, welcome_log, assets, BackupStatus(), commands, pipeline, manager, receive,
                   pruner, running)  # fmt: skip
    if metrics is not None:
        _pull_gauges(metrics, running, pool, cards)
        _backup_gauges(metrics, parts.backups)
        _retention_counters(metrics, pruner)
    return parts


def _command_context(
    settings: Settings,
    store: Store,
    api: DiscordApi,
    configs: CachedConfigs,
    guilds: Guilds,
    cards: RenderedCards,
    assets: AssetStore,
) -> CommandContext:
    """The slash commands' context: they read the guilds (never change them) and fetch admins' uploads."""
    policy = FetchPolicy.trusting(settings.cdn_base, api_base=settings.api_base)
    fonts = StoredFonts(
        assets, FetchPolicy.trusting(settings.cdn_base, api_base=settings.api_base, max_bytes=MAX_FONT_BYTES)
    )
    return CommandContext(api, store, configs, guilds.view, cards, assets, policy, fonts=fonts)


async def _start_beside(nursery: trio.Nursery, parts: _Parts) -> None:
    """Everything that runs beside the gateway: the pipeline, upkeep, the commands, the old claims' recovery."""
    settings, store, assets = parts.settings, parts.store, parts.assets
    pipeline, manager = parts.pipeline, parts.manager
    await nursery.start(pipeline.run)
    await assets.collect_garbage()
    nursery.start_soon(assets.collect_garbage_every, GRACE_S)
    nursery.start_soon(parts.pruner.run)
    if settings.backup_interval is not None:
        nursery.start_soon(partial(periodic_backups, store, assets, settings.data_dir / "backups",
                                   interval=settings.backup_interval, keep=settings.backup_keep,
                                   status=parts.backups))  # fmt: skip
    await nursery.start(parts.commands.run)
    nursery.start_soon(_sync_commands, parts.api, store, parts.running.commands_synced)
    # Beside the gateway: once the old claims are taken (start() returns), new joins cannot be
    # mistaken for them, so shards connect and new members are welcomed while old ones are re-posted.
    await nursery.start(pipeline.finish_unfinished)

    async def took_over(previous: str) -> None:  # that owner is gone: finish what it claimed first
        parts.welcome_log.dead.add(previous)
        await pipeline.finish_unfinished()

    manager.on_takeover = took_over
    if pipeline.catch_up is not None:
        pipeline.catch_up.owns = manager.owns  # a shard whose lease was taken stops its paging
    nursery.start_soon(_renew_claims, parts.welcome_log)
    nursery.start_soon(pipeline.run_deletes)
    if pipeline.catch_up is not None:
        await pipeline.catch_up.start()
        nursery.start_soon(pipeline.catch_up.run)


async def _run_gateway(parts: _Parts, stop: trio.Event, task_status: trio.TaskStatus[RunningBot]) -> None:
    """The shards and the intake until ``stop``; then intake stops first."""
    async with trio.open_nursery() as gateway:
        await gateway.start(parts.manager.run)
        gateway.start_soon(parts.pipeline.feed, parts.receive, parts.manager.handles)
        task_status.started(parts.running)
        await stop.wait()
        parts.running.draining = True
        # Intake first: dispatches not yet routed were neither claimed nor checkpointed, so the
        # next start RESUMEs before them and gets them again.
        log.info("stopping: no new events; finishing in-flight welcomes")
        gateway.cancel_scope.cancel()


async def _drain(pipeline: Pipeline, drain_timeout: float) -> None:
    """The guild actors finish what they hold, for at most ``drain_timeout`` seconds (0: no bound)."""
    with trio.move_on_after(drain_timeout if drain_timeout > 0 else math.inf) as scope:
        await pipeline.drain()
    if scope.cancelled_caught:
        log.warning("drain timed out; unfinished welcomes stay claimed and finish after restart")


def _pull_gauges(metrics: Metrics, bot: RunningBot, pool: ThreadPoolActor, cards: RenderedCards) -> None:
    metrics.counter(
        "welcomebot_actor_restarts",
        "Guild actors restarted after a crash, by exception type.",
        ["reason"],
        lambda: {(reason,): n for reason, n in bot.pipeline.restarts.items()},
    )
    metrics.gauge("welcomebot_guilds_parked", "Guilds whose actor kept crashing, parked.",
                  lambda: len(bot.pipeline.parked))  # fmt: skip
    metrics.counter(
        "welcomebot_render_fallbacks",
        "Cards drawn with a fallback: a text run FreeType refused, or a text-only welcome.",
        ["kind"],
        lambda: {("text_run",): cards.run_fallbacks, ("text_only",): cards.text_only},
    )
    metrics.gauge("welcomebot_guild_actors", "Guild actors alive.", lambda: bot.pipeline.actor_count)
    metrics.gauge(
        "welcomebot_mailbox_depth_max", "Deepest guild inbox.", lambda: max(bot.pipeline.mailbox_depths(), default=0)
    )
    metrics.gauge(
        "welcomebot_mailbox_depth_total", "Joins waiting in guild inboxes.", lambda: sum(bot.pipeline.mailbox_depths())
    )
    metrics.gauge("welcomebot_render_queue", "Renders waiting for a pool thread.", lambda: pool.stats()["queued"])
    metrics.gauge(
        "welcomebot_config_cache_hit_ratio",
        "Guild config cache hits / lookups.",
        lambda: bot.configs.hits / max(1, bot.configs.hits + bot.configs.misses),
    )
    metrics.counter(
        "welcomebot_rest_requests",
        "REST requests by route and status.",
        ["route", "status"],
        lambda: {(route, str(status)): n for (route, status), n in bot.rest.requests.items()},
    )
    metrics.counter(
        "welcomebot_rest_429",
        "429 answers by scope.",
        ["scope"],
        lambda: {(scope,): n for scope, n in bot.rest.limits.rate_limited.items()},
    )
    metrics.counter(
        "welcomebot_gateway_reconnects",
        "Ended gateway connections by shard and reason.",
        ["shard", "reason"],
        lambda: {
            (str(i), reason): n for i, handle in bot.manager.handles.items() for reason, n in handle.reconnects.items()
        },
    )
    metrics.counter(
        "welcomebot_gateway_resumes",
        "Gateway sessions resumed, by shard.",
        ["shard"],
        lambda: {(str(i),): handle.resumes for i, handle in bot.manager.handles.items()},
    )
    metrics.gauge(
        "welcomebot_gateway_connected_shards",
        "Shards connected now.",
        lambda: sum(h.connected for h in bot.manager.handles.values()),
    )


def _retention_counters(metrics: Metrics, pruner: Pruner) -> None:
    metrics.counter(
        "welcomebot_pruned_rows",
        "Welcome-log rows deleted by retention (past every window their guild's features use).",
        ["reason"],
        lambda: {("retention",): pruner.pruned, ("guild_removed",): pruner.guild_rows},
    )
    metrics.counter(
        "welcomebot_guilds_purged",
        "Servers whose data was deleted, WELCOMEBOT_GUILD_GRACE after they removed the bot.",
        [],
        lambda: {(): pruner.guilds_purged},
    )


def _backup_gauges(metrics: Metrics, status: BackupStatus) -> None:
    metrics.gauge(
        "welcomebot_backup_last_success_timestamp_seconds",
        "When the last periodic backup was written (Unix time; 0: none yet). Alert when it gets older than the RPO.",
        lambda: status.last_success_at or 0.0,
    )
    metrics.counter(
        "welcomebot_backups",
        "Periodic backups by result.",
        ["result"],
        lambda: {("written",): status.written, ("failed",): status.failed},
    )


async def _sync_commands(api: DiscordApi, store: Store, done: trio.Event) -> None:
    """Register the slash commands if they changed; welcomes do not depend on it, so failure only logs."""
    try:
        await sync_commands(api, store)
    except WelcomeBotError as exc:
        log.error("could not register the slash commands; run `welcomebot commands sync`", extra={"error": str(exc)})
    finally:
        done.set()


async def _renew_claims(welcome_log: StoreWelcomeLog) -> None:
    while True:
        await trio.sleep(RENEW_EVERY_S)
        await welcome_log.renew()
