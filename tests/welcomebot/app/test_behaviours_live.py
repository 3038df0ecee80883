"""Welcome behaviours with the real bot against the emulator: DMs, raids, goodbyes, quick leavers, roles.

Results come from the emulator's records (its control API), never from the bot's own word.
"""

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio

from tests.helpers import bot_settings
from welcomebot.adapters.actions import RestActions
from welcomebot.adapters.store import CachedConfigs
from welcomebot.app.behaviour import options_with, validate_behaviour
from welcomebot.bot import run_bot
from welcomebot.emulator.testing import RunningEmulator, running_emulator
from welcomebot.emulator.world import MANAGE_ROLES
from welcomebot.render import Renderer
from welcomebot.rest.api import DiscordApi
from welcomebot.rest.client import RestClient
from welcomebot.secret import Secret
from welcomebot.store.api import GuildConfig
from welcomebot.store.sqlite import SqliteStore


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


async def _configure(store: SqliteStore, guild: dict[str, Any], behaviour: dict[str, Any], **fields: Any) -> None:
    options = options_with({}, validate_behaviour(behaviour))
    channel = int(guild["channels"][0]["id"])
    await store.put_guild_config(GuildConfig(guild_id=int(guild["id"]), welcome_channel_id=channel, options=options,
                                             updated_at=1.0, **fields))  # fmt: skip


def mentioned(messages: list[dict[str, Any]]) -> list[str]:
    return [u for m in messages for u in m["mentioned_user_ids"]]


async def _with_bot(emu: RunningEmulator, store: SqliteStore, tmp_path: Path, renderer: Renderer,
                    body: Callable[[Any], Any], **kwargs: Any) -> None:  # fmt: skip
    async with trio.open_nursery() as nursery:
        bot = await nursery.start(lambda task_status: run_bot(
            bot_settings(emu, tmp_path), store, renderer=renderer, task_status=task_status, **kwargs))  # fmt: skip
        await bot.manager.handles[0].live.wait()
        await body(bot)
        nursery.cancel_scope.cancel()


async def test_dm_instead_of_the_channel_falls_back_once_for_closed_dms(tmp_path, renderer):
    with trio.fail_after(60):
        async with running_emulator(guilds=1) as emu:
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            guild = (await emu.control.guilds())[0]
            channel = guild["channels"][0]["id"]
            await _configure(store, guild, {"dm": {"mode": "instead", "template": "Hi {name}, welcome to {server}!"}})
            members: dict[str, str] = {}

            async def body(bot: Any) -> None:
                members["open"] = (await emu.control.join(guild["id"], global_name="Open"))["user_id"]
                members["closed"] = (await emu.control.join(guild["id"], dms_closed=True))["user_id"]
                await emu.control.wait_for_mentions(channel, 1)

            await _with_bot(emu, store, tmp_path, renderer, body)
            await store.close()
            in_channel = mentioned(await emu.control.messages(channel))
            open_dms = await emu.control.dms(members["open"])
            closed_dms = await emu.control.dms(members["closed"])
            stats = await emu.control.stats()
    assert in_channel == [members["closed"]], "only the member with closed DMs is welcomed in the channel"
    assert [m["content"] for m in open_dms] == [f"Hi Open, welcome to {guild['name']}!"]
    assert closed_dms == []
    assert stats["invalid_requests_total"] == 1, "one refused DM, never retried"


async def test_a_200_member_raid_is_welcomed_in_groups_and_then_back_to_single_welcomes(tmp_path, renderer):
    with trio.fail_after(120):
        async with running_emulator(guilds=1) as emu:
            await emu.control.limits(message_period_s=1.0)
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            guild = (await emu.control.guilds())[0]
            channel = guild["channels"][0]["id"]
            await _configure(store, guild, {"raid": {"enabled": True, "joins": 10, "window_s": 2, "group_size": 25}})
            switches: list[bool] = []
            calmed = trio.Event()

            def on_raid(guild_id: int, raiding: bool) -> None:
                switches.append(raiding)
                if not raiding:
                    calmed.set()

            joined: list[str] = []

            async def body(bot: Any) -> None:
                for _ in range(200):
                    joined.append((await emu.control.join(guild["id"]))["user_id"])
                await emu.control.wait_for_mentions(channel, 200)
                await calmed.wait()
                joined.append((await emu.control.join(guild["id"]))["user_id"])
                await emu.control.wait_for_mentions(channel, 201)

            await _with_bot(emu, store, tmp_path, renderer, body, on_raid=on_raid)
            await store.close()
            messages = await emu.control.messages(channel)
            stats = await emu.control.stats()
    assert mentioned(messages) == joined, "everyone once, in join order"
    sizes = [len(m["mentioned_user_ids"]) for m in messages]
    assert max(sizes) > 10, "grouped welcomes name more members than a card message can carry"
    assert max(sizes) <= 25
    assert all(not m["attachments"] for m in messages if len(m["mentioned_user_ids"]) > 10), "raid groups: no cards"
    assert switches == [True, False]
    assert sizes[-1] == 1, "after the raid calmed down, a newcomer gets their own welcome"
    assert messages[-1]["attachments"], "with their card"
    assert stats["rate_limited_total"] == 0


