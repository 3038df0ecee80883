"""Injected faults (drop, zombie, op 1/7/9) and the 120-per-60-s send limit, on a raw client."""

import pytest
import trio

FAR = 10_000_000


async def test_drop_then_resume_replays_in_order_then_resumed(make_gateway):
    with trio.fail_after(10):
        async with make_gateway(heartbeat_interval_ms=FAR) as gw:
            async with gw.connect() as c:
                await c.hello()
                session_id = (await c.identify(intents=2))["d"]["session_id"]
                gw.server.inject_fault({"kind": "drop"})
                assert await c.close_code() == 1006  # abnormal closure: no close frame, the TCP stream just ended
            for i in range(5):  # the socket is down; the session still buffers
                gw.server.dispatch("GUILD_MEMBER_ADD", {"i": i}, guild_id=1 << 22, intent=2)
            assert gw.server.sessions()[0]["connected"] is False
            async with gw.connect() as c:
                await c.hello()
                await c.send(6, {"token": "fake-token", "session_id": session_id, "seq": 1})
                replay = [await c.recv() for _ in range(5)]
                assert [(e["s"], e["d"]["i"]) for e in replay] == [(2, 0), (3, 1), (4, 2), (5, 3), (6, 4)]
                assert (await c.recv())["t"] == "RESUMED"
                await c.send(2, {"token": "fake-token", "intents": 2, "properties": {}})
                assert await c.close_code() == 4005  # already authenticated by the RESUME
            assert gw.server.sessions()[0]["resume_count"] == 1


async def test_zombie_server_stops_acking_but_keeps_the_connection(make_gateway):
    with trio.fail_after(10):
        async with make_gateway(heartbeat_interval_ms=FAR) as gw, gw.connect() as c:
            await c.hello()
            await c.identify()
            for _ in range(2):
                await c.recv()
            gw.server.inject_fault({"kind": "stop_acks", "on": True})
            await c.send(1, 1)
            gw.server.dispatch("MARK", {}, guild_id=1 << 22, intent=None)
            assert (await c.recv())["t"] == "MARK"  # no op 11 came before the next dispatch
            gw.server.inject_fault({"kind": "stop_acks", "on": False})
            await c.send(1, 4)
            assert (await c.recv())["op"] == 11


@pytest.mark.parametrize(
    ("fault", "frame"),
    [
        ({"kind": "reconnect"}, {"op": 7, "d": None, "s": None, "t": None}),
        ({"kind": "invalid_session", "resumable": True}, {"op": 9, "d": True, "s": None, "t": None}),
        ({"kind": "heartbeat_request"}, {"op": 1, "d": None, "s": None, "t": None}),
    ],
)
async def test_server_ops(make_gateway, fault, frame):
    with trio.fail_after(10):
        async with make_gateway(heartbeat_interval_ms=FAR) as gw, gw.connect() as c:
            await c.hello()
            await c.identify(intents=2)
            gw.server.inject_fault(fault)
            assert await c.recv() == frame
            assert gw.server.sessions()[0]["dead"] is False


async def test_invalid_session_not_resumable_kills_the_session(make_gateway):
    with trio.fail_after(10):
        async with make_gateway(heartbeat_interval_ms=FAR) as gw, gw.connect() as c:
            await c.hello()
            await c.identify(intents=2)
            gw.server.inject_fault({"kind": "invalid_session", "resumable": False})
            assert (await c.recv())["d"] is False
            assert gw.server.sessions()[0]["dead"] is True


def test_unknown_fault_is_rejected():
    from welcomebot.emulator.gateway import GatewayServer

    class Nothing:
        token, application_id, members_intent_enabled = "t", 1, False

    server = GatewayServer(Nothing())  # type: ignore[arg-type]  # only inject_fault is exercised
    with pytest.raises(ValueError, match="unknown gateway fault"):
        server.inject_fault({"kind": "meteor"})


async def test_send_limit_is_a_sliding_60_s_window(make_gateway, autojump_clock):
    with trio.fail_after(1000):
        async with make_gateway(heartbeat_interval_ms=FAR) as gw, gw.connect() as c:
            await c.hello()
            for _ in range(120):  # exactly 120 in one minute is allowed
                await c.send(1, None)
            for _ in range(120):
                assert (await c.recv())["op"] == 11
            await trio.sleep(61)
            for _ in range(120):  # the window slid: another 120
                await c.send(1, None)
            for _ in range(120):
                assert (await c.recv())["op"] == 11
            await c.send(1, None)  # the 121st inside a minute
            assert await c.close_code() == 4008
            assert gw.server.stats()["closes"] == {"4008": 1}
