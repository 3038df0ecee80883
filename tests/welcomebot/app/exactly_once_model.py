"""A model-based explorer of exactly-once (issue 28): the real router, pipeline and guild actors over the real store,
with Discord, the gateway's event log and the clock as fakes, driven by hypothesis through random interleavings.

What is real: :class:`Router`, :class:`Pipeline` (``finish_unfinished``, the reconciler), :class:`GuildWelcomer`,
:class:`ChannelTurns`, :class:`StoreWelcomeLog` and :class:`StoreShardLeases` over a SQLite file (or a PostgreSQL
schema). SQLite statements run inline on the trio thread instead of on a worker thread, so a step's outcome depends
only on the rules hypothesis chose, never on thread timing, and a shrunk counterexample replays exactly.

What is faked, each to what Discord and the gateway promise:

- :class:`FakeDiscord`: a post takes :data:`POST_LATENCY_S`; the message exists half-way, so a crash or a lost
  response can fall after Discord made it. ``enforce_nonce`` returns the message first made with that nonce within
  :data:`NONCE_WINDOW_S` (Discord: "the past few minutes"; the emulator: 300 s), whatever the new post names. Faults
  are queued per post: a 503, a lost response (the message is made, the answer never arrives), a 429 (the REST client
  waits and retries). At most :data:`MAX_QUEUED_FAULTS` are queued, fewer than the guild actor's retries, so a fault
  alone never makes a welcome fail.
- The gateway: one shard's events in sequence order (:attr:`World.events`). A process routes them from the durable
  checkpoint on (a RESUME replays everything after it) and checkpoints the router's safe sequence after each, as
  ``Pipeline.feed`` does. A duplicate delivery is the same event again later in the log.
- Processes: each has a unique owner id and runs the shard only under its lease; a second one started beside a
  live one waits for the lease and takes over (with the first's claims) once the first has crashed and the lease
  has run out. A crash cancels everything of the process; only the store (and Discord) keep what happened.

Invariants: after every step, no member is named by two messages (from Discord's records) and no process died of an
exception; after ``settle`` (faults lifted, a process running, time run on until nothing is left to do), every member
still in the guild who passed the gates (not pending) is named by exactly one message, or their claim is quarantined
(issue 18.3: tried three times, given up on visibly).

Each member joins at most once (no rejoins), so "named twice" is a duplicate welcome of one membership.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import tempfile
import threading
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import trio
import trio.testing
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.welcomebot.app.fakes import FakeCards, RecordingObserver
from welcomebot.adapters.store import CachedConfigs, StoreShardLeases, StoreWelcomeLog
from welcomebot.app.channel_limit import ChannelTurns
from welcomebot.app.guilds import Guilds
from welcomebot.app.model import GuildInfo, Join
from welcomebot.app.pipeline import Pipeline
from welcomebot.app.ports import CardFile, PostedMessage
from welcomebot.app.reconcile import DISCORD_EPOCH_MS, OwnMessage
from welcomebot.app.router import Event, MemberJoined, MemberLeft, MemberUpdated, Router
from welcomebot.app.watermark import SeqWatermark
from welcomebot.errors import WelcomeBotError
from welcomebot.store.api import GuildConfig, Store, WelcomeKey
from welcomebot.store.errors import StoreError, StoreUnavailable
from welcomebot.store.migrations import apply_migrations
from welcomebot.store.open import open_store
from welcomebot.store.sqlite import SqliteStore

__all__ = ["ExactlyOnceMachine", "World"]

T = TypeVar("T")

GUILD = 41771983423143936
CHANNEL = 41771983423143937
#: The wall clock at trio time 0 (a Thursday in 2027): Discord's and the bot's clocks agree in the model.
EPOCH_S = 1_800_000_000.0
POST_LATENCY_S = 0.4
NONCE_WINDOW_S = 300.0
RETRY_AFTER_S = 2.0
MAX_QUEUED_FAULTS = 5
MAX_MEMBERS = 12
MAX_PROCESSES = 2
#: Long enough for every retry (1+2+...+32 s), a lease to run out (15 s) and the last-slot gathers.
SETTLE_S = 200.0
SHARD_RENEW_S = 5.0


def wall() -> float:
    return EPOCH_S + trio.current_time()


class Message(msgspec.Struct):
    id: int
    mentions: list[int]
    nonce: str
    at: float
    content: str = ""


class FakeDiscord:
    """The channel as Discord keeps it: messages, nonce deduplication within the window, queued faults."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.faults: deque[str] = deque()
        self._by_nonce: dict[str, Message] = {}
        self._seq = itertools.count()

    async def post(self, channel_id: int, *, content: str, files: list[CardFile], mention_user_ids: list[int],
                   nonce: str, embeds: list[dict[str, Any]] | None = None) -> PostedMessage:  # fmt: skip
        fault = self.faults.popleft() if self.faults else None
        if fault == "429":
            await trio.sleep(RETRY_AFTER_S)  # the REST client waits for the bucket and sends again
        await trio.sleep(POST_LATENCY_S / 2)
        if fault == "503":
            raise WelcomeBotError("Discord answered 503 Service Unavailable (model)")
        now = wall()
        first = self._by_nonce.get(nonce)
        if first is not None and now - first.at <= NONCE_WINDOW_S:
            message = first  # enforce_nonce: the message made with this nonce, whatever this post names
        else:
            snowflake = (int(now * 1000) - DISCORD_EPOCH_MS) << 22 | next(self._seq) % 4096
            message = Message(snowflake, list(mention_user_ids), nonce, now, content)
            self.messages.append(message)
            self._by_nonce[nonce] = message
        await trio.sleep(POST_LATENCY_S / 2)
        if fault == "lost":
            raise WelcomeBotError("the connection closed before Discord's answer (model)")
        return PostedMessage(message.id, message.content, frozenset(message.mentions))

    # History, for the reconciler
    async def discord_now(self) -> float:
        await trio.lowlevel.checkpoint()
        return wall()

    async def own_messages(self, guild_id: int, channel_id: int, since: float, max_pages: int) -> list[OwnMessage]:
        await trio.lowlevel.checkpoint()
        return [OwnMessage(m.id, frozenset(m.mentions)) for m in self.messages if m.at > since]

    def named(self) -> Counter[int]:
        return Counter(u for m in self.messages for u in m.mentions)


