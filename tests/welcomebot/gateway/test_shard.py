"""The trio runner against the in-memory fake gateway (conftest.py), on the MockClock: deterministic."""

from __future__ import annotations

import itertools
import logging
import random
from typing import Any

import pytest
import trio

from welcomebot.gateway import events as wire
from welcomebot.gateway.errors import GatewayFatal
from welcomebot.gateway.protocol import HELLO_TIMEOUT, Dispatch, SavedSession
from welcomebot.gateway.session import MemorySessionStore
from welcomebot.gateway.shard import FELL_BEHIND, ShardConfig, ShardHandle, run_shard
from welcomebot.secret import Secret

TOKEN = "MTIz.fake-gateway.secret-token"
INTERVAL = 10.0


def config(gw: Any, token: str = TOKEN, **fields: Any) -> ShardConfig:
    return ShardConfig(Secret(token), "wss://gateway.test", open_stream=gw.open_stream, **fields)


async def start(nursery: trio.Nursery, cfg: ShardConfig, send: trio.MemorySendChannel[Dispatch],
                store: MemorySessionStore) -> ShardHandle:  # fmt: skip
    async def runner(task_status: trio.TaskStatus[ShardHandle]) -> None:
        await run_shard(cfg, send, store, rng=random.Random(1), task_status=task_status)

    handle: ShardHandle = await nursery.start(runner)
    return handle


async def until(receive: trio.MemoryReceiveChannel[Dispatch], name: str) -> Dispatch:
    async for d in receive:
        if d.name == name:
            return d
    raise AssertionError(f"no {name}")


async def joins(receive: trio.MemoryReceiveChannel[Dispatch], n: int) -> list[int]:
    out = []
    for _ in range(n):
        d = await until(receive, "GUILD_MEMBER_ADD")
        assert isinstance(d.event, wire.GuildMemberAdd)
        out.append(d.event.user.id)
    return out


async def test_connect_identify_ready_guild_create(autojump_clock: trio.testing.MockClock, fake_gateway: Any) -> None:
    send, receive = trio.open_memory_channel[Dispatch](10)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(fake_gateway), send, MemorySessionStore())
            ready = await until(receive, "READY")
            create = await until(receive, "GUILD_CREATE")
            assert isinstance(create.event, wire.GuildCreate)
            assert create.event.roles[0].permissions == 1024
            assert fake_gateway.resources == ["/?v=10&encoding=json"]
            (identify,) = fake_gateway.ops(2)
            assert identify.d["intents"] == 3
            assert identify.d["shard"] == [0, 1]
            assert identify.d["properties"]["browser"] == identify.d["properties"]["device"] == "welcomebot"
            assert handle.live.is_set()
            assert handle.session_id == ready.session_id == "session-1"
            nursery.cancel_scope.cancel()


async def test_heartbeats_first_jittered_then_every_interval(autojump_clock: Any, fake_gateway: Any) -> None:
    send, receive = trio.open_memory_channel[Dispatch](10)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            await start(nursery, config(fake_gateway), send, MemorySessionStore())
            await until(receive, "GUILD_CREATE")
            await trio.sleep(5 * INTERVAL)
            beats = [r.at for r in fake_gateway.ops(1)]
            assert len(beats) in (5, 6)
            assert beats[0] - fake_gateway.received[0].at < INTERVAL
            assert all(b - a == pytest.approx(INTERVAL) for a, b in itertools.pairwise(beats))
            assert fake_gateway.ops(1)[-1].d == 2, "a heartbeat carries the last sequence"
            assert fake_gateway.connections == 1
            nursery.cancel_scope.cancel()


async def test_dropped_connection_resumes_and_delivers_missed_events_once_in_order(
    autojump_clock: Any, fake_gateway: Any, add_payload: Any
) -> None:
    send, receive = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(fake_gateway), send, MemorySessionStore())
            await until(receive, "GUILD_CREATE")
            for uid in (1, 2):
                await fake_gateway.dispatch("GUILD_MEMBER_ADD", add_payload(uid))
            await fake_gateway.drop()
            for uid in (3, 4, 5):  # while we are away
                await fake_gateway.dispatch("GUILD_MEMBER_ADD", add_payload(uid))
            assert await joins(receive, 5) == [1, 2, 3, 4, 5]
            await until(receive, "RESUMED")
            (resume,) = fake_gateway.ops(6)
            assert resume.d == {"token": TOKEN, "session_id": "session-1", "seq": 4}
            assert fake_gateway.resources[1] == "/?v=10&encoding=json"
            assert fake_gateway.hosts == ["gateway.test", "resume.test"], "RESUME goes to resume_gateway_url"
            assert handle.resumes == 1
            assert len(fake_gateway.ops(2)) == 1
            await fake_gateway.dispatch("GUILD_MEMBER_ADD", add_payload(6))
            assert await joins(receive, 1) == [6], "nothing twice"
            nursery.cancel_scope.cancel()


