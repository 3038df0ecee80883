"""GatewayServer driven directly (fake backend, raw trio-websocket client): close codes, sharding, faults."""

import zlib

import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected

import welcomebot.emulator.gateway as gateway_module

FAR = 10_000_000  # ms: a heartbeat interval long enough that no watchdog fires during a test


@pytest.mark.parametrize(
    ("query", "code"),
    [("v=9&encoding=json", 4012), ("encoding=json", 4012), ("v=10&encoding=etf", 4002)],
)
async def test_query_string_is_validated(make_gateway, query, code):
    with trio.fail_after(10):
        async with make_gateway(heartbeat_interval_ms=FAR) as gw, gw.connect(query) as c:
            assert await c.close_code() == code
            assert gw.server.stats()["closes"] == {str(code): 1}


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{not json", 4002),
        ('{"op": 99, "d": null}', 4001),
        ('{"op": 3, "d": {"status": "online"}}', 4003),  # presence update before IDENTIFY
        ('{"op": 2, "d": {"token": "' + "x" * 5000 + '"}}', 4002),  # over the 4096-byte payload limit
    ],
)
async def test_bad_client_payloads_close_with_documented_codes(make_gateway, message, code):
    with trio.fail_after(10):
        async with make_gateway(heartbeat_interval_ms=FAR) as gw, gw.connect() as c:
            await c.hello()
            await c.ws.send_message(message)
            assert await c.close_code() == code


@pytest.mark.parametrize(
    ("shard", "intents", "token", "code"),
    [
        ([2, 2], 3, None, 4010),
        ([0, 0], 3, None, 4010),
        ([-1, 2], 3, None, 4010),
        ([0, 1], 1 << 23, None, 4013),  # bit 23 is not a documented intent
        ([0, 1], "3", None, 4013),
        ([0, 1], 3, "wrong", 4004),
    ],
)
async def test_identify_validation(make_gateway, shard, intents, token, code):
    with trio.fail_after(10):
        async with make_gateway(heartbeat_interval_ms=FAR) as gw, gw.connect() as c:
            await c.hello()
            d = {"token": token or "fake-token", "intents": intents, "shard": shard, "properties": {}}
            await c.send(2, d)
            assert await c.close_code() == code
            assert gw.server.stats()["identifies"] == 0


async def test_more_guilds_than_a_shard_may_hold_is_4011(make_gateway):
    with trio.fail_after(10):
        async with make_gateway([i << 22 for i in range(2501)], heartbeat_interval_ms=FAR) as gw, gw.connect() as c:
            await c.hello()
            await c.send(2, {"token": "fake-token", "intents": 1, "properties": {}})
            assert await c.close_code() == 4011


async def test_guild_create_and_dispatches_follow_the_shard(make_gateway):
    guilds = [g << 22 for g in range(6)]
    with trio.fail_after(10):
        async with make_gateway(guilds, heartbeat_interval_ms=FAR) as gw, gw.connect() as c0, gw.connect() as c1:
            await c0.hello()
            await c1.hello()
            r0 = await c0.identify(shard=[0, 2])
            r1 = await c1.identify(shard=[1, 2])
            assert [g["id"] for g in r0["d"]["guilds"]] == ["0", str(2 << 22), str(4 << 22)]
            assert [g["id"] for g in r1["d"]["guilds"]] == [str(1 << 22), str(3 << 22), str(5 << 22)]
            assert [(await c0.recv())["d"]["id"] for _ in range(3)] == ["0", str(2 << 22), str(4 << 22)]
            assert [(await c1.recv())["d"]["id"] for _ in range(3)] == [str(1 << 22), str(3 << 22), str(5 << 22)]
            gw.server.dispatch("GUILD_MEMBER_ADD", {"n": 1}, guild_id=3 << 22, intent=2)
            gw.server.dispatch("GUILD_MEMBER_ADD", {"n": 2}, guild_id=4 << 22, intent=2)
            e1 = await c1.recv()
            assert (e1["t"], e1["s"], e1["d"]) == ("GUILD_MEMBER_ADD", 5, {"n": 1})
            e0 = await c0.recv()
            assert (e0["t"], e0["s"], e0["d"]) == ("GUILD_MEMBER_ADD", 5, {"n": 2})
            assert [s["seq"] for s in gw.server.sessions()] == [5, 5]


