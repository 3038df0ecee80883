"""Documented REST routes a mainstream client calls, each checked against Discord's OpenAPI spec (#23.1).

Every exchange goes through the ``api`` fixture, which validates requests and responses against the spec.
"""

from typing import Any

import httpx

from welcomebot.emulator.testing import RunningEmulator


async def _interaction(emu: RunningEmulator) -> tuple[dict[str, Any], dict[str, Any]]:
    guild = (await emu.control.guilds())[0]
    await emu.register_commands("welcome")
    created = await emu.control.interaction(
        guild_id=guild["id"], channel_id=guild["channels"][0]["id"], user_id=guild["owner_id"], name="welcome"
    )
    return guild, created


async def test_get_current_bot_application_under_oauth2(emu, api):
    """topics/oauth2.mdx, "Get Current Bot Application Information": GET /oauth2/applications/@me returns
    the bot's application object (a mainstream library calls it at login)."""
    r = await api.http.get("/oauth2/applications/@me")
    assert r.status_code == 200
    assert r.json()["id"] == emu.info.application_id


async def test_get_gateway_needs_no_authentication(emu, spec):
    """topics/gateway.mdx (events/gateway.mdx), "Get Gateway": returns ``{"url": ...}``; "This endpoint does
    not require authentication"."""
    async with httpx.AsyncClient(base_url=emu.info.api_base) as http:
        r = await http.get("/gateway")
    assert r.status_code == 200
    spec.validate_response("GET", "/gateway", 200, r.json())
    assert r.json() == {"url": emu.info.gateway_url}


async def test_edit_message_changes_content_and_keeps_unlisted_fields(emu, api):
    """resources/message.mdx, "Edit Message": PATCH /channels/{id}/messages/{id} returns the updated message
    with ``edited_timestamp`` set; fields left out are unchanged; other users' messages are 50005."""
    guild = (await emu.control.guilds())[0]
    channel = guild["channels"][0]["id"]
    sent = (await api.http.post(f"/channels/{channel}/messages", json={"content": "hello", "embeds": [
        {"title": "t"}]})).json()  # fmt: skip
    r = await api.http.patch(f"/channels/{channel}/messages/{sent['id']}", json={"content": "edited"})
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["content"] == "edited"
    assert edited["embeds"] == [{"type": "rich", "title": "t"}]
    assert edited["edited_timestamp"] is not None
    assert [m["content"] for m in await emu.control.messages(channel)] == ["edited"]
    missing = await api.http.patch(f"/channels/{channel}/messages/{int(sent['id']) + 1}", json={"content": "x"})
    assert (missing.status_code, missing.json()["code"]) == (404, 10008)


async def test_edit_message_appends_files_and_keeps_listed_attachments(emu, api):
    """resources/message.mdx, "Edit Message": "Any provided files will be appended to the message. To remove
    or replace files you will have to supply the attachments field which specifies the files to retain"."""
    guild = (await emu.control.guilds())[0]
    channel = guild["channels"][0]["id"]
    files = {"files[0]": ("a.txt", b"a", "text/plain")}
    sent = (await api.http.post(f"/channels/{channel}/messages", files=files,
                                data={"payload_json": '{"content": "f"}'})).json()  # fmt: skip
    first = sent["attachments"][0]["id"]
    added = await api.http.patch(f"/channels/{channel}/messages/{sent['id']}",
                                 files={"files[0]": ("b.txt", b"b", "text/plain")},
                                 data={"payload_json": "{}"})  # fmt: skip
    assert [a["filename"] for a in added.json()["attachments"]] == ["a.txt", "b.txt"]
    kept = await api.http.patch(f"/channels/{channel}/messages/{sent['id']}", json={"attachments": [{"id": first}]})
    assert [a["id"] for a in kept.json()["attachments"]] == [first]


async def test_delete_original_and_edit_delete_followups(emu, api):
    """interactions/receiving-and-responding.mdx, "Delete Original Interaction Response" (204), "Edit Followup
    Message" (200, the message) and "Delete Followup Message" (204); a deleted message is then 10008. (Five
    calls: the webhook bucket allows five per two seconds.)"""
    _, created = await _interaction(emu)
    async with httpx.AsyncClient(base_url=emu.info.api_base) as raw:
        r = await raw.post(f"/interactions/{created['id']}/{created['token']}/callback", json={"type": 5})
        assert r.status_code == 204
    hook = f"/webhooks/{emu.info.application_id}/{created['token']}"
    followup = (await api.http.post(hook, json={"content": "one"})).json()
    edited = await api.http.patch(f"{hook}/messages/{followup['id']}", json={"content": "two"})
    assert (edited.status_code, edited.json()["content"]) == (200, "two")
    assert (await api.http.delete(f"{hook}/messages/{followup['id']}")).status_code == 204
    gone = await api.http.patch(f"{hook}/messages/{followup['id']}", json={"content": "three"})
    assert (gone.status_code, gone.json()["code"]) == (404, 10008)
    assert (await api.http.delete(f"{hook}/messages/@original")).status_code == 204
    record = await emu.control.interaction_record(created["id"])
    assert record["original"] is None
