"""What a background link may point at, checked without I/O.

:func:`parse_url` reads a link the way a resolver would read its host (IDNA names, IPv4 in any notation that
``inet_aton`` takes: ``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``), :func:`check_target` applies the
scheme and port rules, and :func:`check_addresses` refuses the fetch if ANY address the host resolved to is not
a public unicast address (IPv4 embedded in IPv6 is unwrapped and checked too). The caller then connects to one
of exactly these addresses, so a DNS answer cannot change between the check and the connection.

Trusted origins (the operator's own CDN or emulator base URLs, ``scheme://host:port``) may use http and
loopback or private addresses; nothing else may. On the origins of the CDN and of Discord's API (one origin
in the emulator) only links under the CDN base's path are fetched (:func:`check_path`): an avatar, an
attachment or a background link never reaches the API or the emulator's control API.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, urlsplit

import idna
import msgspec

from welcomebot.images.errors import ImageRejected

__all__ = [
    "DEFAULT_PORTS",
    "FetchPolicy",
    "IPAddress",
    "Target",
    "check_addresses",
    "check_path",
    "check_target",
    "forbidden_reason",
    "parse_host_address",
    "parse_url",
    "too_large",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MIB: Final = 1024 * 1024
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_FIX: Final = "use a public https link to the image, or upload it as an attachment"


class FetchPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Limits for fetching and accepting a background image. Build it with :meth:`trusting` in the bot."""

    max_bytes: int = 8 * MIB
    max_pixels: int = 40_000_000
    min_width: int = 320
    min_height: int = 100
    #: The re-encoded image is scaled down to at most this many pixels (2048x2048: twice the card in both
    #: directions, so a crop still has detail) and this many bytes.
    max_output_pixels: int = 2048 * 2048
    max_output_bytes: int = 4 * MIB
    max_redirects: int = 3
    connect_timeout: float = 5.0
    total_timeout: float = 15.0
    #: ``scheme://host:port`` of the configured CDN / emulator: http and non-public addresses are allowed
    #: there and only there.
    trusted_origins: frozenset[str] = frozenset()
    #: ``scheme://host:port/path/`` of the CDN base: on a ``guarded_origins`` origin only links under one
    #: of these are fetched.
    trusted_prefixes: frozenset[str] = frozenset()
    #: The origins of the CDN and of Discord's API, where nothing outside ``trusted_prefixes`` is fetched.
    guarded_origins: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "min_width", "min_height", "max_output_pixels", "max_output_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"FetchPolicy.{name} must be at least 1")
        if self.max_redirects < 0 or self.connect_timeout <= 0 or self.total_timeout <= 0:
            raise ValueError("FetchPolicy: max_redirects must be >= 0 and timeouts positive")

    @classmethod
    def trusting(cls, cdn_base: str | None = None, *, api_base: str | None = None, **limits: object) -> FetchPolicy:
        """A policy that trusts the CDN base (its origin, only under its path) and fetches nothing from the
        API base's origin outside it."""
        bases: dict[str, list[str]] = {"trusted_origins": [], "trusted_prefixes": [], "guarded_origins": []}
        if cdn_base is not None:
            cdn = parse_url(cdn_base)
            bases["trusted_origins"].append(cdn.origin)
            bases["trusted_prefixes"].append(cdn.origin + cdn.path.rstrip("/") + "/")
            bases["guarded_origins"].append(cdn.origin)
        if api_base is not None:
            bases["guarded_origins"].append(parse_url(api_base).origin)
        return msgspec.convert({**limits, **bases}, cls)


@dataclass(frozen=True, slots=True)
class Target:
    """One parsed link: ``host`` is ASCII (IDNA-encoded, no trailing dot) or the canonical form of ``literal``."""

    scheme: str
    host: str
    port: int
    literal: IPAddress | None
    path: str  # path and query, never empty

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{_bracketed(self.host)}:{self.port}"

    @property
    def host_header(self) -> str:
        host = _bracketed(self.host)
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    def url(self, address: IPAddress | None = None) -> str:
        """The link as a URL; with ``address``, one that connects to that address instead of resolving."""
        host = self.host if address is None else str(address)
        return f"{self.scheme}://{_bracketed(host)}:{self.port}{self.path}"


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