class Member(msgspec.Struct):
    user_id: int
    joined_at: str
    pending: bool

    def join(self) -> Join:
        return Join(guild_id=GUILD, user_id=self.user_id, joined_at=self.joined_at, username=f"member{self.user_id}",
                    pending=self.pending, received_at=trio.current_time())  # fmt: skip


class InlineSqlite(SqliteStore):
    """The real SQLite store, its statements run on the trio thread (deterministic; the file is shared as usual)."""

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        async with self._lock:
            await trio.lowlevel.checkpoint()
            try:
                return fn(self._conn)
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"SQLite at {self.path} failed: {exc}") from exc
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite at {self.path} refused a statement: {exc}") from exc


class World:
    """Everything that outlives a bot process: Discord, the gateway's event log and checkpoint, the database."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.discord = FakeDiscord()
        self.members: dict[int, Member] = {}  # in the guild now
        self.ever: set[int] = set()
        self.events: list[Event] = []  # seq = index + 1
        self.checkpoint = 0  # the shard's saved sequence (gateway_session)
        self.new_event = trio.Event()
        self._users = itertools.count(900_000_000_000_000_000)

    async def open_store(self, stack: AsyncExitStack) -> Store:
        if self.database_url.startswith("sqlite:///"):
            # Connected inline as well (SqliteStore.open uses a worker thread): the same pragmas and migrations.
            path = self.database_url.removeprefix("sqlite:///")
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000", "foreign_keys=ON"):
                conn.execute(f"PRAGMA {pragma}")
            apply_migrations(conn, "sqlite")
            await trio.lowlevel.checkpoint()
            store = InlineSqlite(conn, path)
            stack.callback(store._conn.close)
            return store
        return await stack.enter_async_context(open_store(self.database_url))

    def publish(self, event: Event) -> None:
        self.events.append(event)
        self.new_event.set()
        self.new_event = trio.Event()

    def new_user(self) -> int:
        return next(self._users)

    # Members, for finish_unfinished
    async def fetch(self, guild_id: int, user_id: int, joined_at: str) -> Join | None:
        await trio.lowlevel.checkpoint()
        member = self.members.get(user_id)
        return None if member is None or member.joined_at != joined_at else member.join()


class Process:
    """One bot process: waits for the shard's lease, finishes what the store holds unfinished, routes events."""

    def __init__(self, world: World, owner: str) -> None:
        self.world = world
        self.owner = owner
        self.scope = trio.CancelScope()
        self.error: BaseException | None = None
        self.serving = False
        self.done = trio.Event()

    async def main(self) -> None:
        try:
            with self.scope:
                await self._run()
        except Exception as exc:  # noqa: BLE001 - recorded: the invariant fails the example with it
            self.error = exc
        finally:
            self.done.set()

    async def _run(self) -> None:
        async with AsyncExitStack() as stack:
            store = await self.world.open_store(stack)
            welcome_log = StoreWelcomeLog(store, self.owner, wall_clock=wall)
            leases = StoreShardLeases(store, self.owner, wall_clock=wall, clock=trio.current_time)
            while not (lease := await leases.acquire(0, 1)).mine:  # noqa: ASYNC110 - the lease is in the store: a twin asks again
                await trio.sleep(1.0)
            if lease.previous is not None:
                welcome_log.dead.add(lease.previous)
            configs = CachedConfigs(store)
            observer = RecordingObserver()
            guilds = Guilds({GUILD: GuildInfo(guild_id=GUILD, name="model", member_count=len(self.world.members))})
            pipeline = Pipeline(configs=configs, welcome_log=welcome_log, members=self.world, cards=FakeCards(),
                                poster=self.world.discord, turns=ChannelTurns(recent=welcome_log.recent_post_ages),
                                observer=observer, wall_clock=wall, history=self.world.discord,
                                guilds=guilds)  # fmt: skip
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._keep_lease, leases, nursery.cancel_scope)
                await nursery.start(pipeline.run)
                await pipeline.finish_unfinished()
                self.serving = True
                router = Router(configs=configs, welcome_log=welcome_log, deliver=pipeline.deliver,
                                guilds=guilds, observer=observer, wall_clock=wall)  # fmt: skip
                seq = self.world.checkpoint  # RESUME: everything after the saved sequence is replayed
                router.watermark = SeqWatermark(seq)
                while True:
                    while seq < len(self.world.events):
                        seq += 1
                        await router.handle(self.world.events[seq - 1], seq)
                        if leases.holds(0):  # fencing: a process that lost its lease saves nothing
                            self.world.checkpoint = max(self.world.checkpoint, router.watermark.safe)
                    await self.world.new_event.wait()

    async def _keep_lease(self, leases: StoreShardLeases, scope: trio.CancelScope) -> None:
        while True:
            await trio.sleep(SHARD_RENEW_S)
            if not await leases.renew(0):
                scope.cancel()  # another process has the shard: stop, as the shard manager does


