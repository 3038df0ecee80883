"""``/set-background``: a custom card background from an uploaded image or a link.

The bytes are fetched with the images layer's SSRF checks (an upload is fetched from Discord's CDN like any
link), decoded and re-encoded under its limits, stored in the guild's assets (quota), and only then does
the guild's config point at them: a refusal at any step leaves the settings as they were.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from welcomebot.commands.context import Handler
from welcomebot.commands.errors import InvalidOption
from welcomebot.commands.respond import Reply
from welcomebot.images import ImageRejected, fetch_image, normalize_within
from welcomebot.store import QuotaExceeded, StoreError

if TYPE_CHECKING:
    from welcomebot.commands.context import CommandContext
    from welcomebot.commands.model import Invocation

__all__ = ["HANDLERS", "collect_garbage"]

log = logging.getLogger(__name__)


async def set_background(ctx: CommandContext, call: Invocation) -> Reply:
    assert call.guild_id is not None, "the dispatcher refuses invocations outside a server"
    attachment_id: int | None = call.options.get("image")
    url: str | None = call.options.get("url")
    if (attachment_id is None) == (url is None):
        raise InvalidOption("Give either an image to upload (`image`) or a link (`url`), one of the two.")
    if attachment_id is not None:
        attachment = call.resolved.attachments.get(attachment_id)
        if attachment is None:
            raise InvalidOption("Discord did not pass the uploaded file on; upload it again.")
        url = attachment.url
    assert url is not None
    try:
        data = await fetch_image(url, ctx.image_policy)
        image = await normalize_within(data, ctx.image_policy, ctx.decode_budget)
    except ImageRejected as exc:
        raise InvalidOption(f"Background not changed: {exc}") from exc
    try:
        ref = await ctx.assets.put(call.guild_id, image.data, image.media_type, image.width, image.height)
    except QuotaExceeded as exc:
        raise InvalidOption(f"Background not changed: {exc}.") from exc
    await ctx.save(call.guild_id, background_ref=ref)
    await collect_garbage(ctx)
    return Reply(f"Background saved ({image.width}x{image.height} pixels). See the card with `/preview`.")


async def collect_garbage(ctx: CommandContext) -> None:
    """Free the asset a background change left unreferenced; the change itself is saved whatever happens."""
    try:
        await ctx.assets.collect_garbage()
    except StoreError as exc:
        log.warning("asset garbage collection failed; it runs again at the next start", extra={"error": str(exc)})


HANDLERS: dict[tuple[str, ...], Handler] = {("set-background",): Handler(set_background, slow=True)}
