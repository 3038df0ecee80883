"""The emulator checks the gateway payloads it sends against JSON schemas read from the docs' field tables
(``scripts/gateway-schemas``; events/gateway-events.mdx and the object pages) in tests (#23, "What to build")."""

import json
from typing import Any

import httpx
import pytest
import trio

from tests.welcomebot.emulator.conformance.conftest import gateway_client, identify_payload, recv, send
from welcomebot.emulator.gateway_schemas import SCHEMAS
from welcomebot.emulator.testing import RunningEmulator, running_emulator

#: GUILDS, GUILD_MEMBERS, GUILD_MESSAGES, DIRECT_MESSAGES.
INTENTS = 1 | 2 | (1 << 9) | (1 << 12)


async def _drive_every_event(emu: RunningEmulator) -> None:
    """Make the emulator send each event it knows, through the control API and REST, as a bot's life would."""
    control = emu.control
    guild = (await control.guilds())[0]
    gid, channel = guild["id"], guild["channels"][0]["id"]
    joined = await control.join(gid, username="newcomer")
    await control.update_member(gid, joined["user_id"], nick="nick")
    await control.leave(gid, joined["user_id"])
    role = await control.create_role(gid, "greeter", position=2)
    await control.update_role(gid, role, name="greeters")
    await control.delete_role(gid, role)
    await control.update_guild(gid, name="Renamed")
    await control.deny_bot(channel, 1 << 11)
    async with httpx.AsyncClient(base_url=emu.info.control_base) as http:
        created = (await http.post(f"/guilds/{gid}/channels", json={"name": "extra"})).json()
    await control.delete_channel(created["id"])
    await emu.register_commands("welcome")
    await control.interaction(guild_id=gid, channel_id=guild["channels"][1]["id"], user_id=guild["owner_id"],
                              name="welcome")  # fmt: skip
    headers = {"Authorization": f"Bot {emu.info.token}"}
    async with httpx.AsyncClient(base_url=emu.info.api_base, headers=headers) as http:
        r = await http.post(f"/channels/{guild['channels'][1]['id']}/messages", json={"content": "hi"})
        assert r.status_code == 200, r.text
    other = await control.create_guild("Second")
    await control.remove_bot(other["id"])


async def test_every_event_the_emulator_sends_matches_the_docs(emu):
    """events/gateway-events.mdx, "Receive Events" (and Payload Structure): HELLO, READY, GUILD_CREATE,
    GUILD_MEMBER_ADD/UPDATE/REMOVE, GUILD_MEMBERS_CHUNK, GUILD_ROLE_CREATE/UPDATE/DELETE, GUILD_UPDATE,
    CHANNEL_CREATE/UPDATE/DELETE, INTERACTION_CREATE, MESSAGE_CREATE, GUILD_DELETE, op 7, op 9 and RESUMED are
    each checked against their schema as they are sent; none is outside the docs."""
    seen: set[str] = set()
    gateway = emu.emulator.gateway
    assert gateway.validator is not None
    async with gateway_client(gateway.url, close_code=4000) as ws:  # a close that leaves the session resumable
        seen.add(f"op {(await recv(ws))['op']}")
        await send(ws, 2, identify_payload(emu.info.token, intents=INTENTS))
        ready = await recv(ws)
        session, guild_id = ready["d"]["session_id"], ready["d"]["guilds"][0]["id"]
        await send(ws, 8, {"guild_id": guild_id, "query": "", "limit": 0})
        await _drive_every_event(emu)
        await emu.control.fault("gateway", kind="reconnect")
        with trio.fail_after(10):
            while (payload := await recv(ws))["op"] != 7:
                seen.add(payload["t"])
        seq = payload["s"] if payload["s"] is not None else 0
        seq = max(seq, gateway.sessions()[0]["seq"])
    seen.update({"READY", "op 7"})
    async with gateway_client(gateway.url) as ws:
        await recv(ws)
        await send(ws, 6, {"token": emu.info.token, "session_id": session, "seq": seq})
        assert (await recv(ws))["t"] == "RESUMED"
        seen.add("RESUMED")
    async with gateway_client(gateway.url) as ws:
        await recv(ws)
        await send(ws, 6, {"token": emu.info.token, "session_id": "no-such-session", "seq": 1})
        assert (await recv(ws))["op"] == 9
        seen.add("op 9")
    dispatches = set(json.loads(SCHEMAS.read_text())["dispatches"])
    assert dispatches - seen == set()
    assert gateway.spec_violations == []


async def test_a_payload_outside_the_docs_is_logged_and_fails_the_test(caplog):
    """events/gateway-events.mdx, "Guild Member Add": a guild member object with ``guild_id``; one without
    ``user``'s required ``username`` (resources/user.mdx, User Structure) is an emulator bug, counted in
    /_control/stats and failing the ``running_emulator`` block."""
    stats: dict[str, Any] = {}

    async def run() -> None:
        async with running_emulator(guilds=1, members=1) as emu:
            async with gateway_client(emu.emulator.gateway.url) as ws:
                await recv(ws)
                await send(ws, 2, identify_payload(emu.info.token, intents=INTENTS))
                await recv(ws)
                gid = int((await emu.control.guilds())[0]["id"])
                member: dict[str, Any] = {"user": {"id": "1"}, "roles": [], "joined_at": None, "deaf": False,
                                          "mute": False, "flags": 0, "guild_id": str(gid)}  # fmt: skip
                emu.emulator.gateway.dispatch("GUILD_MEMBER_ADD", member, guild_id=gid, intent=2)
                with trio.fail_after(10):
                    while (await recv(ws)).get("t") != "GUILD_MEMBER_ADD":
                        pass
            stats.update(await emu.control.stats())

    with trio.fail_after(30), pytest.raises(AssertionError, match="outside Discord's spec"):
        await run()
    assert "username" in stats["gateway"]["spec_violations"][0]
    assert "EMULATOR BUG" in caplog.text