class TrioThread:
    """A trio run on MockClock in a thread of its own, for a state machine whose rules are plain functions.

    Time moves only in :meth:`advance`, from deadline to deadline, after every task has run as far as it can, so a
    step's effect is the same on every replay.
    """

    def __init__(self) -> None:
        self.clock = trio.testing.MockClock()
        self._ready = threading.Event()
        self._stop: trio.Event | None = None
        self.nursery: trio.Nursery | None = None
        self._thread = threading.Thread(target=trio.run, args=(self._main,), kwargs={"clock": self.clock},
                                        daemon=True, name="model-trio")  # fmt: skip
        self._thread.start()
        self._ready.wait()

    async def _main(self) -> None:
        self.token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            self._ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        async def step() -> T:
            result = await fn(*args)
            await trio.testing.wait_all_tasks_blocked()
            return result

        return trio.from_thread.run(step, trio_token=self.token)

    async def advance(self, seconds: float) -> None:
        target = trio.current_time() + seconds
        for _ in range(100_000):
            await trio.testing.wait_all_tasks_blocked()
            left = target - trio.current_time()
            due = trio.lowlevel.current_statistics().seconds_to_next_deadline
            if due > left:
                self.clock.jump(max(left, 0.0))
                await trio.testing.wait_all_tasks_blocked()
                return
            self.clock.jump(max(due, 0.0))
            await trio.lowlevel.checkpoint()
        raise AssertionError("time did not reach its target: a task keeps a deadline at 'now'")

    def close(self) -> None:
        assert self._stop is not None
        self.clock.autojump_threshold = 0  # what cleans up after a cancel may wait on the clock
        trio.from_thread.run_sync(self._stop.set, trio_token=self.token)
        self._thread.join()


