"""The shard runner against the emulator over real sockets: connect, resume, zombies, fatal codes."""

import random
from typing import Any

import msgspec
import pytest
import trio

from welcomebot.emulator.testing import RunningEmulator, running_emulator
from welcomebot.gateway.errors import GatewayFatal
from welcomebot.gateway.protocol import Dispatch, ResumeState
from welcomebot.gateway.shard import MemorySessionStore, Shard, ShardConfig
from welcomebot.secret import Secret


def make_shard(emu: RunningEmulator, send: trio.MemorySendChannel[Dispatch], store: MemorySessionStore,
               token: str | None = None, **config: Any) -> Shard:  # fmt: skip
    cfg = ShardConfig(Secret(token or emu.info.token), emu.info.gateway_url, max_backoff=0.5, **config)
    return Shard(cfg, send, store, rng=random.Random(0))


async def next_named(receive: trio.MemoryReceiveChannel[Dispatch], name: str) -> Dispatch:
    async for d in receive:
        if d.name == name:
            return d
    raise AssertionError(f"channel closed before {name}")


def user_id(d: Dispatch) -> str:
    return str(msgspec.json.decode(d.data)["user"]["id"])


@pytest.fixture
async def emu():
    with trio.fail_after(60):
        async with running_emulator(guilds=2, members=2, heartbeat_interval_ms=400) as running:
            yield running


async def test_connect_ready_guild_create_and_joins(emu):
    send, receive = trio.open_memory_channel[Dispatch](100)
    store = MemorySessionStore()
    async with trio.open_nursery() as nursery:
        shard = make_shard(emu, send, store)
        nursery.start_soon(shard.run)
        ready = await next_named(receive, "READY")
        assert msgspec.json.decode(ready.data)["shard"] == [0, 1]
        creates = [await next_named(receive, "GUILD_CREATE") for _ in range(2)]
        assert len({msgspec.json.decode(c.data)["id"] for c in creates}) == 2
        guild = (await emu.control.guilds())[0]["id"]
        joined = await emu.control.join(guild)
        assert user_id(await next_named(receive, "GUILD_MEMBER_ADD")) == joined["user_id"]
        (session,) = await emu.control.sessions()
        assert session["intents"] == 3
        assert shard.live.is_set()
        nursery.cancel_scope.cancel()


async def test_connection_killed_mid_stream_loses_nothing(emu):
    send, receive = trio.open_memory_channel[Dispatch](1000)
    store = MemorySessionStore()
    guild = (await emu.control.guilds())[0]["id"]
    async with trio.open_nursery() as nursery:
        shard = make_shard(emu, send, store)
        nursery.start_soon(shard.run)
        await next_named(receive, "READY")
        before = [(await emu.control.join(guild))["user_id"] for _ in range(3)]
        await emu.control.fault("gateway", kind="drop")
        during = [(await emu.control.join(guild))["user_id"] for _ in range(10)]
        got = [user_id(await next_named(receive, "GUILD_MEMBER_ADD")) for _ in range(13)]
        await next_named(receive, "RESUMED")
        assert got == before + during, "every join, in order, once"
        assert shard.resumes == 1
        (session,) = await emu.control.sessions()
        assert session["identify_count"] == 1
        nursery.cancel_scope.cancel()
    assert receive.statistics().current_buffer_used == 0


async def test_zombie_connection_is_detected_and_resumed(emu):
    send, receive = trio.open_memory_channel[Dispatch](100)
    async with trio.open_nursery() as nursery:
        shard = make_shard(emu, send, MemorySessionStore())
        nursery.start_soon(shard.run)
        await next_named(receive, "READY")
        await emu.control.fault("gateway", kind="stop_acks", on=True)
        guild = (await emu.control.guilds())[0]["id"]
        joined = await emu.control.join(guild)
        seen = []
        async for d in receive:  # until the RESUME that follows an unanswered heartbeat
            if d.name == "GUILD_MEMBER_ADD":
                seen.append(user_id(d))
            if d.name == "RESUMED":
                break
        await emu.control.fault("gateway", kind="stop_acks", on=False)
        assert any("zombie" in reason for reason in shard.reconnects)
        later = await emu.control.join(guild)
        seen += [user_id(d) async for d in _take(receive, "GUILD_MEMBER_ADD", 1)]
        assert seen == [joined["user_id"], later["user_id"]]
        nursery.cancel_scope.cancel()


