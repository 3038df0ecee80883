"""Cards for the pipeline: avatar from the CDN, background from the asset store, render in the pool.

Welcome cards use the pool's batch lane; admin previews (/preview) use the interactive lane and jump the
queue, so they answer inside Discord's 3 s even while a raid fills the pool.

Every failure degrades instead of stopping a welcome: an avatar that cannot be fetched becomes the
member's default avatar, then a placeholder; a card that cannot be rendered becomes a text-only welcome.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from actors import Priority, ThreadPoolActor
from welcomebot.app.model import GuildInfo, Join
from welcomebot.app.ports import CardFile, WelcomeConfig
from welcomebot.render import AvatarFetcher, CardSpec, Renderer, RenderError, avatar_url, display_name

__all__ = ["AVATAR_PIXELS", "RenderedCards"]

log = logging.getLogger(__name__)

#: The avatar's drawn size on the default card, rounded up to Discord's power-of-two sizes by avatar_url.
AVATAR_PIXELS = 256


class RenderedCards:
    def __init__(
        self,
        renderer: Renderer,
        avatars: AvatarFetcher,
        *,
        cdn_base: str,
        pool: ThreadPoolActor,
        background: Callable[[str], Awaitable[bytes | None]] | None = None,
        on_render: Callable[[float], None] | None = None,
    ) -> None:
        self._renderer = renderer
        self._avatars = avatars
        self._cdn = cdn_base
        self._pool = pool
        self._background = background
        self._on_render = on_render

    async def render(self, join: Join, config: WelcomeConfig, guild: GuildInfo | None, *,
                     priority: Priority = Priority.BATCH) -> CardFile | None:  # fmt: skip
        name = display_name(join.global_name, join.username)
        avatar = await self._avatar(join)
        background = None
        if config.background_ref is not None and self._background is not None:
            background = await self._background(config.background_ref)
        spec = CardSpec(
            name=name,
            server="" if guild is None else guild.name,
            member_count=join.member_number
            or (0 if guild is None or guild.member_count is None else guild.member_count),
            avatar=avatar,
            background=background,
            background_key=config.background_ref,
        )
        started = trio.current_time()
        try:
            data = await self._pool.run(self._renderer.render, spec, priority=priority)
        except RenderError as exc:
            log.warning("card render failed; welcoming with text only",
                        extra={"guild_id": join.guild_id, "user_id": join.user_id, "error": str(exc)})  # fmt: skip
            return None
        if self._on_render is not None:
            self._on_render(trio.current_time() - started)
        return CardFile(f"welcome-{join.user_id}.{spec.format}", data, f"Welcome card for {name}"[:1024])

    async def _avatar(self, join: Join) -> bytes | None:
        urls = [avatar_url(join.user_id, join.avatar, AVATAR_PIXELS, cdn=self._cdn)]
        if join.avatar is not None:
            urls.append(avatar_url(join.user_id, None, AVATAR_PIXELS, cdn=self._cdn))  # the default avatar
        for url in urls:
            try:
                return await self._avatars.fetch(url)
            except RenderError as exc:
                log.info("avatar unavailable; falling back", extra={"user_id": join.user_id, "error": str(exc)})
        return None
