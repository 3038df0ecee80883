"""``/card style|background|font|reset|save|discard``: how the welcome card looks, tried out before saving.

Every change is validated as a :class:`~welcomebot.render.CardDesign` (enums, ``#rrggbb`` colours, ranges),
stored as the guild's draft, and answered with the card rendered for the admin on the render pool's
interactive lane. New members keep getting the saved design until ``/card save``; ``/card discard`` drops
the draft. An uploaded font is fetched like a background image, validated by parsing and drawing it, and stored in the
guild's assets (counted in its quota).
"""

from __future__ import annotations

import mimetypes
from typing import TYPE_CHECKING, Any

import trio

from actors import Priority
from welcomebot.adapters import to_welcome_config
from welcomebot.commands.context import Handler
from welcomebot.commands.draft import DRAFT, draft_design, with_design
from welcomebot.commands.errors import CommandError, InvalidOption
from welcomebot.commands.preview import as_join
from welcomebot.commands.respond import Reply
from welcomebot.images import FetchPolicy, ImageRejected, fetch_image
from welcomebot.render.design import (
    CardDesign,
    DesignError,
    decode_design,
    design_of,
    design_to_options,
    parse_background,
    parse_color,
)
from welcomebot.render.errors import FontRejectedError
from welcomebot.render.fonts import load_font
from welcomebot.rest import File
from welcomebot.store import QuotaExceeded

if TYPE_CHECKING:
    from welcomebot.commands.context import CommandContext
    from welcomebot.commands.model import Invocation
    from welcomebot.store import AssetStore, GuildConfig

__all__ = ["HANDLERS", "StoredFonts"]

_NOT_SAVED = ("Not saved yet: new members still get the saved card. `/card save` uses this one, `/card discard` "
              "drops it, `/preview` shows it with the welcome message.")  # fmt: skip
# Option names as Discord shows them -> CardDesign fields.
_STYLE = {"theme": "theme", "shape": "shape", "ring": "ring", "text-color": "text_color",
          "accent-color": "accent_color", "scrim": "scrim", "animated": "animated"}  # fmt: skip


def _guild(call: Invocation) -> int:
    assert call.guild_id is not None, "the dispatcher refuses invocations outside a server"
    return call.guild_id


def _working(config: GuildConfig) -> CardDesign:
    """The design changes apply to: the draft when there is one, else the saved design."""
    return draft_design(config) or design_of(config.options, guild_id=config.guild_id)


async def _change(ctx: CommandContext, call: Invocation, changes: dict[str, Any], done: str) -> Reply:
    guild_id = _guild(call)
    config = await ctx.config(guild_id)
    try:
        design = decode_design({**design_to_options(_working(config)), **changes})
    except DesignError as exc:
        raise InvalidOption(str(exc)) from exc
    config = await ctx.save(guild_id, options={**config.options, DRAFT: design_to_options(design)})
    return await _shown(ctx, call, config, design, f"{done} {_NOT_SAVED}")


async def _shown(ctx: CommandContext, call: Invocation, config: GuildConfig, design: CardDesign, text: str) -> Reply:
    """``text`` with the card ``design`` gives the invoker (rendered ahead of queued welcomes)."""
    if call.invoker is None:
        return Reply(text)
    guild = await ctx.guild_info(config.guild_id)
    welcome = to_welcome_config(with_design(config, design))
    card = await ctx.cards.render(as_join(call.invoker, guild), welcome, guild, priority=Priority.INTERACTIVE)
    if card is None:
        return Reply(text + "\n⚠️ The card could not be rendered with this design; the bot's log says why.")
    media_type = mimetypes.guess_type(card.filename)[0] or "application/octet-stream"
    return Reply(text, [File(card.filename, card.data, card.description, media_type)])


