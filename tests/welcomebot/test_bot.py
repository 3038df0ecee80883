"""The whole bot (run_bot) against the emulator: sandbox summary, restart mid-raid, broken channels, fatal codes."""

import time
from typing import Any

import httpx
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import CANARY_TOKEN, bot_settings, until
from welcomebot.adapters.store import LEASE_S
from welcomebot.bot import BotOptions, run_bot
from welcomebot.cli.sandbox import SandboxOptions, run_sandbox
from welcomebot.emulator.testing import running_emulator
from welcomebot.emulator.world import SEND_MESSAGES
from welcomebot.ops.metrics import Metrics
from welcomebot.ops.server import serve_ops
from welcomebot.render import Renderer
from welcomebot.secret import Secret
from welcomebot.settings import Settings
from welcomebot.store.api import GuildConfig, WelcomeKey
from welcomebot.store.sqlite import SqliteStore


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def welcomed_ids(messages: list[dict[str, Any]]) -> list[str]:
    return [u for m in messages for u in m["mentioned_user_ids"]]


async def test_sandbox_welcomes_everyone_once(tmp_path):
    with trio.fail_after(120):
        summary = await run_sandbox(SandboxOptions(guilds=2, joins=12, rate_per_min=0, out=tmp_path / "cards"))
    assert summary["welcomed"] == summary["joins"] == 12
    assert summary["duplicates"] == summary["misses"] == summary["rate_limited"] == 0
    assert summary["cards_written"] == 12
    assert len(list((tmp_path / "cards").glob("*.webp"))) == 12


async def _configure(store: SqliteStore, emu: Any) -> list[dict[str, Any]]:
    guilds: list[dict[str, Any]] = await emu.control.guilds()
    for g in guilds:
        await store.put_guild_config(GuildConfig(guild_id=int(g["id"]), welcome_channel_id=int(g["channels"][0]["id"]),
                                                 updated_at=1.0))  # fmt: skip
    return guilds


async def test_restart_mid_raid_loses_no_member_and_doubles_none(tmp_path, renderer):
    with trio.fail_after(120):
        async with running_emulator(guilds=1, heartbeat_interval_ms=2000) as emu:
            await emu.control.limits(message_period_s=0.5)
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            guild = (await _configure(store, emu))[0]
            channel = guild["channels"][0]["id"]
            joined: list[str] = []
            async with trio.open_nursery() as nursery:
                bot = await nursery.start(lambda task_status: run_bot(
                    bot_settings(emu, tmp_path), store, options=BotOptions(drain_timeout=0.01), renderer=renderer,
                    task_status=task_status))  # fmt: skip
                await bot.manager.handles[0].live.wait()
                for _ in range(40):
                    joined.append((await emu.control.join(guild["id"]))["user_id"])
                await emu.control.wait_for_mentions(channel, 5)
                nursery.cancel_scope.cancel()  # the process "dies" mid-raid
            for _ in range(10):  # joins while the bot is down
                joined.append((await emu.control.join(guild["id"]))["user_id"])
            async with trio.open_nursery() as nursery:
                bot = await nursery.start(lambda task_status: run_bot(
                    bot_settings(emu, tmp_path), store, options=BotOptions(), renderer=renderer,
                    task_status=task_status))  # fmt: skip
                await emu.control.wait_for_mentions(channel, len(joined))
                nursery.cancel_scope.cancel()
            await store.close()
            welcomed = welcomed_ids(await emu.control.messages(channel))
    assert sorted(welcomed) == sorted(joined), "every member welcomed exactly once"
    assert welcomed == joined, "and in join order"


async def test_forbidden_channel_does_not_stall_other_guilds(tmp_path, renderer):
    with trio.fail_after(60):
        async with running_emulator(guilds=2) as emu:
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            broken, healthy = await _configure(store, emu)
            await emu.control.deny_bot(broken["channels"][0]["id"], SEND_MESSAGES)
            async with trio.open_nursery() as nursery:
                bot = await nursery.start(lambda task_status: run_bot(
                    bot_settings(emu, tmp_path), store, renderer=renderer, task_status=task_status))  # fmt: skip
                await bot.manager.handles[0].live.wait()
                for _ in range(3):
                    await emu.control.join(broken["id"])
                    await emu.control.join(healthy["id"])
                await emu.control.wait_for_mentions(healthy["channels"][0]["id"], 3)
                nursery.cancel_scope.cancel()
            await store.close()
            stats = await emu.control.stats()
    assert stats["invalid_requests_total"] == 1, "one 403, then the guild is skipped until its config changes"
    assert bot.counters.outcomes.get("skipped_channel_broken", 0) >= 1