async def test_a_quick_leaver_loses_their_welcome_and_gets_a_goodbye(tmp_path, renderer):
    with trio.fail_after(60):
        async with running_emulator(guilds=1, start_ms=int(time.time() * 1000)) as emu:
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            guild = (await emu.control.guilds())[0]
            channel, goodbyes = guild["channels"][0]["id"], guild["channels"][1]["id"]
            await _configure(store, guild, {"auto_delete": {"quick_leave_minutes": 5},
                                            "goodbye": {"enabled": True, "channel_id": int(goodbyes),
                                                        "template": "Bye {name}!"}})  # fmt: skip

            async def body(bot: Any) -> None:
                stays = (await emu.control.join(guild["id"]))["user_id"]
                await emu.control.wait_for_mentions(channel, 1)
                leaver = (await emu.control.join(guild["id"], global_name="Quick"))["user_id"]
                await emu.control.wait_for_mentions(channel, 2)
                await emu.control.leave(guild["id"], leaver)
                await emu.control.wait_for_count(goodbyes, 1)
                remaining = await emu.control.wait_for_count(channel, 1)
                assert mentioned(remaining) == [stays]

            await _with_bot(emu, store, tmp_path, renderer, body)
            await store.close()
            farewell = await emu.control.messages(goodbyes)
    assert [m["content"] for m in farewell] == ["Bye Quick!"]


async def test_roles_are_checked_against_the_bots_place_in_the_hierarchy(tmp_path):
    with trio.fail_after(60):
        async with running_emulator(guilds=1) as emu:
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            guild = (await emu.control.guilds())[0]
            gid = guild["id"]
            (bot_role,) = guild["bot_role_ids"]
            member = (await emu.control.join(gid))["user_id"]
            low = await emu.control.create_role(gid, "Member", position=1)
            high = await emu.control.create_role(gid, "Moderator", position=5)
            rest = RestClient(Secret(emu.info.token), api_base=emu.info.api_base)
            actions = RestActions(DiscordApi(rest), store, CachedConfigs(store))
            await emu.control.update_role(gid, bot_role, position=3)
            without_permission = await actions.add_roles(int(gid), int(member), [int(low)])
            await emu.control.update_role(gid, bot_role, permissions=MANAGE_ROLES)
            above = await actions.add_roles(int(gid), int(member), [int(low), int(high)])
            given = await actions.add_roles(int(gid), int(member), [int(low)])
            roles = (await emu.control.member(gid, member))["roles"]
            await rest.aclose()
            await store.close()
            stats = await emu.control.stats()
    assert without_permission == [
        "the bot lacks the Manage Roles permission: give it to the bot's role in Server Settings"
    ]
    assert above == ["role Moderator is not below the bot's highest role: drag the bot's role above it"]
    assert given == []
    assert roles == [low]
    assert stats["invalid_requests_total"] == 0, "the check comes before the request: no 403s"


async def test_auto_delete_is_durable_across_a_restart(tmp_path, renderer):
    with trio.fail_after(60):
        async with running_emulator(guilds=1) as emu:
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            guild = (await emu.control.guilds())[0]
            channel = guild["channels"][0]["id"]
            await _configure(store, guild, {"auto_delete": {"after_minutes": 0.05}})
            stop = trio.Event()
            async with trio.open_nursery() as nursery:
                settings = bot_settings(emu, tmp_path)
                first = await nursery.start(lambda task_status: run_bot(
                    settings, store, renderer=renderer, stop=stop, task_status=task_status))  # fmt: skip
                await first.manager.handles[0].live.wait()
                await emu.control.join(guild["id"])
                await emu.control.wait_for_count(channel, 1)
                stop.set()  # a clean stop: the welcome is finished (posted, its deletion scheduled) first
            deletes_by_first = _deletes(first)

            async def body(bot: Any) -> None:
                await emu.control.wait_for_count(channel, 0)
                assert _deletes(bot) == 1, "the restarted bot deleted it, from the stored schedule"

            await _with_bot(emu, store, tmp_path, renderer, body)
            await store.close()
    assert deletes_by_first == 0


