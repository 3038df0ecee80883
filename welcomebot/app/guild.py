"""One guild's welcomer: serializes the guild's joins, coalesces them under the channel limit, posts.

The loop is deliberately simple: take the oldest waiting join, wait for the channel's turn (the
per-channel bucket mirrors Discord's 5 messages / 5 s), then take whatever else arrived meanwhile, up to
10 members, into the same message. At a trickle every member gets their own message at once; in a raid
the wait for the bucket is exactly when the queue fills, so messages carry 10 cards each and the guild
is welcomed at the best speed Discord allows, in join order.

Claims happen before a join reaches this actor (the router claims, so the gateway sequence can be
checkpointed in order); this actor finishes each claim as posted or failed.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol

import trio

from welcomebot.app.model import Join, JoinKey, Outcome, welcome_nonce
from welcomebot.app.ports import CardFile, Cards, ChannelBroken, Configs, WelcomeConfig, WelcomeLog
from welcomebot.errors import WelcomeBotError

if TYPE_CHECKING:
    from welcomebot.app.model import GuildInfo
    from welcomebot.app.ports import Poster

__all__ = ["MAX_CARDS_PER_MESSAGE", "GuildWelcomer", "Observer", "compose_content"]

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{(user|server|count)\}")

#: Discord allows 10 attachments per message.
MAX_CARDS_PER_MESSAGE = 10
#: Delays between attempts when Discord keeps failing (5xx, timeouts) after the REST client's own retries.
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


class Observer(Protocol):
    """Where outcomes and latencies go (metrics); a no-op in tests that do not care."""

    def welcomed(self, outcome: Outcome, count: int = 1) -> None: ...

    def join_to_post(self, seconds: float) -> None: ...


def compose_content(template: str, joins: list[Join], guild: GuildInfo | None) -> str:
    """The message text: the guild's template with ``{user}``, ``{server}`` and ``{count}`` filled in.

    Exact-token replacement, never ``str.format``: an admin's template cannot reach attributes or format
    specs. Templates are validated when saved; an unknown ``{...}`` is left as typed.
    """
    mentions = [f"<@{j.user_id}>" for j in joins]
    users = mentions[0] if len(mentions) == 1 else ", ".join(mentions[:-1]) + " and " + mentions[-1]
    count = "" if guild is None or guild.member_count is None else f"{guild.member_count:,}"
    server = "" if guild is None else guild.name
    values = {"user": users, "server": server, "count": count}
    # One pass: a value that itself contains "{count}" (a server named so) is not substituted again.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)[:2000]


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
        channel_turn: Callable[[int], Awaitable[None]],
        observer: Observer,
    ) -> None:
        self.guild_id = guild_id
        self._configs = configs
        self._log = welcome_log
        self._cards = cards
        self._poster = poster
        self._guilds = guilds
        self._channel_turn = channel_turn
        self._observer = observer
        #: (config version, reason) while the channel is known to refuse posts.
        self._broken: tuple[str, str] | None = None

    async def run(self, inbox: trio.MemoryReceiveChannel[Join], *, idle_s: float = math.inf) -> None:
        """Welcome joins from ``inbox`` until it is closed and empty, or idle for ``idle_s`` seconds."""
        async with inbox:
            while True:
                first = None
                with trio.move_on_after(idle_s):
                    try:
                        first = await inbox.receive()
                    except trio.EndOfChannel:
                        return
                if first is None:
                    return  # idle: the registry starts a new actor on the next join
                config = await self._configs.get(self.guild_id)
                if config is None or not config.enabled or config.channel_id is None:
                    await self._finish_unposted([first], Outcome.SKIPPED_UNCONFIGURED, "not configured")
                    continue
                if self._broken is not None and self._broken[0] == config.version:
                    await self._finish_unposted([first], Outcome.SKIPPED_CHANNEL_BROKEN, self._broken[1])
                    continue
                await self._channel_turn(config.channel_id)
                batch = [first]
                held: Join | None = None
                while len(batch) < MAX_CARDS_PER_MESSAGE:
                    try:
                        more = inbox.receive_nowait()
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                    if more.nonce != first.nonce:
                        held = more  # a batch from before a restart goes out exactly as it was
                        break
                    batch.append(more)
                await self._welcome(config, config.channel_id, batch)
                if held is not None:
                    await self._welcome_one(held)

    async def _welcome_one(self, join: Join) -> None:
        """Welcome a join that could not ride along in the batch before it."""
        config = await self._configs.get(self.guild_id)
        if config is None or not config.enabled or config.channel_id is None:
            await self._finish_unposted([join], Outcome.SKIPPED_UNCONFIGURED, "not configured")
            return
        await self._channel_turn(config.channel_id)
        await self._welcome(config, config.channel_id, [join])

    async def _welcome(self, config: WelcomeConfig, channel_id: int, batch: list[Join]) -> None:
        guild = self._guilds.get(self.guild_id)
        files = await self._render_all(config, batch, guild)
        keys = [j.key for j in batch]
        content = compose_content(config.message_template, batch, guild)
        nonce = batch[0].nonce or welcome_nonce(keys)
        if batch[0].nonce is None:
            await self._log.assign(keys, nonce)  # durable before the post: a restart re-posts this very batch
        for delay in (*RETRY_DELAYS, None):
            try:
                message_id = await self._poster.post(
                    channel_id,
                    content=content,
                    files=files,
                    mention_user_ids=[j.user_id for j in batch],
                    nonce=nonce,
                )
            except ChannelBroken as exc:
                self._broken = (config.version, str(exc))
                outcome = Outcome.FAILED_MISSING_CHANNEL if exc.problem.value == "missing" else Outcome.FAILED_FORBIDDEN
                log.warning(
                    "welcome channel refuses posts; skipping this guild until its config changes",
                    extra={"guild_id": self.guild_id, "channel_id": channel_id, "reason": str(exc),
                           "outcome": outcome.value},
                )  # fmt: skip
                await self._finish_unposted(batch, outcome, str(exc))
                return
            except WelcomeBotError as exc:
                if delay is None:
                    log.error(
                        "welcome failed after retries",
                        extra={"guild_id": self.guild_id, "channel_id": channel_id, "error": str(exc),
                               "outcome": Outcome.FAILED.value},
                    )  # fmt: skip
                    await self._finish_unposted(batch, Outcome.FAILED, str(exc))
                    return
                log.warning(
                    "welcome post failed; retrying",
                    extra={"guild_id": self.guild_id, "retry_in_s": delay, "error": str(exc)},
                )
                await trio.sleep(delay)
            else:
                await self._posted(batch, keys, message_id)
                return

    async def _render_all(self, config: WelcomeConfig, batch: list[Join], guild: GuildInfo | None) -> list[CardFile]:
        results: list[CardFile | None] = [None] * len(batch)

        async def one(i: int, join: Join) -> None:
            results[i] = await self._cards.render(join, config, guild)

        async with trio.open_nursery() as nursery:
            for i, join in enumerate(batch):
                nursery.start_soon(one, i, join)
        return [card for card in results if card is not None]

    async def _posted(self, batch: list[Join], keys: list[JoinKey], message_id: int) -> None:
        now = trio.current_time()
        latencies = [now - j.received_at for j in batch if j.received_at is not None]
        await self._log.posted(keys, message_id, max(latencies) * 1000 if latencies else None)
        for seconds in latencies:
            self._observer.join_to_post(seconds)
        self._observer.welcomed(Outcome.POSTED, len(batch))
        log.info(
            "welcome posted",
            extra={
                "guild_id": self.guild_id,
                "user_ids": [j.user_id for j in batch],
                "message_id": message_id,
                "outcome": Outcome.POSTED.value,
                "latency_ms": round(max(latencies) * 1000, 1) if latencies else None,
            },
        )

    async def _finish_unposted(self, batch: list[Join], outcome: Outcome, reason: str) -> None:
        await self._log.failed([j.key for j in batch], f"{outcome.value}: {reason}")
        self._observer.welcomed(outcome, len(batch))