async def test_events_without_a_guild_go_to_shard_zero_only(make_gateway):
    with trio.fail_after(10):
        async with make_gateway(heartbeat_interval_ms=FAR) as gw, gw.connect() as c0, gw.connect() as c1:
            await c0.hello()
            await c1.hello()
            await c0.identify(intents=2, shard=[0, 2])
            await c1.identify(intents=2, shard=[1, 2])
            gw.server.dispatch("ENTITLEMENT_CREATE", {"id": "1"}, guild_id=None, intent=None)
            assert (await c0.recv())["t"] == "ENTITLEMENT_CREATE"
            assert {s["shard"][0]: s["seq"] for s in gw.server.sessions()} == {0: 2, 1: 1}


async def test_events_only_for_subscribed_intents(make_gateway):
    with trio.fail_after(10):
        async with make_gateway(heartbeat_interval_ms=FAR) as gw, gw.connect() as c:
            await c.hello()
            await c.identify(intents=1)  # GUILDS only
            for _ in range(2):
                assert (await c.recv())["t"] == "GUILD_CREATE"
            gw.server.dispatch("GUILD_MEMBER_ADD", {"skip": True}, guild_id=1 << 22, intent=2)
            gw.server.dispatch("CHANNEL_CREATE", {"id": "7"}, guild_id=1 << 22, intent=1)
            event = await c.recv()
            assert (event["t"], event["s"]) == ("CHANNEL_CREATE", 4)


async def test_no_guild_create_without_the_guilds_intent(make_gateway):
    with trio.fail_after(10):
        async with make_gateway(heartbeat_interval_ms=FAR) as gw, gw.connect() as c:
            await c.hello()
            await c.identify(intents=2)
            gw.server.dispatch("GUILD_MEMBER_ADD", {"n": 1}, guild_id=1 << 22, intent=2)
            event = await c.recv()
            assert (event["t"], event["s"]) == ("GUILD_MEMBER_ADD", 2)


async def test_zlib_stream_uses_one_context_and_sync_flushes(make_gateway):
    with trio.fail_after(10):
        async with (
            make_gateway(heartbeat_interval_ms=FAR) as gw,
            gw.connect("v=10&encoding=json&compress=zlib-stream") as c,
        ):
            assert (await c.hello())["d"]["heartbeat_interval"] == FAR
            await c.identify()
            for i in range(20):
                gw.server.dispatch("GUILD_MEMBER_ADD", {"user": {"id": str(i)}}, guild_id=1 << 22, intent=2)
            events = [await c.recv() for _ in range(22)]
            assert [e["d"]["user"]["id"] for e in events[2:]] == [str(i) for i in range(20)]
            assert all(raw.endswith(b"\x00\x00\xff\xff") for raw in c.raw)
            # One context for the whole connection: a fresh inflater cannot decode a later message alone.
            with pytest.raises(zlib.error):
                zlib.decompressobj().decompress(c.raw[-1])


async def test_heartbeat_silence_is_4009_on_the_mock_clock(make_gateway, autojump_clock):
    with trio.fail_after(100):
        async with make_gateway(heartbeat_interval_ms=10_000) as gw, gw.connect() as c:
            await c.hello()
            await c.identify()
            start = trio.current_time()
            for _ in range(3):  # heartbeating on time keeps the connection open well past one interval
                await trio.sleep(9)
                await c.send(1, None)
            while (await c.recv())["op"] != 11:
                pass
            assert await c.close_code() == 4009
            assert trio.current_time() - start >= 27 + 15


async def test_resume_window_expiry_kills_the_session(make_gateway, autojump_clock):
    with trio.fail_after(1000):
        async with make_gateway(heartbeat_interval_ms=FAR, resume_window_s=60.0) as gw:
            async with gw.connect() as c:
                await c.hello()
                session_id = (await c.identify())["d"]["session_id"]
            await trio.sleep(61)
            async with gw.connect() as c:
                await c.hello()
                await c.send(6, {"token": "fake-token", "session_id": session_id, "seq": 1})
                assert await c.recv() == {"op": 9, "d": False, "s": None, "t": None}
            assert gw.server.sessions()[0]["dead"] is True


