"""fetch_image: the connection is pinned to a checked address, redirects are re-checked, the body is capped."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpx
import pytest
import trio
import trio.testing
import trustme

from welcomebot.images import FetchPolicy, ImageRejected, fetch_image, normalize, system_resolver
from welcomebot.images.testing import HostileServer, http_response, photo_bytes, redirect

PUBLIC = "93.184.216.34"


def resolver_for(answers: dict[str, list[str]], calls: list[str] | None = None):
    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return answers[host]

    return resolve


async def test_https_request_goes_to_the_checked_address_with_host_and_sni_kept():
    seen: list[httpx.Request] = []

    def cdn(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"image bytes")

    data = await fetch_image(
        "https://images.example:8443/a.png?x=1",
        FetchPolicy(),
        resolver=resolver_for({"images.example": [PUBLIC]}),
        transport=httpx.MockTransport(cdn),
    )
    assert data == b"image bytes"
    (request,) = seen
    assert str(request.url) == f"https://{PUBLIC}:8443/a.png?x=1"
    assert request.headers["host"] == "images.example:8443"
    assert request.extensions["sni_hostname"] == "images.example"  # httpcore verifies the certificate for it
    assert request.headers["accept-encoding"] == "identity"


async def test_each_redirect_hop_is_resolved_once_and_checked():
    calls: list[str] = []
    answers = {"a.example": [PUBLIC], "b.example": ["2606:4700::6810:84e5"]}

    def hops(request: httpx.Request) -> httpx.Response:
        if request.headers["host"] == "a.example":
            return httpx.Response(301, headers={"Location": "https://b.example/final.png"})
        assert request.url.host == "2606:4700::6810:84e5"
        return httpx.Response(200, content=b"done")

    policy = FetchPolicy()
    transport = httpx.MockTransport(hops)
    assert await fetch_image("https://a.example/", policy, resolver=resolver_for(answers, calls), transport=transport)
    assert calls == ["a.example", "b.example"]


async def test_dns_rebinding_cannot_move_the_connection(nursery: trio.Nursery):
    """The name is resolved once, by us; a second answer (here: an exception) is never asked for."""
    server = HostileServer(routes={"/a.png": http_response(body=photo_bytes())})
    await nursery.start(server.serve)
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        if len(calls) > 1:
            raise AssertionError("resolved twice")
        return ["127.0.0.1"]

    origin = f"http://rebind.test:{server.port}"
    policy = FetchPolicy(trusted_origins=frozenset({origin}))
    image = normalize(await fetch_image(f"{origin}/a.png", policy, resolver=rebinding), policy)
    assert (image.width, image.height) == (640, 360)
    assert calls == ["rebind.test"]
    assert server.requests == [("/a.png", server.requests[0][1])]
    assert server.requests[0][1]["host"] == f"rebind.test:{server.port}"


async def test_relative_redirects_within_three_hops_are_followed(nursery: trio.Nursery):
    server = HostileServer(
        routes={
            "/1": redirect("/2", 301),
            "/2": redirect("3", 303),
            "/4": http_response(body=photo_bytes("WEBP")),
        }
    )
    await nursery.start(server.serve)
    server.routes["/3"] = redirect(f"{server.origin}/4", 308)  # absolute, now that the port is known
    policy = FetchPolicy(trusted_origins=frozenset({server.origin}))
    data = await fetch_image(f"{server.origin}/1", policy)
    assert normalize(data, policy).width == 640
    assert [target for target, _ in server.requests] == ["/1", "/2", "/3", "/4"]


async def test_the_byte_cap_ignores_a_lying_content_length():
    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"\0" * 65536
            await trio.lowlevel.checkpoint()

    def liar(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "100"}, content=endless())

    with pytest.raises(ImageRejected, match=r"larger than 1 MiB"):
        await fetch_image(
            "https://big.example/",
            FetchPolicy(max_bytes=2**20),
            resolver=resolver_for({"big.example": [PUBLIC]}),
            transport=httpx.MockTransport(liar),
        )


async def test_connect_failures_try_the_next_checked_address_then_give_up():
    tried: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        tried.append(request.url.host)
        if request.url.host == "2606:4700::1":
            raise httpx.ConnectError("no route", request=request)
        return httpx.Response(200, content=b"ok")

    answers = {"two.example": ["2606:4700::1", PUBLIC]}
    policy = FetchPolicy()
    resolve = resolver_for(answers)
    assert await fetch_image("https://two.example/", policy, resolver=resolve, transport=httpx.MockTransport(flaky))
    assert tried == ["2606:4700::1", PUBLIC]

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ImageRejected, match=r"^The image server two\.example could not be reached"):
        await fetch_image("https://two.example/", policy, resolver=resolve, transport=httpx.MockTransport(down))


async def test_connect_timeout_is_reported():
    def silent(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with pytest.raises(ImageRejected, match=r"did not answer within 5 seconds"):
        await fetch_image(
            "https://slow.example/",
            FetchPolicy(),
            resolver=resolver_for({"slow.example": [PUBLIC]}),
            transport=httpx.MockTransport(silent),
        )


async def test_total_timeout_runs_on_trios_clock(autojump_clock: trio.testing.MockClock):
    async def trickle() -> AsyncIterator[bytes]:
        while True:
            yield b"\x89"
            await trio.sleep(1)

    def slow(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=trickle())

    start = trio.current_time()
    with pytest.raises(ImageRejected, match=r"took longer than 15 seconds"):
        await fetch_image(
            "https://slow.example/",
            FetchPolicy(),
            resolver=resolver_for({"slow.example": [PUBLIC]}),
            transport=httpx.MockTransport(slow),
        )
    assert trio.current_time() - start == pytest.approx(15)


async def test_the_default_resolver_feeds_the_address_checks():
    answers = await system_resolver("localhost", 443)
    assert answers
    assert set(answers) <= {"127.0.0.1", "::1"}
    with pytest.raises(ImageRejected, match=r"^The image host localhost resolves to a loopback address"):
        await fetch_image("https://localhost/a.png", FetchPolicy())


async def test_https_to_a_pinned_address_still_verifies_the_names_certificate(nursery: trio.Nursery):
    """A real TLS server on loopback: the connection goes to the checked IP, the certificate is checked for the
    name (SNI). The loopback server is reachable only because the test policy trusts its origin."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("img.test").configure_cert(server_context)
    server = HostileServer(routes={"/a.png": http_response(body=photo_bytes())}, ssl_context=server_context)
    await nursery.start(server.serve)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    resolve = resolver_for({"img.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})

    async def fetch(host: str) -> bytes:
        origin = f"https://{host}:{server.port}"
        policy = FetchPolicy(trusted_origins=frozenset({origin}))
        transport = httpx.AsyncHTTPTransport(verify=client_context)
        return await fetch_image(f"{origin}/a.png", policy, resolver=resolve, transport=transport)

    assert normalize(await fetch("img.test"), FetchPolicy()).width == 640
    assert server.requests[0][1]["host"] == f"img.test:{server.port}"
    with pytest.raises(ImageRejected, match=r"^The image server other\.test has no valid https certificate"):
        await fetch("other.test")
