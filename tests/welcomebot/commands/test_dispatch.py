"""The dispatcher on the mock clock: every invocation answered (slow, crashing, unknown, timed out), bounded."""

from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
import trio

from tests.helpers import FakeApi
from welcomebot.commands import dispatch
from welcomebot.commands.context import CommandContext, Handler
from welcomebot.commands.dispatch import HANDLER_TIMEOUT_S, Dispatcher
from welcomebot.commands.model import Invocation
from welcomebot.commands.respond import Reply
from welcomebot.gateway.events import InteractionCreate


def interaction(name: str, iid: int = 1, permissions: str = "32", guild_id: int = 3) -> InteractionCreate:
    return msgspec.convert({"id": iid, "application_id": 2, "type": 2, "token": "t", "guild_id": guild_id,
                            "channel_id": 4,
                            "member": {"user": {"id": 5, "username": "ada"}, "permissions": permissions},
                            "data": {"name": name}}, InteractionCreate, strict=False)  # fmt: skip


async def run(api: FakeApi, *interactions: InteractionCreate, answers: int | None = None,
              **limits: int) -> Dispatcher:  # fmt: skip
    ctx: Any = SimpleNamespace(api=api)
    dispatcher = Dispatcher(ctx, **limits)
    async with trio.open_nursery() as nursery:
        await nursery.start(dispatcher.run)
        for i in interactions:
            await dispatcher.submit(i)
        while api.final < (len(interactions) - dispatcher.dropped if answers is None else answers):
            await api.changed.wait()
        nursery.cancel_scope.cancel()
    return dispatcher


def handler(seconds: float, exc: Exception | None = None) -> Handler:
    async def go(ctx: CommandContext, call: Invocation) -> Reply:
        await trio.sleep(seconds)
        if exc is not None:
            raise exc
        return Reply(f"done after {seconds}")

    return Handler(go)


def texts(api: FakeApi) -> list[str]:
    return [p["content"] if kind == "edit" else p["data"].get("content", "") for _, kind, p, _ in api.calls]


@pytest.fixture
def handlers(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, ...], Handler]:
    table: dict[tuple[str, ...], Handler] = {}
    monkeypatch.setattr(dispatch, "HANDLERS", table)
    return table


async def test_slow_answers_are_deferred_then_edited(autojump_clock: Any, handlers: dict[Any, Handler]) -> None:
    handlers[("slow",)] = handler(5)
    api = FakeApi()
    await run(api, interaction("slow"))
    assert [(kind, t) for t, kind, _, _ in api.calls] == [("callback", 1.0), ("edit", 5.0)]
    assert texts(api) == ["", "done after 5"]


async def test_a_handler_that_hangs_is_answered_at_the_timeout(
    autojump_clock: Any, handlers: dict[Any, Handler]
) -> None:
    handlers[("hang",)] = handler(10_000)
    api = FakeApi()
    await run(api, interaction("hang"))
    assert api.calls[-1][0] == HANDLER_TIMEOUT_S
    assert "took longer than 120 s" in texts(api)[-1]


async def test_crashes_and_unknown_commands_are_answered(autojump_clock: Any, handlers: dict[Any, Handler],
                                                         caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    handlers[("boom",)] = handler(0, RuntimeError("bug"))
    api = FakeApi()
    await run(api, interaction("boom", 1), interaction("gone", 2), interaction("boom", 3, permissions="2048"))
    answers = sorted(texts(api))
    assert answers[0].startswith("/gone is not a command of this bot version")
    assert answers[1].startswith("Something went wrong on the bot's side")
    assert answers[2].startswith("You need the Manage Server permission")
    assert "bug" in caplog.text


async def test_a_flood_beyond_the_bounds_is_dropped_not_queued(
    autojump_clock: Any, handlers: dict[Any, Handler]
) -> None:
    handlers[("slow",)] = handler(5)
    api = FakeApi()
    dispatcher = await run(api, *(interaction("slow", i) for i in range(10)), max_running=2, max_waiting=3)
    assert (api.final, dispatcher.dropped) == (5, 5)


async def test_a_crash_while_answering_is_contained(autojump_clock: Any, handlers: dict[Any, Handler],
                                                    caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    class BrokenApi(FakeApi):
        async def interaction_callback(self, iid: int, token: str, payload: dict[str, Any]) -> None:
            if iid == 1:
                raise RuntimeError("bug in the REST layer")
            await super().interaction_callback(iid, token, payload)

    handlers[("quick",)] = handler(0)
    handlers[("slow",)] = handler(5)  # answered well after the first one crashed
    api = BrokenApi()
    await run(api, interaction("quick", 1), interaction("slow", 2), answers=1)
    assert texts(api) == ["", "done after 5"], "the other command is still answered"
    assert "answering a command crashed" in caplog.text


async def test_commands_of_one_guild_take_turns_and_other_guilds_do_not_wait(
    autojump_clock: Any, handlers: dict[Any, Handler]
) -> None:
    """Handlers read, change and save a guild's settings: two at once would save over each other."""
    running: dict[int, int] = {}
    overlaps: list[int] = []
    finished: dict[int, float] = {}

    async def change(ctx: CommandContext, call: Invocation) -> Reply:
        assert call.guild_id is not None
        running[call.guild_id] = running.get(call.guild_id, 0) + 1
        if running[call.guild_id] > 1:
            overlaps.append(call.guild_id)
        await trio.sleep(2)
        running[call.guild_id] -= 1
        finished[call.id] = trio.current_time()
        return Reply("saved")

    handlers[("change",)] = Handler(change)
    api = FakeApi()
    dispatcher = await run(api, interaction("change", 1), interaction("change", 2),
                           interaction("change", 3, guild_id=9))  # fmt: skip
    assert overlaps == []
    start = min(finished.values()) - 2
    assert sorted(t - start for t in finished.values()) == [2, 2, 4], "guild 9 ran beside guild 3's first"
    assert dispatcher._guild_locks == {}, "no lock is kept for a guild with no command running"
