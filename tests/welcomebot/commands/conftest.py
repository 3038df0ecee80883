"""A running emulator with the real bot (run_bot) on SQLite, and a helper to invoke slash commands."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.helpers import bot_settings
from welcomebot.bot import BotOptions, RunningBot, run_bot
from welcomebot.commands.definitions import COMMANDS, Option, OptionType
from welcomebot.emulator.testing import RunningEmulator, running_emulator
from welcomebot.render import Renderer
from welcomebot.store.sqlite import SqliteStore

MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3
SEND_MESSAGES = 1 << 11


@pytest.fixture(scope="session")
def renderer() -> Renderer:
    return Renderer()


def command_options(path: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The interaction's ``data.options`` for ``path`` ("welcome channel"), typed from our definitions."""
    names = path.split()
    command = next(c for c in COMMANDS if c.name == names[0])
    options: tuple[Option, ...] = command.options
    chain: list[str] = []
    for name in names[1:]:
        options = next(o for o in options if o.name == name).options
        chain.append(name)
    leaf = [{"name": k, "type": int(next(o for o in options if o.name == k).type), "value": str(v) if
             next(o for o in options if o.name == k).type in (OptionType.USER, OptionType.CHANNEL) else v}
            for k, v in values.items()]  # fmt: skip
    for name in reversed(chain):
        leaf = [{"name": name, "type": int(OptionType.SUB_COMMAND), "options": leaf}]
    return leaf


@dataclass
class Rig:
    emu: RunningEmulator
    bot: RunningBot
    store: SqliteStore
    guild: dict[str, Any]

    @property
    def guild_id(self) -> int:
        return int(self.guild["id"])

    @property
    def channel_id(self) -> int:
        return int(self.guild["channels"][0]["id"])

    @property
    def owner_id(self) -> int:
        return int(self.guild["owner_id"])

    async def invoke(self, path: str, *, user_id: int | None = None, permissions: int = MANAGE_GUILD,
                     dm: bool = False, attachment: tuple[str, str, bytes] | None = None,
                     attachment_option: str = "image", **values: Any) -> dict[str, Any]:  # fmt: skip
        """Invoke ``/path`` through the emulator and return its record once answered."""
        created = await self.emu.control.interaction(
            guild_id=None if dm else self.guild_id, channel_id=self.channel_id,
            user_id=user_id or self.owner_id, name=path.split()[0], permissions=permissions,
            options=command_options(path, values), attachment=attachment, attachment_option=attachment_option,
        )  # fmt: skip
        record = await self.emu.control.wait_answered(created["id"], wait_s=60)
        assert record["answered"], f"{path} was never answered: {record}"
        return record


def answer_text(record: dict[str, Any]) -> str:
    """The text the invoker finally sees (the callback's content, or the edited deferral's)."""
    content: str = record["original"]["content"]
    return content


@pytest.fixture
async def rig(tmp_path: Path, renderer: Renderer) -> AsyncIterator[Rig]:
    with trio.fail_after(120):
        async with running_emulator(guilds=1, members=3) as emu:
            store = await SqliteStore.open(tmp_path / "w.sqlite3")
            guild = (await emu.control.guilds())[0]
            async with trio.open_nursery() as nursery:
                bot = await nursery.start(lambda task_status: run_bot(
                    bot_settings(emu, tmp_path), store, options=BotOptions(drain_timeout=0.01), renderer=renderer,
                    task_status=task_status))  # fmt: skip
                await bot.manager.handles[0].live.wait()
                await bot.commands_synced.wait()  # the emulator invokes registered commands only
                yield Rig(emu, bot, store, guild)
                nursery.cancel_scope.cancel()
            await store.close()