_CONTROL: Final = re.compile(r"[\x00-\x20\x7f\\]")
_NUMERIC_LABEL: Final = re.compile(r"0x[0-9a-f]*|[0-9]+")
_LABEL: Final = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_ASCII_NAME: Final = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def parse_url(url: str) -> Target:
    """Parse a link strictly; raises :class:`ImageRejected` naming the problem."""
    if len(url) > 2048 or _CONTROL.search(url.strip()):
        raise ImageRejected(f"The image link is malformed (too long, or with spaces or backslashes); {_FIX}.")
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise ImageRejected(f"The image link is malformed; {_FIX}.") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        shown = f"{scheme}:" if scheme else "no scheme"
        raise ImageRejected(f"Only https:// image links are accepted, not {shown}; {_FIX}.")
    if "@" in parts.netloc:
        raise ImageRejected(f"Image links with a user name or password are not accepted; {_FIX}.")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or not parts.hostname:
        raise ImageRejected(f"The image link has no valid host or port; {_FIX}.")
    literal, host = _parse_host(parts.hostname, bracketed=parts.netloc.startswith("["))
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    return Target(scheme, host, port or DEFAULT_PORTS[scheme], literal, path)


def _parse_host(raw: str, *, bracketed: bool) -> tuple[IPAddress | None, str]:
    if bracketed:
        try:
            v6 = ipaddress.IPv6Address(raw)
            if v6.scope_id is not None:
                raise ValueError("zone ids (%eth0) name a local interface")
        except ValueError:
            raise ImageRejected(f"The image link's address [{raw}] is not a valid IPv6 address; {_FIX}.") from None
        return v6, str(v6)
    v4 = parse_host_address(raw)
    if v4 is not None:
        return v4, str(v4)
    name = raw[:-1] if raw.endswith(".") else raw  # one trailing dot: the same name, fully qualified
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise ImageRejected(f"The image link's host name {raw!r} is not a valid domain name; {_FIX}.") from None
    if len(name) > 253 or not _ASCII_NAME.fullmatch(name):
        raise ImageRejected(f"The image link's host name {raw!r} is not a valid domain name; {_FIX}.")
    return None, name


def parse_host_address(host: str) -> ipaddress.IPv4Address | None:
    """Read ``host`` as ``inet_aton`` (and so ``getaddrinfo``) would: None if it is a name, not a number.

    One to four parts, each decimal, octal (leading 0) or hex (0x); the last part fills the remaining bytes
    (``127.1`` is 127.0.0.1, ``2130706433`` is 127.0.0.1). A host that looks numeric but is no valid
    address (``08.1``, ``1.2.3.4.5``, ``256.1.1.1``) is refused rather than handed to DNS.
    """
    labels = host.lower().split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # one trailing dot, as resolvers allow
    if not all(_NUMERIC_LABEL.fullmatch(label) for label in labels):
        return None
    try:
        numbers = [_parse_number(label) for label in labels]
    except ValueError:
        numbers = []
    if not numbers or len(numbers) > 4 or any(n > 255 for n in numbers[:-1]):
        raise ImageRejected(f"The image link's host {host!r} is not a valid IP address; {_FIX}.")
    value = numbers[-1]
    if value >= 256 ** (5 - len(numbers)):
        raise ImageRejected(f"The image link's host {host!r} is not a valid IP address; {_FIX}.")
    for shift, number in enumerate(reversed(numbers[:-1]), start=5 - len(numbers)):
        value |= number << (8 * shift)
    return ipaddress.IPv4Address(value)


def _parse_number(label: str) -> int:
    if label.startswith("0x"):
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8)  # ValueError for 8 and 9, as inet_aton refuses them
    return int(label)


def too_large(max_bytes: int) -> ImageRejected:
    return ImageRejected(f"The image is larger than {max_bytes / MIB:.3g} MiB; upload a smaller file.")


def check_path(target: Target, policy: FetchPolicy) -> None:
    """On the CDN's or the API's origin, only links under the CDN base's path (no dot segments) are fetched."""
    if target.origin not in policy.guarded_origins:
        return
    path = target.path.split("?", 1)[0]
    segments = unquote(path).replace("\\", "/").split("/")
    under_cdn = any((target.origin + path).startswith(prefix) for prefix in policy.trusted_prefixes)
    if under_cdn and "." not in segments and ".." not in segments:
        return
    raise ImageRejected(
        f"The link points at {target.origin}{path}, a part of Discord's servers that holds no images; "
        "upload the image as an attachment or link to it on Discord's CDN."
    )


