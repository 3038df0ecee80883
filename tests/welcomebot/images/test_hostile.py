"""Issue 10's hostile-input table: every link or body below is refused with its message, and nothing comes back.

Each case runs the whole path the /set-background command takes: ``fetch_image`` then ``normalize``. Content is
served by a raw local server; the only way loopback becomes reachable is the policy's trusted origin for that
server (``http://127.0.0.1:PORT``), exactly as the bot trusts its configured CDN/emulator. Names resolve
through a fake resolver. The clock is a MockClock that only moves when a stalling route says so, so the
timeout cases take no real time and no other timeout can fire by accident.
"""

from __future__ import annotations

import gzip
import socket
from dataclasses import dataclass, field

import pytest
import trio
import trio.testing

from welcomebot.images import FetchPolicy, ImageRejected, NormalizedImage, fetch_image, normalize
from welcomebot.images.testing import (
    HostileServer,
    Route,
    drip,
    http_response,
    photo_bytes,
    png_header_only,
    redirect,
    stall,
)

MAX_BYTES = 256 * 1024
BIG = b"\0" * (MAX_BYTES + 1)

DNS = {
    "internal.test": ["10.1.2.3"],
    "mixed.test": ["93.184.216.34", "192.168.0.10"],
    "v6private.test": ["2606:4700::6810:84e5", "fd00::5"],
    "localhost": ["::1", "127.0.0.1"],
    "metadata.test": ["169.254.169.254"],
    "xn--bcher-kva.test": ["127.0.0.2"],
    "mapped.test": ["::ffff:10.0.0.7"],
}


async def fake_resolver(host: str, port: int) -> list[str]:
    try:
        return DNS[host]
    except KeyError:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None


@dataclass(frozen=True)
class Case:
    id: str
    url: str  # "{origin}" is the local server
    expected: str  # a regex the refusal's message must match
    routes: dict[str, Route] = field(default_factory=dict)


ONLY_HTTPS = r"^Only https:// image links are accepted"
NEVER = r", which the bot never fetches from; use a public https link"
TRUNCATED_PNG = photo_bytes("PNG")[:3000]
TRUNCATED_JPEG = photo_bytes("JPEG")[:3000]


def loop(hops: int) -> dict[str, Route]:
    routes: dict[str, Route] = {f"/loop/{n}": redirect(f"/loop/{n - 1}") for n in range(1, hops + 1)}
    routes["/loop/0"] = http_response(body=photo_bytes())
    return routes


