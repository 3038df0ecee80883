"""The welcome pipeline of one process: a router per shard feeding one actor per guild.

::

    shard ──dispatches──▶ router (claims, in gateway order) ──joins──▶ guild actor ──▶ cards ──▶ post
      ▲                        │
      └── checkpoint(seq) ◀────┘  the safe sequence: every dispatch up to it is durably handled

Guild actors live in an :class:`actors.KeyedRegistry`: spawned on a guild's first join, ended after
``guild_idle_s`` without joins, each with a bounded inbox (a guild that cannot keep up slows its router
instead of growing memory) and under its own supervisor. A guild actor that raises (a StoreError, a bug) is
logged with the guild id, counted (``restarts``), and restarted with backoff; the joins it had in hand are
tried again first, each try counted, and quarantined after MAX_ATTEMPTS. No other guild's work is cancelled
or delayed. A guild whose actor keeps crashing is parked (``parked``): its joins stay claimed for the next
start. Only process-wide faults (FatalError, ConfigError) leave :meth:`run`.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec
import trio

from actors import KeyedRegistry, KeyParked
from welcomebot.app.catchup import CatchUp
from welcomebot.app.gate import joined_s
from welcomebot.app.guild import MAX_CARDS_PER_MESSAGE, GuildWelcomer, Observer
from welcomebot.app.guilds import Guilds
from welcomebot.app.intake import to_router_event
from welcomebot.app.model import GOODBYE_PREFIX, GuildInfo, Join, JoinKey, Outcome
from welcomebot.app.reconcile import Reconciler
from welcomebot.app.router import GuildAvailable, GuildGone, MemberJoined, MemberLeft, Router
from welcomebot.app.watermark import SeqWatermark
from welcomebot.errors import ConfigError, FatalError, WelcomeBotError
from welcomebot.gateway.events import InteractionCreate

if TYPE_CHECKING:
    from collections.abc import Awaitable, Mapping

    from welcomebot.app.catchup import CatchUpState, Roster
    from welcomebot.app.channel_limit import ChannelTurns
    from welcomebot.app.ports import (
        Actions,
        Cards,
        Configs,
        Departures,
        GuildSnapshots,
        Members,
        Poster,
        WelcomeConfig,
        WelcomeLog,
    )
    from welcomebot.app.reconcile import History
    from welcomebot.gateway.protocol import Dispatch
    from welcomebot.gateway.shard import ShardHandle

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)

INBOX_SIZE = 2048
#: A guild actor restarted this many times within GUILD_RESTART_WINDOW_S is parked at its next crash.
GUILD_MAX_RESTARTS = 3
GUILD_RESTART_WINDOW_S = 600.0


class Pipeline:
    def __init__(
        self,
        *,
        configs: Configs,
        welcome_log: WelcomeLog,
        members: Members,
        cards: Cards,
        poster: Poster,
        turns: ChannelTurns,
        observer: Observer,
        on_interaction: Callable[[InteractionCreate], Awaitable[None]] | None = None,
        guild_idle_s: float = 600.0,
        actions: Actions | None = None,
        on_raid: Callable[[int, bool], None] | None = None,
        wall_clock: Callable[[], float] = time.time,
        catch_up: tuple[CatchUpState, Roster] | None = None,
        history: History | None = None,
        departures: Departures | None = None,
        snapshots: GuildSnapshots | None = None,
        guilds: Guilds | None = None,
    ) -> None:
        self._configs = configs
        self._log = welcome_log
        self._members = members
        self._cards = cards
        self._poster = poster
        self._turns = turns
        self._observer = observer
        self._on_interaction = on_interaction
        self._guild_idle_s = guild_idle_s
        self._actions = actions
        self._on_raid = on_raid
        self._wall_clock = wall_clock
        self._departures = departures
        self._snapshots = snapshots
        #: The one owner of the guilds' state (its routers change it); everyone else reads :attr:`guilds`.
        self._guilds = Guilds() if guilds is None else guilds
        self.guilds: Mapping[int, GuildInfo] = self._guilds.view
        #: Welcomes members who joined while the bot could not RESUME (None: not wired, as in unit tests).
        self.catch_up: CatchUp | None = None
        if catch_up is not None:
            self.catch_up = CatchUp(state=catch_up[0], roster=catch_up[1], configs=configs, welcome=self._welcome_late,
                                    guilds=lambda: self.guilds, wall_clock=wall_clock)  # fmt: skip
        #: Looks in the channel before re-posting a claim past Discord's nonce window (None: not wired).
        self._reconciler = (
            None if history is None
            else Reconciler(configs=configs, welcome_log=welcome_log, history=history, observer=observer)
        )  # fmt: skip
        self._late_router: Router | None = None
        self._quick_deleted: deque[int] = deque(maxlen=1024)
        self._actors: KeyedRegistry[int, Join | list[Join]] = KeyedRegistry(
            self._guild, mailbox_size=INBOX_SIZE, max_restarts=GUILD_MAX_RESTARTS, window=GUILD_RESTART_WINDOW_S,
            backoff_base=1.0, backoff_cap=30.0, on_crash=self._guild_crashed, fatal=(FatalError, ConfigError),
        )  # fmt: skip
        #: Old claims (from before this start, or a dead owner's) being finished: /readyz says how many.
        self._recovering: set[JoinKey] = set()
        #: Guild actor crashes by exception type (``welcomebot_actor_restarts_total{reason}``).
        self.restarts: dict[str, int] = {}
        #: What a crashed guild actor had in hand: its next start tries them first.
        self._in_hand: dict[int, list[Join]] = {}
        self._side: trio.Nursery | None = None  # side jobs: roles, deletes, catch-up
        self._closing = trio.Event()
        self._deletes_scheduled = trio.Event()
        self._stopped = trio.Event()

    @property
    def recovering(self) -> int:
        """How many claims from before this start (or of a dead owner) are not finished yet."""
        return len(self._recovering)

    @property
    def actor_count(self) -> int:
        return len(self._actors)

    def mailbox_depths(self) -> list[int]:
        return list(self._actors.depths().values())

    @property
    def parked(self) -> Mapping[int, str]:
        """Guilds whose actor kept crashing, and the last crash; their joins wait, claimed, for the next start."""
        return self._actors.parked

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host the guild actors until cancelled, or until :meth:`drain` lets them finish their queues."""
        try:
            async with trio.open_nursery() as side:
                self._side = side
                try:
                    async with trio.open_nursery() as nursery:
                        await nursery.start(self._actors.run)
                        task_status.started()
                        await self._closing.wait()
                        self._actors.close()
                        # leaving the block waits for every guild actor to finish what its inbox holds
                finally:
                    # Side jobs are best effort and not durable (a role's delay can be a day): they never hold
                    # up a stop.
                    side.cancel_scope.cancel()
        finally:
            self._stopped.set()

    async def drain(self) -> None:
        """Stop taking joins and wait until every guild actor has finished its queued welcomes."""
        self._closing.set()
        await self._stopped.wait()

    # --- start-up -----------------------------------------------------------------------------------

    async def finish_unfinished(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> int:
        """Welcome the joins a previous run claimed but did not finish (DESIGN.md rule 3). Returns a count.

        Started (``nursery.start``) once the claims are taken: from then on new claims of this process cannot
        be mistaken for old ones, so the gateway may start while the old ones are re-posted (issue 19.11).
        The claims that share a nonce are handed to their guild's actor as one unit and go out whole, in one
        message, as they were meant to (DESIGN.md rule 5); claims without one go in groups of up to ten, so
        they fill messages as a raid's joins do. Each start counts its try at a claim before making it, so a
        claim whose tries keep crashing the process is quarantined here after MAX_ATTEMPTS instead of being
        replayed (issue 18.3)."""
        self._quarantined(await self._log.quarantine_unfinished())
        keys = await self._log.unfinished()
        units = _units(keys)
        self._recovering.update(key for key, _ in keys)
        task_status.started(len(keys))
        if keys:
            log.info("finishing welcomes claimed before a restart", extra={"count": len(keys)})
        try:
            if self._reconciler is not None:
                # Before re-posting: those found in the channel are done.
                found = {key for key, _ in keys} - {key for key, _ in await self._reconciler.reconcile(keys)}
                self._recovering -= found
                units = [[(k, n) for k, n in unit if k not in found] for unit in units]
            for unit in units:
                if unit:
                    await self._finish_unit(unit)
        except trio.ClosedResourceError:
            if not self._closing.is_set():
                raise
            log.info("the drain stopped the finishing of old claims; they are finished after restart")
        return len(keys)

    async def _finish_unit(self, unit: list[tuple[JoinKey, str | None]]) -> None:
        """Fetch the members of one unit (together: a REST round trip each) and hand the unit to its actor."""
        guild_id = unit[0][0].guild_id
        if unit[0][0].joined_at.startswith(GOODBYE_PREFIX):
            await self.deliver(guild_id, [_goodbye_from_key(key, nonce) for key, nonce in unit])
            return
        joins: list[Join | None] = [None] * len(unit)

        async def fetch(i: int, key: JoinKey, nonce: str | None) -> None:
            join = await self._members.fetch(key.guild_id, key.user_id, key.joined_at)
            joins[i] = None if join is None else msgspec.structs.replace(join, nonce=nonce)

        async with trio.open_nursery() as nursery:
            for i, (key, nonce) in enumerate(unit):
                nursery.start_soon(fetch, i, key, nonce)
        gone = [key for (key, _), join in zip(unit, joins, strict=True) if join is None]
        if gone:
            await self._log.failed(gone, "member left before the welcome")
            self._observer.welcomed(Outcome.FAILED, len(gone))
            self._recovering.difference_update(gone)
        here = [join for join in joins if join is not None]
        if here:
            await self.deliver(guild_id, here)

    def _quarantined(self, given_up: list[tuple[JoinKey, str]]) -> None:
        self._recovering.difference_update(key for key, _ in given_up)
        for key, reason in given_up:
            log.error("welcome quarantined: it failed every attempt and is not tried again",
                      extra={"guild_id": key.guild_id, "user_id": key.user_id, "joined_at": key.joined_at,
                             "reason": reason})  # fmt: skip
        if given_up:
            self._observer.welcomed(Outcome.QUARANTINED, len(given_up))

    # --- per shard ----------------------------------------------------------------------------------

    async def feed(self, dispatches: trio.MemoryReceiveChannel[Dispatch], shards: Mapping[int, ShardHandle]) -> None:
        """Route the dispatches of ``shards`` (one channel, each shard's in its order), checkpointing each
        session's safe sequence after every dispatch."""
        routers: dict[str, Router] = {}
        fresh: set[str] = set()  # sessions that began with READY: the events of any outage before are lost
        async with dispatches:
            async for dispatch in dispatches:
                session = dispatch.session_id
                router = routers.get(session)
                if router is None:
                    # A new session (or the first after a RESUME): its sequences continue from here.
                    router = routers[session] = Router(
                        configs=self._configs, welcome_log=self._log, deliver=self.deliver, guilds=self._guilds,
                        observer=self._observer, on_leave=self._left, wall_clock=self._wall_clock,
                        snapshots=self._snapshots, session_id=session,
                    )  # fmt: skip
                    router.watermark = SeqWatermark(dispatch.seq - 1)
                handle = next((h for h in shards.values() if h.session_id == session), None)
                shard_id = None if handle is None else handle.shard_id
                if dispatch.name == "READY":
                    fresh.add(session)
                    if self.catch_up is not None and shard_id is not None:
                        self.catch_up.session_ready(shard_id)
                elif dispatch.name == "RESUMED" and self.catch_up is not None and shard_id is not None:
                    self._spawn(self.catch_up.resumed, shard_id)  # finish what a killed process left owed
                event = to_router_event(dispatch, trio.current_time())
                if isinstance(event, InteractionCreate):
                    if self._on_interaction is not None:
                        await self._on_interaction(event)
                    event = None
                if event is None:
                    router.watermark.begin(dispatch.seq)
                    router.watermark.done(dispatch.seq)
                else:
                    await router.handle(event, dispatch.seq)
                    if self._departures is not None and isinstance(event, GuildAvailable | GuildGone):
                        await self._departure(event)
                    if self.catch_up is not None:
                        if isinstance(event, MemberJoined):
                            self.catch_up.routed(event.join, shard_id)
                        elif isinstance(event, GuildAvailable) and session in fresh:
                            self._spawn(self.catch_up.guild, event.guild, shard_id)
                if handle is not None:
                    handle.checkpoint(session, router.watermark.safe)
                    if self.catch_up is not None:
                        self.catch_up.heard(handle.shard_id)

    async def deliver(self, guild_id: int, join: Join | list[Join]) -> None:
        """Hand a join, or a unit of joins (with a nonce: a batch that goes out whole), to the guild's actor."""
        joins = join if isinstance(join, list) else [join]
        if self._closing.is_set():
            raise trio.ClosedResourceError("the pipeline is draining; the claim is finished after restart")
        try:
            await self._actors.tell(guild_id, joins)
        except KeyParked:
            self._in_hand.pop(guild_id, None)  # no restart will try them: they wait, claimed, for the next start
            where = {"guild_id": guild_id, "user_ids": [j.user_id for j in joins], "reason": self.parked.get(guild_id)}
            log.warning("guild parked: its welcomer kept crashing; the join stays claimed for the next start",
                        extra=where)  # fmt: skip
        except trio.ClosedResourceError:
            raise trio.ClosedResourceError("the pipeline is draining; the claim is finished after restart") from None

    async def _guild(self, guild_id: int, inbox: trio.MemoryReceiveChannel[Join | list[Join]]) -> None:
        actor = GuildWelcomer(
            guild_id,
            configs=self._configs,
            welcome_log=self._log,
            cards=self._cards,
            poster=self._poster,
            guilds=self.guilds,
            turns=self._turns,
            observer=self._observer,
            actions=self._actions,
            after_welcome=self._after_welcome,
            on_raid=self._on_raid,
            wall_clock=self._wall_clock,
            waiting=self._in_hand.pop(guild_id, ()),
            on_finished=self._recovering.difference_update,
        )
        try:
            await actor.run(inbox, idle_s=self._guild_idle_s)
        except Exception:
            self._in_hand[guild_id] = actor.in_hand()
            raise

    async def _guild_crashed(self, guild_id: int, exc: Exception) -> None:
        """Before a guild actor restarts: log, count, and count a try of what it had in hand (or quarantine it)."""
        reason = type(exc).__name__
        self.restarts[reason] = self.restarts.get(reason, 0) + 1
        error = f"{reason}: {exc}"
        log.error("guild welcomer crashed; restarting it", exc_info=exc, extra={"guild_id": guild_id, "error": error})
        held = self._in_hand.pop(guild_id, [])
        if not held:
            return
        try:
            given_up = await self._log.retry_or_quarantine([j.key for j in held], error)
        except WelcomeBotError as problem:
            # They stay claimed: the next start tries them, counting that try first.
            log.warning("could not count the try of a crashed welcome; it is finished after a restart",
                        extra={"guild_id": guild_id, "error": str(problem)})  # fmt: skip
            return
        self._quarantined(given_up)
        gone = {key for key, _ in given_up}
        self._in_hand[guild_id] = [j for j in held if j.key not in gone]

    # --- behaviours around the welcome --------------------------------------------------------------

    async def _left(self, event: MemberLeft) -> None:
        """A member left: claim and queue their goodbye, delete the welcome of a quick leaver."""
        config = await self._configs.get(event.guild_id)
        if config is None or not config.enabled or config.channel_id is None:
            return
        behaviour = config.behaviour
        quick_s = behaviour.auto_delete.quick_leave_minutes * 60
        if not behaviour.goodbye.enabled and quick_s <= 0:
            return
        last = await self._log.last(event.guild_id, event.user_id)
        # A grouped welcome also greets others: it stays.
        if quick_s > 0 and last is not None and last.message_id is not None and last.status == "posted" and last.alone:
            joined = joined_s(last.joined_at)
            quick = joined is not None and self._wall_clock() - joined < quick_s
            if quick and self._actions is not None and last.message_id not in self._quick_deleted:
                self._quick_deleted.append(last.message_id)  # a replayed remove must not delete twice (404s count)
                self._spawn(self._actions.delete, config.channel_id, last.message_id)
        if behaviour.goodbye.enabled and event.user is not None and not event.user.bot:
            goodbye = msgspec.structs.replace(
                event.user, joined_at="unknown" if last is None else last.joined_at, goodbye=True
            )
            if await self._log.claim(goodbye.key):
                await self.deliver(event.guild_id, goodbye)

    def _after_welcome(self, config: WelcomeConfig, joins: list[Join], channel_id: int | None, message_id: int) -> None:
        if config.behaviour.auto_delete.after_minutes > 0:
            self._deletes_scheduled.set()
        roles = config.behaviour.roles
        if not roles.role_ids or self._actions is None or joins[0].goodbye:
            return
        for join in joins:
            self._spawn(self._give_roles, join, roles.role_ids, roles.delay_s)

    async def _welcome_late(self, join: Join) -> None:
        """A member the catch-up found: the router's checks and claim, marked late in the log."""
        if self._late_router is None:
            self._late_router = Router(
                configs=self._configs, welcome_log=self._log, deliver=self._deliver_late, guilds=self._guilds,
                observer=self._observer, wall_clock=self._wall_clock,
            )  # fmt: skip
        await self._late_router.consider(join)

    async def _deliver_late(self, guild_id: int, join: Join) -> None:
        await self._log.mark_late([join.key])
        await self.deliver(guild_id, join)

    async def _departure(self, event: GuildAvailable | GuildGone) -> None:
        assert self._departures is not None
        try:
            if isinstance(event, GuildGone):
                await self._departures.left(event.guild_id)
            else:
                await self._departures.back(event.guild.guild_id)
        except (
            WelcomeBotError
        ) as exc:  # a store failure: noted at the next GUILD_CREATE or GUILD_DELETE; welcomes go on meanwhile
            log.error("could not note a server's departure or return", extra={"error": str(exc)})

    async def run_deletes(self, *, batch: int = 50, idle_s: float = 60.0) -> None:
        """Delete welcomes whose auto-delete time has come, from the durable schedule, until cancelled.

        A welcome that cannot be deleted (gone, or the bot lost its permission) is taken off the schedule by
        :meth:`Actions.delete`, which does not raise for those: retrying a refusal forever would only add invalid
        requests. Any other failure (Discord or the network down) keeps it scheduled, tried again ``idle_s`` later.
        """
        assert self._actions is not None, "auto-delete needs the pipeline's actions"
        while True:
            due = await self._log.due_deletes(batch)
            deleted: list[int] = []
            for channel_id, message_id in due:
                try:
                    await self._actions.delete(channel_id, message_id)
                except WelcomeBotError as exc:
                    log.warning("an auto-delete failed; trying again later", extra={"channel_id": channel_id,
                                                                                    "message_id": message_id,
                                                                                    "error": str(exc)})  # fmt: skip
                else:
                    deleted.append(message_id)
            if deleted:
                await self._log.deletes_done(deleted)
            if due and len(deleted) == len(due):
                continue
            wait = idle_s if due else await self._log.next_delete_in()
            with trio.move_on_after(idle_s if wait is None else max(0.0, min(idle_s, wait))):
                await self._deletes_scheduled.wait()
            self._deletes_scheduled = trio.Event()

    async def _give_roles(self, join: Join, role_ids: list[int], delay_s: float) -> None:
        assert self._actions is not None
        await trio.sleep(delay_s)
        problems = await self._actions.add_roles(join.guild_id, join.user_id, role_ids)
        if problems:
            log.warning("auto-roles not given: " + "; ".join(problems),
                        extra={"guild_id": join.guild_id, "user_id": join.user_id})  # fmt: skip

    def _spawn(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        """Run a side job (role, delete, catch-up) beside the guild actors; its failure is logged, never fatal."""
        if self._side is None:
            return

        async def guarded() -> None:
            job = getattr(fn, "__name__", "?")
            try:
                await fn(*args)
            except WelcomeBotError as exc:
                log.warning("welcome side job failed", extra={"job": job, "error": str(exc)})
            except trio.ClosedResourceError:
                if not self._closing.is_set():
                    raise
                # deliver() refuses new joins while draining; what the job claimed is finished after restart.
                log.info("welcome side job stopped by the drain", extra={"job": job})

        self._side.start_soon(guarded)


def _units(keys: list[tuple[JoinKey, str | None]]) -> list[list[tuple[JoinKey, str | None]]]:
    """``keys`` (oldest first) as the units they are re-posted in: one per nonce (its whole batch; a goodbye's
    nonce is its own), and per guild up to ten claims that never got one, in order of each unit's oldest."""
    units: dict[tuple[int, str | None, int], list[tuple[JoinKey, str | None]]] = {}
    where: tuple[int, str | None, int]
    open_group: dict[int, int] = {}  # guild -> the number of its unit of claims without a nonce being filled
    for key, nonce in keys:
        goodbye = key.joined_at.startswith(GOODBYE_PREFIX)
        if nonce is not None:
            where = (key.guild_id, nonce, 0)
        elif goodbye:
            where = (key.guild_id, f"goodbye {key.user_id} {key.joined_at}", 0)  # goodbyes go alone
        else:
            number = open_group.get(key.guild_id, 0)
            if len(units.get((key.guild_id, None, number), ())) >= MAX_CARDS_PER_MESSAGE:
                number = open_group[key.guild_id] = number + 1
            where = (key.guild_id, None, number)
        units.setdefault(where, []).append((key, nonce))
    return list(units.values())


def _goodbye_from_key(key: JoinKey, nonce: str | None) -> Join:
    """A goodbye claimed before a restart: the member has left, so only their id is known (the mention works)."""
    return Join(guild_id=key.guild_id, user_id=key.user_id, joined_at=key.joined_at.removeprefix(GOODBYE_PREFIX),
                username=str(key.user_id), goodbye=True, nonce=nonce)  # fmt: skip
