"""Request Guild Members (op 8) answered with GUILD_MEMBERS_CHUNK, per events/gateway-events.mdx (#23.2)."""

from typing import Any

import trio
from trio_websocket import WebSocketConnection

from welcomebot.emulator.testing import RunningEmulator

from .conftest import gateway_client, identify_payload, recv, send

GUILDS, GUILD_MEMBERS = 1, 2


async def _ready(emu: RunningEmulator, ws: WebSocketConnection, intents: int) -> None:
    await recv(ws)  # HELLO
    await send(ws, 2, identify_payload(emu.info.token, intents=intents))
    ready = await recv(ws)
    assert ready["t"] == "READY"
    if intents & GUILDS:
        for _ in ready["d"]["guilds"]:
            assert (await recv(ws))["t"] == "GUILD_CREATE"


async def _chunk(ws: WebSocketConnection, request: dict[str, Any]) -> dict[str, Any]:
    await send(ws, 8, request)
    event = await recv(ws)
    assert event["t"] == "GUILD_MEMBERS_CHUNK", event
    data: dict[str, Any] = event["d"]
    return data


async def test_request_guild_members_is_answered_with_chunks(emu):
    """ "Request Guild Members" and "Guild Members Chunk": ``query`` "" with ``limit`` 0 sends every member;
    a ``query`` is a username prefix; ``user_ids`` returns those members and lists the rest in ``not_found``;
    the nonce comes back, unless it is over 32 bytes; ``presences`` is "always false" without
    GUILD_PRESENCES; ``chunk_index`` / ``chunk_count`` number the chunks."""
    guild = (await emu.control.guilds())[0]
    gid = guild["id"]
    neo = await emu.control.join(gid, username="neo")
    await emu.control.join(gid, username="Nemo")
    await emu.control.join(gid, username="zed")
    with trio.fail_after(20):
        async with gateway_client(emu.info.gateway_url) as ws:
            await _ready(emu, ws, GUILDS | GUILD_MEMBERS)
            everyone = await _chunk(ws, {"guild_id": gid, "query": "", "limit": 0, "nonce": "all", "presences": True})
            assert (everyone["chunk_index"], everyone["chunk_count"], everyone["nonce"]) == (0, 1, "all")
            assert "presences" not in everyone
            assert {"neo", "Nemo", "zed"} <= {m["user"]["username"] for m in everyone["members"]}
            assert all("joined_at" in m and "roles" in m for m in everyone["members"])
            prefix = await _chunk(ws, {"guild_id": gid, "query": "ne", "limit": 10, "nonce": "x" * 33})
            assert sorted(m["user"]["username"] for m in prefix["members"]) == ["Nemo", "neo"]
            assert "nonce" not in prefix
            by_id = await _chunk(ws, {"guild_id": gid, "user_ids": [neo["user_id"], "1"]})
            assert [m["user"]["id"] for m in by_id["members"]] == [neo["user_id"]]
            assert by_id["not_found"] == ["1"]


async def test_the_whole_member_list_needs_the_members_intent(emu):
    """ "GUILD_MEMBERS intent is required to request the entire member list—(query='', limit=0<=n)": without it
    no chunk comes (as Discord behaves: discord/discord-api-docs#5855); a heartbeat's ACK arrives first."""
    gid = (await emu.control.guilds())[0]["id"]
    with trio.fail_after(20):
        async with gateway_client(emu.info.gateway_url) as ws:
            await _ready(emu, ws, GUILDS)
            await send(ws, 8, {"guild_id": gid, "query": "", "limit": 0})
            await send(ws, 1, None)
            assert (await recv(ws))["op"] == 11
