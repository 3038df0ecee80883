"""`welcomebot run` processes against the emulator: readiness, SIGTERM mid-raid, two processes sharing the shards.

Every wait is on an event: a log line of the process (``WelcomebotProcess.wait_for``) or the emulator's
long poll for posted welcomes. Results are counted from the emulator's records, not from the bot's logs.
"""

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import WelcomebotProcess, bot_env, until
from welcomebot.emulator.testing import RunningEmulator, running_emulator
from welcomebot.store.api import GuildConfig
from welcomebot.store.open import open_store
from welcomebot.store.testing import DSN_VAR, REQUIRE_VAR, FlakyProxy, scratch_schema

#: What a running bot exposes from its first scrape (docs/operator-guide.md lists them all).
LIVE_FAMILIES = (
    "welcomes", "join_to_post_seconds", "render_seconds", "rest_requests", "rest_429", "gateway_reconnects",
    "gateway_resumes", "gateway_connected_shards", "guild_actors", "mailbox_depth_max", "mailbox_depth_total",
    "render_queue", "config_cache_hit_ratio", "build_info",
)  # fmt: skip


async def _configure(database_url: str, emu: RunningEmulator) -> list[dict[str, Any]]:
    """Every emulated guild welcomes in its first channel; the store is migrated before any process starts."""
    guilds: list[dict[str, Any]] = await emu.control.guilds()
    async with open_store(database_url) as store:
        for g in guilds:
            config = GuildConfig(guild_id=int(g["id"]), welcome_channel_id=int(g["channels"][0]["id"]), updated_at=1.0)
            await store.put_guild_config(config)
    return guilds


def _welcomed(messages: list[dict[str, Any]]) -> list[str]:
    return [u for m in messages for u in m["mentioned_user_ids"]]


async def _ops_base(bot: WelcomebotProcess) -> str:
    served = await bot.wait_for("health and metrics served")
    return str(served["url"]).removesuffix("/metrics")


def _sample(metrics_text: str, name: str, **labels: str) -> float:
    samples = [s for f in text_string_to_metric_families(metrics_text) for s in f.samples if s.name == name]
    for sample in samples:
        if all(sample.labels.get(k) == v for k, v in labels.items()):
            return float(sample.value)
    raise AssertionError(f"no sample {name}{labels} among {[s.labels for s in samples]}")


async def test_readyz_follows_the_gateway(tmp_path, output_check: Callable[[str], None]):
    with trio.fail_after(120):
        async with running_emulator(guilds=1) as emu, trio.open_nursery() as nursery:
            await emu.control.fault("gateway", kind="refuse")  # an outage from the start: no READY yet
            env = bot_env(emu.info, f"sqlite:///{tmp_path}/w.sqlite3")
            bot = await WelcomebotProcess.start(nursery, ["run"], env, output_check)
            async with httpx.AsyncClient(base_url=await _ops_base(bot), timeout=10) as http:
                assert (await http.get("/healthz")).status_code == 200

                async def gateway_down() -> bool:  # served from the start: "starting" until the store is open
                    before = await http.get("/readyz")
                    assert before.status_code == 503
                    return bool(before.json()["reasons"] == ["shard 0 is not connected to the gateway"])

                await until(gateway_down)

                await emu.control.fault("gateway", kind="refuse", on=False)
                await bot.wait_for("gateway ready")
                up = await http.get("/readyz")
                assert (up.status_code, up.json()) == (200, {"ready": True, "reasons": []})

                mark = len(bot.records)
                await emu.control.fault("gateway", kind="refuse")
                await emu.control.fault("gateway", kind="close", code=4000)  # resumable, but no way back in yet
                await bot.wait_for("gateway connection ended", after=mark)
                down = await http.get("/readyz")
                assert down.status_code == 503
                assert down.json()["reasons"] == ["shard 0 is not connected to the gateway"]
                metrics = (await http.get("/metrics")).text
                assert _sample(metrics, "welcomebot_gateway_connected_shards") == 0

                await emu.control.fault("gateway", kind="refuse", on=False)
                await bot.wait_for("gateway session resumed", after=mark)
                again = await http.get("/readyz")
                assert (again.status_code, again.json()) == (200, {"ready": True, "reasons": []})
                metrics = (await http.get("/metrics")).text
                assert _sample(metrics, "welcomebot_gateway_connected_shards") == 1
                assert _sample(metrics, "welcomebot_gateway_resumes_total", shard="0") == 1
                ended = _sample(
                    metrics, "welcomebot_gateway_reconnects_total", shard="0", reason="connection lost (close 4000)"
                )
                assert ended == 1
                families = {f.name for f in text_string_to_metric_families(metrics)}
                assert families >= {f"welcomebot_{name}" for name in LIVE_FAMILIES}
            bot.terminate()
            assert await bot.exited() == 0, bot.stderr


