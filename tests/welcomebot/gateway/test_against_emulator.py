"""The shard runner against the emulator over real sockets: connect, resume, zombies, fatal codes, restart."""

import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
import trio

from welcomebot.emulator.testing import RunningEmulator, running_emulator
from welcomebot.gateway import events as wire
from welcomebot.gateway.errors import GatewayFatal
from welcomebot.gateway.manager import ShardManager
from welcomebot.gateway.protocol import Dispatch
from welcomebot.gateway.session import MemorySessionStore
from welcomebot.gateway.shard import ShardConfig, ShardHandle, run_shard
from welcomebot.gateway.sharding import GatewayBot
from welcomebot.secret import Secret


def config(emu: RunningEmulator, token: str | None = None, **fields: Any) -> ShardConfig:
    return ShardConfig(Secret(token or emu.info.token), emu.info.gateway_url, max_backoff=0.5, **fields)


async def start(
    nursery: trio.Nursery, cfg: ShardConfig, send: trio.MemorySendChannel[Dispatch], store: MemorySessionStore
) -> ShardHandle:
    handle: ShardHandle = await nursery.start(lambda task_status: run_shard(cfg, send, store, rng=random.Random(0),
                                                                           task_status=task_status))  # fmt: skip
    return handle


async def next_named(receive: trio.MemoryReceiveChannel[Dispatch], name: str) -> Dispatch:
    async for d in receive:
        if d.name == name:
            return d
    raise AssertionError(f"channel closed before {name}")


async def take(receive: trio.MemoryReceiveChannel[Dispatch], name: str, n: int) -> list[Dispatch]:
    return [await next_named(receive, name) for _ in range(n)]


def user_id(d: Dispatch) -> int:
    assert isinstance(d.event, wire.GuildMemberAdd)
    return d.event.user.id


@pytest.fixture
async def emu() -> AsyncIterator[RunningEmulator]:
    with trio.fail_after(60):
        async with running_emulator(guilds=2, members=2, heartbeat_interval_ms=400) as running:
            yield running


async def test_connect_ready_guild_create_and_joins(emu: RunningEmulator) -> None:
    send, receive = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(emu), send, MemorySessionStore())
            ready = await next_named(receive, "READY")
            assert isinstance(ready.event, wire.Ready)
            assert ready.event.shard == (0, 1)
            creates = [d.event for d in await take(receive, "GUILD_CREATE", 2)]
            assert all(isinstance(c, wire.GuildCreate) and c.channels and c.roles for c in creates)
            guild = (await emu.control.guilds())[0]["id"]
            joined = await emu.control.join(guild)
            assert user_id(await next_named(receive, "GUILD_MEMBER_ADD")) == int(joined["user_id"])
            (session,) = await emu.control.sessions()
            assert session["intents"] == 3
            assert handle.live.is_set()
            assert handle.identifies == 1
            nursery.cancel_scope.cancel()


async def test_connection_killed_mid_stream_loses_nothing(emu: RunningEmulator) -> None:
    send, receive = trio.open_memory_channel[Dispatch](1000)
    guild = (await emu.control.guilds())[0]["id"]
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(emu), send, MemorySessionStore())
            await next_named(receive, "READY")
            before = [int((await emu.control.join(guild))["user_id"]) for _ in range(3)]
            await emu.control.fault("gateway", kind="drop")
            during = [int((await emu.control.join(guild))["user_id"]) for _ in range(10)]
            got = [user_id(d) for d in await take(receive, "GUILD_MEMBER_ADD", 13)]
            assert got == before + during, "every join, in order, once"
            with trio.move_on_after(1):
                extra = await next_named(receive, "GUILD_MEMBER_ADD")
                raise AssertionError(f"a join was delivered twice: {extra}")
            assert handle.resumes == 1
            (session,) = await emu.control.sessions()
            assert session["identify_count"] == 1
            nursery.cancel_scope.cancel()


async def test_zombie_connection_is_detected_and_resumed(emu: RunningEmulator) -> None:
    send, receive = trio.open_memory_channel[Dispatch](100)
    guild = (await emu.control.guilds())[0]["id"]
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(emu), send, MemorySessionStore())
            await next_named(receive, "READY")
            await emu.control.fault("gateway", kind="stop_acks", on=True)
            joined = await emu.control.join(guild)
            seen = []
            async for d in receive:  # until the RESUME that follows an unanswered heartbeat
                if d.name == "GUILD_MEMBER_ADD":
                    seen.append(user_id(d))
                if d.name == "RESUMED":
                    break
            await emu.control.fault("gateway", kind="stop_acks", on=False)
            assert any("zombie" in reason for reason in handle.reconnects)
            later = await emu.control.join(guild)
            seen += [user_id(d) for d in await take(receive, "GUILD_MEMBER_ADD", 1)]
            assert seen == [int(joined["user_id"]), int(later["user_id"])]
            nursery.cancel_scope.cancel()


async def test_bad_token_is_fatal_with_a_clear_message(emu: RunningEmulator) -> None:
    send, _ = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(30), pytest.raises(GatewayFatal) as info:
        await run_shard(config(emu, token="not.the.token"), send, MemorySessionStore())
    assert info.value.code == 4004
    assert "DISCORD_BOT_TOKEN" in str(info.value)
    assert "not.the.token" not in str(info.value)


