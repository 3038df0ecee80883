from __future__ import annotations

import pytest
import trio
import trio.testing

from actors import KeyedRegistry, KeyParked


class Workers:
    """Per key: what it handled; ``boom`` crashes the worker; a gate holds a key's worker before each message."""

    def __init__(self, *, idle: float = 10.0) -> None:
        self.idle = idle
        self.log: list[tuple[int, str]] = []
        self.gates: dict[int, trio.Event] = {}
        self.starts: dict[int, int] = {}
        self.crashes: list[tuple[int, str]] = []

    async def work(self, key: int, mailbox: trio.MemoryReceiveChannel[str]) -> None:
        self.starts[key] = self.starts.get(key, 0) + 1
        while True:
            with trio.move_on_after(self.idle):
                try:
                    msg = await mailbox.receive()
                except trio.EndOfChannel:
                    return  # closed and empty
                gate = self.gates.get(key)
                if gate is not None:
                    await gate.wait()
                if msg == "boom":
                    raise RuntimeError(f"boom in {key}")
                self.log.append((key, msg))
                continue
            return

    async def crashed(self, key: int, exc: Exception) -> None:
        await trio.lowlevel.checkpoint()
        self.crashes.append((key, str(exc)))


def make(workers: Workers, **kw: object) -> KeyedRegistry[int, str]:
    return KeyedRegistry(workers.work, mailbox_size=8, on_crash=workers.crashed, **kw)  # type: ignore[arg-type]


async def test_one_worker_per_key_spawned_on_first_message_in_order(autojump_clock: trio.testing.MockClock) -> None:
    workers = Workers()
    registry = make(workers)
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        for msg in "abc":
            await registry.tell(1, msg)
            await registry.tell(2, msg.upper())
        await trio.sleep(1)
        assert len(registry) == 2
        assert 1 in registry
        registry.close()
    assert [m for k, m in workers.log if k == 1] == ["a", "b", "c"]
    assert [m for k, m in workers.log if k == 2] == ["A", "B", "C"]
    assert workers.starts == {1: 1, 2: 1}


async def test_an_idle_worker_retires_and_the_next_message_spawns_a_fresh_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    workers = Workers(idle=5.0)
    registry = make(workers)
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        await registry.tell(1, "a")
        await trio.sleep(20)
        assert len(registry) == 0
        await registry.tell(1, "b")
        await trio.sleep(1)
        registry.close()
    assert workers.log == [(1, "a"), (1, "b")]
    assert workers.starts == {1: 2}


async def test_a_crash_restarts_the_key_on_its_mailbox_and_never_delays_another_key(
    autojump_clock: trio.testing.MockClock,
) -> None:
    workers = Workers()
    registry = make(workers, backoff_base=5.0, backoff_cap=5.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        await registry.tell(1, "boom")
        await registry.tell(1, "after")  # queued behind the crash: kept for the restarted worker
        await trio.sleep(0.01)
        start = trio.current_time()
        await registry.tell(2, "x")
        await trio.testing.wait_all_tasks_blocked()
        assert (2, "x") in workers.log, "key 2 does not wait for key 1's backoff"
        assert trio.current_time() == start
        await trio.sleep(10)
        registry.close()
    assert workers.crashes == [(1, "boom in 1")]
    assert registry.restarts == 1
    assert (1, "after") in workers.log
    assert workers.starts[1] == 2


async def test_a_key_that_keeps_crashing_is_parked_not_escalated(autojump_clock: trio.testing.MockClock) -> None:
    workers = Workers()
    registry = make(workers, max_restarts=2, window=100.0, backoff_base=0.1, backoff_cap=0.1)
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        for _ in range(3):
            await registry.tell(1, "boom")
        await trio.sleep(5)
        assert registry.parked == {1: "RuntimeError: boom in 1"}
        with pytest.raises(KeyParked, match="boom in 1"):
            await registry.tell(1, "more")
        await registry.tell(2, "fine")
        registry.unpark(1)
        await registry.tell(1, "again")
        await trio.sleep(1)
        registry.close()
    assert len(workers.crashes) == 3
    assert workers.log == [(2, "fine"), (1, "again")]


async def test_a_fatal_exception_leaves_run(autojump_clock: trio.testing.MockClock) -> None:
    workers = Workers()
    registry = make(workers, fatal=(RuntimeError,))

    async def process() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(registry.run)
            await registry.tell(1, "boom")
            await trio.sleep(5)

    with pytest.raises(BaseExceptionGroup) as caught:
        await process()
    assert caught.value.split(RuntimeError)[0] is not None
    assert workers.crashes == []


async def test_close_lets_workers_finish_their_mailboxes_and_refuses_more(
    autojump_clock: trio.testing.MockClock,
) -> None:
    workers = Workers()
    registry = make(workers)
    workers.gates[1] = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        for msg in "abc":
            await registry.tell(1, msg)
        registry.close()
        with pytest.raises(trio.ClosedResourceError):
            await registry.tell(2, "late")
        workers.gates[1].set()
    assert workers.log == [(1, "a"), (1, "b"), (1, "c")]


async def test_tell_before_run_is_an_error() -> None:
    registry = make(Workers())
    with pytest.raises(RuntimeError, match="not running"):
        await registry.tell(1, "a")


async def test_concurrent_first_messages_for_one_key_spawn_one_worker(autojump_clock: trio.testing.MockClock) -> None:
    workers = Workers()
    registry = make(workers)
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        async with trio.open_nursery() as senders:
            for msg in "abcd":
                senders.start_soon(registry.tell, 1, msg)
        await trio.sleep(1)
        registry.close()
    assert registry.spawned == 1
    assert sorted(m for _, m in workers.log) == ["a", "b", "c", "d"]


def test_registry_validates_limits() -> None:
    with pytest.raises(ValueError, match="mailbox_size"):
        KeyedRegistry(Workers().work, mailbox_size=-1)