async def test_bad_token_is_fatal(tmp_path, renderer):
    async with running_emulator(guilds=1) as emu:
        store = await SqliteStore.open(tmp_path / "w.sqlite3")
        settings = Settings(token=Secret(CANARY_TOKEN), api_base=emu.info.api_base, cdn_base=emu.info.cdn_base)
        with pytest.raises(Exception) as info:
            await run_bot(settings, store, renderer=renderer)
        await store.close()
    assert CANARY_TOKEN not in str(info.value)


async def test_metrics_count_failed_and_posted_welcomes(tmp_path, renderer):
    """Every outcome reaches /metrics (the pipeline feeds the fan-out, not the run's counters alone)."""
    with trio.fail_after(60):
        async with running_emulator(guilds=2) as emu:
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            broken, healthy = await _configure(store, emu)
            await emu.control.deny_bot(broken["channels"][0]["id"], SEND_MESSAGES)
            metrics = Metrics()
            async with trio.open_nursery() as nursery:
                bot = await nursery.start(lambda task_status: run_bot(
                    bot_settings(emu, tmp_path), store, renderer=renderer, metrics=metrics,
                    task_status=task_status))  # fmt: skip
                port = await nursery.start(serve_ops, "127.0.0.1", 0, metrics, bot.ready)
                await bot.manager.handles[0].live.wait()
                for _ in range(2):
                    await emu.control.join(broken["id"])
                    await emu.control.join(healthy["id"])
                await emu.control.wait_for_mentions(healthy["channels"][0]["id"], 2)
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

                    async def counted() -> bool:  # an outcome is counted just after its post is recorded
                        text = (await http.get("/metrics")).text
                        welcomes.update(
                            (s.labels["outcome"], s.value)
                            for f in text_string_to_metric_families(text)
                            if f.name == "welcomebot_welcomes"
                            for s in f.samples
                            if s.name == "welcomebot_welcomes_total"
                        )
                        return welcomes["skipped_channel_broken"] >= 1 and welcomes["posted"] >= 2

                    welcomes: dict[str, float] = {}
                    await until(counted)
                nursery.cancel_scope.cancel()
            await store.close()
    assert welcomes["posted"] == 2
    assert welcomes["skipped_channel_broken"] >= 1


async def test_readiness_fails_when_heartbeat_acks_stop(tmp_path, renderer):
    """A connection that stays open but is never ACKed (a zombie the reconnects do not cure) is not ready."""
    with trio.fail_after(60):
        async with running_emulator(guilds=1, heartbeat_interval_ms=300) as emu:
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            await _configure(store, emu)
            async with trio.open_nursery() as nursery:
                bot = await nursery.start(lambda task_status: run_bot(
                    bot_settings(emu, tmp_path), store, renderer=renderer, task_status=task_status))  # fmt: skip

                async def acked() -> bool:
                    return bot.manager.handles[0].last_ack_at is not None and (await bot.ready())[0]

                async def no_ack_reason() -> bool:
                    return any("heartbeat ACK" in r for r in (await bot.ready())[1])

                await until(acked)
                await emu.control.fault("gateway", kind="stop_acks", on=True)
                await until(no_ack_reason)
                await emu.control.fault("gateway", kind="stop_acks", on=False)
                await until(acked)
                nursery.cancel_scope.cancel()
            await store.close()


async def test_a_quick_restart_keeps_the_channel_budget_and_meets_no_429(tmp_path, renderer):
    """#19.10: 5 welcomes, a restart at once, 5 more: the new process knows the window is used up."""
    with trio.fail_after(90):
        async with running_emulator(guilds=1) as emu:
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            guild = (await _configure(store, emu))[0]
            channel = guild["channels"][0]["id"]
            joined: list[str] = []
            for _ in range(2):  # the first process, then its replacement
                async with trio.open_nursery() as nursery:
                    bot = await nursery.start(lambda task_status: run_bot(
                        bot_settings(emu, tmp_path), store, renderer=renderer, task_status=task_status))  # fmt: skip
                    await bot.manager.handles[0].live.wait()
                    for _ in range(5):  # one message each: the channel's whole window
                        joined.append((await emu.control.join(guild["id"]))["user_id"])
                        await emu.control.wait_for_mentions(channel, len(joined))
                    nursery.cancel_scope.cancel()
            await store.close()
            welcomed = welcomed_ids(await emu.control.messages(channel))
            stats = await emu.control.stats()
    assert welcomed == joined
    assert stats["rate_limited_total"] == 0, stats["rate_limited"]