class ExactlyOnceMachine(RuleBasedStateMachine):
    """Set :attr:`database_url_factory` (a context: a URL, and a cleanup) before running; SQLite by default."""

    postgres_dsn: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self._dir = Path(tempfile.mkdtemp(prefix="eo-model-"))
        self.trio = TrioThread()
        self._schema: Any = None
        url = f"sqlite:///{self._dir / 'w.sqlite3'}"
        if self.postgres_dsn is not None:
            from welcomebot.store.testing import scratch_schema

            self._schema = scratch_schema(self.postgres_dsn, prefix="eo")
            url = self.trio.call(self._schema.__aenter__)
        self.world = World(url)
        self.processes: list[Process] = []
        self._owners = itertools.count(1)
        self.trio.call(self._configure)

    async def _configure(self) -> None:
        async with AsyncExitStack() as stack:
            store = await self.world.open_store(stack)
            await store.put_guild_config(GuildConfig(guild_id=GUILD, welcome_channel_id=CHANNEL, updated_at=1))

    def teardown(self) -> None:
        try:
            if self._schema is not None:
                self.trio.call(self._schema.__aexit__, None, None, None)
        finally:
            self.trio.close()
            shutil.rmtree(self._dir, ignore_errors=True)

    # --- the bot's processes ------------------------------------------------------------------------

    def alive(self) -> list[Process]:
        return [p for p in self.processes if not p.done.is_set()]

    async def _start(self) -> str:
        process = Process(self.world, f"model-{next(self._owners)}")
        self.processes.append(process)
        assert self.trio.nursery is not None
        self.trio.nursery.start_soon(process.main)
        return process.owner

    @initialize()
    def first_process(self) -> None:
        self.trio.call(self._start)

    @precondition(lambda self: len(self.alive()) < MAX_PROCESSES)
    @rule()
    def start_process(self) -> None:
        """Another process with the same shard: it waits for the lease while one lives, then takes over."""
        self.trio.call(self._start)

    @precondition(lambda self: bool(self.alive()))
    @rule(newest=st.booleans())
    def crash(self, newest: bool) -> None:
        """SIGKILL: everything of the process is cancelled where it stands; the store keeps what it wrote."""
        process = self.alive()[-1 if newest else 0]

        async def kill() -> None:
            process.scope.cancel()
            await process.done.wait()

        self.trio.call(kill)

    # --- the guild ----------------------------------------------------------------------------------

    @precondition(lambda self: len(self.world.ever) < MAX_MEMBERS)
    @rule(pending=st.booleans())
    def join(self, pending: bool) -> None:
        async def go() -> None:
            user = self.world.new_user()
            stamp = datetime.fromtimestamp(wall(), UTC).isoformat()
            member = self.world.members[user] = Member(user, stamp, pending)
            self.world.ever.add(user)
            self.world.publish(MemberJoined(member.join()))

        self.trio.call(go)

    @precondition(lambda self: any(m.pending for m in self.world.members.values()))
    @rule(which=st.integers(0, MAX_MEMBERS))
    def pass_screening(self, which: int) -> None:
        async def go() -> None:
            pending = [m for m in self.world.members.values() if m.pending]
            member = pending[which % len(pending)]
            member.pending = False
            self.world.publish(MemberUpdated(member.join()))

        self.trio.call(go)

    @precondition(lambda self: bool(self.world.members))
    @rule(which=st.integers(0, MAX_MEMBERS))
    def leave(self, which: int) -> None:
        async def go() -> None:
            user = sorted(self.world.members)[which % len(self.world.members)]
            del self.world.members[user]
            self.world.publish(MemberLeft(GUILD, user))

        self.trio.call(go)

    @precondition(lambda self: bool(self.world.events))
    @rule(back=st.integers(1, 8))
    def duplicate_delivery(self, back: int) -> None:
        """Discord delivers an event again (a replay past our checkpoint, another session)."""

        async def go() -> None:
            self.world.publish(self.world.events[max(0, len(self.world.events) - back)])

        self.trio.call(go)

    @precondition(lambda self: len(self.world.discord.faults) < MAX_QUEUED_FAULTS)
    @rule(kind=st.sampled_from(["503", "lost", "429"]), count=st.integers(1, 3))
    def discord_fault(self, kind: str, count: int) -> None:
        """The next posts fail: 503, a lost response (the message was made), or a 429 the REST client waits out."""
        faults = self.world.discord.faults
        faults.extend([kind] * min(count, MAX_QUEUED_FAULTS - len(faults)))

    @rule(seconds=st.sampled_from([0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 16.0]))
    def time_passes(self, seconds: float) -> None:
        self.trio.call(self.trio.advance, seconds)

    @rule()
    def beyond_the_nonce_window(self) -> None:
        """Longer than Discord deduplicates a nonce (and a lease lives)."""
        self.trio.call(self.trio.advance, NONCE_WINDOW_S + 10.0)

    @rule()
    def settle(self) -> None:
        """Faults stop, a process runs, time runs on: every member present and past the gates is welcomed once."""
        self.world.discord.faults.clear()
        if not self.alive():
            self.trio.call(self._start)
        self.trio.call(self.trio.advance, SETTLE_S)
        named = self.world.discord.named()
        quarantined = self.trio.call(self._quarantined)
        missing = [u for u, m in sorted(self.world.members.items())
                   if not m.pending and named[u] != 1 and u not in quarantined]  # fmt: skip
        assert not missing, f"after settling, members in the guild with no welcome: {missing}"

    async def _quarantined(self) -> set[int]:
        async with AsyncExitStack() as stack:
            store = await self.world.open_store(stack)
            found = set()
            for user, member in self.world.members.items():
                status = await store.welcome_status(WelcomeKey(GUILD, user, member.joined_at))
                if status == "quarantined":
                    found.add(user)
            return found

    # --- after every step ---------------------------------------------------------------------------

    @invariant()
    def no_member_welcomed_twice(self) -> None:
        twice = sorted(u for u, n in self.world.discord.named().items() if n > 1)
        assert not twice, f"members named by more than one message: {twice}"

    @invariant()
    def no_process_died_of_an_exception(self) -> None:
        for process in self.processes:
            if process.error is not None:
                raise AssertionError(f"process {process.owner} died: {process.error!r}") from process.error
