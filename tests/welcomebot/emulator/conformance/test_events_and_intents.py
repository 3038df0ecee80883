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
