"""One guild's welcomer: serializes the guild's joins, coalesces them under the channel limit, posts.

The loop is deliberately simple: take the oldest waiting join, wait for the channel's turn (the
per-channel bucket mirrors Discord's 5 messages / 5 s), then take whatever else arrived meanwhile, up to
10 members, into the same message. At a trickle every member gets their own message at once; in a raid
the wait for the bucket is exactly when the queue fills, so messages carry 10 cards each and the guild
is welcomed at the best speed Discord allows, in join order. One refinement for bursts: the window's last
message waits up to :data:`LAST_SLOT_GATHER_S` for company (before its turn is taken, so the turn still
mirrors the moment Discord sees the post), since whoever arrives just after it would wait for the reset.

Claims happen before a join reaches this actor (the router claims, so the gateway sequence can be
checkpointed in order); this actor finishes each claim as posted or failed.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
import trio

from welcomebot.app.message import MAX_CONTENT, compose, embed_json
from welcomebot.app.model import Join, JoinKey, Outcome, welcome_nonce
from welcomebot.app.ports import (
    CardFile,
    Cards,
    ChannelBroken,
    Configs,
    DmClosed,
    PostedMessage,
    WelcomeConfig,
    WelcomeLog,
)
from welcomebot.app.raid import RaidDetector
from welcomebot.errors import WelcomeBotError

if TYPE_CHECKING:
    from welcomebot.app.behaviour import RaidMode
    from welcomebot.app.channel_limit import ChannelTurns
    from welcomebot.app.model import GuildInfo
    from welcomebot.app.ports import Actions, Poster

__all__ = ["MAX_CARDS_PER_MESSAGE", "GuildWelcomer", "Observer"]

log = logging.getLogger(__name__)

#: Discord allows 10 attachments per message.
MAX_CARDS_PER_MESSAGE = 10
#: How long the window's last message waits for more members to ride along: one more second for the first
#: member of that message, against up to five for each member who would otherwise wait for the reset.
LAST_SLOT_GATHER_S = 1.0
#: Delays between attempts when Discord keeps failing (5xx, timeouts) after the REST client's own retries.
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


class Observer(Protocol):
    """Where outcomes and latencies go (metrics); a no-op in tests that do not care."""

    def welcomed(self, outcome: Outcome, count: int = 1) -> None: ...

    def join_to_post(self, seconds: float) -> None: ...


class GuildWelcomer:
    """The actor for one guild. Run :meth:`run` in a nursery with the guild's inbox."""

    def __init__(
        self,
        guild_id: int,
        *,
        configs: Configs,
        welcome_log: WelcomeLog,
        cards: Cards,
        poster: Poster,
        guilds: Mapping[int, GuildInfo],
        turns: ChannelTurns,
        observer: Observer,
        actions: Actions | None = None,
        after_welcome: Callable[[WelcomeConfig, list[Join], int | None, int], None] | None = None,
        on_raid: Callable[[int, bool], None] | None = None,
        wall_clock: Callable[[], float] = time.time,
        waiting: Iterable[Join] = (),
        on_finished: Callable[[list[JoinKey]], None] | None = None,
    ) -> None:
        self.guild_id = guild_id
        self._configs = configs
        self._log = welcome_log
        self._cards = cards
        self._poster = poster
        self._guilds = guilds
        self._turns = turns
        self._observer = observer
        self._actions = actions
        self._after_welcome = after_welcome
        self._on_raid = on_raid
        self._wall_clock = wall_clock
        self._on_finished = on_finished
        #: (config version, reason) while the channel is known to refuse posts.
        self._broken: tuple[str, str] | None = None
        #: Joins taken from the inbox but not yet in a message (a raid's group is chosen from these).
        self._waiting: deque[Join] = deque()
        #: Batches that already have a nonce (from before a restart or a crash, or a re-post after a returned
        #: message did not name them): each goes out whole in one message, never coalesced or cut (DESIGN rule 5).
        self._held: deque[list[Join]] = deque()
        #: Joins taken from the inbox (or given as ``waiting``) and not finished yet, with the nonce of the
        #: message they are in once it has one: what a supervisor's restart must try again.
        self._in_hand: dict[JoinKey, Join] = {}
        self._raid: tuple[RaidMode, RaidDetector] | None = None
        by_nonce: dict[str, list[Join]] = {}
        for join in waiting:
            if join.nonce is None:
                self._admit([join], None)
            elif join.nonce in by_nonce:
                by_nonce[join.nonce].append(join)
                self._in_hand[join.key] = join
            else:
                self._admit([join], None)
                by_nonce[join.nonce] = self._held[-1]

    def in_hand(self) -> list[Join]:
        """The joins this actor took and has not finished, in the order it took them."""
        return list(self._in_hand.values())

    async def run(self, inbox: trio.MemoryReceiveChannel[Join | list[Join]], *, idle_s: float = math.inf) -> None:
        """Welcome joins from ``inbox`` until it is closed and empty, or idle for ``idle_s`` seconds.

        Each inbox item is a unit: one join, a group of claims to coalesce like any queued joins, or (when its
        joins carry a nonce) a batch from before a restart, posted whole. The inbox is the registry's: it
        outlives a crash of this actor, so a restarted one takes it over."""
        while True:
            unit = self._queued() or await self._next(inbox, idle_s)
            if unit is None:
                return  # idle, or closed and empty: the registry starts a new actor on the next join
            first = unit[0]
            if first.nonce is None:
                self._waiting.extendleft(reversed(unit[1:]))  # queued joins: coalesced below like any other
                unit = [first]
            for join in unit:
                self._in_hand.setdefault(join.key, join)
            config = await self._configs.get(self.guild_id)
            if config is None or not config.enabled or config.channel_id is None:
                await self._finish_unposted(unit, Outcome.SKIPPED_UNCONFIGURED, "not configured")
                continue
            channel_id = config.channel_id
            if first.goodbye:
                channel_id = config.behaviour.goodbye.channel_id or channel_id
            if self._broken is not None and self._broken[0] == config.version and channel_id == config.channel_id:
                await self._finish_unposted(unit, Outcome.SKIPPED_CHANNEL_BROKEN, self._broken[1])
                continue
            detector = self._detector(config)
            if detector is not None and first.nonce is None:
                self._feed(detector, first)
            if first.nonce is None and not first.goodbye and self._turns.last_slot(channel_id):
                await self._gather(inbox, config, detector)
            await self._turns.turn(channel_id)
            raiding = self._take_more(inbox, config, detector)
            limit = config.behaviour.raid.group_size if raiding else MAX_CARDS_PER_MESSAGE
            batch = list(unit)  # a batch with a nonce goes out exactly as it was, whole: Discord may hold its message
            for held in [h for h in self._held if first.nonce is not None and h[0].nonce == first.nonce]:
                self._held.remove(held)
                batch.extend(held)
            # New joins coalesce; goodbyes go alone.
            while first.nonce is None and not first.goodbye and len(batch) < limit and self._waiting \
                    and not self._waiting[0].goodbye:  # fmt: skip
                batch.append(self._waiting.popleft())
            while len(batch) > 1 and first.nonce is None and self._too_long(config, batch):
                self._waiting.appendleft(batch.pop())  # named in the next message instead of cut off
            cards = config.behaviour.goodbye.card if first.goodbye else not raiding or config.behaviour.raid.cards
            await self._welcome(config, channel_id, batch, cards=cards)

    def _queued(self) -> list[Join] | None:
        """The next unit already taken from the inbox: held batches first (they are the oldest claims)."""
        if self._held:
            return self._held.popleft()
        return [self._waiting.popleft()] if self._waiting else None

    async def _next(self, inbox: trio.MemoryReceiveChannel[Join | list[Join]], idle_s: float) -> list[Join] | None:
        """The next unit (see :meth:`run`); while raiding, also wakes when the raid has calmed down, to say so."""
        deadline = trio.current_time() + idle_s
        while True:
            try:
                return _unit(inbox.receive_nowait())  # a backlog first: the calm check below is for an idle guild
            except trio.WouldBlock:
                pass
            except trio.EndOfChannel:
                return None
            calm = None if self._raid is None else self._raid[1].calm_at()
            with trio.move_on_at(deadline if calm is None else min(deadline, calm)):
                try:
                    return _unit(await inbox.receive())
                except trio.EndOfChannel:
                    return None
            if calm is None or trio.current_time() >= deadline:
                return None
            assert self._raid is not None
            self._switched(self._raid[1], self._raid[1].update(trio.current_time()))

    def _detector(self, config: WelcomeConfig) -> RaidDetector | None:
        mode = config.behaviour.raid
        if not mode.enabled:
            self._raid = None
            return None
        if self._raid is None or self._raid[0] != mode:
            self._raid = (mode, RaidDetector(mode.joins, mode.window_s))
        return self._raid[1]

    def _feed(self, detector: RaidDetector, join: Join) -> None:
        at = trio.current_time() if join.received_at is None else join.received_at
        self._switched(detector, detector.feed(at))

    def _switched(self, detector: RaidDetector, switched: bool) -> None:
        if not switched:
            return
        log.warning("raid mode on: grouped welcomes" if detector.raiding else "raid mode off: the joins calmed down",
                    extra={"guild_id": self.guild_id})  # fmt: skip
        if self._on_raid is not None:
            self._on_raid(self.guild_id, detector.raiding)

    def _room(self, config: WelcomeConfig, detector: RaidDetector | None) -> int:
        """How many may wait besides the message's first member (one group)."""
        return (config.behaviour.raid.group_size if detector is not None else MAX_CARDS_PER_MESSAGE) - 1

    def _admit(self, item: Join | list[Join], detector: RaidDetector | None) -> None:
        unit = _unit(item)
        for join in unit:
            self._in_hand[join.key] = join
        if unit[0].nonce is not None:
            same = next((held for held in self._held if held[0].nonce == unit[0].nonce), None)
            if same is not None:
                same.extend(unit)  # parts of one batch given one by one are still one batch
            else:
                self._held.append(list(unit))
            return
        for join in unit:
            self._waiting.append(join)
            if detector is not None:
                self._feed(detector, join)

    async def _gather(
        self, inbox: trio.MemoryReceiveChannel[Join | list[Join]], config: WelcomeConfig, detector: RaidDetector | None
    ) -> None:
        """Wait briefly for joins to ride along in the window's last message (see the module's docstring)."""
        with trio.move_on_after(LAST_SLOT_GATHER_S):
            while len(self._waiting) + len(self._held) < self._room(config, detector):
                try:
                    self._admit(await inbox.receive(), detector)
                except trio.EndOfChannel:
                    return

    def _take_more(
        self, inbox: trio.MemoryReceiveChannel[Join | list[Join]], config: WelcomeConfig, detector: RaidDetector | None
    ) -> bool:
        """Move what arrived meanwhile into the waiting line (at most one group); True while raiding."""
        while len(self._waiting) + len(self._held) < self._room(config, detector):
            try:
                more = inbox.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            self._admit(more, detector)
        if detector is None:
            return False
        if not self._waiting and inbox.statistics().current_buffer_used == 0:
            # Judged at arrival times while a backlog remains (a backlog is a raid still being worked off);
            # only an empty queue lets the clock say the joins have calmed down.
            self._switched(detector, detector.update(trio.current_time()))
        return detector.raiding

    async def _welcome(self, config: WelcomeConfig, channel_id: int, batch: list[Join], *, cards: bool = True) -> None:
        guild = self._guilds.get(self.guild_id)
        behaviour = config.behaviour
        if behaviour.dm.mode != "off" and not batch[0].goodbye:
            batch = await self._direct_messages(config, batch, guild)
            if not batch:
                return
        files = await self._render_all(config, batch, guild) if cards else []
        keys = [j.key for j in batch]
        content, embeds = self._content(config, batch, guild, files)
        nonce = batch[0].nonce or welcome_nonce(keys)
        if batch[0].nonce is None:
            await self._log.assign(keys, nonce)  # durable before the post: a restart re-posts this very batch
            for join in batch:
                self._in_hand[join.key] = msgspec.structs.replace(join, nonce=nonce)  # and so does a supervisor's
        for delay in (*RETRY_DELAYS, None):
            try:
                message = await self._poster.post(
                    channel_id,
                    content=content,
                    files=files,
                    mention_user_ids=[j.user_id for j in batch],
                    nonce=nonce,
                    embeds=embeds,
                )
            except ChannelBroken as exc:
                self._broken = (config.version, str(exc))
                log.warning(
                    "welcome channel refuses posts; skipping this guild until its config changes",
                    extra={"guild_id": self.guild_id, "channel_id": channel_id, "reason": str(exc)},
                )
                if self._actions is not None:
                    await self._actions.channel_problem(self.guild_id, _advice(exc, channel_id))
                outcome = Outcome.FAILED_MISSING_CHANNEL if exc.problem.value == "missing" else Outcome.FAILED_FORBIDDEN
                await self._finish_unposted(batch, outcome, str(exc))
                return
            except WelcomeBotError as exc:
                if delay is None:
                    log.error(
                        "welcome failed after retries",
                        extra={"guild_id": self.guild_id, "channel_id": channel_id, "error": str(exc)},
                    )
                    await self._finish_unposted(batch, Outcome.FAILED, str(exc))
                    return
                log.warning(
                    "welcome post failed; retrying",
                    extra={"guild_id": self.guild_id, "retry_in_s": delay, "error": str(exc)},
                )
                await trio.sleep(delay)
            else:
                batch = await self._check(batch, nonce, content, message)
                if not batch:
                    return
                keys = [j.key for j in batch]
                after = config.behaviour.auto_delete.after_minutes
                if after > 0 and not batch[0].goodbye:
                    # Before "posted": a crash in between re-posts with the nonce (same message) and schedules again.
                    await self._log.schedule_delete(keys, channel_id, after * 60)
                await self._posted(batch, keys, message.id)
                if self._after_welcome is not None:
                    self._after_welcome(config, batch, channel_id, message.id)
                return

    async def _check(self, batch: list[Join], nonce: str, content: str, message: PostedMessage) -> list[Join]:
        """The members of ``batch`` the message Discord returned for ``nonce`` really names (DESIGN rule 5).

        With ``enforce_nonce`` Discord answers a nonce it has seen with the message it made then, whatever we
        send now. A member that message does not name was never welcomed: marking them posted would lose them.
        They get a fresh nonce (durable first, like any batch) and go out again, whole, on the next turn. A
        member our own content does not name either (a template without ``{user}``) cannot be checked; the
        nonce is trusted for them.
        """
        missing = [j for j in batch if not message.names(j.user_id) and f"<@{j.user_id}>" in content]
        if not missing:
            return batch
        keys = [j.key for j in missing]
        fresh = welcome_nonce(keys, after=nonce)
        log.warning(
            "the message Discord returned for a welcome's nonce does not name some of its members; posting them again",
            extra={"guild_id": self.guild_id, "message_id": message.id, "nonce": nonce, "fresh_nonce": fresh,
                   "user_ids": [j.user_id for j in missing]},
        )  # fmt: skip
        await self._log.assign(keys, fresh)
        again = [msgspec.structs.replace(j, nonce=fresh) for j in missing]
        for join in again:
            self._in_hand[join.key] = join
        self._held.appendleft(again)
        return [j for j in batch if j.key not in set(keys)]

    def _too_long(self, config: WelcomeConfig, batch: list[Join]) -> bool:
        """Would naming all of ``batch`` overflow Discord's limit (2,000 characters, 4,096 in an embed)?"""
        template = config.behaviour.goodbye.template if batch[0].goodbye else config.message_template
        limit = 4096 if config.behaviour.embed.enabled else MAX_CONTENT
        full = compose(template, batch, self._guilds.get(self.guild_id), now_s=self._wall_clock(), limit=1 << 20)
        return len(full) > limit or (config.behaviour.embed.enabled and len(batch) * 24 > MAX_CONTENT)

    def _content(
        self, config: WelcomeConfig, batch: list[Join], guild: GuildInfo | None, files: list[CardFile]
    ) -> tuple[str, list[dict[str, Any]] | None]:
        behaviour = config.behaviour
        template = behaviour.goodbye.template if batch[0].goodbye else config.message_template
        now = self._wall_clock()
        if not behaviour.embed.enabled:
            return compose(template, batch, guild, now_s=now), None
        # The mentions go in the content: Discord does not ping users named only inside an embed.
        mentions = compose("{user}", batch, guild, now_s=now)
        image = files[0].filename if len(files) == 1 else None
        title_source = behaviour.goodbye.title if batch[0].goodbye else behaviour.embed.title
        title = compose(title_source, batch, guild, now_s=now, limit=256)
        return mentions, [embed_json(behaviour.embed, compose(template, batch, guild, now_s=now, limit=4096), title,
                                     image)]  # fmt: skip

    async def _direct_messages(self, config: WelcomeConfig, batch: list[Join], guild: GuildInfo | None) -> list[Join]:
        """DM each member; returns who still goes to the channel (everyone for "also", closed DMs for "instead").

        A refused DM falls back to the channel once; it is never retried.
        """
        dm = config.behaviour.dm
        assert self._actions is not None, "DM welcomes need the pipeline's actions"
        for_channel: list[Join] = []
        for join in batch:
            files = (
                [card for card in [await self._cards.render(join, config, guild)] if card is not None]
                if dm.card
                else []
            )
            content = compose(dm.template, [join], guild, now_s=self._wall_clock())
            try:
                message_id = await self._actions.dm(
                    join.user_id, content=content, files=files, embeds=[], nonce="d" + welcome_nonce([join.key])[1:]
                )
            except (DmClosed, WelcomeBotError) as exc:
                where = {"guild_id": self.guild_id, "user_id": join.user_id, "error": str(exc)}
                log.info("DM welcome refused; welcoming in the channel instead", extra=where)
                for_channel.append(join)
                continue
            if dm.mode == "also":
                for_channel.append(join)
            else:
                await self._posted([join], [join.key], message_id)
                if self._after_welcome is not None:
                    self._after_welcome(config, [join], None, message_id)
        return for_channel

    async def _render_all(self, config: WelcomeConfig, batch: list[Join], guild: GuildInfo | None) -> list[CardFile]:
        results: list[CardFile | None] = [None] * len(batch)

        async def one(i: int, join: Join) -> None:
            results[i] = await self._cards.render(join, config, guild)

        async with trio.open_nursery() as nursery:
            for i, join in enumerate(batch[:MAX_CARDS_PER_MESSAGE]):
                nursery.start_soon(one, i, join)
        return [card for card in results if card is not None]

    async def _posted(self, batch: list[Join], keys: list[JoinKey], message_id: int) -> None:
        now = trio.current_time()
        latencies = [now - j.received_at for j in batch if j.received_at is not None]
        await self._log.posted(keys, message_id, max(latencies) * 1000 if latencies else None)
        for key in keys:
            self._in_hand.pop(key, None)
        for seconds in latencies:
            self._observer.join_to_post(seconds)
        self._observer.welcomed(Outcome.POSTED, len(batch))
        if self._on_finished is not None:
            self._on_finished(keys)
        log.info(
            "goodbye posted" if batch[0].goodbye else "welcome posted",
            extra={
                "guild_id": self.guild_id,
                "user_ids": [j.user_id for j in batch],
                "message_id": message_id,
                "latency_ms": round(max(latencies) * 1000, 1) if latencies else None,
                "late": any(j.late for j in batch),
            },
        )

    async def _finish_unposted(self, batch: list[Join], outcome: Outcome, reason: str) -> None:
        await self._log.failed([j.key for j in batch], f"{outcome.value}: {reason}")
        for join in batch:
            self._in_hand.pop(join.key, None)
        self._observer.welcomed(outcome, len(batch))
        if self._on_finished is not None:
            self._on_finished([j.key for j in batch])


def _unit(item: Join | list[Join]) -> list[Join]:
    return [item] if isinstance(item, Join) else item


def _advice(exc: ChannelBroken, channel_id: int) -> str:
    """What the admin must fix, in one sentence (shown by /preview and /welcome show)."""
    if exc.problem.value == "missing":
        return f"the welcome channel {channel_id} no longer exists: choose another channel"
    return (f"the bot cannot post in <#{channel_id}>: allow it View Channel, Send Messages and Attach Files "
            "there")  # fmt: skip
