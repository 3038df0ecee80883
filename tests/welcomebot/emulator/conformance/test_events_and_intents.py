"""MESSAGE_CREATE (#23.10) and the privileged intents the portal can switch on (#23.9)."""

import pytest
import trio
from trio_websocket import ConnectionClosed

from .conftest import gateway_client, identify_payload, recv, send

GUILD_MESSAGES, GUILD_PRESENCES, MESSAGE_CONTENT = 1 << 9, 1 << 8, 1 << 15


async def test_the_bots_messages_are_sent_as_message_create(emu, api):
    """events/gateway-events.mdx, "Message Create": sent with GUILD_MESSAGES for a guild channel, with
    ``guild_id`` and the author's partial ``member``; events/gateway.mdx, "Message Content Intent": an app
    receives the content of its own messages without MESSAGE_CONTENT."""
    guild = (await emu.control.guilds())[0]
    channel = guild["channels"][0]["id"]
    with trio.fail_after(20):
        async with gateway_client(emu.info.gateway_url) as ws:
            await recv(ws)
            await send(ws, 2, identify_payload(emu.info.token, intents=GUILD_MESSAGES))
            assert (await recv(ws))["t"] == "READY"
            sent = (await api.http.post(f"/channels/{channel}/messages", json={"content": "hello"})).json()
            event = await recv(ws)
    assert event["t"] == "MESSAGE_CREATE"
    d = event["d"]
    assert (d["id"], d["content"], d["guild_id"], d["channel_id"]) == (sent["id"], "hello", guild["id"], channel)
    assert "roles" in d["member"]
    assert "user" not in d["member"]


@pytest.mark.parametrize(("intent", "flag"), [(GUILD_PRESENCES, "presences_intent_enabled"),
                                              (MESSAGE_CONTENT, "message_content_intent_enabled")])  # fmt: skip
async def test_privileged_intents_follow_the_portal_switches(emu, intent, flag):
    """events/gateway.mdx, "Privileged Intents" and topics/opcodes-and-status-codes.mdx 4014 "Disallowed
    intent(s)": refused while the switch is off, READY once PATCH /_control/application turns it on."""
    with trio.fail_after(20):
        async with gateway_client(emu.info.gateway_url) as ws:
            await recv(ws)
            await send(ws, 2, identify_payload(emu.info.token, intents=intent))
            with pytest.raises(ConnectionClosed) as closed:
                await recv(ws)
            assert closed.value.reason is not None
            assert closed.value.reason.code == 4014
        await emu.control.application(**{flag: True})
        async with gateway_client(emu.info.gateway_url) as ws:
            await recv(ws)
            await send(ws, 2, identify_payload(emu.info.token, intents=intent, shard=[0, 1]))
            answer = await recv(ws)
            assert answer["t"] == "READY", answer


async def test_a_guild_outage_is_guild_delete_unavailable_then_guild_create(emu):
    """events/gateway-events.mdx, Guild Delete: "Sent when a guild becomes or was already unavailable due to an
    outage ... If the unavailable field is not set, the user was removed"; Guild Create: sent "When a Guild
    becomes available again". No events come from the guild meanwhile (the join during it is not sent)."""
    guild = (await emu.control.guilds())[0]
    gid = guild["id"]
    async with gateway_client(emu.emulator.gateway.url) as ws:
        await recv(ws)
        await send(ws, 2, identify_payload(emu.info.token))
        ready = await recv(ws)
        assert {"id": gid, "unavailable": True} in ready["d"]["guilds"]
        for _ in ready["d"]["guilds"]:
            assert (await recv(ws))["t"] == "GUILD_CREATE"
        await emu.control.outage(gid)
        deleted = await recv(ws)
        assert (deleted["t"], deleted["d"]) == ("GUILD_DELETE", {"id": gid, "unavailable": True})
        await emu.control.join(gid)
        await emu.control.outage(gid, on=False)
        back = await recv(ws)  # in order: no GUILD_MEMBER_ADD before it
        assert (back["t"], back["d"]["id"], back["d"]["unavailable"]) == ("GUILD_CREATE", gid, False)
        assert back["d"]["member_count"] == guild["member_count"] + 1


async def test_a_guild_in_an_outage_at_connect_sends_guild_delete(emu):
    """events/gateway-events.mdx, Guild Create, scenario 1: READY lists every guild unavailable, then "Guilds
    that are unavailable due to an outage will send a Guild Delete event" instead of their GUILD_CREATE."""
    first, second = await emu.control.guilds()
    await emu.control.outage(first["id"])
    async with gateway_client(emu.emulator.gateway.url) as ws:
        await recv(ws)
        await send(ws, 2, identify_payload(emu.info.token))
        ready = await recv(ws)
        assert len(ready["d"]["guilds"]) == 2
        after = {(p["t"], p["d"]["id"]): p["d"] for p in [await recv(ws), await recv(ws)]}
    assert after[("GUILD_DELETE", first["id"])] == {"id": first["id"], "unavailable": True}
    assert ("GUILD_CREATE", second["id"]) in after