def check_target(target: Target, policy: FetchPolicy) -> None:
    """Scheme and port rules: trusted origins may use anything, others only https on 443 or a port >= 1024;
    then :func:`check_path`."""
    check_path(target, policy)
    if target.origin in policy.trusted_origins:
        return
    if target.scheme != "https":
        raise ImageRejected(f"Only https:// image links are accepted, not http:// to {target.host}; {_FIX}.")
    if target.port < 1024 and target.port != DEFAULT_PORTS["https"]:
        # Low ports are other services (mail, SSH, ...): never talk HTTP at them on anyone's behalf.
        raise ImageRejected(f"The image link uses port {target.port}, which is not allowed; {_FIX}.")


def check_addresses(target: Target, addresses: Iterable[IPAddress], policy: FetchPolicy) -> list[IPAddress]:
    """All of ``addresses`` or :class:`ImageRejected` if any is not a public unicast address."""
    checked = list(addresses)
    if not checked:
        raise ImageRejected(f"The image host {target.host} has no address; check the link.")
    if target.origin in policy.trusted_origins:
        return checked
    for address in checked:
        reason = forbidden_reason(address)
        if reason is not None:
            where = "The image link" if target.literal is not None else f"The image host {target.host} resolves to"
            verb = " points to" if target.literal is not None else ""
            raise ImageRejected(f"{where}{verb} {reason}, which the bot never fetches from; {_FIX}.")
    return checked


_V4_RULES: Final = (
    (ipaddress.IPv4Network("0.0.0.0/8"), "an unspecified address"),
    (ipaddress.IPv4Network("127.0.0.0/8"), "a loopback address"),
    (ipaddress.IPv4Network("10.0.0.0/8"), "a private-network address"),
    (ipaddress.IPv4Network("172.16.0.0/12"), "a private-network address"),
    (ipaddress.IPv4Network("192.168.0.0/16"), "a private-network address"),
    (ipaddress.IPv4Network("100.64.0.0/10"), "a carrier-grade NAT (shared) address"),
    (ipaddress.IPv4Network("169.254.0.0/16"), "a link-local address"),
    (ipaddress.IPv4Network("224.0.0.0/4"), "a multicast address"),
    (ipaddress.IPv4Network("240.0.0.0/4"), "a reserved address"),
)
_V6_RULES: Final = (
    (ipaddress.IPv6Network("::/128"), "an unspecified address"),
    (ipaddress.IPv6Network("::1/128"), "a loopback address"),
    (ipaddress.IPv6Network("::/96"), "a deprecated IPv4-compatible address"),
    (ipaddress.IPv6Network("fe80::/10"), "a link-local address"),
    (ipaddress.IPv6Network("fec0::/10"), "a site-local address"),
    (ipaddress.IPv6Network("fc00::/7"), "a unique-local (private) address"),
    (ipaddress.IPv6Network("ff00::/8"), "a multicast address"),
    (ipaddress.IPv6Network("64:ff9b:1::/48"), "a local-use NAT64 address"),
)
_IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")


def forbidden_reason(address: IPAddress) -> str | None:
    """Why the bot must not connect to ``address`` (e.g. "a loopback address (127.0.0.1)"), or None."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        inner = forbidden_reason(embedded)
        if inner is not None:
            return f"{inner[: inner.rindex(' (')]} ({address}, which embeds {embedded})"
        if isinstance(address, ipaddress.IPv6Address) and (
            address in _NAT64 or address.ipv4_mapped is not None or address.sixtofour is not None
        ):
            return None  # a public IPv4 address behind NAT64, 6to4, or as seen by a dual-stack socket
    rules = _V4_RULES if address.version == 4 else _V6_RULES
    for network, reason in rules:
        if address in network:
            return f"{reason} ({address})"
    if not address.is_global:
        return f"a reserved or special-purpose address ({address})"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried by an IPv4-mapped, IPv4-compatible, NAT64, 6to4 or Teredo IPv6 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client; the whole Teredo prefix is refused as special-purpose anyway
    return None
