from __future__ import annotations

import pytest
import trio
import trio.testing

from actors import Actor, KeyedRegistry, RegistryFull


class Keyed(Actor[str, str]):
    def __init__(self, key: int, log: list[tuple[int, str]], gates: dict[int, trio.Event]) -> None:
        super().__init__(mailbox_size=8, name=f"k{key}")
        self.key = key
        self.log = log
        self.gates = gates

    async def handle(self, msg: str) -> str:
        if msg == "boom":
            raise RuntimeError("boom")
        gate = self.gates.get(self.key)
        if gate is not None:
            await gate.wait()
        self.log.append((self.key, msg))
        return f"{self.key}:{msg}"


def make(
    *, idle: float = 10.0, max_actors: int = 100
) -> tuple[KeyedRegistry[int, str], list[tuple[int, str]], dict[int, trio.Event], list[Keyed]]:
    log: list[tuple[int, str]] = []
    gates: dict[int, trio.Event] = {}
    made: list[Keyed] = []

    def factory(key: int) -> Keyed:
        actor = Keyed(key, log, gates)
        made.append(actor)
        return actor

    return KeyedRegistry(factory, idle_timeout=idle, max_actors=max_actors), log, gates, made


async def test_one_actor_per_key_spawned_on_first_message_and_routed() -> None:
    registry, log, _, made = make()
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        assert await registry.ask(1, "a") == "1:a"
        await registry.tell(2, "b")
        assert await registry.ask(1, "c") == "1:c"
        assert await registry.ask(2, "d") == "2:d"
        assert len(registry) == 2
        assert registry.spawned == 2
        assert [a.key for a in made] == [1, 2]
        nursery.cancel_scope.cancel()
    assert log == [(1, "a"), (2, "b"), (1, "c"), (2, "d")]
    assert len(registry) == 0
    assert not any(actor.alive for actor in made)  # cancelling the owner stopped every actor


async def test_idle_actor_is_stopped_after_timeout_and_respawned(autojump_clock: trio.testing.MockClock) -> None:
    registry, _, _, made = make(idle=10.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        await registry.ask(1, "a")
        await trio.sleep(9)
        await registry.ask(1, "b")  # activity pushes the deadline
        await trio.sleep(9)
        assert 1 in registry
        await trio.sleep(2)
        assert 1 not in registry
        assert not made[0].alive
        await registry.ask(1, "c")
        assert len(made) == 2
        nursery.cancel_scope.cancel()


async def test_busy_actor_is_not_stopped_while_idle_timeout_passes(autojump_clock: trio.testing.MockClock) -> None:
    registry, log, gates, _ = make(idle=5.0)
    gates[1] = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        await registry.tell(1, "slow")
        await trio.sleep(60)
        assert 1 in registry
        assert registry.depths() == {1: 0}
        gates[1].set()
        await trio.sleep(1)
        assert log == [(1, "slow")]
        assert 1 in registry
        await trio.sleep(5)
        assert 1 not in registry
        nursery.cancel_scope.cancel()


async def test_full_registry_evicts_the_longest_idle_actor(autojump_clock: trio.testing.MockClock) -> None:
    registry, _, _, made = make(idle=1000.0, max_actors=2)
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        await registry.ask(1, "a")
        await trio.sleep(1)
        await registry.ask(2, "a")
        await trio.sleep(1)
        await registry.ask(1, "b")  # now 2 is the longest idle
        await registry.ask(3, "a")
        assert sorted(registry.depths()) == [1, 3]
        assert registry.evicted == 1
        assert not made[1].alive
        nursery.cancel_scope.cancel()


async def test_full_registry_of_busy_actors_raises(autojump_clock: trio.testing.MockClock) -> None:
    registry, _, gates, _ = make(max_actors=2)
    gates[1] = trio.Event()
    gates[2] = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        await registry.tell(1, "x")
        await registry.tell(2, "x")
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(RegistryFull):
            await registry.tell(3, "x")
        nursery.cancel_scope.cancel()


async def test_crashing_key_is_forgotten_and_others_keep_running() -> None:
    registry, _, _, _ = make()
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        await registry.ask(1, "a")
        await registry.tell(2, "boom")
        await trio.testing.wait_all_tasks_blocked()
        assert 2 not in registry
        assert registry.crashed == 1
        assert await registry.ask(1, "b") == "1:b"
        assert await registry.ask(2, "c") == "2:c"
        nursery.cancel_scope.cancel()


async def test_tell_before_run_is_an_error() -> None:
    registry, _, _, _ = make()
    with pytest.raises(RuntimeError, match="not running"):
        await registry.tell(1, "a")


async def test_concurrent_first_messages_for_one_key_spawn_one_actor() -> None:
    registry, log, _, made = make()
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        async with trio.open_nursery() as senders:
            for i in range(5):
                senders.start_soon(registry.tell, 7, f"m{i}")
        assert await registry.ask(7, "last") == "7:last"
        nursery.cancel_scope.cancel()
    assert len(made) == 1
    assert sorted(msg for _, msg in log) == sorted([f"m{i}" for i in range(5)] + ["last"])


def test_registry_validates_limits() -> None:
    with pytest.raises(ValueError, match="idle_timeout"):
        KeyedRegistry(lambda key: Keyed(key, [], {}), idle_timeout=0)
