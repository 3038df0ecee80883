"""What command handlers work with: the store (through the config cache), Discord's REST API, the cards.

Every settings change goes through :meth:`CommandContext.save`, which stamps ``updated_at`` (the
pipeline's config version: a channel marked broken is retried after it changes), clears the recorded
channel problem and invalidates the cached config, so the next welcome uses the new settings.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
import trio

from welcomebot.app import GuildInfo
from welcomebot.commands.definitions import ChannelType
from welcomebot.commands.errors import InvalidOption
from welcomebot.images.budget import DecodeBudget
from welcomebot.rest import bot_permissions
from welcomebot.store import GuildConfig

if TYPE_CHECKING:
    from actors import Priority
    from welcomebot.adapters import CachedConfigs
    from welcomebot.app import CardFile, Join, WelcomeConfig
    from welcomebot.commands.model import Invocation
    from welcomebot.commands.respond import Reply
    from welcomebot.images import FetchPolicy
    from welcomebot.rest import DiscordApi
    from welcomebot.store import AssetStore, Store

__all__ = ["CommandContext", "FontUploads", "Handler", "PreviewCards"]


class PreviewCards(Protocol):
    """The pipeline's cards (``adapters.cards.RenderedCards``), rendered on the pool's interactive lane."""

    async def render(self, join: Join, config: WelcomeConfig, guild: GuildInfo | None, *,
                     priority: Priority) -> CardFile | None: ...  # fmt: skip


class FontUploads(Protocol):
    async def put(self, guild_id: int, url: str) -> str:
        """Fetch the font at ``url``, validate it, store it in the guild's assets and return its ref;
        ``InvalidOption`` saying why a font is refused."""
        ...


@dataclass(frozen=True)
class Handler:
    """A command's implementation; ``slow`` ones (fetching, rendering) defer before they start."""

    run: Callable[[CommandContext, Invocation], Awaitable[Reply]]
    slow: bool = False


@dataclass
class CommandContext:
    api: DiscordApi
    store: Store
    configs: CachedConfigs
    #: What the gateway told us about each guild (name, member count), kept by the pipeline.
    guilds: Mapping[int, GuildInfo]
    cards: PreviewCards
    assets: AssetStore
    #: What an admin's background must satisfy, and which origins (the CDN) may be fetched over http.
    image_policy: FetchPolicy
    fonts: FontUploads | None = None
    #: Decoding an upload can take 200 MB (a 40 MP RGBA image): concurrent decodes share this many bytes,
    #: whatever the dispatcher's concurrency.
    decode_budget: DecodeBudget = field(default_factory=DecodeBudget, repr=False)
    wall_clock: Callable[[], float] = time.time
    #: Guilds whose welcomer kept crashing, and why (the pipeline's, shown by /welcome show).
    parked: Mapping[int, str] = field(default_factory=dict)
    _bot_id: int | None = field(default=None, repr=False)
    _bot_lock: trio.Lock = field(default_factory=trio.Lock, repr=False)

    async def config(self, guild_id: int) -> GuildConfig:
        """The guild's stored settings, or the defaults when it has none yet."""
        return await self.store.get_guild_config(guild_id) or GuildConfig(guild_id=guild_id)

    async def save(self, guild_id: int, **changes: Any) -> GuildConfig:
        current = await self.config(guild_id)
        updated = msgspec.structs.replace(current, **changes, channel_problem=None, updated_at=self.wall_clock())
        await self.store.put_guild_config(updated)
        self.configs.invalidate(guild_id)
        return updated

    async def guild_info(self, guild_id: int) -> GuildInfo:
        """Name and member count: from the gateway when it told us, else asked of Discord."""
        known = self.guilds.get(guild_id)
        if known is not None:
            return known
        guild = await self.api.get_guild(guild_id, with_counts=True)
        return GuildInfo(guild_id=guild_id, name=str(guild.get("name", "")),
                         member_count=guild.get("approximate_member_count"))  # fmt: skip

    async def bot_id(self) -> int:
        async with self._bot_lock:
            if self._bot_id is None:
                self._bot_id = int((await self.api.get_current_user())["id"])
            return self._bot_id

    async def guild_channel(self, call: Invocation, channel_id: int) -> int:
        """The bot's permissions in ``channel_id`` if it is a text or announcement channel of the invoking
        server; ``InvalidOption`` when it is another server's, gone, or of another kind (a raw id can be
        anything: Discord checks only that it is a number)."""
        assert call.guild_id is not None, "the dispatcher refuses invocations outside a server"
        resolved = call.resolved.channels.get(channel_id)
        if resolved is not None and resolved.type not in tuple(ChannelType):
            raise InvalidOption("Messages can go to a text or announcement channel only: pick one of those.")
        perms = await self.bot_permissions(call.guild_id, channel_id)
        if perms is None:
            raise InvalidOption(f"Channel {channel_id} is not a channel of this server (or no longer exists): "
                                "pick one of this server's channels.")  # fmt: skip
        return perms

    async def bot_permissions(self, guild_id: int, channel_id: int) -> int | None:
        """The bot's permissions in the channel from the server's roles and the channel's overwrites; None
        when the channel no longer exists."""
        return await bot_permissions(self.api, guild_id, channel_id, await self.bot_id())