@pytest.mark.slow
async def test_sigterm_mid_raid_then_restart_welcomes_every_join_once(tmp_path, output_check):
    before_stop, while_down = 150, 50
    with trio.fail_after(300):
        async with running_emulator(guilds=1) as emu:
            url = f"sqlite:///{tmp_path}/w.sqlite3"
            (guild,) = await _configure(url, emu)
            channel = guild["channels"][0]["id"]
            env = bot_env(emu.info, url)
            joined: list[str] = []

            async def join(count: int) -> None:
                for _ in range(count):
                    joined.append((await emu.control.join(guild["id"]))["user_id"])

            async with trio.open_nursery() as nursery:
                first = await WelcomebotProcess.start(nursery, ["run", "--drain-timeout", "2"], env, output_check)
                await first.wait_for("gateway ready")
                await join(before_stop)
                await emu.control.wait_for_mentions(channel, 10)  # welcomes are flowing: mid-raid
                first.terminate()
                await join(while_down)  # while the first process drains and after it is gone
                assert await first.exited() == 0, first.stderr
            await first.wait_for("stopping: no new events")

            async with trio.open_nursery() as nursery:
                second = await WelcomebotProcess.start(nursery, ["run"], env, output_check)
                connected = await second.wait_for(("gateway session resumed", "gateway ready"))
                assert connected["event"] == "gateway session resumed", "the first left its session resumable"
                await emu.control.wait_for_mentions(channel, len(joined), wait_s=240)
                second.terminate()
                assert await second.exited() == 0, second.stderr
            messages = await emu.control.messages(channel)  # after the exit: a late duplicate would show
            stats = await emu.control.stats()
    welcomed = _welcomed(messages)
    assert len(joined) == before_stop + while_down
    assert sorted(welcomed) == sorted(joined), "every join welcomed exactly once"
    assert welcomed == joined, "in join order"
    assert stats["invalid_requests_total"] <= 1, "at most the restarted process's first post meets a 429"


@pytest.fixture
async def postgres_url():
    dsn = os.environ.get(DSN_VAR)
    if not dsn:
        if os.environ.get(REQUIRE_VAR):
            pytest.fail(f"{REQUIRE_VAR} is set but {DSN_VAR} is not; run the tests through scripts/test")
        pytest.skip(f"{DSN_VAR} is not set (scripts/test sets it from scripts/ensure-postgres)")
    async with scratch_schema(dsn, prefix="ops") as url:
        yield url


@pytest.mark.postgres
@pytest.mark.slow
async def test_two_processes_split_the_shards_and_welcome_every_join_once(postgres_url, output_check):
    per_guild = 12
    with trio.fail_after(300):
        async with running_emulator(guilds=6, members=2) as emu:
            guilds = await _configure(postgres_url, emu)
            shard_of = {g["id"]: (int(g["id"]) >> 22) % 2 for g in guilds}
            assert set(shard_of.values()) == {0, 1}, "the emulator spreads its guilds over both shards"
            env = bot_env(emu.info, postgres_url)
            joined: dict[str, list[str]] = {g["id"]: [] for g in guilds}
            async with trio.open_nursery() as nursery:
                bots = [
                    await WelcomebotProcess.start(nursery, ["run", "--shards", f"{i}-{i}", "--shard-count", "2"],
                                                  env, output_check)
                    for i in (0, 1)
                ]  # fmt: skip
                for i, bot in enumerate(bots):
                    assert (await bot.wait_for("running shards"))["event"] == f"running shards {i}-{i} of 2"
                    await bot.wait_for("gateway ready")
                for _ in range(per_guild):  # interleaved, as a busy hour looks
                    for g in guilds:
                        joined[g["id"]].append((await emu.control.join(g["id"]))["user_id"])
                for g in guilds:
                    await emu.control.wait_for_mentions(g["channels"][0]["id"], per_guild, 120)
                for bot in bots:
                    bot.terminate()
                codes = [await bot.exited() for bot in bots]
            welcomed = {g["id"]: _welcomed(await emu.control.messages(g["channels"][0]["id"])) for g in guilds}
            sessions = await emu.control.sessions()
    assert codes == [0, 0]
    assert sorted(s["shard"] for s in sessions) == [[0, 2], [1, 2]]
    for g in guilds:
        assert welcomed[g["id"]] == joined[g["id"]], f"guild {g['id']}: every join once, in order"
    for i, bot in enumerate(bots):
        posted = {str(r["guild_id"]) for r in bot.records if r.get("event") == "welcome posted"}
        assert posted == {gid for gid, shard in shard_of.items() if shard == i}, f"process {i} posts for its shard"


