"""INTERACTION_CREATE and the interaction callback as interactions/receiving-and-responding.mdx documents them
(#23.3, #23.4)."""

from typing import Any

import httpx
import pytest

from welcomebot.emulator.testing import RunningEmulator

Json = dict[str, Any]


async def _invoke(emu: RunningEmulator, seen: list[Json], **extra: Any) -> tuple[Json, Json]:
    """Invoke ``/welcome`` in the first guild; returns the INTERACTION_CREATE payload and the control answer."""
    guild = (await emu.control.guilds())[0]
    async with httpx.AsyncClient(base_url=emu.info.control_base) as http:
        body = {"guild_id": guild["id"], "channel_id": guild["channels"][0]["id"], "user_id": guild["owner_id"],
                "name": "welcome", "options": [], **extra}  # fmt: skip
        r = await http.post("/interactions", json=body)
    assert r.status_code == 201, r.text
    return seen[-1], r.json()


async def test_interaction_create_has_the_documented_fields(emu, interactions_sent):
    """receiving-and-responding.mdx, "Interaction Structure": ``attachment_size_limit`` (not optional),
    ``channel`` (partial channel), ``locale`` and ``guild_locale`` as the invoking client sent them; and
    "Application Command Data Structure": ``data.id`` is the id of the registered command."""
    [registered] = await emu.register_commands("welcome")
    payload, _ = await _invoke(emu, interactions_sent, locale="de", guild_locale="fr")
    assert payload["attachment_size_limit"] == 10 * 1024 * 1024
    assert payload["channel"]["id"] == payload["channel_id"]
    assert (payload["locale"], payload["guild_locale"]) == ("de", "fr")
    assert payload["data"]["id"] == registered["id"]


async def test_unregistered_commands_are_not_delivered(emu):
    """receiving-and-responding.mdx, "Interactions": Discord sends INTERACTION_CREATE only for the application's
    registered commands; the control API refuses to invoke a command no one registered."""
    guild = (await emu.control.guilds())[0]
    async with httpx.AsyncClient(base_url=emu.info.control_base) as http:
        body = {"guild_id": guild["id"], "channel_id": guild["channels"][0]["id"], "user_id": guild["owner_id"],
                "name": "never-registered"}  # fmt: skip
        r = await http.post("/interactions", json=body)
    assert r.status_code == 404
    assert "registered" in r.text


@pytest.mark.parametrize("kind", [1, 6, 7, 8, 10, 12])
async def test_callback_types_that_do_not_fit_a_slash_command_are_refused(emu, interactions_sent, kind):
    """receiving-and-responding.mdx, "Interaction Callback Type": PONG is for PINGs, 6 and 7 "only valid for
    component-based interactions", 8 for autocomplete, 10 deprecated (premium apps), 12 only for apps with
    Activities. The interaction stays unanswered, so a correct answer still goes through."""
    await emu.register_commands("welcome")
    _, created = await _invoke(emu, interactions_sent)
    async with httpx.AsyncClient(base_url=emu.info.api_base) as http:
        url = f"/interactions/{created['id']}/{created['token']}/callback"
        refused = await http.post(url, json={"type": kind, "data": {"content": "x"}})
        assert (refused.status_code, refused.json()["code"]) == (400, 50035)
        assert (await http.post(url, json={"type": 4, "data": {"content": "ok"}})).status_code == 204


@pytest.mark.parametrize(("kind", "message"), [(4, True), (5, False)])
async def test_with_response_returns_the_interaction_callback_response(emu, interactions_sent, spec, kind, message):
    """receiving-and-responding.mdx, "Create Interaction Response": "Returns 204 unless with_response is set to
    true which returns 200 with the body as interaction callback response"; ``resource`` (optional) with the
    message for CHANNEL_MESSAGE_WITH_SOURCE ("Interaction Callback Resource Object")."""
    await emu.register_commands("welcome")
    _, created = await _invoke(emu, interactions_sent)
    async with httpx.AsyncClient(base_url=emu.info.api_base) as http:
        path = f"/interactions/{created['id']}/{created['token']}/callback"
        r = await http.post(path, params={"with_response": "true"}, json={"type": kind, "data": {"content": "hi"}})
    assert r.status_code == 200, r.text
    body = r.json()
    spec.validate_response("POST", path, 200, body)
    assert body["interaction"]["id"] == created["id"]
    assert body["interaction"]["response_message_loading"] is (kind == 5)
    assert ("resource" in body) is message
    if message:
        assert body["resource"]["type"] == kind
        assert body["resource"]["message"]["content"] == "hi"
        assert body["resource"]["message"]["id"] == body["interaction"]["response_message_id"]
