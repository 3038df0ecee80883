"""Download a background image from a link an admin gave us, without letting the link reach inside our network.

Each hop: parse and check the link (:mod:`welcomebot.images.policy`), resolve the host ourselves, check every
address, then connect to a checked address (the request URL carries the IP; the Host header and TLS SNI /
certificate check keep the name), so no second DNS answer can move the connection elsewhere. Redirects are
followed by hand and each one is checked again. The body is streamed and cut at ``max_bytes`` whatever
Content-Length says; Content-Type is ignored (:func:`welcomebot.images.validate.normalize` decides what the
bytes are). Timeouts use trio's clock, so tests can run them on ``MockClock``.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Final
from urllib.parse import urljoin

import httpx
import trio

from welcomebot.images.errors import ImageRejected
from welcomebot.images.policy import FetchPolicy, IPAddress, Target, check_addresses, check_target, parse_url, too_large

__all__ = ["Resolver", "fetch_image", "system_resolver"]

#: ``(host, port) -> addresses as text``; the default asks the system through trio's getaddrinfo.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_HEADERS: Final = {
    "Accept": "image/png, image/jpeg, image/webp, image/gif",
    "Accept-Encoding": "identity",  # a compressed body could be a zip bomb; images are compressed already
    "User-Agent": "welcomebot (background image fetcher)",
}
_UPLOAD: Final = "try again later or upload the image as an attachment"


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await trio.socket.getaddrinfo(host, port, type=trio.socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def fetch_image(
    url: str,
    policy: FetchPolicy,
    *,
    resolver: Resolver = system_resolver,
    transport: httpx.AsyncBaseTransport | None = None,
) -> bytes:
    """The body of the image at ``url`` (at most ``policy.max_bytes``), or :class:`ImageRejected`.

    ``transport`` replaces httpx's (tests pass ``httpx.MockTransport``); it is closed when the fetch ends.
    """
    timeout = httpx.Timeout(policy.total_timeout, connect=policy.connect_timeout)
    try:
        with trio.fail_after(policy.total_timeout):
            async with httpx.AsyncClient(
                transport=transport or httpx.AsyncHTTPTransport(retries=0),
                timeout=timeout,
                follow_redirects=False,
                trust_env=False,  # a proxy from the environment would resolve the name again
            ) as client:
                return await _follow(client, url, policy, resolver)
    except trio.TooSlowError:
        raise ImageRejected(
            f"The image server took longer than {policy.total_timeout:g} seconds to send the image; {_UPLOAD}."
        ) from None


async def _follow(client: httpx.AsyncClient, url: str, policy: FetchPolicy, resolver: Resolver) -> bytes:
    for _ in range(policy.max_redirects + 1):
        target = parse_url(url)
        check_target(target, policy)
        resolved = [target.literal] if target.literal is not None else await _resolve(resolver, target)
        addresses = check_addresses(target, resolved, policy)
        response = await _connect(client, target, addresses, policy)
        try:
            if response.status_code in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise ImageRejected(f"The image link redirected without saying where to; {_UPLOAD}.")
                url = urljoin(target.url(), location)
                continue
            if response.status_code != 200:
                raise ImageRejected(
                    f"The image link answered HTTP {response.status_code} instead of an image; "
                    "check that the link opens the image itself."
                )
            return await _read_capped(response, target, policy.max_bytes)
        finally:
            await response.aclose()
    raise ImageRejected(
        f"The image link redirected more than {policy.max_redirects} times; use the final, direct link to the image."
    )


async def _resolve(resolver: Resolver, target: Target) -> list[IPAddress]:
    try:
        answers = await resolver(target.host, target.port)
        return [ipaddress.ip_address(answer.partition("%")[0]) for answer in answers]
    except (OSError, ValueError) as exc:
        raise ImageRejected(f"The image host {target.host} could not be found; check the link.") from exc


async def _connect(
    client: httpx.AsyncClient, target: Target, addresses: list[IPAddress], policy: FetchPolicy
) -> httpx.Response:
    """Send the GET to the first checked address that accepts a connection."""
    extensions = {"sni_hostname": target.host} if target.scheme == "https" and target.literal is None else {}
    for index, address in enumerate(addresses):
        request = client.build_request(
            "GET", target.url(address), headers={**_HEADERS, "Host": target.host_header}, extensions=extensions
        )
        try:
            return await client.send(request, stream=True)
        except httpx.ConnectTimeout:
            if index == len(addresses) - 1:
                raise ImageRejected(
                    f"The image server {target.host} did not answer within {policy.connect_timeout:g} seconds; "
                    f"{_UPLOAD}."
                ) from None
        except httpx.ConnectError as exc:
            if index < len(addresses) - 1:
                continue
            if _caused_by(exc, ssl.SSLCertVerificationError):
                raise ImageRejected(
                    f"The image server {target.host} has no valid https certificate for that name; {_UPLOAD}."
                ) from None
            raise ImageRejected(f"The image server {target.host} could not be reached; {_UPLOAD}.") from None
        except httpx.HTTPError as exc:
            raise _broken(target, exc) from exc
        except httpx.InvalidURL:
            # httpx prepares the next request for any redirect, even unfollowed, and fails on odd Locations.
            raise ImageRejected(
                "The image link redirected to a malformed or unsupported link; use the final, direct link to the image."
            ) from None
    raise AssertionError("unreachable: check_addresses never returns an empty list")


async def _read_capped(response: httpx.Response, target: Target, max_bytes: int) -> bytes:
    too_big = too_large(max_bytes)
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise ImageRejected(f"The image server sent a {encoding}-compressed body instead of the image; {_UPLOAD}.")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_big  # an honest announcement saves the download; a dishonest one is caught below
    body = bytearray()
    try:
        chunks = response.aiter_bytes()  # no decoding: only identity gets this far
        async for chunk in chunks:
            body += chunk
            if len(body) > max_bytes:
                await _abandon(chunks)
                raise too_big
    except httpx.HTTPError as exc:
        raise _broken(target, exc) from exc
    return bytes(body)


async def _abandon(chunks: AsyncIterator[bytes]) -> None:
    """Stop reading a body half-way so that httpx's nested async generators end by an exception, not by garbage
    collection (trio warns about each one, httpx#3686): resume it under a cancelled scope until the next
    network read, a checkpoint, raises Cancelled inside the innermost one. Bounded, for streams without reads.
    """
    with trio.CancelScope() as scope:
        scope.cancel()
        for _ in range(64):
            try:
                await anext(chunks)
            except StopAsyncIteration:
                return


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is in the chain (trio, httpcore and httpx each wrap the ssl error once)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, kind):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _broken(target: Target, exc: httpx.HTTPError) -> ImageRejected:
    if isinstance(exc, httpx.TimeoutException):
        return ImageRejected(
            f"The image server {target.host} stopped sending before the image was complete; {_UPLOAD}."
        )
    return ImageRejected(f"The image server {target.host} sent a broken or incomplete response; {_UPLOAD}.")
