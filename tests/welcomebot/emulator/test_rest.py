"""The emulator's REST API driven by a plain httpx client; every exchange is checked against the spec."""

import json

import httpx
import pytest
import trio

from welcomebot.emulator.openapi import SpecViolation
from welcomebot.emulator.world import ATTACH_FILES, SEND_MESSAGES, VIEW_CHANNEL

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000001"
    "e221bc330000000049454e44ae426082"
)


async def first_channel(emu) -> tuple[str, str]:
    guild = (await emu.control.guilds())[0]
    return guild["id"], guild["channels"][0]["id"]


async def test_unauthorized_without_the_bot_token(emu, spec):
    async with httpx.AsyncClient(base_url=emu.info.api_base) as http:
        r = await http.get("/users/@me")
    assert r.status_code == 401
    assert r.json() == {"message": "401: Unauthorized", "code": 0}
    spec.validate_response("GET", "/users/@me", 401, r.json())
    assert (await emu.control.stats())["invalid_requests_total"] == 1


async def test_identity_routes(emu, api):
    me = (await api.http.get("/users/@me")).json()
    assert me["bot"] is True
    app = (await api.http.get("/applications/@me")).json()
    assert app["id"] == emu.info.application_id
    gw = (await api.http.get("/gateway/bot")).json()
    assert gw["url"] == emu.info.gateway_url
    assert gw["session_start_limit"]["max_concurrency"] == 1
    assert api.checked == 3


async def test_message_create_json_records_mentions_as_allowed(emu, api):
    _, channel = await first_channel(emu)
    member = await emu.control.join((await emu.control.guilds())[0]["id"], username="newbie")
    other = (await emu.control.guilds())[0]["owner_id"]
    body = {
        "content": f"Welcome <@{member['user_id']}>! (owner is <@{other}>)",
        "allowed_mentions": {"parse": [], "users": [member["user_id"]]},
        "nonce": "n1",
        "enforce_nonce": True,
    }
    r = await api.http.post(f"/channels/{channel}/messages", json=body)
    assert r.status_code == 200
    assert r.headers["x-ratelimit-limit"] == "5"
    assert r.headers["x-ratelimit-remaining"] == "4"
    (recorded,) = await emu.control.messages(channel)
    assert recorded["mentioned_user_ids"] == [member["user_id"]], "only the allowed user is pinged"
    assert recorded["nonce"] == "n1"


async def test_nonce_dedup_returns_the_first_message(emu, api):
    _, channel = await first_channel(emu)
    body = {"content": "hello", "nonce": "same", "enforce_nonce": True}
    a = (await api.http.post(f"/channels/{channel}/messages", json=body)).json()
    b = (await api.http.post(f"/channels/{channel}/messages", json=body)).json()
    assert a["id"] == b["id"]
    assert len(await emu.control.messages(channel)) == 1
    # without enforce_nonce Discord does not dedupe
    await api.http.post(f"/channels/{channel}/messages", json={"content": "x", "nonce": "same"})
    assert len(await emu.control.messages(channel)) == 2


async def test_multipart_with_files_and_descriptions(emu, api):
    _, channel = await first_channel(emu)
    payload = {"content": "cards", "attachments": [{"id": 0, "description": "card for ada"}, {"id": 1}]}
    files = {"files[0]": ("a.png", PNG, "image/png"), "files[1]": ("b.png", PNG, "image/png")}
    r = await api.http.post(f"/channels/{channel}/messages", data={"payload_json": json.dumps(payload)}, files=files)
    assert r.status_code == 200, r.text
    attachments = r.json()["attachments"]
    assert [a["filename"] for a in attachments] == ["a.png", "b.png"]
    assert attachments[0]["description"] == "card for ada"
    assert attachments[0]["width"] == 1
    cdn = await api.http.get(attachments[0]["url"])
    assert cdn.content == PNG
    assert cdn.headers["content-type"] == "image/png"


async def test_more_than_ten_files_is_a_form_error(emu, api):
    _, channel = await first_channel(emu)
    files = {f"files[{i}]": (f"{i}.png", PNG, "image/png") for i in range(11)}
    r = await api.http.post(f"/channels/{channel}/messages", data={"payload_json": "{}"}, files=files)
    assert r.status_code == 400
    assert r.json()["code"] == 50035


