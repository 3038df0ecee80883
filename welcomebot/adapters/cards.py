"""Cards for the pipeline: avatar from the CDN, background from the asset store, render in the pool.

Welcome cards use the pool's batch lane; admin previews (/preview) use the interactive lane and jump the
queue, so they answer inside Discord's 3 s even while a raid fills the pool.

Every failure degrades instead of stopping a welcome: an avatar that cannot be fetched becomes the
member's default avatar, then a placeholder; a card that cannot be rendered becomes a text-only welcome.

The guild's :class:`~welcomebot.render.CardDesign` picks the theme (and its size), colours, shape and
background; an uploaded font is loaded through the same asset loader as the background. Animated cards
(design.animated, with an animated avatar or background) are rendered in steps by :func:`render_card`, one
pool job per frame, so a raid's static cards are never stuck behind a whole animation.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

import trio

from actors import Priority, ThreadPoolActor
from welcomebot.app import CardFile, GuildInfo, Join, WelcomeConfig
from welcomebot.render import DEFAULT_LINES, AvatarFetcher, CardSpec, Renderer, RenderError, avatar_url, display_name
from welcomebot.render.animated import AnimatedCard
from welcomebot.render.themes import THEME_SIZES

__all__ = ["AVATAR_PIXELS", "GOODBYE_LINES", "RenderedCards", "render_card"]

#: The goodbye card's text under the member's name (drawn once, above these): the guild's design, other words.
GOODBYE_LINES = ("Goodbye", "{server} will miss you")

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
        #: Loads an asset's bytes by reference: the guild's background image and its uploaded font.
        background: Callable[[str], Awaitable[bytes | None]] | None = None,
        on_render: Callable[[float], None] | None = None,
    ) -> None:
        self._renderer = renderer
        self._avatars = avatars
        self._cdn = cdn_base
        self._pool = pool
        # An animated card holds its frames until it is encoded (48 frames of 1024x450 RGBA: ~90 MB), and
        # its steps interleave with every other card's: without a bound, a raid would hold them all at once.
        self._animating = trio.CapacityLimiter(pool.threads)
        self._background = background
        self._on_render = on_render
        #: Cards that could not be rendered, so the member was welcomed with text only.
        self.text_only = 0

    async def render(self, join: Join, config: WelcomeConfig, guild: GuildInfo | None, *,
                     priority: Priority = Priority.BATCH) -> CardFile | None:  # fmt: skip
        name = display_name(join.global_name, join.username)
        design = config.design
        avatar = await self._avatar(join, animated=design.animated)
        background = await self._asset(config.background_ref)
        font = await self._asset(design.font)
        width, height = THEME_SIZES[design.theme]
        spec = CardSpec(
            name=name,
            server="" if guild is None else guild.name,
            member_count=join.member_number
            or (0 if guild is None or guild.member_count is None else guild.member_count),
            avatar=avatar,
            background=background,
            background_key=config.background_ref,
            width=width,
            height=height,
            design=design,
            font=font,
            font_key=design.font,
            lines=GOODBYE_LINES if join.goodbye else DEFAULT_LINES,
        )
        started = trio.current_time()
        try:
            data = await render_card(self._pool, self._renderer, spec, priority, animating=self._animating)
        except RenderError as exc:
            self.text_only += 1
            log.warning("card render failed; welcoming with text only",
                        extra={"guild_id": join.guild_id, "user_id": join.user_id, "error": str(exc)})  # fmt: skip
            return None
        except Exception:  # a renderer bug (FreeType, Pillow) costs this member their card, never the welcome
            self.text_only += 1
            log.exception("card render crashed; welcoming with text only",
                          extra={"guild_id": join.guild_id, "user_id": join.user_id})  # fmt: skip
            return None
        if self._on_render is not None:
            self._on_render(trio.current_time() - started)
        kind = "goodbye" if join.goodbye else "welcome"
        return CardFile(f"{kind}-{join.user_id}.{spec.format}", data, _alt_text(kind, spec)[:1024])

    @property
    def run_fallbacks(self) -> int:
        """Text runs the renderer's drawers could not rasterise and drew with a fallback."""
        return self._renderer.run_fallbacks

    async def _asset(self, ref: str | None) -> bytes | None:
        if ref is None or self._background is None:
            return None
        return await self._background(ref)

    async def _avatar(self, join: Join, *, animated: bool = False) -> bytes | None:
        urls = [avatar_url(join.user_id, join.avatar, AVATAR_PIXELS, cdn=self._cdn)]
        if animated and join.avatar is not None and join.avatar.startswith("a_"):
            urls.insert(0, avatar_url(join.user_id, join.avatar, AVATAR_PIXELS, cdn=self._cdn, animated=True))
        if join.avatar is not None:
            urls.append(avatar_url(join.user_id, None, AVATAR_PIXELS, cdn=self._cdn))  # the default avatar
        for url in urls:
            try:
                return await self._avatars.fetch(url)
            except RenderError as exc:
                log.info("avatar unavailable; falling back", extra={"user_id": join.user_id, "error": str(exc)})
        return None


def _alt_text(kind: str, spec: CardSpec) -> str:
    """The card's alt text: what it says, for screen readers (and for tests, which cannot read pixels)."""
    text = f"{kind.title()} card for {spec.name}"
    if spec.server:
        text += f" of {spec.server}"
    if spec.member_count and kind == "welcome":
        text += f", member #{spec.member_count:,}"
    return text


async def render_card(pool: ThreadPoolActor, renderer: Renderer, spec: CardSpec, priority: int, *,
                      animating: trio.CapacityLimiter | None = None) -> bytes:  # fmt: skip
    """The encoded card, rendered in ``pool``: one job for a static card, one per step for an animated one
    (at most ``animating``'s total of animated cards in progress at once)."""
    if not spec.design.animated or spec.format != "webp":
        return await pool.run(renderer.render, spec, priority=priority)
    async with animating if animating is not None else contextlib.nullcontext():
        job = AnimatedCard(renderer, spec)
        frames = await pool.run(job.start, priority=priority)
        if frames == 0:  # nothing moves: the static card
            return await pool.run(renderer.render, spec, priority=priority)
        for index in range(frames):
            await pool.run(job.frame, index, priority=priority)
        return await pool.run(job.finish, priority=priority)
