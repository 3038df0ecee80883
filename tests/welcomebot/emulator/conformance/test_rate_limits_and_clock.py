"""Rate-limit headers (topics/rate-limits.mdx) and the world's clock (#23.5, #23.13)."""

import math
import time

import httpx
import trio

from welcomebot.emulator.testing import running_emulator
from welcomebot.emulator.world import DISCORD_EPOCH_MS

#: Generous: the checks below are about units and epochs (a year off, seconds vs ms), not about timing.
SLACK_S = 120


async def test_reset_is_unix_epoch_seconds_and_429s_carry_via(emu, api):
    """topics/rate-limits.mdx, "Header Format": X-RateLimit-Reset is "Epoch time (seconds since 00:00:00 UTC on
    January 1, 1970) at which the rate limit resets"; "Exceeding A Rate Limit": ``Retry-After: 65`` beside
    ``X-RateLimit-Reset-After: 64.57`` (whole seconds, rounded up) and a float ``retry_after`` in the body.
    Real answers pass Google's front end (``Via``), which clients use to tell them from Cloudflare bans."""
    channel = (await emu.control.guilds())[0]["channels"][0]["id"]
    responses = [await api.http.post(f"/channels/{channel}/messages", json={"content": str(i)}) for i in range(6)]
    ok, limited = responses[0], responses[-1]
    assert limited.status_code == 429
    reset = float(ok.headers["X-RateLimit-Reset"])
    assert abs(reset - (time.time() + float(ok.headers["X-RateLimit-Reset-After"]))) < SLACK_S
    body_retry = limited.json()["retry_after"]
    assert isinstance(body_retry, float)
    assert int(limited.headers["Retry-After"]) == max(1, math.ceil(body_retry))
    assert limited.headers["Via"] == "1.1 google"
    assert ok.headers["Via"] == "1.1 google"


async def test_world_clock_follows_the_real_clock_by_default(emu, api):
    """resources/message.mdx ("timestamp") and reference.mdx, "Snowflakes": a new message's timestamp and its
    id's timestamp are the time it was sent (the emulator once stamped everything with a fixed 2025 date)."""
    channel = (await emu.control.guilds())[0]["channels"][0]["id"]
    sent = (await api.http.post(f"/channels/{channel}/messages", json={"content": "now"})).json()
    id_ms = (int(sent["id"]) >> 22) + DISCORD_EPOCH_MS
    assert abs(id_ms / 1000 - time.time()) < SLACK_S


async def test_start_ms_fixes_the_world_clock_but_not_the_reset_header():
    """A fixed ``start_ms`` (reproducible runs) moves snowflakes and timestamps; X-RateLimit-Reset stays Unix
    epoch seconds of the real clock (topics/rate-limits.mdx, "Header Format")."""
    start_ms = 1_600_000_000_000  # 2020-09-13
    with trio.fail_after(30):
        async with running_emulator(guilds=1, members=1, start_ms=start_ms) as emu:
            channel = (await emu.control.guilds())[0]["channels"][0]["id"]
            headers = {"Authorization": f"Bot {emu.info.token}"}
            async with httpx.AsyncClient(base_url=emu.info.api_base, headers=headers) as http:
                r = await http.post(f"/channels/{channel}/messages", json={"content": "then"})
            id_ms = (int(r.json()["id"]) >> 22) + DISCORD_EPOCH_MS
            assert start_ms <= id_ms < start_ms + SLACK_S * 1000
            assert abs(float(r.headers["X-RateLimit-Reset"]) - time.time()) < SLACK_S


async def test_a_bad_token_earns_the_cloudflare_ban():
    """topics/rate-limits.mdx, "Invalid Request Limit": 401s count towards the limit, and past it every request
    gets Cloudflare's ban (429 "error code: 1015", no Via), a bad token's requests included."""
    with trio.fail_after(30):
        async with (
            running_emulator(guilds=1, members=1, invalid_ban_threshold=5) as emu,
            httpx.AsyncClient(base_url=emu.info.api_base, headers={"Authorization": "Bot wrong"}) as http,
        ):
            statuses = [(await http.get("/users/@me")).status_code for _ in range(5)]
            banned = await http.get("/users/@me")
    assert statuses == [401] * 5
    assert (banned.status_code, banned.text) == (429, "error code: 1015")
    assert "Via" not in banned.headers
