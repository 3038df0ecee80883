"""``/preview [member]``: the card and message a new member would get now, and what stands in the way.

The card is rendered by the pipeline's own cards on the render pool's interactive lane, which jumps the
queue of welcome cards, so a preview answers promptly even during a raid.
"""

from __future__ import annotations

import mimetypes
from typing import TYPE_CHECKING

from actors import Priority
from welcomebot.adapters import to_welcome_config
from welcomebot.app import Join, compose
from welcomebot.commands.context import Handler
from welcomebot.commands.draft import with_draft
from welcomebot.commands.errors import InvalidOption
from welcomebot.commands.respond import Reply
from welcomebot.commands.status import problems
from welcomebot.rest import File

if TYPE_CHECKING:
    from welcomebot.app import GuildInfo
    from welcomebot.commands.context import CommandContext
    from welcomebot.commands.model import Invocation
    from welcomebot.gateway.events import User

__all__ = ["HANDLERS", "as_join", "message_for"]


async def preview(ctx: CommandContext, call: Invocation) -> Reply:
    assert call.guild_id is not None, "the dispatcher refuses invocations outside a server"
    user = _target(call)
    config = await ctx.config(call.guild_id)
    guild = await ctx.guild_info(call.guild_id)
    join = as_join(user, guild)
    shown, drafted = with_draft(config)
    card = await ctx.cards.render(join, to_welcome_config(shown), guild, priority=Priority.INTERACTIVE)
    lines = ["**Preview** (only you see this):", message_for(ctx, config.message_template, join, guild)]
    if drafted:
        lines.append("(The card shows your unsaved design: `/card save` uses it, `/card discard` drops it.)")
    found = await problems(ctx, config)
    if card is None:
        found.append("The card could not be rendered, so welcomes would go out as text only; the bot's log says why.")
    lines.append("")
    lines.append("**Not welcoming yet:**" if found else "✅ New members are welcomed like this.")
    lines.extend(f"- {p}" for p in found)
    files = [] if card is None else [File(card.filename, card.data, card.description, _media_type(card.filename))]
    return Reply("\n".join(lines), files)


def as_join(user: User, guild: GuildInfo) -> Join:
    """``user`` as if they had just joined: the newest member."""
    return Join(guild_id=guild.guild_id, user_id=user.id, joined_at="", username=user.username,
                global_name=user.global_name, avatar=user.avatar, member_number=guild.member_count)  # fmt: skip


def message_for(ctx: CommandContext, template: str, join: Join, guild: GuildInfo) -> str:
    """The welcome text ``join`` would get, as the pipeline composes it."""
    return compose(template, [join], guild, now_s=ctx.wall_clock())


def _target(call: Invocation) -> User:
    member_id = call.options.get("member")
    if member_id is None:
        if call.invoker is None:
            raise InvalidOption("Discord did not say who you are; try again.")
        return call.invoker
    user = call.resolved.users.get(member_id)
    if user is None:
        raise InvalidOption("That member could not be found; pick someone from the list.")
    return user


def _media_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


HANDLERS: dict[tuple[str, ...], Handler] = {("preview",): Handler(preview, slow=True)}
