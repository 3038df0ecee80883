"""The REST client against the emulator: ordering, zero 429s, faults, nonce, typed errors, spec-valid requests."""

from functools import partial

import httpx
import pytest
import trio

from welcomebot.emulator.openapi import SpecValidator
from welcomebot.emulator.world import SEND_MESSAGES
from welcomebot.rest.api import DiscordApi
from welcomebot.rest.client import File, RestClient
from welcomebot.rest.errors import Forbidden, NotFound, TransportError, Unauthorized
from welcomebot.rest.routes import ALL_ROUTES
from welcomebot.secret import Secret


async def channels(emu) -> list[int]:
    return [int(c["id"]) for g in await emu.control.guilds() for c in g["channels"]]


async def test_burst_to_one_channel_is_ordered_with_zero_429s(emu, api):
    await emu.control.limits(message_period_s=0.05)  # Discord's 5 per 5 s, a hundred times faster
    channel = (await channels(emu))[0]
    async with trio.open_nursery() as nursery:
        for i in range(200):
            nursery.start_soon(partial(api.create_message, channel, content=f"m{i}"))
            await trio.lowlevel.checkpoint()  # start them in order; they queue on the bucket
    posted = [m["content"] for m in await emu.control.messages(channel)]
    assert posted == [f"m{i}" for i in range(200)]
    assert (await emu.control.stats())["rate_limited_total"] == 0


async def test_spread_over_many_channels(emu, api):
    await emu.control.limits(message_period_s=0.05)
    for _ in range(23):
        await emu.control.create_guild(channels=2)
    chans = (await channels(emu))[:50]
    assert len(chans) == 50
    async with trio.open_nursery() as nursery:
        for i in range(500):
            nursery.start_soon(partial(api.create_message, chans[i % 50], content=f"m{i // 50}"))
            await trio.lowlevel.checkpoint()
    for c in chans:
        assert [m["content"] for m in await emu.control.messages(c)] == [f"m{i}" for i in range(10)]
    assert (await emu.control.stats())["rate_limited_total"] == 0


async def test_injected_429s_and_5xx_deliver_each_message_once(emu, api):
    await emu.control.limits(message_period_s=0.05)
    channel = (await channels(emu))[0]
    await emu.control.fault("rest", fail_share=0.3, fail_status=503)
    for i in range(10):
        await api.create_message(channel, content=f"a{i}", nonce=f"a{i}")
    await emu.control.fault("rest", fail_share=0.3, fail_status=429, fail_scope="user")
    for i in range(10):
        await api.create_message(channel, content=f"b{i}", nonce=f"b{i}")
    await emu.control.fault("rest", fail_share=0.3, fail_status=429, fail_scope="global")
    for i in range(10):
        await api.create_message(channel, content=f"c{i}", nonce=f"c{i}")
    posted = [m["content"] for m in await emu.control.messages(channel)]
    assert posted == [f"{p}{i}" for p in "abc" for i in range(10)]
    stats = await emu.control.stats()
    assert stats["injected_failures"]


async def test_lost_response_and_retry_posts_once(emu, api):
    channel = (await channels(emu))[0]
    await emu.control.fault("rest", drop_responses=1)
    message = await api.create_message(channel, content="hello", nonce="w123")
    assert len(await emu.control.messages(channel)) == 1
    assert message.nonce == "w123"


async def test_multipart_with_descriptions_and_allowed_mentions(emu, api):
    channel = (await channels(emu))[0]
    guild = (await emu.control.guilds())[0]["id"]
    member = await emu.control.join(guild)
    files = [File(f"card{i}.png", b"\x89PNG fake", f"card {i}", "image/png") for i in range(3)]
    await api.create_message(channel, content=f"hi <@{member['user_id']}> @everyone", files=files,
                             mention_user_ids=[int(member["user_id"])], nonce="n")  # fmt: skip
    (m,) = await emu.control.messages(channel)
    assert [a["description"] for a in m["attachments"]] == ["card 0", "card 1", "card 2"]
    assert m["mentioned_user_ids"] == [member["user_id"]]
    assert m["allowed_mentions"] == {"parse": [], "users": [member["user_id"]]}