async def test_resume_inside_the_window_and_seq_ahead_is_4007(make_gateway, autojump_clock):
    with trio.fail_after(1000):
        async with make_gateway(heartbeat_interval_ms=FAR, resume_window_s=60.0) as gw:
            async with gw.connect() as c:
                await c.hello()
                session_id = (await c.identify())["d"]["session_id"]
            await trio.sleep(59)
            async with gw.connect() as c:
                await c.hello()
                await c.send(6, {"token": "fake-token", "session_id": session_id, "seq": 999})
                assert await c.close_code() == 4007


async def test_non_resumable_close_kills_the_session(make_gateway):
    with trio.fail_after(10):
        async with make_gateway(heartbeat_interval_ms=FAR) as gw:
            async with gw.connect() as c:
                await c.hello()
                session_id = (await c.identify())["d"]["session_id"]
                gw.server.inject_fault({"kind": "close", "code": 4010, "session_id": session_id})
                assert await c.close_code() == 4010
            async with gw.connect() as c:
                await c.hello()
                await c.send(6, {"token": "fake-token", "session_id": session_id, "seq": 1})
                assert (await c.recv())["op"] == 9


@pytest.mark.parametrize(("code", "resumable"), [(1000, False), (1001, False), (3000, True), (4000, True)])
async def test_client_close_1000_or_1001_ends_the_session(make_gateway, code, resumable):
    with trio.fail_after(10):
        async with make_gateway(heartbeat_interval_ms=FAR) as gw:
            async with gw.connect(close_code=code) as c:
                await c.hello()
                session_id = (await c.identify())["d"]["session_id"]
            async with gw.connect() as c:
                await c.hello()
                await c.send(6, {"token": "fake-token", "session_id": session_id, "seq": 1})
                assert (await c.recv())["op"] == (0 if resumable else 9)


async def test_refuse_fault_fails_handshakes_until_lifted(make_gateway):
    with trio.fail_after(10):
        async with make_gateway(heartbeat_interval_ms=FAR) as gw:
            gw.server.inject_fault({"kind": "refuse"})
            with pytest.RaisesGroup(
                pytest.RaisesExc(ConnectionRejected, check=lambda e: e.status_code == 503), flatten_subgroups=True
            ):
                async with gw.connect():
                    pass
            gw.server.inject_fault({"kind": "refuse", "on": False})
            async with gw.connect() as c:
                assert (await c.hello())["op"] == 10
            assert gw.server.stats()["refused"] == 1


async def test_slow_client_is_dropped_and_resume_recovers_everything(make_gateway, monkeypatch):
    monkeypatch.setattr(gateway_module, "OUTBOX_SIZE", 20)
    with trio.fail_after(20):
        async with make_gateway(heartbeat_interval_ms=FAR) as gw:
            async with gw.connect() as c:
                await c.hello()
                ready = await c.identify(intents=2)
                session_id = ready["d"]["session_id"]
                for i in range(500):  # never blocks, although nobody reads
                    gw.server.dispatch("GUILD_MEMBER_ADD", {"i": i}, guild_id=1 << 22, intent=2)
                seen = [ready["s"]]

                async def read_until_closed() -> None:
                    while True:
                        seen.append((await c.recv())["s"])

                with pytest.raises(ConnectionClosed) as closed:
                    await read_until_closed()
                assert closed.value.reason is not None
                assert closed.value.reason.code == 4000  # resumable: the client could not keep up
                assert seen == list(range(1, len(seen) + 1))
                assert len(seen) < 501
            assert gw.server.sessions()[0]["seq"] == 501
            async with gw.connect() as c:
                await c.hello()
                await c.send(6, {"token": "fake-token", "session_id": session_id, "seq": seen[-1]})
                replay = [await c.recv() for _ in range(501 - seen[-1])]
                assert [e["s"] for e in replay] == list(range(seen[-1] + 1, 502))
                assert (await c.recv())["t"] == "RESUMED"
            assert gw.server.stats()["resumes"] == 1