async def test_members_intent_off_is_fatal_and_names_the_intent(emu: RunningEmulator) -> None:
    await emu.control.application(members_intent_enabled=False)
    send, _ = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(30), pytest.raises(GatewayFatal) as info:
        await run_shard(config(emu), send, MemorySessionStore())
    assert info.value.code == 4014
    assert "Server Members Intent" in str(info.value)
    assert emu.info.token not in str(info.value)


async def test_restart_resumes_the_persisted_session_and_gets_missed_joins(emu: RunningEmulator) -> None:
    store = MemorySessionStore()
    guild = (await emu.control.guilds())[0]["id"]
    send, receive = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(emu), send, store)
            await next_named(receive, "READY")
            first = await emu.control.join(guild)
            add = await next_named(receive, "GUILD_MEMBER_ADD")
            assert user_id(add) == int(first["user_id"])
            handle.checkpoint(add.session_id, add.seq)  # the application claimed it durably
            nursery.cancel_scope.cancel()  # the process "dies"; the shard saves on the way out
    assert store.sessions[0].seq == add.seq
    missed = [int((await emu.control.join(guild))["user_id"]) for _ in range(3)]
    send2, receive2 = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle2 = await start(nursery, config(emu), send2, store)
            got = [user_id(d) for d in await take(receive2, "GUILD_MEMBER_ADD", 3)]
            assert got == missed
            await next_named(receive2, "RESUMED")  # Discord replays first, then says RESUMED
            assert handle2.resumes == 1
            assert handle2.identifies == 0
            assert [s["resume_count"] for s in await emu.control.sessions()] == [1]
            nursery.cancel_scope.cancel()


async def test_unclaimed_joins_are_replayed_after_a_restart(emu: RunningEmulator) -> None:
    """The persisted sequence never runs ahead of the application: an unclaimed join comes back."""
    store = MemorySessionStore()
    guild = (await emu.control.guilds())[0]["id"]
    send, receive = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(emu), send, store)
            ready = await next_named(receive, "READY")
            handle.checkpoint(ready.session_id, ready.seq)
            joined = await emu.control.join(guild)
            add = await next_named(receive, "GUILD_MEMBER_ADD")  # received, never claimed
            nursery.cancel_scope.cancel()
    assert store.sessions[0].seq < add.seq
    send2, receive2 = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await start(nursery, config(emu), send2, store)
            assert user_id(await next_named(receive2, "GUILD_MEMBER_ADD")) == int(joined["user_id"])
            nursery.cancel_scope.cancel()


async def test_zlib_stream_compression() -> None:
    with trio.fail_after(30):
        async with running_emulator(guilds=3) as emu, trio.open_nursery() as nursery:
            send, receive = trio.open_memory_channel[Dispatch](100)
            await start(nursery, config(emu, compress=True), send, MemorySessionStore())
            await next_named(receive, "READY")
            names = [d.event.name for d in await take(receive, "GUILD_CREATE", 3)]
            assert len(names) == 3
            assert (await emu.control.stats())["gateway"]["connections"] >= 1
            nursery.cancel_scope.cancel()


async def test_shard_manager_from_get_gateway_bot_runs_two_shards(emu: RunningEmulator) -> None:
    async def get_gateway_bot() -> GatewayBot:
        async with httpx.AsyncClient(base_url=emu.info.api_base) as http:
            response = await http.get("/gateway/bot", headers={"Authorization": f"Bot {emu.info.token}"})
        response.raise_for_status()
        return msgspec.json.decode(response.content, type=GatewayBot)

    send, receive = trio.open_memory_channel[Dispatch](100)
    base = ShardConfig(Secret(emu.info.token), "unused", max_backoff=0.5)
    manager = ShardManager(base, get_gateway_bot, send, MemorySessionStore(), shard_count=2)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            plan = await nursery.start(manager.run)
            assert (plan.shard_ids, plan.shard_count, plan.url) == (range(2), 2, emu.info.gateway_url)
            readies = [await next_named(receive, "READY") for _ in range(2)]
            assert sorted(d.event.shard for d in readies) == [(0, 2), (1, 2)]
            sessions = await emu.control.sessions()
            assert sorted(s["shard"] for s in sessions) == [[0, 2], [1, 2]]
            assert manager.identifies == 2
            nursery.cancel_scope.cancel()


class _LogEvent(logging.Handler):
    """Sets ``seen`` when a record containing ``text`` is logged (same thread: the trio run's)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = trio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


async def test_a_refused_handshake_is_an_outage_to_wait_out_not_a_crash(emu: RunningEmulator) -> None:
    send, _receive = trio.open_memory_channel[Dispatch](100)
    refused = _LogEvent("gateway connection ended (could not connect: ConnectionRejected)")
    shard_log = logging.getLogger("welcomebot.gateway.shard")
    shard_log.addHandler(refused)
    try:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                await emu.control.fault("gateway", kind="refuse")
                handle = await start(nursery, config(emu), send, MemorySessionStore())
                await refused.seen.wait()
                assert handle.reconnects["could not connect: ConnectionRejected"] >= 1
                assert not handle.live.is_set()
                await emu.control.fault("gateway", kind="refuse", on=False)
                await handle.live.wait()
                assert handle.connected
                nursery.cancel_scope.cancel()
    finally:
        shard_log.removeHandler(refused)
