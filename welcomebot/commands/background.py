"""``/set-background``: a custom card background from an uploaded image or a link.

The image is fetched and validated by the images layer (safe fetch, decoding, limits) and stored in the
guild's assets; the guild's config then points at it. Either step refusing leaves the settings as they were.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from welcomebot.commands.context import Handler
from welcomebot.commands.errors import CommandError, InvalidOption
from welcomebot.commands.respond import Reply

if TYPE_CHECKING:
    from welcomebot.commands.context import CommandContext
    from welcomebot.commands.model import Invocation

__all__ = ["HANDLERS"]


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
    if ctx.images is None or ctx.assets is None:
        raise CommandError("Custom backgrounds are not available in this installation of the bot.")
    image = await ctx.images.load(url)
    ref = await ctx.assets.put(call.guild_id, image)
    await ctx.save(call.guild_id, background_ref=ref)
    return Reply(f"Background saved ({image.width}x{image.height} pixels). See the card with `/preview`.")


HANDLERS: dict[tuple[str, ...], Handler] = {("set-background",): Handler(set_background, slow=True)}