async def test_zombie_connection_is_closed_and_resumed(autojump_clock: Any, fake_gateway: Any) -> None:
    send, receive = trio.open_memory_channel[Dispatch](100)
    fake_gateway.acks = False
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(fake_gateway), send, MemorySessionStore())
            await until(receive, "GUILD_CREATE")
            started = trio.current_time()
            await until(receive, "RESUMED")
            first_beat = fake_gateway.ops(1)[0].at
            assert trio.current_time() >= first_beat + INTERVAL, "only when the next beat is due"
            assert trio.current_time() - started <= 2 * INTERVAL + 61
            assert any("zombie" in reason for reason in handle.reconnects)
            assert fake_gateway.connections == 2
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("code", "words"),
    [(4004, "DISCORD_BOT_TOKEN"), (4014, "Server Members Intent"), (4010, "--shard-count"), (4013, "bug")],
)
async def test_fatal_close_raises_gateway_fatal(
    autojump_clock: Any, fake_gateway: Any, caplog: pytest.LogCaptureFixture, code: int, words: str
) -> None:
    send, _ = trio.open_memory_channel[Dispatch](10)
    fake_gateway.close_on_identify = code
    with trio.fail_after(60), pytest.raises(GatewayFatal) as info, caplog.at_level(logging.DEBUG):
        await run_shard(config(fake_gateway), send, MemorySessionStore())
    assert info.value.code == code
    assert words in str(info.value)
    assert TOKEN not in str(info.value)
    assert TOKEN not in caplog.text
    assert fake_gateway.connections == 1, "a fatal code is never retried"


async def test_bad_token_message(autojump_clock: Any, fake_gateway: Any) -> None:
    send, _ = trio.open_memory_channel[Dispatch](10)
    with trio.fail_after(60), pytest.raises(GatewayFatal) as info:
        await run_shard(config(fake_gateway, token="wrong.token.value"), send, MemorySessionStore())
    assert info.value.code == 4004
    assert "token was rejected" in str(info.value)
    assert "wrong.token.value" not in str(info.value) + repr(info.value)


async def test_members_intent_disabled_message(autojump_clock: Any, fake_gateway: Any) -> None:
    fake_gateway.members_intent = False
    send, _ = trio.open_memory_channel[Dispatch](10)
    with trio.fail_after(60), pytest.raises(GatewayFatal) as info:
        await run_shard(config(fake_gateway), send, MemorySessionStore())
    assert "Server Members Intent" in str(info.value)
    assert "Privileged Gateway Intents" in str(info.value)


async def test_saved_session_resumes_at_start(autojump_clock: Any, fake_gateway: Any, add_payload: Any) -> None:
    store = MemorySessionStore()
    send, receive = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(fake_gateway), send, store)
            await until(receive, "GUILD_CREATE")
            await fake_gateway.dispatch("GUILD_MEMBER_ADD", add_payload(1))
            add = await until(receive, "GUILD_MEMBER_ADD")
            handle.checkpoint(add.session_id, add.seq)
            nursery.cancel_scope.cancel()
        assert store.sessions[0] == SavedSession("session-1", 3, "wss://resume.test/", 1)
        await fake_gateway.dispatch("GUILD_MEMBER_ADD", add_payload(2))  # while the process is down
        send2, receive2 = trio.open_memory_channel[Dispatch](100)
        async with trio.open_nursery() as nursery:
            handle2 = await start(nursery, config(fake_gateway), send2, store)
            assert await joins(receive2, 1) == [2]
            await until(receive2, "RESUMED")
            assert fake_gateway.ops(6)[-1].d["seq"] == 3
            assert handle2.identifies == 0
            assert handle2.resumes == 1
            nursery.cancel_scope.cancel()


async def test_persisted_sequence_follows_checkpoints_not_receipts(
    autojump_clock: Any, fake_gateway: Any, add_payload: Any
) -> None:
    store = MemorySessionStore()
    send, receive = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(fake_gateway), send, store)
            ready = await until(receive, "READY")
            await trio.sleep(2)
            assert store.sessions[0] == SavedSession(ready.session_id, 0, "wss://resume.test/", 1)
            for uid in (1, 2, 3):
                await fake_gateway.dispatch("GUILD_MEMBER_ADD", add_payload(uid))
            await joins(receive, 3)
            await trio.sleep(2)
            assert store.sessions[0].seq == 0, "received is not claimed"
            handle.checkpoint(ready.session_id, 3)
            handle.checkpoint("some-old-session", 99)  # ignored: another session's numbers
            handle.checkpoint(ready.session_id, 2)  # never backwards
            await trio.sleep(2)
            assert store.sessions[0].seq == 3
            nursery.cancel_scope.cancel()