CASES = [
    # Schemes and URL shapes
    Case("file", "file:///etc/passwd", ONLY_HTTPS + r", not file:"),
    Case("data", "data:image/png;base64,iVBORw0KGgo=", ONLY_HTTPS + r", not data:"),
    Case("ftp", "ftp://example.com/a.png", ONLY_HTTPS + r", not ftp:"),
    Case("gopher", "gopher://127.0.0.1:70/_GET", ONLY_HTTPS + r", not gopher:"),
    Case("javascript", "javascript:alert(1)", ONLY_HTTPS + r", not javascript:"),
    Case("no-scheme", "example.com/a.png", ONLY_HTTPS + r", not no scheme"),
    Case("userinfo", "https://user:pw@example.com/a.png", r"user name or password are not accepted"),
    Case("userinfo-host-trick", "https://example.com@127.0.0.1/a.png", r"user name or password are not accepted"),
    Case("http-other-host", "http://example.com/a.png", ONLY_HTTPS + r", not http:// to example\.com"),
    Case("http-loopback-other-port", "http://127.0.0.1:1/x", ONLY_HTTPS + r", not http:// to 127\.0\.0\.1"),
    Case("low-port", "https://example.com:25/a.png", r"uses port 25, which is not allowed"),
    Case("port-zero", "https://example.com:0/a.png", r"no valid host or port"),
    Case("port-too-big", "https://example.com:70000/a.png", r"no valid host or port"),
    Case("backslash", "https://example.com\\@127.0.0.1/", r"malformed"),
    Case("bad-octal", "https://08.0.0.1/", r"host '08\.0\.0\.1' is not a valid IP address"),
    Case("five-parts", "https://1.2.3.4.5/", r"host '1\.2\.3\.4\.5' is not a valid IP address"),
    Case("bad-name", "https://exa%20mple.com/", r"not a valid domain name"),
    # IPv4 in every notation a resolver takes
    Case("loopback", "https://127.0.0.1/", r"^The image link points to a loopback address \(127\.0\.0\.1\)" + NEVER),
    Case("decimal", "https://2130706433/", r"a loopback address \(127\.0\.0\.1\)"),
    Case("octal", "https://0177.0.0.1/", r"a loopback address \(127\.0\.0\.1\)"),
    Case("hex-short", "https://0x7f.1/", r"a loopback address \(127\.0\.0\.1\)"),
    Case("hex-whole", "https://0x7f000001/", r"a loopback address \(127\.0\.0\.1\)"),
    Case("short", "https://127.1/", r"a loopback address \(127\.0\.0\.1\)"),
    Case("trailing-dot", "https://127.0.0.1./", r"a loopback address \(127\.0\.0\.1\)"),
    Case("private-10", "https://10.0.0.1/", r"a private-network address \(10\.0\.0\.1\)"),
    Case("private-172", "https://172.16.5.4/", r"a private-network address \(172\.16\.5\.4\)"),
    Case("private-192-octal", "https://0300.0250.1.1/", r"a private-network address \(192\.168\.1\.1\)"),
    Case("metadata", "https://169.254.169.254/latest/meta-data/", r"a link-local address \(169\.254\.169\.254\)"),
    Case("cgnat", "https://100.64.0.1/", r"carrier-grade NAT \(shared\) address \(100\.64\.0\.1\)"),
    Case("unspecified", "https://0.0.0.0/", r"an unspecified address \(0\.0\.0\.0\)"),
    Case("zero", "https://0/", r"an unspecified address \(0\.0\.0\.0\)"),
    Case("multicast", "https://224.0.0.1/", r"a multicast address \(224\.0\.0\.1\)"),
    Case("reserved", "https://240.0.0.1/", r"a reserved address \(240\.0\.0\.1\)"),
    Case("broadcast", "https://255.255.255.255/", r"a reserved address \(255\.255\.255\.255\)"),
    Case("documentation", "https://192.0.2.10/", r"a reserved or special-purpose address \(192\.0\.2\.10\)"),
    # IPv6, and IPv4 hidden inside IPv6
    Case("v6-loopback", "https://[::1]/", r"a loopback address \(::1\)"),
    Case("v6-unspecified", "https://[::]/", r"an unspecified address \(::\)"),
    Case(
        "v4-mapped",
        "https://[::ffff:127.0.0.1]/",
        r"a loopback address \(::ffff:(7f00:1|127\.0\.0\.1), which embeds 127\.0\.0\.1\)",  # 3.13 prints it dotted
    ),
    Case(
        "v4-mapped-hex", "https://[::ffff:a9fe:a9fe]/", r"a link-local address \(.*, which embeds 169\.254\.169\.254\)"
    ),
    Case("v4-compatible", "https://[::127.0.0.1]/", r"a loopback address \(::7f00:1, which embeds 127\.0\.0\.1\)"),
    Case(
        "nat64",
        "https://[64:ff9b::10.0.0.1]/",
        r"a private-network address \(64:ff9b::a00:1, which embeds 10\.0\.0\.1\)",
    ),
    Case(
        "6to4",
        "https://[2002:c0a8:101::1]/",
        r"a private-network address \(2002:c0a8:101::1, which embeds 192\.168\.1\.1\)",
    ),
    Case(
        "teredo",
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
        r"a loopback address \(2001:0:4136:e378:8000:63bf:80ff:fffe, which embeds 127\.0\.0\.1\)",
    ),
    Case("unique-local", "https://[fd12:3456::1]/", r"a unique-local \(private\) address \(fd12:3456::1\)"),
    Case("link-local-v6", "https://[fe80::1]/", r"a link-local address \(fe80::1\)"),
    Case("site-local", "https://[fec0::1]/", r"a site-local address \(fec0::1\)"),
    Case("multicast-v6", "https://[ff02::1]/", r"a multicast address \(ff02::1\)"),
    Case("zone-id", "https://[fe80::1%25eth0]/", r"is not a valid IPv6 address"),
    # Names, resolved by the fake resolver; every address is checked
    Case("dns-private", "https://internal.test/a.png", r"^The image host internal\.test resolves to a private-network"),
    Case("dns-one-of-two", "https://mixed.test/a.png", r"resolves to a private-network address \(192\.168\.0\.10\)"),
    Case(
        "dns-v6-private", "https://v6private.test/a.png", r"resolves to a unique-local \(private\) address \(fd00::5\)"
    ),
    Case("dns-localhost", "https://localhost/a.png", r"host localhost resolves to a loopback address \(::1\)"),
    Case("dns-metadata", "https://metadata.test/", r"resolves to a link-local address \(169\.254\.169\.254\)"),
    Case(
        "dns-mapped",
        "https://mapped.test/",
        r"resolves to a private-network address \(::ffff:(a00:7|10\.0\.0\.7), which embeds",
    ),
    Case("dns-idna", "https://bücher.test/a.png", r"host xn--bcher-kva\.test resolves to a loopback address"),
    Case("dns-unknown", "https://nowhere.test/a.png", r"^The image host nowhere\.test could not be found"),
    # Redirects: each hop is checked again
    Case(
        "redirect-private",
        "{origin}/r",
        r"points to a private-network address \(10\.0\.0\.1\)",
        {"/r": redirect("https://10.0.0.1/a.png")},
    ),
    Case(
        "redirect-dns",
        "{origin}/r",
        r"internal\.test resolves to a private-network",
        {"/r": redirect("https://internal.test/")},
    ),
    Case("redirect-file", "{origin}/r", ONLY_HTTPS + r", not file:", {"/r": redirect("file:///etc/passwd")}),
    Case(
        "redirect-http",
        "{origin}/r",
        ONLY_HTTPS + r", not http:// to example\.com",
        {"/r": redirect("http://example.com/")},
    ),
    Case(
        "redirect-other-port",
        "{origin}/r",
        ONLY_HTTPS + r", not http:// to 127\.0\.0\.1",
        {"/r": redirect("http://127.0.0.1:1/")},
    ),
    Case(
        "redirect-decimal",
        "{origin}/r",
        r"a loopback address \(127\.0\.0\.1\)",
        {"/r": redirect("https://2130706433/")},
    ),
    Case(
        "redirect-307-mapped",
        "{origin}/r",
        r"which embeds 127\.0\.0\.1",
        {"/r": redirect("https://[::ffff:7f00:1]/", 307)},
    ),
    Case("redirect-data", "{origin}/r", r"redirected to a malformed or unsupported link", {"/r": redirect("data:,x")}),
    Case("redirect-bad-port", "{origin}/r", r"no valid host or port", {"/r": redirect("https://example.com:99999/")}),
    Case("redirect-userinfo", "{origin}/r", r"user name or password", {"/r": redirect("https://a:b@example.com/")}),
    Case("redirect-4-hops", "{origin}/loop/4", r"^The image link redirected more than 3 times", loop(4)),
    Case("redirect-endless", "{origin}/loop/1", r"redirected more than 3 times", {"/loop/1": redirect("/loop/1")}),
    Case("redirect-nowhere", "{origin}/r", r"redirected without saying where", {"/r": http_response(302)}),
    # Answers that are not an image
    Case("not-found", "{origin}/missing.png", r"answered HTTP 404 instead of an image"),
    Case("server-error", "{origin}/e", r"answered HTTP 500", {"/e": http_response(500, b"oops")}),
    Case(
        "html-as-png",
        "{origin}/p.png",
        r"a web page or SVG drawing",
        {"/p.png": http_response(body=b"<!DOCTYPE html><p>hi")},
    ),
    Case(
        "svg",
        "{origin}/d.svg",
        r"a web page or SVG drawing",
        {"/d.svg": http_response(body=b'<svg xmlns="http://www.w3.org/2000/svg" width="900" height="400"/>')},
    ),
    Case(
        "svg-with-bom",
        "{origin}/d.png",
        r"a web page or SVG drawing",
        {"/d.png": http_response(body=b"\xef\xbb\xbf\n<?xml version='1.0'?><svg/>")},
    ),
    Case(
        "text",
        "{origin}/t.png",
        r"^The file is not a PNG, JPEG, WebP or GIF image",
        {"/t.png": http_response(body=b"hello")},
    ),
    Case("empty", "{origin}/e.png", r"^The file is not a PNG, JPEG, WebP or GIF image", {"/e.png": http_response()}),
    Case(
        "bmp",
        "{origin}/b.png",
        r"^The file is not a PNG",
        {"/b.png": http_response(body=photo_bytes("BMP", (320, 200)))},
    ),
    Case(
        "tiff",
        "{origin}/t.png",
        r"^The file is not a PNG",
        {"/t.png": http_response(body=photo_bytes("TIFF", (320, 200)))},
    ),
    # Broken images
    Case("truncated-png", "{origin}/t.png", r"damaged or incomplete", {"/t.png": http_response(body=TRUNCATED_PNG)}),
    Case("truncated-jpeg", "{origin}/t.jpg", r"damaged or incomplete", {"/t.jpg": http_response(body=TRUNCATED_JPEG)}),
    Case(
        "bomb",
        "{origin}/b.png",
        r"above the limit of 40 megapixels",
        {"/b.png": http_response(body=png_header_only(50_000, 50_000))},
    ),
    Case(
        "over-pixel-cap",
        "{origin}/b.png",
        r"^The image is 8000x6000 pixels, above the limit of 40 megapixels",
        {"/b.png": http_response(body=png_header_only(8000, 6000))},
    ),
    Case(
        "tiny",
        "{origin}/t.png",
        r"^The image is 64x64 pixels; backgrounds must be at least 320x100",
        {"/t.png": http_response(body=photo_bytes("PNG", (64, 64)))},
    ),
    Case(
        "too-thin",
        "{origin}/t.png",
        r"^The image is 2000x80 pixels",
        {"/t.png": http_response(body=photo_bytes("JPEG", (2000, 80)))},
    ),
    # Sizes: the cap holds whatever Content-Length says
    Case("big-honest", "{origin}/b", r"^The image is larger than 0\.25 MiB", {"/b": http_response(body=BIG)}),
    Case("big-no-length", "{origin}/b", r"larger than 0\.25 MiB", {"/b": http_response(body=BIG, length=-1)}),
    Case(
        "big-chunked",
        "{origin}/b",
        r"larger than 0\.25 MiB",
        {"/b": http_response(headers={"Transfer-Encoding": "chunked"}, length=-1) + b"%x\r\n" % len(BIG) + BIG},
    ),
    Case(
        "lying-length-short",
        "{origin}/b",
        r"damaged or incomplete",  # only the declared 3000 bytes are read: a truncated image
        {"/b": http_response(body=photo_bytes("PNG"), length=3000)},
    ),
    Case(
        "gzip",
        "{origin}/g",
        r"sent a gzip-compressed body",
        {"/g": http_response(body=gzip.compress(BIG), headers={"Content-Encoding": "gzip"})},
    ),
    # Broken servers
    Case(
        "cut-short",
        "{origin}/c",
        r"sent a broken or incomplete response",
        {"/c": http_response(body=b"x" * 100, length=5000)},
    ),
    Case(
        "huge-headers",
        "{origin}/h",
        r"sent a broken or incomplete response",
        {"/h": http_response(body=photo_bytes(), headers={"X-Padding": "a" * 200_000})},
    ),
    Case("garbage", "{origin}/g", r"sent a broken or incomplete response", {"/g": b"HELLO THERE\r\n\r\n"}),
    Case("slow-drip", "{origin}/slow", r"^The image server took longer than 15 seconds", {"/slow": drip}),
    Case("no-answer", "{origin}/stall", r"took longer than 15 seconds", {"/stall": stall}),
]


