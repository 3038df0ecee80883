from __future__ import annotations

import threading

import pytest
import trio
import trio.testing

from actors import Priority, ThreadPoolActor


class Probe:
    """Counts concurrent entries; each job blocks in its thread until the test releases it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = 0
        self.peak = 0
        self.order: list[str] = []
        self.release: dict[str, threading.Event] = {}
        self.entered = trio.Semaphore(0, max_value=1000)

    def job(self, name: str, token: trio.lowlevel.TrioToken) -> str:
        with self.lock:
            self.inside += 1
            self.peak = max(self.peak, self.inside)
            self.order.append(name)
        trio.from_thread.run_sync(self.entered.release, trio_token=token)
        if not self.release.setdefault(name, threading.Event()).wait(timeout=10):  # guard: fail, never hang
            raise TimeoutError(f"{name} was never released")
        with self.lock:
            self.inside -= 1
        return name

    def gate(self, name: str) -> threading.Event:
        return self.release.setdefault(name, threading.Event())


async def test_pool_limits_concurrency_to_n_threads() -> None:
    pool = ThreadPoolActor(threads=3, max_queued=100)
    probe = Probe()
    token = trio.lowlevel.current_trio_token()
    names = [f"j{i}" for i in range(10)]
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            for name in names:
                nursery.start_soon(pool.run, probe.job, name, token)
            for _ in range(3):
                await probe.entered.acquire()
            await trio.testing.wait_all_tasks_blocked()
            assert pool.stats() == {"running": 3, "queued": 7, "completed": 0}
            for name in names:
                probe.gate(name).set()
    assert probe.peak == 3
    assert pool.stats() == {"running": 0, "queued": 0, "completed": 10}


async def test_interactive_lane_runs_before_queued_batch_jobs() -> None:
    pool = ThreadPoolActor(threads=1, max_queued=100)
    probe = Probe()
    token = trio.lowlevel.current_trio_token()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pool.run, probe.job, "first", token)
            await probe.entered.acquire()
            for i in range(3):
                nursery.start_soon(pool.run, probe.job, f"batch{i}", token)
                await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(lambda: pool.run(probe.job, "preview", token, priority=Priority.INTERACTIVE))
            await trio.testing.wait_all_tasks_blocked()
            for name in ["first", "preview", "batch0", "batch1", "batch2"]:
                probe.gate(name).set()
                if name != "batch2":
                    await probe.entered.acquire()
    assert probe.order == ["first", "preview", "batch0", "batch1", "batch2"]


async def test_run_waits_for_room_when_the_queue_is_full() -> None:
    pool = ThreadPoolActor(threads=1, max_queued=1)
    probe = Probe()
    token = trio.lowlevel.current_trio_token()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pool.run, probe.job, "a", token)
            await probe.entered.acquire()
            nursery.start_soon(pool.run, probe.job, "b", token)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(pool.run, probe.job, "c", token)
            await trio.testing.wait_all_tasks_blocked()
            assert pool.stats()["queued"] == 1  # c waits for room, outside the queue
            for name in "abc":
                probe.gate(name).set()
    assert probe.order == ["a", "b", "c"]
    assert pool.completed == 3


async def test_cancelled_waiter_leaves_the_queue() -> None:
    pool = ThreadPoolActor(threads=1, max_queued=5)
    probe = Probe()
    token = trio.lowlevel.current_trio_token()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pool.run, probe.job, "a", token)
            await probe.entered.acquire()
            with trio.CancelScope() as scope:
                nursery.start_soon(pool.run, probe.job, "b", token)
                await trio.testing.wait_all_tasks_blocked()
            async with trio.open_nursery() as doomed:
                doomed.start_soon(pool.run, probe.job, "never", token)
                await trio.testing.wait_all_tasks_blocked()
                assert pool.queued == 2
                doomed.cancel_scope.cancel()
            assert pool.queued == 1
            assert not scope.cancelled_caught
            probe.gate("a").set()
            probe.gate("b").set()
    assert probe.order == ["a", "b"]
    assert pool.stats() == {"running": 0, "queued": 0, "completed": 2}


async def test_results_and_exceptions_come_back_from_the_thread() -> None:
    pool = ThreadPoolActor(threads=2)
    assert await pool.run(sum, [1, 2, 3]) == 6

    def bad() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        await pool.run(bad)
    assert pool.running == 0


def test_pool_validates_sizes() -> None:
    with pytest.raises(ValueError, match="threads"):
        ThreadPoolActor(threads=0)