@pytest.mark.slow
async def test_two_shard_processes_replaced_by_one_unsharded_identify_and_serve_every_guild(tmp_path, output_check):
    """Issue 19.3: the saved sessions of shards 0 and 1 of 2 must not be RESUMEd by the one shard of 1."""
    per_guild = 3
    with trio.fail_after(300):
        async with running_emulator(guilds=4, members=2) as emu:
            url = f"sqlite:///{tmp_path}/w.sqlite3"
            guilds = await _configure(url, emu)
            assert {(int(g["id"]) >> 22) % 2 for g in guilds} == {0, 1}, "guilds on both shards of 2"
            env = bot_env(emu.info, url)
            async with trio.open_nursery() as nursery:
                pair = [
                    await WelcomebotProcess.start(nursery, ["run", "--shards", f"{i}-{i}", "--shard-count", "2"],
                                                  env, output_check)
                    for i in (0, 1)
                ]  # fmt: skip
                for bot in pair:
                    await bot.wait_for("gateway ready")
                    bot.terminate()  # each saves its session, resumable
                assert [await bot.exited() for bot in pair] == [0, 0]
            joined: dict[str, list[str]] = {g["id"]: [] for g in guilds}
            async with trio.open_nursery() as nursery:
                single = await WelcomebotProcess.start(nursery, ["run"], env, output_check)
                connected = await single.wait_for(("gateway session resumed", "gateway ready"))
                assert connected["event"].startswith("gateway ready"), "a fresh IDENTIFY, not a RESUME of shard 0 of 2"
                for _ in range(per_guild):
                    for g in guilds:
                        joined[g["id"]].append((await emu.control.join(g["id"]))["user_id"])
                for g in guilds:
                    await emu.control.wait_for_mentions(g["channels"][0]["id"], per_guild, 120)
                single.terminate()
                assert await single.exited() == 0, single.stderr
            welcomed = {g["id"]: _welcomed(await emu.control.messages(g["channels"][0]["id"])) for g in guilds}
    for g in guilds:
        assert welcomed[g["id"]] == joined[g["id"]], f"guild {g['id']}: every join once"


#: How long the database stays unreachable in the outage test (#19.7: a minute outlived every restart).
OUTAGE_S = 60.0


