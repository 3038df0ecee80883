"""The small h11 server the emulator and the ops endpoints share."""

import trio
import trio.testing

from welcomebot.httpserver import IDLE_TIMEOUT, Handler, Request, Response, _connection


async def _ok(request: Request) -> Response:
    return Response(200, b"{}", [])


async def test_an_idle_keep_alive_connection_is_closed_quietly(autojump_clock):
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_connection, server, _ok, "test")
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
        nursery.start_soon(_connection, server, _ok, "test")
        await client.send_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        await client.aclose()


async def _head(handler: Handler, name: str = "test") -> bytes:
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_connection, server, handler, name)
        await client.send_all(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += await client.receive_some()
        # The connection stays usable: a GET on it is answered too.
        await client.send_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        after = b""
        while not after.endswith(b"{}"):
            chunk = await client.receive_some()
            assert chunk, "the server dropped the connection"
            after += chunk
        await client.aclose()
    return answer


async def test_head_is_answered_with_the_get_headers_and_no_body():
    answer = await _head(_ok)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"content-length: 2" in head.lower(), "the length a GET would send"
    assert body == b""


async def test_a_crash_is_logged_under_the_servers_name(caplog):
    async def crash(request: Request) -> Response:
        raise RuntimeError("boom")

    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_connection, server, crash, "ops")
        await client.send_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b" 500 " in await client.receive_some()
        await client.aclose()
    (record,) = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert record.getMessage() == "ops handler crashed"
    assert "emulator" not in record.getMessage()
