"""The emulated gateway driven by a plain trio-websocket client, per events/gateway.mdx."""

import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_client_stream

from welcomebot.emulator.testing import running_emulator

GUILDS, GUILD_MEMBERS = 1, 2


@asynccontextmanager
async def open_websocket_url(url: str) -> AsyncIterator[WebSocketConnection]:
    """A plain websocket client that owns its TCP stream.

    trio-websocket 0.12's own client leaves its socket to the garbage collector when the *server*
    closes the connection (it waits for a TCP close it never performs itself); owning the stream closes it.
    """
    parts = urlsplit(url)
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    assert parts.hostname is not None
    assert parts.port is not None
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    async with stream, trio.open_nursery() as nursery:
        ws = await wrap_client_stream(nursery, stream, parts.hostname, resource)
        try:
            yield ws
        finally:
            await ws.aclose()
            nursery.cancel_scope.cancel()


async def recv(ws: WebSocketConnection, inflater: Any = None) -> dict[str, Any]:
    message = await ws.get_message()
    if inflater is not None:
        assert isinstance(message, bytes)
        message = inflater.decompress(message)
    decoded: dict[str, Any] = msgspec.json.decode(message)
    return decoded


async def send(ws: WebSocketConnection, op: int, d: Any) -> None:
    await ws.send_message(msgspec.json.encode({"op": op, "d": d}).decode())


def identify(token: str, intents: int = GUILDS | GUILD_MEMBERS, shard: list[int] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "token": token,
        "intents": intents,
        "properties": {"os": "linux", "browser": "t", "device": "t"},
    }
    if shard is not None:
        d["shard"] = shard
    return d


async def close_code(ws: WebSocketConnection) -> int | None:
    try:
        while True:
            await ws.get_message()
    except ConnectionClosed as closed:
        return None if closed.reason is None else closed.reason.code


async def ready(ws: WebSocketConnection, token: str, **kw: Any) -> dict[str, Any]:
    hello = await recv(ws)
    assert hello["op"] == 10
    await send(ws, 2, identify(token, **kw))
    event = await recv(ws)
    assert event["t"] == "READY"
    return event


@pytest.fixture
async def emu():
    with trio.fail_after(30):
        async with running_emulator(guilds=4, members=2, heartbeat_interval_ms=2000) as running:
            yield running


async def test_hello_identify_ready_guild_create(emu):
    async with open_websocket_url(f"{emu.info.gateway_url}/?v=10&encoding=json") as ws:
        hello = await recv(ws)
        assert hello == {"op": 10, "d": {"heartbeat_interval": 2000}, "s": None, "t": None}
        await send(ws, 2, identify(emu.info.token))
        r = await recv(ws)
        assert (r["op"], r["t"], r["s"]) == (0, "READY", 1)
        d = r["d"]
        assert d["v"] == 10
        assert d["user"]["bot"] is True
        assert d["shard"] == [0, 1]
        assert len(d["guilds"]) == 4
        assert all(g["unavailable"] for g in d["guilds"])
        assert d["resume_gateway_url"].startswith("ws://")
        assert d["application"]["id"] == emu.info.application_id
        creates = [await recv(ws) for _ in range(4)]
        assert [c["t"] for c in creates] == ["GUILD_CREATE"] * 4
        assert [c["s"] for c in creates] == [2, 3, 4, 5]
        assert {c["d"]["id"] for c in creates} == {g["id"] for g in d["guilds"]}
        assert creates[0]["d"]["member_count"] == 4
        assert creates[0]["d"]["channels"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"op": 2, "d": identify("wrong-token")}, 4004),
        ({"op": 2, "d": identify("{token}", intents=1 << 30)}, 4013),
        ({"op": 2, "d": identify("{token}", shard=[2, 2])}, 4010),
        ({"op": 2, "d": identify("{token}", shard=[0, 0])}, 4010),
        ({"op": 99, "d": None}, 4001),
        ({"op": 3, "d": {"status": "online"}}, 4003),
        ("not json", 4002),
    ],
)
async def test_identify_errors_close_with_documented_codes(emu, payload, code):
    async with open_websocket_url(f"{emu.info.gateway_url}/?v=10&encoding=json") as ws:
        await recv(ws)
        if isinstance(payload, str):
            await ws.send_message(payload)
        else:
            text = msgspec.json.encode(payload).decode().replace("{token}", emu.info.token)
            await ws.send_message(text)
        assert await close_code(ws) == code


