"""Emulator routes for welcome behaviours: DMs (and 50007), adding roles with Discord's hierarchy, member paging."""

from welcomebot.emulator.world import MANAGE_ROLES


async def test_dm_channel_and_message(emu, api):
    guild = (await emu.control.guilds())[0]
    member = await emu.control.join(guild["id"])
    r = await api.http.post("/users/@me/channels", json={"recipient_id": member["user_id"]})
    assert r.status_code == 200
    dm = r.json()
    assert dm["type"] == 1
    assert dm["recipients"][0]["id"] == member["user_id"]
    again = (await api.http.post("/users/@me/channels", json={"recipient_id": member["user_id"]})).json()
    assert again["id"] == dm["id"], "one DM channel per user"
    r = await api.http.post(f"/channels/{dm['id']}/messages", json={"content": "hello", "nonce": "d1",
                                                                   "enforce_nonce": True})  # fmt: skip
    assert r.status_code == 200
    assert [m["content"] for m in await emu.control.dms(member["user_id"])] == ["hello"]


async def test_closed_dms_answer_50007(emu, api):
    guild = (await emu.control.guilds())[0]
    member = await emu.control.join(guild["id"], dms_closed=True)
    dm = (await api.http.post("/users/@me/channels", json={"recipient_id": member["user_id"]})).json()
    r = await api.http.post(f"/channels/{dm['id']}/messages", json={"content": "hello"})
    assert r.status_code == 403
    assert r.json()["code"] == 50007
    assert await emu.control.dms(member["user_id"]) == []


async def test_dm_needs_a_recipient(emu, api):
    r = await api.http.post("/users/@me/channels", json={})
    assert r.status_code == 400


async def test_add_role_follows_the_hierarchy(emu, api):
    guild = (await emu.control.guilds())[0]
    gid = guild["id"]
    (bot_role,) = guild["bot_role_ids"]
    member = (await emu.control.join(gid))["user_id"]
    low = await emu.control.create_role(gid, "Member", position=1)
    high = await emu.control.create_role(gid, "Moderator", position=5)
    path = f"/guilds/{gid}/members/{member}/roles"
    await emu.control.update_role(gid, bot_role, position=3)
    r = await api.http.put(f"{path}/{low}")
    assert r.status_code == 403, "no Manage Roles yet"
    assert r.json()["code"] == 50013
    await emu.control.update_role(gid, bot_role, permissions=MANAGE_ROLES)
    assert (await api.http.put(f"{path}/{low}")).status_code == 204
    r = await api.http.put(f"{path}/{high}")
    assert r.status_code == 403, "a role above the bot's"
    assert r.json()["code"] == 50013
    assert (await api.http.put(f"{path}/123456789012345678")).status_code == 404
    assert (await emu.control.member(gid, member))["roles"] == [low]


async def test_member_list_pages_in_user_id_order_with_its_bucket(emu, api):
    guild = (await emu.control.guilds())[0]
    gid = guild["id"]
    for _ in range(5):
        await emu.control.join(gid)
    seen: list[int] = []
    after = "0"
    while True:
        r = await api.http.get(f"/guilds/{gid}/members", params={"limit": 3, "after": after})
        assert r.headers["x-ratelimit-limit"] == "10"
        page = r.json()
        seen += [int(m["user"]["id"]) for m in page]
        if len(page) < 3:
            break
        after = page[-1]["user"]["id"]
    assert seen == sorted(seen)
    assert len(seen) == guild["member_count"] + 5
    assert (await api.http.get(f"/guilds/{gid}/members", params={"limit": 0})).status_code == 400
