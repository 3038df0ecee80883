"""From INTERACTION_CREATE to an answer: refuse what is not allowed, run the handler, always reply.

The dispatcher runs in its own nursery beside the welcome pipeline: :meth:`Dispatcher.submit` only starts a
task (it never waits), and at most ``max_running`` handlers run at once, so commands neither hold up nor
wait for welcomes. Every invocation gets an ephemeral answer, errors included: a :class:`CommandError`'s
message as is, anything else as a short apology (the details go to the log).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

import trio

from welcomebot.commands import background, behaviours, card, preview, welcome
from welcomebot.commands.errors import CommandError, NotAllowed
from welcomebot.commands.model import parse_invocation
from welcomebot.commands.respond import DEFER_AFTER_S, Reply, Responder
from welcomebot.rest import RestError, can_manage
from welcomebot.store import StoreError

if TYPE_CHECKING:
    from welcomebot.commands.context import CommandContext, Handler
    from welcomebot.commands.model import Invocation
    from welcomebot.gateway.events import InteractionCreate

__all__ = ["HANDLERS", "Dispatcher"]

log = logging.getLogger(__name__)

#: A handler still running after this long is abandoned with an apology: the deferred response can be edited
#: for 15 minutes, and an admin waiting minutes for an answer would rather try again.
HANDLER_TIMEOUT_S: Final = 120.0

#: Every command's handler by its path; must match ``definitions.leaf_paths()`` (a test checks).
HANDLERS: Final[dict[tuple[str, ...], Handler]] = {
    **welcome.HANDLERS,
    **preview.HANDLERS,
    **background.HANDLERS,
    **card.HANDLERS,
    **behaviours.HANDLERS,
}


class Dispatcher:
    def __init__(self, ctx: CommandContext, *, max_running: int = 8, max_waiting: int = 256) -> None:
        self._ctx = ctx
        self._limiter = trio.CapacityLimiter(max_running)
        self._max_tasks = max_running + max_waiting
        self._tasks = 0
        #: One command at a time per guild: handlers read, change and save the guild's settings, and two at
        #: once (two admins, or a double click) would each save over the other's change. Dropped when free.
        self._guild_locks: dict[int, trio.Lock] = {}
        self._nursery: trio.Nursery | None = None
        self.answered = 0
        self.dropped = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host the command tasks until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    async def submit(self, interaction: InteractionCreate) -> None:
        """Take an interaction from the gateway; returns at once (the pipeline's ``on_interaction``)."""
        call = parse_invocation(interaction, trio.current_time())
        if call is None:
            return
        if self._nursery is None or self._tasks >= self._max_tasks:
            # Only under a flood of commands: answering would queue behind the deadline anyway.
            self.dropped += 1
            log.warning("too many commands in flight; dropping one", extra={"interaction_id": call.id})
            return
        self._tasks += 1
        self._nursery.start_soon(self._handle, call)

    async def _handle(self, call: Invocation) -> None:
        try:
            responder = Responder(self._ctx.api, call)
            handler = HANDLERS.get(call.path)
            async with trio.open_nursery() as nursery:
                if handler is not None and handler.slow:
                    await responder.defer()
                else:
                    nursery.start_soon(responder.defer_after, DEFER_AFTER_S)
                reply = await self._reply(call, handler)
                await responder.answer(reply)
                nursery.cancel_scope.cancel()
            self.answered += 1
        except Exception:
            # A bug in answering one command must not take the bot (and its welcomes) down with it.
            log.exception("answering a command crashed", extra={"interaction_id": call.id, "command": call.command})
        finally:
            self._tasks -= 1

    @asynccontextmanager
    async def _guild_turn(self, guild_id: int | None) -> AsyncIterator[None]:
        assert guild_id is not None, "authorized invocations come from a guild"
        lock = self._guild_locks.setdefault(guild_id, trio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked():  # nobody holds it or was handed it: forget it
                self._guild_locks.pop(guild_id, None)

    async def _reply(self, call: Invocation, handler: Handler | None) -> Reply:
        extra = {"interaction_id": call.id, "command": call.command, "guild_id": call.guild_id}
        try:
            _authorize(call)
            if handler is None:
                raise CommandError(f"{call.command} is not a command of this bot version; Discord will update "
                                   "the command list shortly.")  # fmt: skip
            with trio.fail_after(HANDLER_TIMEOUT_S):
                async with self._guild_turn(call.guild_id), self._limiter:
                    reply = await handler.run(self._ctx, call)
            log.info("command answered", extra=extra)
            return reply
        except CommandError as exc:
            log.info("command refused", extra={**extra, "reason": str(exc)})
            return Reply(str(exc))
        except trio.TooSlowError:
            log.error("command timed out", extra=extra)
            return Reply(f"That took longer than {HANDLER_TIMEOUT_S:.0f} s, so it was stopped; try again in a minute.")
        except StoreError as exc:
            log.error("command failed in the store", extra={**extra, "error": str(exc)})
            return Reply("The settings could not be read or saved right now; nothing was changed. Try again "
                         "in a minute.")  # fmt: skip
        except RestError as exc:
            log.warning("command failed talking to Discord", extra={**extra, "error": str(exc)})
            return Reply(f"Discord did not answer as expected ({exc}); try again in a minute.")
        except Exception:
            log.exception("command crashed", extra=extra)
            return Reply("Something went wrong on the bot's side; the operator will find the details in its log.")


def _authorize(call: Invocation) -> None:
    if call.guild_id is None:
        raise NotAllowed("These commands work inside a server only, not in direct messages.")
    if not can_manage(call.permissions):
        raise NotAllowed("You need the Manage Server permission to change how this server welcomes members.")