async def test_identify_twice_is_4005(emu):
    async with open_websocket_url(f"{emu.info.gateway_url}/?v=10&encoding=json") as ws:
        await ready(ws, emu.info.token, intents=GUILD_MEMBERS)
        await send(ws, 2, identify(emu.info.token))
        assert await close_code(ws) == 4005


async def test_disallowed_members_intent_is_4014(emu):
    await emu.control.application(members_intent_enabled=False)
    async with open_websocket_url(f"{emu.info.gateway_url}/?v=10&encoding=json") as ws:
        await recv(ws)
        await send(ws, 2, identify(emu.info.token))
        assert await close_code(ws) == 4014


async def test_wrong_version_is_4012(emu):
    async with open_websocket_url(f"{emu.info.gateway_url}/?v=9&encoding=json") as ws:
        assert await close_code(ws) == 4012


async def test_heartbeat_is_acked_and_silence_times_out(emu):
    async with open_websocket_url(f"{emu.info.gateway_url}/?v=10&encoding=json") as ws:
        await ready(ws, emu.info.token, intents=GUILD_MEMBERS)
        await send(ws, 1, 1)
        assert (await recv(ws))["op"] == 11
        # then stay silent past 1.5 heartbeat intervals
        assert await close_code(ws) == 4009


async def test_member_add_dispatch_shape_and_intents(emu):
    # Two sessions at once need two identify rate_limit_keys (shard_id % max_concurrency): shards 0 and 1 of 2.
    await emu.control.application(max_concurrency=2)
    guild = next(g for g in await emu.control.guilds() if (int(g["id"]) >> 22) % 2 == 1)
    async with (
        open_websocket_url(f"{emu.info.gateway_url}/?v=10&encoding=json") as members_ws,
        open_websocket_url(f"{emu.info.gateway_url}/?v=10&encoding=json") as guilds_only,
    ):
        await ready(members_ws, emu.info.token, intents=GUILD_MEMBERS)
        r = await ready(guilds_only, emu.info.token, intents=GUILDS, shard=[1, 2])
        for _ in r["d"]["guilds"]:
            await recv(guilds_only)  # its GUILD_CREATEs
        joined = await emu.control.join(guild["id"], username="neo", global_name="Néo", avatar="animated", pending=True)
        event = await recv(members_ws)
        assert event["t"] == "GUILD_MEMBER_ADD"
        d = event["d"]
        assert d["guild_id"] == guild["id"]
        assert d["user"]["id"] == joined["user_id"]
        assert d["user"]["global_name"] == "Néo"
        assert d["user"]["avatar"].startswith("a_")
        assert d["joined_at"] == joined["joined_at"]
        assert d["pending"] is True
        await emu.control.update_member(guild["id"], joined["user_id"], pending=False)
        update = await recv(members_ws)
        assert (update["t"], update["d"]["pending"]) == ("GUILD_MEMBER_UPDATE", False)
        # the GUILDS-only session never sees member events: a heartbeat ACK comes first
        await send(guilds_only, 1, None)
        assert (await recv(guilds_only))["op"] == 11


async def test_dispatches_go_to_the_guilds_shard_only(emu):
    await emu.control.application(max_concurrency=2)  # both shards identify at once
    guilds = await emu.control.guilds()
    async with (
        open_websocket_url(f"{emu.info.gateway_url}/?v=10&encoding=json") as s0,
        open_websocket_url(f"{emu.info.gateway_url}/?v=10&encoding=json") as s1,
    ):
        r0 = await ready(s0, emu.info.token, intents=GUILD_MEMBERS, shard=[0, 2])
        r1 = await ready(s1, emu.info.token, intents=GUILD_MEMBERS, shard=[1, 2])
        ids0 = {g["id"] for g in r0["d"]["guilds"]}
        ids1 = {g["id"] for g in r1["d"]["guilds"]}
        assert ids0 | ids1 == {g["id"] for g in guilds}
        assert not ids0 & ids1
        for g in guilds:
            await emu.control.join(g["id"])
        seen0 = {(await recv(s0))["d"]["guild_id"] for _ in ids0}
        seen1 = {(await recv(s1))["d"]["guild_id"] for _ in ids1}
        assert (seen0, seen1) == (ids0, ids1)


