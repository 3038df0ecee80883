"""Registration: once across two starts of the bot, again when the definitions change, and from the CLI."""

import os
from pathlib import Path

import trio

from tests.helpers import bot_settings, run_welcomebot_in_thread
from welcomebot.bot import BotOptions, run_bot
from welcomebot.commands.definitions import COMMANDS
from welcomebot.commands.sync import sync_commands
from welcomebot.emulator.testing import running_emulator
from welcomebot.render import Renderer
from welcomebot.rest.api import DiscordApi
from welcomebot.rest.client import RestClient
from welcomebot.secret import Secret
from welcomebot.store.sqlite import SqliteStore

PUT = "PUT /applications/{application_id}/commands"


async def test_commands_are_registered_once_across_two_starts(tmp_path: Path, renderer: Renderer):
    with trio.fail_after(120):
        async with running_emulator(guilds=1) as emu:
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            for _ in range(2):
                async with trio.open_nursery() as nursery:
                    bot = await nursery.start(lambda task_status: run_bot(
                        bot_settings(emu, tmp_path), store, options=BotOptions(drain_timeout=0.01),
                        renderer=renderer, task_status=task_status))  # fmt: skip
                    await bot.manager.handles[0].live.wait()
                    await bot.commands_synced.wait()  # the registration runs beside the start-up
                    nursery.cancel_scope.cancel()
            await store.close()
            stats = await emu.control.stats()
    assert stats["requests"][PUT] == 1


async def test_changed_definitions_are_registered_again_per_scope(tmp_path: Path):
    async with running_emulator(guilds=1) as emu:
        guild_id = int((await emu.control.guilds())[0]["id"])
        store = await SqliteStore.open(tmp_path / "w.sqlite3")
        rest = RestClient(Secret(emu.info.token), api_base=emu.info.api_base)
        api = DiscordApi(rest)
        assert await sync_commands(api, store)
        assert not await sync_commands(api, store)
        assert await sync_commands(api, store, commands=COMMANDS[:1]), "definitions changed"
        assert await sync_commands(api, store, guild_id=guild_id), "a guild is its own scope"
        assert not await sync_commands(api, store, guild_id=guild_id)
        await rest.aclose()
        await store.close()
        stats = await emu.control.stats()
    assert stats["requests"][PUT] == 2
    assert stats["requests"]["PUT /applications/{application_id}/guilds/{guild_id}/commands"] == 1


async def test_cli_sync_registers_in_one_guild(tmp_path: Path):
    async with running_emulator(guilds=1) as emu:
        guild_id = (await emu.control.guilds())[0]["id"]
        env = {**os.environ, "DISCORD_BOT_TOKEN": emu.info.token, "WELCOMEBOT_API_BASE": emu.info.api_base,
               "WELCOMEBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'w.sqlite3'}",
               "WELCOMEBOT_DATA_DIR": str(tmp_path)}  # fmt: skip
        done = await run_welcomebot_in_thread(["commands", "sync", "--guild", guild_id], env=env)
        bad = await run_welcomebot_in_thread(["commands", "sync", "--guild", "x"], env=env)
        stats = await emu.control.stats()
    assert done.returncode == 0, done.stderr
    assert '"registered": ["welcome", "preview", "set-background", "card", "behaviour"]' in done.stdout
    assert stats["requests"]["PUT /applications/{application_id}/guilds/{guild_id}/commands"] == 1
    assert bad.returncode == 2
    assert "not a server id" in bad.stderr
