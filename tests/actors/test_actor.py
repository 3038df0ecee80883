from __future__ import annotations

import pytest
import trio
import trio.testing

from actors import Actor, ActorDead, MailboxFull


class Recorder(Actor[int, int]):
    def __init__(self, mailbox_size: int = 4, gate: trio.Event | None = None) -> None:
        super().__init__(mailbox_size=mailbox_size)
        self.seen: list[int] = []
        self.gate = gate
        self.events: list[str] = []

    async def on_start(self) -> None:
        self.events.append("start")

    async def on_stop(self) -> None:
        self.events.append("stop")

    async def handle(self, msg: int) -> int:
        if self.gate is not None:
            await self.gate.wait()
        if msg < 0:
            raise ValueError("negative")
        self.seen.append(msg)
        return msg * 2


async def test_messages_are_handled_in_send_order_and_ask_replies() -> None:
    actor = Recorder(mailbox_size=100)
    async with trio.open_nursery() as nursery:
        started = await nursery.start(actor.run)
        assert started is actor
        for i in range(50):
            await actor.tell(i)
        assert await actor.ask(7) == 14
        actor.stop()
    assert actor.seen == [*range(50), 7]
    assert actor.events == ["start", "stop"]
    assert actor.handled == 51


async def test_stop_drains_queued_messages_then_refuses_new_ones() -> None:
    gate = trio.Event()
    actor = Recorder(gate=gate)
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run)
        for i in range(3):
            actor.tell_nowait(i)
        actor.stop()
        with pytest.raises(ActorDead):
            await actor.tell(9)
        gate.set()
    assert actor.seen == [0, 1, 2]
    assert not actor.alive


async def test_full_mailbox_blocks_tell_and_tell_nowait_raises(autojump_clock: trio.testing.MockClock) -> None:
    gate = trio.Event()
    actor = Recorder(mailbox_size=2, gate=gate)
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run)
        await actor.tell(1)  # picked up, blocked in handle
        await trio.testing.wait_all_tasks_blocked()
        await actor.tell(2)
        await actor.tell(3)
        assert actor.depth == 2
        with pytest.raises(MailboxFull):
            actor.tell_nowait(4)
        with trio.move_on_after(1) as scope:
            await actor.tell(4)
        assert scope.cancelled_caught  # blocked: backpressure
        gate.set()
        await actor.tell(5)
        actor.stop()
    assert actor.seen == [1, 2, 3, 5]


async def test_ask_on_a_stopped_actor_raises_actor_dead() -> None:
    actor = Recorder()
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run)
        actor.stop()
    with pytest.raises(ActorDead):
        await actor.ask(1)
    with pytest.raises(ActorDead):
        actor.tell_nowait(1)
    with pytest.raises(RuntimeError, match="already ran"):
        await actor.run()


async def test_crash_fails_the_asker_and_every_queued_asker() -> None:
    gate = trio.Event()
    actor = Recorder(gate=gate)
    results: list[str] = []

    async def asker(n: int) -> None:
        try:
            await actor.ask(n)
            results.append(f"ok {n}")
        except ActorDead:
            results.append(f"dead {n}")

    with pytest.raises(ExceptionGroup) as info:  # noqa: PT012  # the nursery is the raising statement
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run)
            nursery.start_soon(asker, -1)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(asker, 5)
            await trio.testing.wait_all_tasks_blocked()
            gate.set()
    assert info.group_contains(ValueError)
    assert sorted(results) == ["dead -1", "dead 5"]
    assert actor.events == ["start"]  # on_stop only after a clean stop


async def test_cancelling_the_owner_stops_the_actor_and_fails_pending_asks() -> None:
    gate = trio.Event()
    actor = Recorder(gate=gate)
    outcome: list[str] = []

    async def asker() -> None:
        try:
            await actor.ask(1)
        except ActorDead:
            outcome.append("dead")

    async with trio.open_nursery() as outer:
        outer.start_soon(asker)
        async with trio.open_nursery() as owner:
            await owner.start(actor.run)
            await trio.testing.wait_all_tasks_blocked()
            owner.cancel_scope.cancel()
    assert outcome == ["dead"]
    assert not actor.alive
    assert actor.events == ["start"]


async def test_ask_fails_when_actor_dies_with_message_still_queued() -> None:
    gate = trio.Event()
    actor = Recorder(gate=gate)
    outcome: list[str] = []

    async def asker(n: int) -> None:
        try:
            await actor.ask(n)
        except ActorDead:
            outcome.append(f"dead {n}")

    async with trio.open_nursery() as outer, trio.open_nursery() as owner:
        await owner.start(actor.run)
        outer.start_soon(asker, 1)
        outer.start_soon(asker, 2)
        await trio.testing.wait_all_tasks_blocked()
        assert actor.depth == 1
        owner.cancel_scope.cancel()
    assert sorted(outcome) == ["dead 1", "dead 2"]


def test_mailbox_size_is_validated() -> None:
    with pytest.raises(ValueError, match="mailbox_size"):
        Recorder(mailbox_size=-1)


async def test_idle_and_last_activity_track_work(autojump_clock: trio.testing.MockClock) -> None:
    actor = Recorder()
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run)
        await trio.sleep(3)
        await actor.ask(1)
        assert actor.idle
        assert actor.last_activity == pytest.approx(3)
        actor.stop()