async def test_empty_and_oversized_content_are_refused(emu, api):
    _, channel = await first_channel(emu)
    assert (await api.http.post(f"/channels/{channel}/messages", json={})).json()["code"] == 50006
    r = await api.http.post(f"/channels/{channel}/messages", json={"content": "x" * 2001})
    assert r.status_code == 400
    assert r.json()["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"


async def test_channel_limit_is_5_per_5s_with_a_real_429(emu, api):
    _, channel = await first_channel(emu)
    statuses = []
    for i in range(6):
        r = await api.http.post(f"/channels/{channel}/messages", json={"content": f"m{i}"})
        statuses.append(r.status_code)
    assert statuses == [200] * 5 + [429]
    assert r.headers["x-ratelimit-scope"] == "user"
    assert r.headers["x-ratelimit-remaining"] == "0"
    body = r.json()
    assert body["global"] is False
    assert 0 < body["retry_after"] <= 5
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["x-ratelimit-bucket"]
    stats = await emu.control.stats()
    assert stats["rate_limited"] == {"user": 1}
    assert stats["invalid_requests_total"] == 1


async def test_buckets_are_per_channel(emu, api):
    guild = (await emu.control.guilds())[0]
    a, b = (c["id"] for c in guild["channels"][:2])
    for _ in range(5):
        assert (await api.http.post(f"/channels/{a}/messages", json={"content": "x"})).status_code == 200
    assert (await api.http.post(f"/channels/{b}/messages", json={"content": "y"})).status_code == 200


async def test_missing_permissions_and_access(emu, api):
    _, channel = await first_channel(emu)
    await emu.control.deny_bot(channel, SEND_MESSAGES)
    r = await api.http.post(f"/channels/{channel}/messages", json={"content": "x"})
    assert (r.status_code, r.json()["code"]) == (403, 50013)
    await emu.control.deny_bot(channel, ATTACH_FILES)
    r = await api.http.post(
        f"/channels/{channel}/messages", data={"payload_json": "{}"}, files={"files[0]": ("a.png", PNG, "image/png")}
    )
    assert (r.status_code, r.json()["code"]) == (403, 50013)
    await emu.control.deny_bot(channel, VIEW_CHANNEL)
    r = await api.http.post(f"/channels/{channel}/messages", json={"content": "x"})
    assert (r.status_code, r.json()["code"]) == (403, 50001)


async def test_unknown_channel_and_guild(emu, api):
    r = await api.http.post("/channels/123456789012345678/messages", json={"content": "x"})
    assert (r.status_code, r.json()["code"]) == (404, 10003)
    r = await api.http.get("/guilds/123456789012345678")
    assert (r.status_code, r.json()["code"]) == (404, 10004)
    _, channel = await first_channel(emu)
    await emu.control.delete_channel(channel)
    r = await api.http.post(f"/channels/{channel}/messages", json={"content": "x"})
    assert (r.status_code, r.json()["code"]) == (404, 10003)


async def test_guild_member_routes_and_pagination(emu, api):
    guild_id, _ = await first_channel(emu)
    guild = (await api.http.get(f"/guilds/{guild_id}", params={"with_counts": "true"})).json()
    assert guild["approximate_member_count"] == 5  # owner, bot, 3 seeded
    page1 = (await api.http.get(f"/guilds/{guild_id}/members", params={"limit": 2})).json()
    page2 = (
        await api.http.get(f"/guilds/{guild_id}/members", params={"limit": 2, "after": page1[-1]["user"]["id"]})
    ).json()
    ids = [m["user"]["id"] for m in page1 + page2]
    assert ids == sorted(ids, key=int)
    assert len(set(ids)) == 4
    r = await api.http.get(f"/guilds/{guild_id}/members", params={"limit": 1001})
    assert r.status_code == 400
    member = (await api.http.get(f"/guilds/{guild_id}/members/{ids[0]}")).json()
    assert member["user"]["id"] == ids[0]
    r = await api.http.get(f"/guilds/{guild_id}/members/123456789012345678")
    assert r.json()["code"] == 10007


async def test_commands_bulk_overwrite_validates_names(emu, api):
    app = emu.info.application_id
    good = [{"name": "preview", "description": "Preview the welcome card", "type": 1}]
    r = await api.http.put(f"/applications/{app}/commands", json=good)
    assert r.status_code == 200
    assert r.json()[0]["name"] == "preview"
    assert (await api.http.get(f"/applications/{app}/commands")).json()[0]["id"] == r.json()[0]["id"]
    bad = [{"name": "Set Background", "description": "x", "type": 1}]
    r = await api.http.put(f"/applications/{app}/commands", json=bad)
    assert r.status_code == 400
    assert r.json()["code"] == 50035


async def test_interaction_callback_once_and_within_three_seconds(emu, api):
    guild = (await emu.control.guilds())[0]
    await emu.register_commands("preview")
    interaction = await emu.control.interaction(
        guild_id=guild["id"],
        channel_id=guild["channels"][0]["id"],
        user_id=guild["owner_id"],
        name="preview",
        permissions=1 << 5,
    )
    url = f"/interactions/{interaction['id']}/{interaction['token']}/callback"
    async with httpx.AsyncClient(base_url=emu.info.api_base) as http:  # callbacks need no bot token
        r = await http.post(url, json={"type": 5, "data": {"flags": 64}})
        assert r.status_code == 204
        r = await http.post(url, json={"type": 4, "data": {"content": "again"}})
        assert r.json()["code"] == 40060
        webhook = f"/webhooks/{emu.info.application_id}/{interaction['token']}/messages/@original"
        r = await http.patch(webhook, json={"content": "done"})
        assert r.status_code == 200
        assert r.json()["content"] == "done"
    record = await emu.control.interaction_record(interaction["id"])
    assert record["deferred"] is True
    assert record["original"]["content"] == "done"


async def test_interaction_callback_after_the_deadline_is_unknown(emu, api):
    guild = (await emu.control.guilds())[0]
    await emu.register_commands("preview")
    interaction = await emu.control.interaction(
        guild_id=guild["id"], channel_id=guild["channels"][0]["id"], user_id=guild["owner_id"], name="preview"
    )
    emu.emulator.rest.interactions[int(interaction["id"])].created_at -= 3.5
    r = await api.http.post(f"/interactions/{interaction['id']}/{interaction['token']}/callback", json={"type": 5})
    assert (r.status_code, r.json()["code"]) == (404, 10062)


async def test_cdn_avatars_sizes_defaults_and_etags(emu, api):
    guild_id, _ = await first_channel(emu)
    static = await emu.control.join(guild_id, avatar="static")
    animated = await emu.control.join(guild_id, avatar="animated")
    async with httpx.AsyncClient(base_url=emu.info.cdn_base) as cdn:
        r = await cdn.get(f"/avatars/{static['user_id']}/{static['avatar']}.png", params={"size": 128})
        assert r.status_code == 200
        assert r.content.startswith(b"\x89PNG")
        etag = r.headers["etag"]
        r2 = await cdn.get(r.request.url, headers={"If-None-Match": etag})
        assert r2.status_code == 304
        assert (
            await cdn.get(f"/avatars/{static['user_id']}/{static['avatar']}.png", params={"size": 100})
        ).status_code == 400
        gif = await cdn.get(f"/avatars/{animated['user_id']}/{animated['avatar']}.gif", params={"size": 64})
        assert gif.content.startswith(b"GIF8")
        assert (await cdn.get("/embed/avatars/3.png")).status_code == 200
        assert (await cdn.get("/embed/avatars/6.png")).status_code == 404


async def test_injected_5xx_and_429_faults(emu, api):
    _, channel = await first_channel(emu)
    await emu.control.fault("rest", fail_share=1.0, fail_status=503)
    r = await api.http.get("/users/@me")
    assert r.status_code == 503
    await emu.control.fault("rest", fail_share=1.0, fail_status=429, fail_scope="shared")
    r = await api.http.get("/users/@me")
    assert r.status_code == 429
    assert r.headers["x-ratelimit-scope"] == "shared"
    stats = await emu.control.stats()
    assert stats["invalid_requests_total"] == 0, "shared 429s do not count against the bot"
    await emu.control.fault("rest", fail_share=0.0)
    assert (await api.http.post(f"/channels/{channel}/messages", json={"content": "ok"})).status_code == 200


async def test_invalid_request_ban(emu, api):
    await emu.control.limits(invalid_ban_threshold=3)
    async with httpx.AsyncClient(base_url=emu.info.api_base) as http:
        for _ in range(3):
            assert (await http.get("/users/@me")).status_code == 401
    r = await api.http.get("/users/@me")
    assert r.status_code == 429
    assert r.text == "error code: 1015"


async def test_global_limit(emu, api):
    await emu.control.limits(global_per_second=3)
    statuses = [(await api.http.get("/users/@me")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_lost_response_still_commits_the_message(emu, api):
    _, channel = await first_channel(emu)
    await emu.control.fault("rest", drop_responses=1)
    with pytest.raises(httpx.RemoteProtocolError):
        await api.http.post(
            f"/channels/{channel}/messages", json={"content": "hi", "nonce": "k", "enforce_nonce": True}
        )
    r = await api.http.post(
        f"/channels/{channel}/messages", json={"content": "hi", "nonce": "k", "enforce_nonce": True}
    )
    assert r.status_code == 200
    assert len(await emu.control.messages(channel)) == 1


def test_spec_validator_rejects_a_bad_request(spec):
    with pytest.raises(SpecViolation, match="content"):
        spec.validate_request("POST", "/api/v10/channels/1/messages", {"content": 5})
    with pytest.raises(SpecViolation, match="no such operation"):
        spec.validate_request("POST", "/api/v10/nowhere", {})


async def test_control_api_bad_request_is_clear(emu):
    async with httpx.AsyncClient(base_url=emu.info.control_base) as http:
        r = await http.post("/guilds/1/members", content=b"{")
    assert r.status_code == 400
    assert "bad control request" in r.json()["error"]
    _ = trio


async def test_get_channel_messages_pages_as_documented(emu, api):
    """Get Channel Messages (resources/message.mdx, "Get Channel Messages" and its Query String Params):
    newest to oldest; before/after/around mutually exclusive; limit 1-100, default 50; VIEW_CHANNEL required;
    without READ_MESSAGE_HISTORY "no messages will be returned". Message objects as the API returns them, and a
    fetched message carries no nonce (the create response and MESSAGE_CREATE do)."""
    gid, channel = await first_channel(emu)
    member = await emu.control.join(gid)
    ids = []
    for i in range(5):
        body = {"content": f"m{i} <@{member['user_id']}>", "nonce": f"n{i}", "enforce_nonce": True,
                "allowed_mentions": {"parse": [], "users": [member["user_id"]]}}  # fmt: skip
        ids.append((await api.http.post(f"/channels/{channel}/messages", json=body)).json()["id"])
    url = f"/channels/{channel}/messages"
    everything = (await api.http.get(url)).json()
    assert [m["id"] for m in everything] == ids[::-1], "newest first, default limit covers all 5"
    assert all("nonce" not in m for m in everything)
    assert everything[0]["author"]["bot"] is True
    assert [u["id"] for u in everything[0]["mentions"]] == [member["user_id"]]
    assert [m["id"] for m in (await api.http.get(url, params={"limit": 2})).json()] == [ids[4], ids[3]]
    before = (await api.http.get(url, params={"before": ids[3], "limit": 2})).json()
    assert [m["id"] for m in before] == [ids[2], ids[1]]
    after = (await api.http.get(url, params={"after": ids[0], "limit": 2})).json()
    assert [m["id"] for m in after] == [ids[2], ids[1]], "the two right after the anchor, newest first"
    around = (await api.http.get(url, params={"around": ids[2], "limit": 3})).json()
    assert [m["id"] for m in around] == [ids[3], ids[2], ids[1]]
    for bad in ({"limit": 0}, {"limit": 101}, {"after": "x"}, {"before": ids[1], "after": ids[0]}):
        r = await api.http.get(url, params=bad)
        assert r.status_code == 400, bad
        assert r.json()["code"] == 50035
    await emu.control.deny_bot(channel, 1 << 16)  # Read Message History
    assert (await api.http.get(url)).json() == []
    await emu.control.deny_bot(channel, VIEW_CHANNEL)
    r = await api.http.get(url)
    assert (r.status_code, r.json()["code"]) == (403, 50001)


async def test_the_clock_cannot_be_advanced_on_the_system_clock(emu):
    with pytest.raises(RuntimeError, match=r"409.*cannot be moved"):
        await emu.control.advance_clock(310)