async def test_a_catch_up_welcomes_the_outages_joiners_though_as_many_left(tmp_path, renderer):
    """Issue 19.5: 3 joins and 3 leaves while the bot was away leave the member count where it was."""
    with trio.fail_after(90):
        async with running_emulator(guilds=1, start_ms=int(time.time() * 1000)) as emu:
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            guild = (await emu.control.guilds())[0]
            channel = guild["channels"][0]["id"]
            await _configure(store, guild, {"catch_up": {"enabled": True, "max_age_minutes": 30}})
            live: list[str] = []

            async def before(bot: Any) -> None:
                live.extend([(await emu.control.join(guild["id"]))["user_id"] for _ in range(3)])
                await emu.control.wait_for_mentions(channel, 3)
                # Wait until the catch-up's record holds today's count: the next start sees it unchanged.
                while True:
                    if await _recorded_count(store, int(guild["id"]), bot.pipeline.guilds):
                        break
                    await trio.sleep(0.05)

            await _with_bot(emu, store, tmp_path, renderer, before)  # then the process dies
            during = [(await emu.control.join(guild["id"]))["user_id"] for _ in range(3)]
            for user_id in live:
                await emu.control.leave(guild["id"], user_id)
            await emu.control.fault("gateway", kind="expire")  # down for longer than the resume window

            async def after(bot: Any) -> None:
                await emu.control.wait_for_mentions(channel, 6)

            await _with_bot(emu, store, tmp_path, renderer, after)
            await store.close()
            welcomed = mentioned(await emu.control.messages(channel))
    assert sorted(welcomed) == sorted([*live, *during]), "the outage's joiners were caught up"
    assert len(welcomed) == len(set(welcomed))


async def _recorded_count(store: SqliteStore, guild_id: int, guilds: dict[int, Any]) -> bool:
    """The catch-up's record (any shard's key, or the one key of older versions) has the guild's current count."""
    count = guilds[guild_id].member_count if guild_id in guilds else None
    for key in ("catch_up_seen", "catch_up_seen:0"):
        raw = await store.get_meta(key)
        if raw is not None and count is not None and msgspec.json.decode(raw)["counts"].get(str(guild_id)) == count:
            return True
    return False


def _deletes(bot: Any) -> int:
    return sum(n for (route, _), n in bot.rest.requests.items() if route.startswith("DELETE"))


async def test_a_restart_past_the_resume_window_catches_up_the_outage_exactly_once(tmp_path, renderer):
    with trio.fail_after(90):
        async with running_emulator(guilds=1, start_ms=int(time.time() * 1000)) as emu:
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            guild = (await emu.control.guilds())[0]
            channel = guild["channels"][0]["id"]
            await _configure(store, guild, {"catch_up": {"enabled": True, "max_age_minutes": 30}})
            joined: list[str] = []

            async def before(bot: Any) -> None:
                joined.append((await emu.control.join(guild["id"]))["user_id"])
                await emu.control.wait_for_mentions(channel, 1)

            await _with_bot(emu, store, tmp_path, renderer, before)  # then the process dies
            during = [(await emu.control.join(guild["id"]))["user_id"] for _ in range(3)]
            await emu.control.join(guild["id"], bot=True)  # bots are never welcomed
            await emu.control.fault("gateway", kind="expire")  # down for longer than the resume window

            async def after(bot: Any) -> None:
                await emu.control.wait_for_mentions(channel, 4)
                joined.append((await emu.control.join(guild["id"]))["user_id"])  # live again
                await emu.control.wait_for_mentions(channel, 5)
                assert bot.manager.identifies >= 1

            await _with_bot(emu, store, tmp_path, renderer, after)
            await store.close()
            with closing(sqlite3.connect(tmp_path / "w.sqlite3")) as db:
                reasons = dict(db.execute("SELECT user_id, reason FROM welcome_log WHERE status = 'posted'").fetchall())
            late = [reasons.get(int(u)) for u in during]
            messages = await emu.control.messages(channel)
    welcomed = mentioned(messages)
    assert sorted(welcomed) == sorted([*joined, *during]), "everyone once: the outage's joins caught up"
    assert len(welcomed) == len(set(welcomed))
    assert all(reason is not None and reason.startswith("late") for reason in late)
    assert reasons[int(joined[0])] is None, "welcomed live, not late"