async def test_a_session_of_another_shard_count_is_discarded_and_the_shard_identifies(
    autojump_clock: Any, fake_gateway: Any
) -> None:
    """Issue 19.3: shard 0 of 2 carried other guilds than the one unsharded shard; RESUMEing it misses theirs."""
    store = MemorySessionStore()
    await store.save(0, SavedSession("of-two", 10, "wss://resume.test/", shard_count=2))
    send, receive = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            await start(nursery, config(fake_gateway, shard_count=1), send, store)
            await until(receive, "READY")
            assert fake_gateway.ops(6) == [], "no RESUME of the two-shard session"
            assert len(fake_gateway.ops(2)) == 1
            assert "of-two" not in [s.session_id for s in store.sessions.values()]
            nursery.cancel_scope.cancel()


async def test_op9_not_resumable_clears_the_session_and_identifies_after_a_pause(
    autojump_clock: Any, fake_gateway: Any
) -> None:
    store = MemorySessionStore()
    await store.save(0, SavedSession("expired", 10, "wss://resume.test/"))
    send, receive = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            await start(nursery, config(fake_gateway), send, store)
            ready = await until(receive, "READY")
            (resume,) = fake_gateway.ops(6)
            (identify,) = fake_gateway.ops(2)
            assert 1.0 <= identify.at - resume.at <= 5.0 + 1.0
            assert ready.session_id == "session-1"
            assert "expired" not in [s.session_id for s in store.sessions.values()]
            nursery.cancel_scope.cancel()


async def test_slow_application_never_stalls_heartbeats_and_loses_nothing(
    autojump_clock: Any, fake_gateway: Any, add_payload: Any
) -> None:
    send, receive = trio.open_memory_channel[Dispatch](0)
    with trio.fail_after(3600):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(fake_gateway, buffer_size=4), send, MemorySessionStore())
            await fake_gateway.wait_connected()
            for uid in range(1, 21):  # kept for the RESUME once we are cut off
                await fake_gateway.dispatch("GUILD_MEMBER_ADD", add_payload(uid))
            await trio.sleep(3 * INTERVAL)  # the application reads nothing meanwhile
            assert handle.reconnects == {FELL_BEHIND: 1}, "it waits for room instead of reconnecting in a loop"
            assert fake_gateway.connections == 1
            assert not any("zombie" in reason for reason in handle.reconnects)
            got = await joins(receive, 20)
            assert got == list(range(1, 21)), "in order, once, nothing dropped"
            await until(receive, "RESUMED")
            assert fake_gateway.connections == 2
            assert [r.d["seq"] for r in fake_gateway.ops(6)] == [5], "resumed after the last buffered dispatch"
            nursery.cancel_scope.cancel()


async def test_reconnect_backoff_grows_with_full_jitter_and_is_capped(autojump_clock: Any, fake_gateway: Any) -> None:
    fake_gateway.refuse = 12
    send, receive = trio.open_memory_channel[Dispatch](10)
    with trio.fail_after(3600):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(fake_gateway), send, MemorySessionStore())
            await until(receive, "READY")
            gaps = [b - a for a, b in itertools.pairwise(fake_gateway.attempts)]
            assert len(gaps) == 12
            assert all(0 <= g <= 60 for g in gaps)
            assert max(gaps[6:]) > 2, "delays grow"
            assert handle.reconnects["could not connect: OSError"] == 12
            nursery.cancel_scope.cancel()


async def test_zlib_stream(autojump_clock: Any, fake_gateway: Any, add_payload: Any) -> None:
    send, receive = trio.open_memory_channel[Dispatch](10)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await start(nursery, config(fake_gateway, compress=True), send, MemorySessionStore())
            await until(receive, "GUILD_CREATE")
            await fake_gateway.dispatch("GUILD_MEMBER_ADD", add_payload(9))
            assert await joins(receive, 1) == [9]
            assert fake_gateway.resources == ["/?v=10&encoding=json&compress=zlib-stream"]
            nursery.cancel_scope.cancel()