class _RaisesFor(Renderer):
    """A renderer bug for one name (not a RenderError): what #18 saw from FreeType, on demand."""

    def render(self, spec: Any) -> bytes:
        if spec.name == "boom":
            raise RuntimeError("renderer bug")
        return super().render(spec)


async def test_a_name_the_renderer_chokes_on_costs_one_card_not_the_bot(tmp_path):
    with trio.fail_after(90):
        async with running_emulator(guilds=2) as emu:
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            a, b = await _configure(store, emu)
            async with trio.open_nursery() as nursery:
                bot = await nursery.start(lambda task_status: run_bot(
                    bot_settings(emu, tmp_path), store, renderer=_RaisesFor(), task_status=task_status))  # fmt: skip
                await bot.manager.handles[0].live.wait()
                for name in ("Ada \ufdfd", "boom"):
                    await emu.control.join(a["id"], username=name, global_name=name)
                await emu.control.join(b["id"], username="Bea")
                await emu.control.wait_for_mentions(b["channels"][0]["id"], 1)
                await emu.control.wait_for_mentions(a["channels"][0]["id"], 2)
                await emu.control.join(a["id"], username="Ann")
                messages = await emu.control.wait_for_mentions(a["channels"][0]["id"], 3)
                nursery.cancel_scope.cancel()
            await store.close()
    files = [len(m.get("attachments") or []) for m in messages]
    # Ada and boom join together, so they may share one message (the guild actor takes what waits).
    assert sum(m["content"].count("<@") for m in messages) == 3, messages
    assert len(messages) in (2, 3), messages
    assert files[-1] == 1, files  # Ann, after the crash, gets a card
    assert sum(files) == 2, files  # so does Ada; boom is welcomed with text only


async def test_old_claims_are_finished_beside_the_gateway_and_readiness_says_so(tmp_path, renderer):
    """Issue 19.11: a dead process's claims are re-posted while the shard is live and new joins are welcomed;
    /readyz stays ready and says "recovering N welcomes" meanwhile."""
    with trio.fail_after(90):
        async with running_emulator(guilds=1) as emu:
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            await _configure(store, emu)
            guild = (await emu.control.guilds())[0]
            old = [(await emu.control.join(guild["id"]))["user_id"] for _ in range(20)]  # while no bot ran
            for user_id in old:
                joined_at = (await emu.control.member(guild["id"], user_id))["joined_at"]
                key = WelcomeKey(int(guild["id"]), int(user_id), joined_at)
                await store.claim_welcome(key, "host:1:dead", time.time() - 2 * LEASE_S, LEASE_S)
            await emu.control.fault("rest", latency_s=0.5)  # a slow Discord makes the recovery take a while
            async with trio.open_nursery() as nursery:
                bot = await nursery.start(lambda task_status: run_bot(
                    bot_settings(emu, tmp_path), store, renderer=renderer, task_status=task_status))  # fmt: skip

                async def live() -> bool:
                    ok: bool = (await bot.ready())[0]
                    return ok

                await until(live)
                ready, reasons = await bot.ready()
                assert ready
                assert any(r.startswith("recovering ") and r.endswith(" welcomes") for r in reasons), reasons
                new = (await emu.control.join(guild["id"]))["user_id"]
                messages = await emu.control.wait_for_mentions(guild["channels"][0]["id"], 21, wait_s=60)

                async def recovered() -> bool:  # marked posted just after the post the emulator records
                    return not any(r.startswith("recovering") for r in (await bot.ready())[1])

                await until(recovered)
                nursery.cancel_scope.cancel()
            await store.close()
    welcomed = welcomed_ids(messages)
    assert sorted(welcomed) == sorted([*old, new]), "every member once"
    assert len(messages) <= 4, "the old claims in full messages (10 a message), not one by one"
