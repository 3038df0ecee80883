"""The sans-IO link checks: host notations, address classes, trusted origins, policy construction."""

from __future__ import annotations

import ipaddress

import msgspec
import pytest

from welcomebot.images import FetchPolicy, ImageRejected
from welcomebot.images.policy import (
    check_addresses,
    check_target,
    forbidden_reason,
    parse_host_address,
    parse_url,
)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7F.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("10.0x10.0377", "10.16.0.255"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("1.2.3.4.", "1.2.3.4"),
        ("4294967295", "255.255.255.255"),
    ],
)
def test_ipv4_notations_read_like_inet_aton(host, address):
    assert parse_host_address(host) == ipaddress.IPv4Address(address)


@pytest.mark.parametrize("host", ["example.com", "1.2.3.com", "0x7g.1", "a1", "1e3"])
def test_names_are_not_numbers(host):
    assert parse_host_address(host) is None


@pytest.mark.parametrize("host", ["08.0.0.1", "1.2.3.4.5", "256.1.1.1", "1.256.1.1", "4294967296", "1.16777216"])
def test_numeric_hosts_that_are_no_address_are_refused(host):
    with pytest.raises(ImageRejected, match="is not a valid IP address"):
        parse_host_address(host)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.216.34", "2606:4700::6810:84e5", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_pass(address):
    assert forbidden_reason(ipaddress.ip_address(address)) is None


def test_parse_url_keeps_what_the_request_needs():
    target = parse_url("HTTPS://Bücher.Example.:8443/a%20b/c.png?size=1#frag")
    assert (target.scheme, target.host, target.port, target.literal) == ("https", "xn--bcher-kva.example", 8443, None)
    assert target.path == "/a%20b/c.png?size=1"
    assert target.host_header == "xn--bcher-kva.example:8443"
    assert target.url(ipaddress.ip_address("2606:4700::1")) == "https://[2606:4700::1]:8443/a%20b/c.png?size=1"
    assert parse_url("https://example.com").path == "/"
    assert parse_url("https://example.com/x").host_header == "example.com"


def test_trusted_origin_allows_http_and_loopback_on_the_cdn_origin_only():
    policy = FetchPolicy.trusting("http://localhost:8901/cdn", api_base="http://127.0.0.1:8900/api/v10")
    assert policy.trusted_origins == frozenset({"http://localhost:8901"})
    loopback = [ipaddress.ip_address("127.0.0.1")]
    for url in ("http://localhost:8901/cdn/x.png", "http://localhost:8901/cdn/attachments/1/2/a.png?ex=1"):
        target = parse_url(url)
        check_target(target, policy)
        assert check_addresses(target, loopback, policy) == loopback
    with pytest.raises(ImageRejected, match="Only https://"):
        check_target(parse_url("http://127.0.0.1:8901/x"), policy)
    target = parse_url("https://127.0.0.1:8902/x")
    check_target(target, policy)
    with pytest.raises(ImageRejected, match="loopback"):
        check_addresses(target, loopback, policy)


#: The emulator serves the API, the CDN and its control API on one origin, as the probe found.
EMULATOR = FetchPolicy.trusting("http://127.0.0.1:8900/cdn", api_base="http://127.0.0.1:8900/api/v10")
REAL = FetchPolicy.trusting("https://cdn.discordapp.com", api_base="https://discord.com/api/v10")


@pytest.mark.parametrize(
    ("policy", "url"),
    [
        (EMULATOR, "http://127.0.0.1:8900/_control/info"),
        (EMULATOR, "http://127.0.0.1:8900/api/v10/users/@me"),
        (EMULATOR, "http://127.0.0.1:8900/cdn/../_control/info"),
        (EMULATOR, "http://127.0.0.1:8900/cdn/%2e%2e/_control/info"),
        (EMULATOR, "http://127.0.0.1:8900/cdn/x/%2E%2E%2F..%2F_control/info"),
        (EMULATOR, "http://127.0.0.1:8900/cdn%2f..%2f_control/info"),
        (EMULATOR, "http://127.0.0.1:8900/cdnx/a.png"),
        (EMULATOR, "http://127.0.0.1:8900/"),
        (EMULATOR, "http://2130706433:8900/_control/info"),
        (REAL, "https://discord.com/api/v10/users/@me"),
        (REAL, "https://discord.com/x.png"),
        (REAL, "https://cdn.discordapp.com/avatars/1/../../x.png"),
    ],
)
def test_links_to_the_api_or_control_paths_are_refused(policy: FetchPolicy, url: str):
    with pytest.raises(ImageRejected, match="holds no images; upload the image as an attachment"):
        check_target(parse_url(url), policy)


@pytest.mark.parametrize(
    ("policy", "url"),
    [
        (EMULATOR, "http://127.0.0.1:8900/cdn/attachments/1/2/bg.png"),
        (EMULATOR, "http://127.0.0.1:8900/cdn/avatars/1/abc.png?size=256"),
        (REAL, "https://cdn.discordapp.com/attachments/1/2/bg.png?ex=1&is=2&hm=3"),
        (REAL, "https://images.example/bg.png"),
    ],
)
def test_cdn_paths_and_other_hosts_are_fetched(policy: FetchPolicy, url: str):
    check_target(parse_url(url), policy)


def test_a_name_without_addresses_is_refused():
    with pytest.raises(ImageRejected, match="has no address"):
        check_addresses(parse_url("https://example.com/"), [], FetchPolicy())


def test_policy_limits_are_validated():
    assert FetchPolicy.trusting(max_bytes=1024).max_bytes == 1024
    with pytest.raises(ValueError, match="max_bytes must be at least 1"):
        FetchPolicy(max_bytes=0)
    with pytest.raises(msgspec.ValidationError, match="timeouts positive"):
        FetchPolicy.trusting(total_timeout=0.0)