async def _same_range_twins(url: str, output_check: Callable[[str], None]) -> None:
    """Issue 19.2: two processes given the same shards. The second waits (visibly) while the first lives, takes
    over when it is SIGKILLed; every join is welcomed exactly once, by whichever process held the shard."""
    with trio.fail_after(240):
        async with running_emulator(guilds=2, members=2) as emu:
            guilds = await _configure(url, emu)
            env = bot_env(emu.info, url)
            joined: dict[str, list[str]] = {g["id"]: [] for g in guilds}

            async def join(rounds: int) -> None:
                for _ in range(rounds):
                    for g in guilds:
                        joined[g["id"]].append((await emu.control.join(g["id"]))["user_id"])

            async def all_welcomed() -> None:
                for g in guilds:
                    await emu.control.wait_for_mentions(g["channels"][0]["id"], len(joined[g["id"]]), 120)

            async with trio.open_nursery() as nursery:
                first = await WelcomebotProcess.start(nursery, ["run"], env, output_check)
                await first.wait_for("gateway ready")
                twin = await WelcomebotProcess.start(nursery, ["run"], env, output_check)
                await twin.wait_for("shard 0 is run by another live process")
                async with httpx.AsyncClient(base_url=await _ops_base(twin), timeout=10) as http:
                    waiting = await http.get("/readyz")
                assert waiting.status_code == 503
                assert any("waits for its lease" in r for r in waiting.json()["reasons"]), waiting.json()
                await join(10)
                await all_welcomed()
                first.kill()
                await first.exited()
                await join(5)  # while nobody runs the shard: the twin resumes its session and gets them
                await twin.wait_for("took over shard 0")
                await join(5)
                await all_welcomed()
                twin.terminate()
                assert await twin.exited() == 0, twin.stderr
            welcomed = {g["id"]: _welcomed(await emu.control.messages(g["channels"][0]["id"])) for g in guilds}
    for g in guilds:
        assert sorted(welcomed[g["id"]]) == sorted(joined[g["id"]]), f"guild {g['id']}: every join"
        assert len(welcomed[g["id"]]) == len(set(welcomed[g["id"]])), f"guild {g['id']}: none twice"
    assert not [r for r in twin.records if r.get("event") == "welcome posted" and r["ts"] < first.records[-1]["ts"]]


@pytest.mark.slow
async def test_a_same_range_twin_waits_then_takes_over_sqlite(tmp_path, output_check):
    await _same_range_twins(f"sqlite:///{tmp_path}/w.sqlite3", output_check)


@pytest.mark.postgres
@pytest.mark.slow
async def test_a_database_outage_is_waited_out_and_every_join_welcomed_once(postgres_url, output_check):
    """PostgreSQL unreachable at start, then for a minute mid-run with joins: the process stays up, /readyz
    says why, and once the database is back every join is welcomed once (counted in the emulator)."""
    with trio.fail_after(OUTAGE_S + 240):
        async with running_emulator(guilds=1) as emu, trio.open_nursery() as nursery:
            guild = (await _configure(postgres_url, emu))[0]
            channel = guild["channels"][0]["id"]
            parts = urlsplit(postgres_url)
            proxy = FlakyProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
            proxy.go_down()
            url = proxy.url(postgres_url, await nursery.start(proxy.serve))
            bot = await WelcomebotProcess.start(nursery, ["run"], bot_env(emu.info, url), output_check)
            async with httpx.AsyncClient(base_url=await _ops_base(bot), timeout=10) as http:

                async def says_unreachable() -> bool:
                    r = await http.get("/readyz")
                    return r.status_code == 503 and any("database is unreachable" in x for x in r.json()["reasons"])

                async def ready() -> bool:
                    return (await http.get("/readyz")).status_code == 200

                await bot.wait_for("the database is unreachable; welcomes wait and every call retries until it is back")
                await until(says_unreachable)
                proxy.come_up()
                await bot.wait_for("gateway ready")
                joined = [(await emu.control.join(guild["id"]))["user_id"] for _ in range(3)]
                await emu.control.wait_for_mentions(channel, 3)

                mark = len(bot.records)
                proxy.go_down()
                cut = trio.current_time()
                joined += [(await emu.control.join(guild["id"]))["user_id"] for _ in range(5)]
                await bot.wait_for("the database is unreachable; welcomes wait and every call retries until it is back",
                                   after=mark)  # fmt: skip
                await until(says_unreachable)
                await trio.sleep_until(cut + OUTAGE_S)  # the outage itself
                assert not bot.finished, "the process waits the outage out"
                proxy.come_up()
                await emu.control.wait_for_mentions(channel, len(joined), 120)
                await bot.wait_for("the database answers again", after=mark)
                await until(ready)
            bot.terminate()
            assert await bot.exited() == 0
            welcomed = _welcomed(await emu.control.messages(channel))
            nursery.cancel_scope.cancel()
    assert welcomed == joined, "every join welcomed once, in order"


@pytest.mark.postgres
@pytest.mark.slow
async def test_a_same_range_twin_waits_then_takes_over_postgres(postgres_url, output_check):
    await _same_range_twins(postgres_url, output_check)