async def _take(receive: trio.MemoryReceiveChannel[Dispatch], name: str, n: int):
    count = 0
    async for d in receive:
        if d.name == name:
            yield d
            count += 1
            if count == n:
                return


async def test_bad_token_is_fatal_with_a_clear_message(emu):
    send, _ = trio.open_memory_channel[Dispatch](100)
    shard = make_shard(emu, send, MemorySessionStore(), token="not.the.token")
    with pytest.raises(GatewayFatal) as info:
        await shard.run()
    assert info.value.code == 4004
    assert "DISCORD_BOT_TOKEN" in str(info.value)
    assert "not.the.token" not in str(info.value)


async def test_members_intent_off_is_fatal_and_names_the_intent(emu):
    await emu.control.application(members_intent_enabled=False)
    send, _ = trio.open_memory_channel[Dispatch](100)
    with pytest.raises(GatewayFatal) as info:
        await make_shard(emu, send, MemorySessionStore()).run()
    assert info.value.code == 4014
    assert "Server Members Intent" in str(info.value)


async def test_restart_resumes_the_persisted_session_and_gets_missed_joins(emu):
    store = MemorySessionStore()
    guild = (await emu.control.guilds())[0]["id"]
    send, receive = trio.open_memory_channel[Dispatch](100)
    async with trio.open_nursery() as nursery:
        shard = make_shard(emu, send, store)
        nursery.start_soon(shard.run)
        await next_named(receive, "READY")
        first = await emu.control.join(guild)
        assert user_id(await next_named(receive, "GUILD_MEMBER_ADD")) == first["user_id"]
        await shard._persist(force=True)
        nursery.cancel_scope.cancel()  # the process "dies"
    saved = store.sessions[0]
    assert isinstance(saved, ResumeState)
    missed = [(await emu.control.join(guild))["user_id"] for _ in range(3)]
    send2, receive2 = trio.open_memory_channel[Dispatch](100)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(make_shard(emu, send2, store).run)
        got = [user_id(d) async for d in _take(receive2, "GUILD_MEMBER_ADD", 3)]
        assert got == missed
        sessions = await emu.control.sessions()
        assert [s["resume_count"] for s in sessions] == [1]
        nursery.cancel_scope.cancel()


async def test_checkpoint_never_runs_ahead_of_the_application(emu):
    store = MemorySessionStore()
    send, receive = trio.open_memory_channel[Dispatch](100)
    durable: dict[str, int] = {}
    shard = make_shard(emu, send, store)
    shard._checkpoint = lambda: next(iter(durable.items()), None)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(shard.run)
        ready = await next_named(receive, "READY")
        guild = (await emu.control.guilds())[0]["id"]
        await emu.control.join(guild)
        add = await next_named(receive, "GUILD_MEMBER_ADD")
        durable[ready.session_id] = 1  # only READY is durable so far
        await shard._persist()
        assert store.sessions[0].seq == 1 < add.seq
        nursery.cancel_scope.cancel()


async def test_zlib_stream_compression():
    async with running_emulator(guilds=3) as emu:
        send, receive = trio.open_memory_channel[Dispatch](100)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(make_shard(emu, send, MemorySessionStore(), compress=True).run)
            await next_named(receive, "READY")
            assert [msgspec.json.decode((await next_named(receive, "GUILD_CREATE")).data)["name"] for _ in range(3)]
            nursery.cancel_scope.cancel()
