"""The small h11 server the emulator and the ops endpoints share."""

import trio
import trio.testing

from welcomebot.httpserver import IDLE_TIMEOUT, Request, Response, _connection


async def _ok(request: Request) -> Response:
    return Response(200, b"{}", [])


async def test_an_idle_keep_alive_connection_is_closed_quietly(autojump_clock):
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_connection, server, _ok)
        await client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200" in await client.receive_some()
        start = trio.current_time()
        # The client keeps the connection open and says nothing: the server hangs up after the idle timeout.
        while await client.receive_some():
            pass
        assert trio.current_time() - start >= IDLE_TIMEOUT


async def test_a_client_that_vanishes_mid_request_ends_only_its_connection(autojump_clock):
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_connection, server, _ok)
        await client.send_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        await client.aclose()
