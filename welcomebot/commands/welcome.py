"""``/welcome channel|message|show|enable|disable|reset-background``: the guild's welcome settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from welcomebot.commands.background import collect_garbage
from welcomebot.commands.context import Handler
from welcomebot.commands.draft import describe_design
from welcomebot.commands.preview import as_join, message_for
from welcomebot.commands.respond import Reply
from welcomebot.commands.status import and_list, problems
from welcomebot.commands.template import validate_message_template
from welcomebot.rest import missing

if TYPE_CHECKING:
    from welcomebot.commands.context import CommandContext
    from welcomebot.commands.model import Invocation

__all__ = ["HANDLERS"]


def _guild(call: Invocation) -> int:
    assert call.guild_id is not None, "the dispatcher refuses invocations outside a server"
    return call.guild_id


async def set_channel(ctx: CommandContext, call: Invocation) -> Reply:
    guild_id = _guild(call)
    channel_id: int = call.options["channel"]
    perms = await ctx.guild_channel(call, channel_id)
    await ctx.save(guild_id, welcome_channel_id=channel_id)
    text = f"New members will be welcomed in <#{channel_id}>."
    if lacking := missing(perms):
        text += (f"\n⚠️ But the bot cannot post there yet: it lacks {and_list(lacking)}. Grant them to the bot's "
                 "role in the channel's Permissions settings, then check with `/preview`.")  # fmt: skip
    return Reply(text)


async def set_message(ctx: CommandContext, call: Invocation) -> Reply:
    guild_id = _guild(call)
    source: str = call.options["template"]
    validate_message_template(source)
    await ctx.save(guild_id, message_template=source)
    if call.invoker is None:
        return Reply("Welcome message saved. See it with `/preview`.")
    guild = await ctx.guild_info(guild_id)
    sample = message_for(ctx, source, as_join(call.invoker, guild), guild)
    return Reply("Welcome message saved. You would be welcomed with:\n" + _quote(sample))


async def show(ctx: CommandContext, call: Invocation) -> Reply:
    config = await ctx.config(_guild(call))
    channel = "not set" if config.welcome_channel_id is None else f"<#{config.welcome_channel_id}>"
    lines = [
        "**Welcome settings**",
        f"Channel: {channel}",
        f"Welcomes: {'on' if config.enabled else 'off'}",
        f"Background: {'custom image' if config.background_ref else 'default'}",
        f"Card: {describe_design(config)}",
        "Message:",
        _quote(config.message_template),
    ]
    found = await problems(ctx, config)
    lines.append("**To fix:**" if found else "Everything is in place. See the card with `/preview`.")
    lines.extend(f"- {p}" for p in found)
    return Reply("\n".join(lines))


async def enable(ctx: CommandContext, call: Invocation) -> Reply:
    config = await ctx.save(_guild(call), enabled=True)
    if config.welcome_channel_id is None:
        return Reply("Welcomes are on, but no channel is set yet: choose one with `/welcome channel`.")
    return Reply(f"Welcomes are on: new members will be welcomed in <#{config.welcome_channel_id}>.")


async def disable(ctx: CommandContext, call: Invocation) -> Reply:
    await ctx.save(_guild(call), enabled=False)
    return Reply("Welcomes are off. Your settings are kept; `/welcome enable` turns them back on.")


async def reset_background(ctx: CommandContext, call: Invocation) -> Reply:
    await ctx.save(_guild(call), background_ref=None)
    await collect_garbage(ctx)
    return Reply("The cards use the default background again. See it with `/preview`.")


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in text.splitlines() or [""])


HANDLERS: dict[tuple[str, ...], Handler] = {
    ("welcome", "channel"): Handler(set_channel, slow=True),
    ("welcome", "message"): Handler(set_message),
    ("welcome", "show"): Handler(show, slow=True),
    ("welcome", "enable"): Handler(enable),
    ("welcome", "disable"): Handler(disable),
    ("welcome", "reset-background"): Handler(reset_background),
}
