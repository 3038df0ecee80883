"""The client-side rate-limit core on plain floats."""

import pytest

from welcomebot.rest.buckets import Headers, RateLimits

MSG = "POST /channels/{channel_id}/messages"


def h(limit: int, remaining: int, reset_after: float, bucket: str = "b1", **kw) -> Headers:
    return Headers(limit=limit, remaining=remaining, reset_after=reset_after, bucket=bucket, **kw)


def test_unknown_bucket_lets_one_request_through_until_it_learns():
    r = RateLimits()
    assert r.acquire(MSG, "c1", 0.0) == 0
    assert r.acquire(MSG, "c1", 0.0) == -1, "second waits for the first answer"
    r.update(MSG, "c1", 200, h(5, 4, 5.0), 0.1)
    for _ in range(4):
        assert r.acquire(MSG, "c1", 0.2) == 0
    wait = r.acquire(MSG, "c1", 0.2)
    assert 4.8 < wait <= 4.9, "pre-emptive: wait for the reset instead of earning a 429"
    assert r.acquire(MSG, "c1", 5.2) == 0


def test_buckets_are_per_top_level_resource():
    r = RateLimits()
    r.acquire(MSG, "c1", 0)
    r.update(MSG, "c1", 200, h(1, 0, 5.0), 0)
    assert r.acquire(MSG, "c1", 0) > 0
    assert r.acquire(MSG, "c2", 0) == 0


def test_routes_sharing_a_bucket_hash_share_the_budget():
    r = RateLimits()
    a, b = "PUT /x/{guild_id}", "DELETE /x/{guild_id}"
    r.acquire(a, "g", 0)
    r.update(a, "g", 200, h(2, 1, 10.0, bucket="shared"), 0)
    r.acquire(b, "g", 0)
    r.update(b, "g", 200, h(2, 0, 10.0, bucket="shared"), 0)
    assert r.acquire(a, "g", 1) > 0


def test_global_limit_and_global_429():
    r = RateLimits(global_per_second=3)
    ok = Headers()
    assert [r.acquire(f"GET /r{i}", "", 0.0) for i in range(3)] == [0, 0, 0]
    assert r.acquire("GET /r9", "", 0.5) == -1, "three in flight: wait for an answer"
    for i in range(3):
        r.update(f"GET /r{i}", "", 200, ok, 0.1)
    assert r.acquire("GET /r9", "", 0.5) == pytest.approx(0.6), "each counts until a second after its response"
    assert r.acquire("GET /r9", "", 1.1) == 0
    r.update("GET /r9", "", 200, ok, 1.1)
    assert r.acquire("GET /r8", "", 1.5) == 0
    r.update("GET /r8", "", 200, ok, 1.5)
    assert r.acquire("GET /r7", "", 1.6) == 0
    r.update("GET /r7", "", 200, ok, 1.6)
    assert r.acquire("GET /r6", "", 1.7) == pytest.approx(0.4), "a sliding second: never more than 3 in any second"
    r.acquire("GET /r6", "", 2.1)
    r.update("GET /r6", "", 429, Headers(scope="global", is_global=True, retry_after=2.0), 2.2)
    assert r.acquire("GET /other", "", 2.5) == pytest.approx(1.7)
    assert r.acquire("POST /interactions", "", 2.5, global_limited=False) == 0, "interactions skip the global limit"


def test_a_slow_request_still_counts_against_the_global_second():
    """Sent at 0, answered at 5: Discord may have counted it at any time in between."""
    r = RateLimits(global_per_second=1)
    assert r.acquire("GET /slow", "", 0.0) == 0
    assert r.acquire("GET /b", "", 3.0) == -1, "in flight for three seconds, and still counted"
    r.release("GET /slow", "", 5.0)
    assert r.acquire("GET /b", "", 5.2) == pytest.approx(0.8), "and until a second after its end"
    assert r.acquire("GET /b", "", 6.0) == 0


def test_429_scopes_and_invalid_request_counting():
    r = RateLimits(invalid_ceiling=3)
    r.acquire(MSG, "c", 0)
    r.update(MSG, "c", 429, h(5, 0, 2.0, scope="user", retry_after=2.0), 0)
    assert r.acquire(MSG, "c", 1.0) > 0
    r.update(MSG, "c", 429, Headers(scope="shared", retry_after=1.0), 3)
    assert r.invalid_count(3) == 1, "shared 429s are not ours"
    r.update(MSG, "c", 403, Headers(), 4)
    r.update(MSG, "c", 401, Headers(), 5)
    assert r.over_invalid_ceiling(5)
    assert not r.over_invalid_ceiling(5 + 601), "a sliding ten minutes"
    assert r.rate_limited == {"user": 1, "shared": 1}


def test_headers_parse():
    parsed = Headers.parse({"x-ratelimit-limit": "5", "x-ratelimit-remaining": "0", "x-ratelimit-reset-after": "1.5",
                            "x-ratelimit-bucket": "abc", "x-ratelimit-scope": "user", "retry-after": "2"})  # fmt: skip
    assert parsed == Headers(5, 0, 1.5, "abc", "user", False, 2.0)
    assert Headers.parse({}, retry_after_body=0.25).retry_after == 0.25
