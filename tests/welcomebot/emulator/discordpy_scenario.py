"""discord.py, unmodified, through a bot's life against the emulator (run by test_discordpy.py in a thread).

discord.py is asyncio, the emulator trio: this module runs on its own asyncio loop and drives the emulator
through its control API with aiohttp (discord.py's own HTTP library), so nothing here touches trio. Only the
library's base URLs are pointed at the emulator (``Route.BASE``, ``Asset.BASE``; the gateway URL comes from
GET /gateway/bot); its logic is left as it ships.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
from discord import app_commands
from PIL import Image

log = logging.getLogger(__name__)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (88, 101, 242)).save(out, format="PNG")
    return out.getvalue()


#: The bytes of the message's and the follow-up's file.
PNG = _png()


@dataclass
class Outcome:
    """What the scenario saw from discord.py's side; the test checks it against the emulator's records."""

    ready_guilds: dict[int, int] = field(default_factory=dict)  # guild id -> members in discord.py's cache
    chunked: bool = False
    joined_id: int | None = None
    avatar: bytes = b""
    avatar_url: str = ""
    message_id: int | None = None
    message_attachment_url: str = ""
    synced: list[str] = field(default_factory=list)
    interaction_id: int | None = None
    followup_id: int | None = None
    edited_content: str = ""
    resumes: int = 0
    after_reconnects_joined: int | None = None
    errors: list[str] = field(default_factory=list)


class _Bot(discord.AutoShardedClient):  # asks GET /gateway/bot for its shard count and gateway URL
    def __init__(self) -> None:
        intents = discord.Intents.default()
        intents.members = True  # privileged; the emulator's portal allows it by default
        super().__init__(intents=intents)
        self.tree = app_commands.CommandTree(self)
        self.joins: asyncio.Queue[discord.Member] = asyncio.Queue()
        self.resumed = asyncio.Event()
        self.answered = asyncio.Event()
        self.outcome = Outcome()

        @self.tree.command(name="hello", description="Say hello with a file")
        async def hello(interaction: discord.Interaction) -> None:
            await self._answer(interaction)

    async def _answer(self, interaction: discord.Interaction) -> None:
        try:
            self.outcome.interaction_id = interaction.id
            await interaction.response.defer(thinking=True)
            followup = await interaction.followup.send(
                "here is a file", file=discord.File(io.BytesIO(PNG), "pixel.png"), wait=True
            )
            self.outcome.followup_id = followup.id
            edited = await interaction.edit_original_response(content="done")
            self.outcome.edited_content = edited.content
            await interaction.delete_original_response()
        except Exception as exc:  # recorded for the test, which fails on it with the message
            log.exception("answering the interaction failed")
            self.outcome.errors.append(f"interaction: {exc!r}")
        finally:
            self.answered.set()

    async def on_member_join(self, member: discord.Member) -> None:
        await self.joins.put(member)

    async def on_resumed(self) -> None:
        self.outcome.resumes += 1
        self.resumed.set()


class _Control:
    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, self.base + path, json=body) as response:
            if response.status >= 400:
                raise RuntimeError(f"control {method} {path}: {response.status} {await response.text()}")
            return await response.json()


async def run(info: dict[str, str], guild_id: int, channel_id: int, invoker_id: int) -> Outcome:
    """The whole life; ``info`` is the emulator's ``/_control/info``. Each step waits on an event, with one
    overall deadline set by the caller."""
    bot = _Bot()
    outcome = bot.outcome
    async with aiohttp.ClientSession() as http, bot:
        control = _Control(http, info["control_base"])
        runner = asyncio.create_task(bot.start(info["token"], reconnect=True))
        try:
            await _life(bot, control, outcome, guild_id, channel_id, invoker_id, runner)
        finally:
            await bot.close()
            await asyncio.gather(runner, return_exceptions=True)
    return outcome


async def _life(bot: _Bot, control: _Control, outcome: Outcome, guild_id: int, channel_id: int, invoker_id: int,
                runner: asyncio.Task[None]) -> None:  # fmt: skip
    ready = asyncio.create_task(bot.wait_until_ready())
    await asyncio.wait([ready, runner], return_when=asyncio.FIRST_COMPLETED)
    if runner.done():
        runner.result()  # raises what ended the client before READY
    # READY, every GUILD_CREATE, then one op 8 per guild answered with GUILD_MEMBERS_CHUNK (chunk_guilds_at_startup).
    outcome.ready_guilds = {g.id: len(g.members) for g in bot.guilds}
    outcome.chunked = all(g.chunked for g in bot.guilds)

    joined = await control.call("POST", f"/guilds/{guild_id}/members", {"username": "newcomer"})
    member = await bot.joins.get()
    outcome.joined_id = member.id
    assert str(member.id) == joined["user_id"]
    outcome.avatar_url = member.display_avatar.url
    outcome.avatar = await member.display_avatar.read()  # the CDN

    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel), channel
    message = await channel.send(f"welcome {member.mention}", file=discord.File(io.BytesIO(PNG), "card.png"))
    outcome.message_id = message.id
    outcome.message_attachment_url = message.attachments[0].url if message.attachments else ""

    synced = await bot.tree.sync()  # PUT /applications/{id}/commands
    outcome.synced = [c.name for c in synced]
    await control.call("POST", "/interactions", {"guild_id": str(guild_id), "channel_id": str(channel_id),
                                                 "user_id": str(invoker_id), "name": "hello"})  # fmt: skip
    await bot.answered.wait()

    # A 4000 close ("Unknown error... try reconnecting") and an op 7: discord.py resumes after each.
    await control.call("POST", "/faults", {"target": "gateway", "kind": "close", "code": 4000})
    await bot.resumed.wait()
    bot.resumed.clear()
    await control.call("POST", "/faults", {"target": "gateway", "kind": "reconnect"})
    await bot.resumed.wait()
    again = await control.call("POST", f"/guilds/{guild_id}/members", {"username": "latecomer"})
    after = await bot.joins.get()
    assert str(after.id) == again["user_id"]
    outcome.after_reconnects_joined = after.id
