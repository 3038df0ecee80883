from __future__ import annotations

import random

import pytest
import trio
import trio.testing

from actors import ChildSpec, ExponentialBackoff, Restart, Supervisor, SupervisorEscalation


class Flaky:
    """A child that crashes its first ``crashes`` runs, then (optionally) returns or runs forever."""

    def __init__(self, crashes: int, *, then_return: bool = False) -> None:
        self.crashes = crashes
        self.then_return = then_return
        self.starts: list[float] = []

    async def __call__(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.starts.append(trio.current_time())
        task_status.started()
        if len(self.starts) <= self.crashes:
            raise RuntimeError(f"crash {len(self.starts)}")
        if self.then_return:
            return
        await trio.sleep_forever()


def expected_delays(seed: int, n: int, base: float, cap: float) -> list[float]:
    backoff = ExponentialBackoff(base, 2.0, cap, rng=random.Random(seed))
    return [next(backoff) for _ in range(n)]


async def test_permanent_child_restarts_with_backoff_in_virtual_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    child = Flaky(crashes=3)
    sup = Supervisor(
        [ChildSpec("c", child)], max_restarts=5, window=100.0, backoff_base=1.0, backoff_cap=30.0, rng=random.Random(7)
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(500)
        nursery.cancel_scope.cancel()
    gaps = [b - a for a, b in zip(child.starts, child.starts[1:], strict=False)]
    assert gaps == pytest.approx(expected_delays(7, 3, 1.0, 30.0))
    assert len(child.starts) == 4
    assert sup.restart_count == {"c": 3}


async def test_escalates_after_max_restarts_within_window(autojump_clock: trio.testing.MockClock) -> None:
    child = Flaky(crashes=100)
    sup = Supervisor([ChildSpec("c", child)], max_restarts=2, window=1000.0, rng=random.Random(1))
    with pytest.raises(SupervisorEscalation) as info:
        await sup.run()
    assert isinstance(info.value.__cause__, RuntimeError)
    assert str(info.value.__cause__) == "crash 3"
    assert len(child.starts) == 3  # first run + 2 restarts, then the third crash escalates


async def test_crashes_spread_beyond_the_window_do_not_escalate(autojump_clock: trio.testing.MockClock) -> None:
    crashes = 0

    async def slow_crasher(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal crashes
        task_status.started()
        await trio.sleep(10)
        crashes += 1
        raise RuntimeError("again")

    sup = Supervisor([ChildSpec("c", slow_crasher)], max_restarts=1, window=5.0, rng=random.Random(1))
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(100)
        nursery.cancel_scope.cancel()
    assert crashes >= 8


async def test_transient_restarts_after_crash_but_not_after_normal_exit(
    autojump_clock: trio.testing.MockClock,
) -> None:
    child = Flaky(crashes=2, then_return=True)
    sup = Supervisor([ChildSpec("c", child, Restart.TRANSIENT)], max_restarts=5, window=10.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
    assert len(child.starts) == 3


async def test_permanent_restarts_even_after_normal_exit(autojump_clock: trio.testing.MockClock) -> None:
    child = Flaky(crashes=0, then_return=True)
    sup = Supervisor([ChildSpec("c", child, Restart.PERMANENT)], max_restarts=3, window=1000.0)
    with pytest.raises(SupervisorEscalation):
        await sup.run()
    assert len(child.starts) == 4


async def test_temporary_is_never_restarted(autojump_clock: trio.testing.MockClock) -> None:
    child = Flaky(crashes=1)
    sup = Supervisor([ChildSpec("c", child, Restart.TEMPORARY)])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
    assert len(child.starts) == 1


async def test_one_crashing_child_does_not_restart_its_sibling(autojump_clock: trio.testing.MockClock) -> None:
    steady = Flaky(crashes=0)
    flaky = Flaky(crashes=2)
    sup = Supervisor([ChildSpec("steady", steady), ChildSpec("flaky", flaky)], max_restarts=5, window=10.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(60)
        nursery.cancel_scope.cancel()
    assert len(steady.starts) == 1
    assert len(flaky.starts) == 3


async def test_cancellation_is_not_swallowed_and_leaves_no_tasks(autojump_clock: trio.testing.MockClock) -> None:
    child = Flaky(crashes=0)
    sup = Supervisor([ChildSpec("a", child), ChildSpec("b", Flaky(crashes=0))])
    with trio.move_on_after(5) as scope:
        await sup.run()
    assert scope.cancelled_caught
    assert len(child.starts) == 1
    assert sup.restart_count == {"a": 0, "b": 0}


async def test_child_start_failure_is_restarted(autojump_clock: trio.testing.MockClock) -> None:
    attempts = 0

    async def fails_to_start(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise OSError("not yet")
        task_status.started()
        await trio.sleep_forever()

    sup = Supervisor([ChildSpec("c", fails_to_start)], max_restarts=5, window=10.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        assert attempts == 3
        nursery.cancel_scope.cancel()


def test_supervisor_validates_limits() -> None:
    with pytest.raises(ValueError, match="max_restarts"):
        Supervisor([], max_restarts=-1)


async def test_on_crash_runs_before_each_restart_and_before_the_escalation(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[tuple[str, str]] = []

    async def noted(name: str, exc: Exception) -> None:
        await trio.lowlevel.checkpoint()
        seen.append((name, str(exc)))

    child = Flaky(crashes=10)
    sup = Supervisor([ChildSpec("w", child)], max_restarts=2, window=100.0, on_crash=noted)
    with pytest.raises(SupervisorEscalation):
        await sup.run()
    assert seen == [("w", "crash 1"), ("w", "crash 2"), ("w", "crash 3")]


class Fatal(Exception):
    pass


async def test_a_fatal_exception_is_not_restarted_and_leaves_as_it_is(autojump_clock: trio.testing.MockClock) -> None:
    starts = 0

    async def child(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal starts
        starts += 1
        task_status.started()
        raise Fatal("bad token")

    sup = Supervisor([ChildSpec("w", child)], max_restarts=5, window=100.0, fatal=(Fatal,))
    with pytest.raises(BaseExceptionGroup) as caught:
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
    matched, rest = caught.value.split(Fatal)
    assert matched is not None
    assert rest is None
    assert starts == 1