async def style(ctx: CommandContext, call: Invocation) -> Reply:
    changes = {_STYLE[name]: value for name, value in call.options.items() if name in _STYLE}
    if not changes:
        raise InvalidOption("Choose at least one thing to change: theme, shape, ring, text-color, accent-color, "
                            "scrim or animated.")  # fmt: skip
    try:
        for option in ("text_color", "accent_color"):
            if option in changes:
                changes[option] = parse_color(str(changes[option]), option.replace("_", "-"))
    except DesignError as exc:
        raise InvalidOption(str(exc)) from exc
    described = ", ".join(f"{name} {call.options[name]}" for name in call.options if name in _STYLE)
    return await _change(ctx, call, changes, f"Card style: {described}.")


async def background(ctx: CommandContext, call: Invocation) -> Reply:
    chosen: str | None = call.options.get("builtin")
    colors: str | None = call.options.get("colors")
    if (chosen is None) == (colors is None):
        raise InvalidOption("Give either a built-in background (`builtin`) or colours (`colors`), one of the two.")
    try:
        parsed = parse_background(chosen or colors or "")
    except DesignError as exc:
        raise InvalidOption(str(exc)) from exc
    options = design_to_options(CardDesign(background=parsed))
    return await _change(ctx, call, {"background": options["background"]}, f"Card background: {chosen or colors}.")


async def font(ctx: CommandContext, call: Invocation) -> Reply:
    guild_id = _guild(call)
    attachment = call.resolved.attachments.get(call.options.get("file", -1))
    if attachment is None:
        raise InvalidOption("Discord did not pass the uploaded file on; upload the .ttf or .otf file again.")
    if ctx.fonts is None:
        raise CommandError("Custom fonts are not available in this installation of the bot.")
    ref = await ctx.fonts.put(guild_id, attachment.url)
    return await _change(ctx, call, {"font": ref}, f"Card font: {attachment.filename}.")


async def reset(ctx: CommandContext, call: Invocation) -> Reply:
    return await _change(ctx, call, design_to_options(CardDesign()), "Card design back to the defaults.")


async def save(ctx: CommandContext, call: Invocation) -> Reply:
    guild_id = _guild(call)
    config = await ctx.config(guild_id)
    draft = draft_design(config)
    if draft is None:
        raise InvalidOption("There is no card design to save: change one with `/card style` or `/card background`.")
    options = {k: v for k, v in config.options.items() if k != DRAFT}
    await ctx.save(guild_id, options={**options, "design": design_to_options(draft)})
    return Reply("Card design saved: new members get this card from now on.")


async def discard(ctx: CommandContext, call: Invocation) -> Reply:
    guild_id = _guild(call)
    config = await ctx.config(guild_id)
    if DRAFT not in config.options:
        return Reply("There was no unsaved card design; nothing changed.")
    await ctx.save(guild_id, options={k: v for k, v in config.options.items() if k != DRAFT})
    return Reply("Unsaved card design dropped; the saved card stays as it was.")


class StoredFonts:
    """Uploaded fonts: fetched with the background policy's protections, validated, kept as guild assets."""

    def __init__(self, assets: AssetStore, policy: FetchPolicy) -> None:
        self._assets = assets
        self._policy = policy

    async def put(self, guild_id: int, url: str) -> str:
        try:
            data = await fetch_image(url, self._policy)
            await trio.to_thread.run_sync(load_font, data)
            kind = "font/otf" if data[:4] == b"OTTO" else "font/ttf"
            return await self._assets.put(guild_id, data, kind, 0, 0)
        except (ImageRejected, FontRejectedError, QuotaExceeded) as exc:
            raise InvalidOption(f"Font refused: {exc}") from exc


HANDLERS: dict[tuple[str, ...], Handler] = {
    ("card", "style"): Handler(style, slow=True),
    ("card", "background"): Handler(background, slow=True),
    ("card", "font"): Handler(font, slow=True),
    ("card", "reset"): Handler(reset, slow=True),
    ("card", "save"): Handler(save),
    ("card", "discard"): Handler(discard),
}