async def test_forbidden_names_the_channel_and_what_to_grant(emu, api):
    channel = (await channels(emu))[0]
    await emu.control.deny_bot(channel, SEND_MESSAGES)
    with pytest.raises(Forbidden) as info:
        await api.create_message(channel, content="x")
    assert info.value.code == 50013
    assert f"channel {channel}" in str(info.value)
    assert "Send Messages" in str(info.value)
    stats = await emu.control.stats()
    assert stats["invalid_requests_total"] == 1, "a 403 is never retried"


async def test_unknown_channel_and_bad_token(emu, api):
    with pytest.raises(NotFound, match="no longer exists"):
        await api.create_message(123456789012345678, content="x")
    client = RestClient(Secret("wrong.token.value"), api_base=emu.info.api_base)
    with pytest.raises(Unauthorized) as info:
        await DiscordApi(client).get_current_user()
    assert "wrong.token.value" not in str(info.value)
    await client.aclose()


async def test_typed_calls_used_by_the_bot(emu, api):
    gateway = await api.get_gateway_bot()
    assert gateway.url == emu.info.gateway_url
    assert gateway.session_start_limit.max_concurrency == 1
    guild = (await emu.control.guilds())[0]
    member = await api.get_guild_member(int(guild["id"]), int(guild["owner_id"]))
    assert member["user"]["id"] == guild["owner_id"]
    assert (await api.get_guild(int(guild["id"]), with_counts=True))["approximate_member_count"] >= 2
    app_id = int(emu.info.application_id)
    commands = [{"name": "preview", "description": "Preview the welcome card", "type": 1}]
    assert (await api.bulk_overwrite_commands(app_id, commands))[0]["name"] == "preview"
    interaction = await emu.control.interaction(guild_id=guild["id"], channel_id=guild["channels"][0]["id"],
                                                user_id=guild["owner_id"], name="preview")  # fmt: skip
    await api.interaction_callback(int(interaction["id"]), interaction["token"], {"type": 5, "data": {"flags": 64}})
    await api.edit_original(app_id, interaction["token"], {"content": "done"},
                            files=[File("card.png", b"\x89PNG", "card", "image/png")])  # fmt: skip
    record = await emu.control.interaction_record(interaction["id"])
    assert record["original"]["content"] == "done"
    assert len(record["original"]["attachments"]) == 1


def test_every_route_exists_in_discords_spec():
    spec = SpecValidator.load()
    for route in ALL_ROUTES:
        names = (
            "channel_id",
            "message_id",
            "guild_id",
            "user_id",
            "role_id",
            "application_id",
            "interaction_id",
            "interaction_token",
        )
        path = route.template.format_map(dict.fromkeys(names, "123"))
        assert spec.match(route.method, path).template.count("{") == route.template.count("{")


async def test_retries_are_bounded_and_typed():
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused")

    client = RestClient(Secret("t"), api_base="http://discord.invalid/api/v10", transport=httpx.MockTransport(handler))
    with pytest.raises(TransportError, match="after 5 attempts"):
        await DiscordApi(client).get_current_user()
    assert calls == 5
    await client.aclose()


async def test_a_cancelled_request_gives_back_its_rate_limit_slot(autojump_clock):
    # A request cancelled while waiting for its answer (a command's deadline, a drain) must free its place in
    # the global second and in its bucket; otherwise every later request waits forever.
    hang = True

    async def handler(request: httpx.Request) -> httpx.Response:
        if hang:
            await trio.sleep_forever()
        return httpx.Response(200, json={"id": "1"})

    client = RestClient(Secret("t"), api_base="http://discord.invalid/api/v10", transport=httpx.MockTransport(handler),
                        global_per_second=1)  # fmt: skip
    api = DiscordApi(client)
    with trio.move_on_after(1):
        await api.get_channel(1)
    hang = False
    with trio.fail_after(30):
        assert await api.get_channel(1) == {"id": "1"}  # the same bucket
        assert await api.get_channel(2) == {"id": "1"}  # another bucket, the same global second
    await client.aclose()