async def test_resume_replays_missed_events_in_order_once(emu):
    guild = (await emu.control.guilds())[0]
    async with open_websocket_url(f"{emu.info.gateway_url}/?v=10&encoding=json") as ws:
        r = await ready(ws, emu.info.token, intents=GUILD_MEMBERS)
        session_id, resume_url = r["d"]["session_id"], r["d"]["resume_gateway_url"]
        first = await emu.control.join(guild["id"])
        e = await recv(ws)
        last_seq = e["s"]
        assert e["d"]["user"]["id"] == first["user_id"]
        await emu.control.fault("gateway", kind="drop")
        with pytest.raises(ConnectionClosed):
            await ws.get_message()
    missed = [(await emu.control.join(guild["id"]))["user_id"] for _ in range(5)]
    async with open_websocket_url(f"{resume_url}/?v=10&encoding=json") as ws:
        await recv(ws)
        await send(ws, 6, {"token": emu.info.token, "session_id": session_id, "seq": last_seq})
        events = [await recv(ws) for _ in range(6)]
    assert [e["d"]["user"]["id"] for e in events[:5]] == missed
    assert [e["s"] for e in events] == list(range(last_seq + 1, last_seq + 7))
    assert events[5]["t"] == "RESUMED"
    (session,) = await emu.control.sessions()
    assert (session["identify_count"], session["resume_count"]) == (1, 1)


async def test_resume_of_an_unknown_or_dead_session_is_op9(emu):
    async with open_websocket_url(f"{emu.info.gateway_url}/?v=10&encoding=json") as ws:
        r = await ready(ws, emu.info.token, intents=GUILD_MEMBERS)
        await emu.control.fault("gateway", kind="close", code=4009)
        assert await close_code(ws) == 4009
    async with open_websocket_url(f"{emu.info.gateway_url}/?v=10&encoding=json") as ws:
        await recv(ws)
        await send(ws, 6, {"token": emu.info.token, "session_id": r["d"]["session_id"], "seq": 1})
        assert await recv(ws) == {"op": 9, "d": False, "s": None, "t": None}


async def test_server_initiated_ops(emu):
    async with open_websocket_url(f"{emu.info.gateway_url}/?v=10&encoding=json") as ws:
        await ready(ws, emu.info.token, intents=GUILD_MEMBERS)
        await emu.control.fault("gateway", kind="heartbeat_request")
        assert (await recv(ws))["op"] == 1
        await emu.control.fault("gateway", kind="reconnect")
        assert (await recv(ws))["op"] == 7
        await emu.control.fault("gateway", kind="invalid_session", resumable=True)
        assert await recv(ws) == {"op": 9, "d": True, "s": None, "t": None}
        await emu.control.fault("gateway", kind="stop_acks", on=True)
        await send(ws, 1, 1)
        await emu.control.fault("gateway", kind="heartbeat_request")
        assert (await recv(ws))["op"] == 1, "no ACK came before the next server message"


async def test_zlib_stream(emu):
    inflater = zlib.decompressobj()
    async with open_websocket_url(f"{emu.info.gateway_url}/?v=10&encoding=json&compress=zlib-stream") as ws:
        hello = await recv(ws, inflater)
        assert hello["op"] == 10
        await send(ws, 2, identify(emu.info.token))
        events = [await recv(ws, inflater) for _ in range(5)]
    assert [e["t"] for e in events] == ["READY"] + ["GUILD_CREATE"] * 4


async def test_more_than_120_sends_a_minute_is_4008(emu):
    async with open_websocket_url(f"{emu.info.gateway_url}/?v=10&encoding=json") as ws:
        await ready(ws, emu.info.token, intents=GUILD_MEMBERS)
        sent = 0
        try:
            for _ in range(200):
                await send(ws, 3, {"since": None, "activities": [], "status": "online", "afk": False})
                sent += 1
        except ConnectionClosed:
            pass
        assert sent > 120
        assert await close_code(ws) == 4008
