"""The responder: one callback, deferral at 1 s for a slow answer, edits after a deferral; on the mock clock."""

import trio

from tests.helpers import FakeApi
from welcomebot.commands.model import Invocation
from welcomebot.commands.respond import DEFER_AFTER_S, Reply, Responder
from welcomebot.emulator.openapi import SpecValidator
from welcomebot.gateway.events import Resolved
from welcomebot.rest.client import File


def call(received_at: float = 0.0) -> Invocation:
    return Invocation(id=1, application_id=2, token="t", guild_id=3, channel_id=4, invoker=None, permissions=32,
                      path=("welcome", "show"), options={}, resolved=Resolved(), received_at=received_at)  # fmt: skip


async def answer_after(responder: Responder, delay: float, reply: Reply) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(responder.defer_after, DEFER_AFTER_S)
        await trio.sleep(delay)
        await responder.answer(reply)
        nursery.cancel_scope.cancel()


async def test_a_quick_answer_is_the_only_callback(autojump_clock: trio.testing.MockClock) -> None:
    api = FakeApi()
    await answer_after(Responder(api, call()), 0.2, Reply("done"))  # type: ignore[arg-type]
    assert [(kind, p["type"], p["data"]["flags"]) for _, kind, p, _ in api.calls] == [("callback", 4, 64)]
    assert api.calls[0][2]["data"]["allowed_mentions"] == {"parse": []}


async def test_a_slow_answer_is_deferred_at_one_second_then_edited(autojump_clock: trio.testing.MockClock) -> None:
    api = FakeApi()
    await answer_after(Responder(api, call()), 2.5, Reply("done"))  # type: ignore[arg-type]
    (t_defer, kind, payload, _), (t_edit, edit, body, _) = api.calls
    assert (kind, payload["type"], payload["data"]["flags"]) == ("callback", 5, 64)
    assert t_defer == DEFER_AFTER_S
    assert (edit, body["content"], t_edit) == ("edit", "done", 2.5)


async def test_files_always_go_through_the_edit(autojump_clock: trio.testing.MockClock) -> None:
    api = FakeApi()
    card = File("card.webp", b"x", None, "image/webp")
    await answer_after(Responder(api, call()), 0.1, Reply("preview", [card]))  # type: ignore[arg-type]
    assert [kind for _, kind, _, _ in api.calls] == ["callback", "edit"]
    assert api.calls[1][3] == [card]


async def test_a_refused_callback_is_not_followed_by_edits(autojump_clock: trio.testing.MockClock) -> None:
    api = FakeApi(refuse=True)
    responder = Responder(api, call())  # type: ignore[arg-type]
    await answer_after(responder, 2.0, Reply("late"))
    assert api.calls == []
    assert responder.state == "failed"


async def test_payloads_match_discords_spec(autojump_clock: trio.testing.MockClock) -> None:
    spec = SpecValidator.load()
    quick, slow = FakeApi(), FakeApi()
    await answer_after(Responder(quick, call()), 0.1, Reply("quick"))  # type: ignore[arg-type]
    await answer_after(Responder(slow, call()), 2.0, Reply("slow"))  # type: ignore[arg-type]
    for _, kind, payload, _ in quick.calls + slow.calls:
        if kind == "callback":
            spec.validate_request("POST", "/interactions/123456789012345678/token/callback", payload)
        else:
            spec.validate_request("PATCH", "/webhooks/123456789012345678/token/messages/@original", payload)
    assert len(quick.calls) + len(slow.calls) == 3