async def test_malformed_known_event_is_logged_and_skipped(
    autojump_clock: Any, fake_gateway: Any, add_payload: Any, caplog: pytest.LogCaptureFixture
) -> None:
    send, receive = trio.open_memory_channel[Dispatch](10)
    with trio.fail_after(60), caplog.at_level(logging.WARNING):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(fake_gateway), send, MemorySessionStore())
            await until(receive, "GUILD_CREATE")
            await fake_gateway.dispatch("GUILD_MEMBER_ADD", {"guild_id": "not a snowflake"})
            await fake_gateway.dispatch("SOMETHING_DISCORD_ADDED_LATER", {"x": 1})
            await fake_gateway.dispatch("GUILD_MEMBER_ADD", add_payload(7))
            unknown = await receive.receive()
            assert (unknown.name, unknown.event) == ("SOMETHING_DISCORD_ADDED_LATER", None)
            assert await joins(receive, 1) == [7]
            assert handle.malformed == 1
            assert "skipped a malformed GUILD_MEMBER_ADD" in caplog.text
            assert fake_gateway.connections == 1
            nursery.cancel_scope.cancel()


async def test_backoff_resets_only_after_a_stable_session(autojump_clock: Any, fake_gateway: Any) -> None:
    send, _receive = trio.open_memory_channel[Dispatch](1000)
    with trio.fail_after(3600):
        async with trio.open_nursery() as nursery:
            await start(nursery, config(fake_gateway), send, MemorySessionStore())
            for _ in range(7):  # a gateway that drops us right after each RESUME/READY
                await fake_gateway.wait_connected()
                await fake_gateway.drop()
            await fake_gateway.wait_connected()
            flapping = [b - a for a, b in itertools.pairwise(fake_gateway.attempts)]
            assert max(flapping) > 1, "flapping keeps backing off"
            await trio.sleep(60)  # stable now
            await fake_gateway.drop()
            reconnected_from = trio.current_time()
            await fake_gateway.wait_connected()
            assert fake_gateway.attempts[-1] - reconnected_from <= 1.0, "after a stable session, retry soon"
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize(("op", "d"), [(7, None), (9, True)])
async def test_op7_and_resumable_op9_resume(autojump_clock: Any, fake_gateway: Any, add_payload: Any, op: int,
                                            d: Any) -> None:  # fmt: skip
    send, receive = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(fake_gateway), send, MemorySessionStore())
            await until(receive, "GUILD_CREATE")
            await fake_gateway.send_op(op, d)
            await fake_gateway.dispatch("GUILD_MEMBER_ADD", add_payload(1))
            assert await joins(receive, 1) == [1]
            await until(receive, "RESUMED")
            assert [r.d["seq"] for r in fake_gateway.ops(6)] == [2]
            assert len(fake_gateway.ops(2)) == 1
            assert handle.resumes == 1
            nursery.cancel_scope.cancel()


async def test_op1_asks_for_a_heartbeat_now(autojump_clock: Any, fake_gateway: Any) -> None:
    send, receive = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            await start(nursery, config(fake_gateway), send, MemorySessionStore())
            await until(receive, "GUILD_CREATE")
            before = len(fake_gateway.ops(1))
            asked = trio.current_time()
            await fake_gateway.send_op(1)
            await trio.sleep(0.001)
            beats = fake_gateway.ops(1)
            assert len(beats) == before + 1
            assert beats[-1].at - asked < 0.01
            nursery.cancel_scope.cancel()


async def test_payloads_above_one_mebibyte_are_accepted(autojump_clock: Any, fake_gateway: Any) -> None:
    send, receive = trio.open_memory_channel[Dispatch](100)
    channels = [{"id": str(10**17 + i), "type": 0, "name": f"channel-{i:05d}-" + "x" * 80} for i in range(15_000)]
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(fake_gateway), send, MemorySessionStore())
            await until(receive, "GUILD_CREATE")
            await fake_gateway.dispatch("GUILD_CREATE", {"id": "101", "name": "Big", "channels": channels})
            big = await until(receive, "GUILD_CREATE")
            assert len(big.data) > 1024 * 1024
            assert isinstance(big.event, wire.GuildCreate)
            assert len(big.event.channels) == 15_000
            assert fake_gateway.connections == 1
            assert not handle.reconnects
            nursery.cancel_scope.cancel()


async def test_a_gateway_that_never_says_hello_is_left(autojump_clock: Any, fake_gateway: Any) -> None:
    fake_gateway.silent = True
    send, receive = trio.open_memory_channel[Dispatch](100)
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            handle = await start(nursery, config(fake_gateway), send, MemorySessionStore())
            await trio.sleep(HELLO_TIMEOUT + 2)  # virtual: the timeout, then a backoff of at most 1 s
            assert fake_gateway.connections == 2
            assert handle.reconnects["no HELLO from the gateway"] == 1
            fake_gateway.silent = False
            await until(receive, "READY")
            nursery.cancel_scope.cancel()