async def fetch_and_normalize(url: str, policy: FetchPolicy) -> NormalizedImage:
    """What /set-background does with a link (normalize runs in a worker thread there)."""
    return normalize(await fetch_image(url, policy, resolver=fake_resolver), policy)


def test_table_is_big_enough():
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_hostile_input_is_refused(case: Case, nursery: trio.Nursery, mock_clock: trio.testing.MockClock):
    server = HostileServer(routes=case.routes)
    await nursery.start(server.serve)
    policy = FetchPolicy(trusted_origins=frozenset({server.origin}), max_bytes=MAX_BYTES)

    async def jump_when_stalled() -> None:
        await server.stalled.wait()
        mock_clock.jump(policy.total_timeout + 1)

    nursery.start_soon(jump_when_stalled)
    with pytest.raises(ImageRejected, match=case.expected) as refused:
        await fetch_and_normalize(case.url.format(origin=server.origin), policy)
    message = str(refused.value)
    assert message.endswith(".")
    assert ". " not in message, "one sentence for the admin"


async def test_trusted_origin_is_exactly_scheme_host_and_port(nursery: trio.Nursery):
    """The server's own origin is reachable over http on loopback; the same host on its https origin is not."""
    server = HostileServer(routes={"/a.png": http_response(body=photo_bytes())})
    await nursery.start(server.serve)
    policy = FetchPolicy(trusted_origins=frozenset({server.origin}))
    image = await fetch_and_normalize(f"{server.origin}/a.png", policy)
    assert (image.width, image.height) == (640, 360)
    with pytest.raises(ImageRejected, match=r"points to a loopback address"):
        await fetch_image(f"https://127.0.0.1:{server.port}/a.png", policy, resolver=fake_resolver)
    assert [target for target, _ in server.requests] == ["/a.png"]
