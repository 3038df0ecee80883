"""What stops a guild's welcomes, in words an admin can act on (for /preview and /welcome show)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from welcomebot.app import behaviour_of
from welcomebot.commands.behaviours import auto_role_problems
from welcomebot.rest import missing
from welcomebot.store import MAX_ATTEMPTS

if TYPE_CHECKING:
    from welcomebot.commands.context import CommandContext
    from welcomebot.store import GuildConfig

__all__ = ["and_list", "problems"]


async def problems(ctx: CommandContext, config: GuildConfig) -> list[str]:
    """Every reason a new member would not be welcomed now; empty when nothing is in the way."""
    found: list[str] = []
    channel_id = config.welcome_channel_id
    if channel_id is None:
        found.append("No welcome channel is set: choose one with `/welcome channel`.")
    else:
        perms = await ctx.bot_permissions(config.guild_id, channel_id)
        if perms is None:
            found.append(f"The welcome channel ({channel_id}) no longer exists: choose another with "
                         "`/welcome channel`.")  # fmt: skip
        elif lacking := missing(perms):
            found.append(f"The bot cannot post in <#{channel_id}>: it lacks {and_list(lacking)} there. Grant "
                         "them to the bot's role in the channel's Permissions settings.")  # fmt: skip
    if not config.enabled:
        found.append("Welcomes are turned off: turn them on with `/welcome enable`.")
    roles = await auto_role_problems(ctx, config.guild_id, behaviour_of(config.options, guild_id=config.guild_id))
    found.extend(f"Auto-roles: {p}." for p in roles)
    if config.channel_problem is not None:
        found.append(f"The last welcome could not be posted ({config.channel_problem}). Once fixed, run "
                     "`/welcome channel` again so the bot retries.")  # fmt: skip
    parked = ctx.parked.get(config.guild_id)
    if parked is not None:
        found.append(f"Welcomes here are paused: the bot's welcomer for this server failed repeatedly ({parked}). "
                     "New members stay queued and are welcomed after the bot restarts; tell its operator.")  # fmt: skip
    count, last = await ctx.store.quarantined(config.guild_id)
    if count:
        welcomes = "welcome" if count == 1 else "welcomes"
        found.append(f"{count} {welcomes} quarantined (tried {MAX_ATTEMPTS} times, never tried again), last: "
                     f"{last}. Tell the bot's operator: the log has an error for each.")  # fmt: skip
    return found


def and_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
