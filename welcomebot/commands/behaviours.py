"""``/behaviour goodbye|dm|auto-delete|roles|raid|gate|catch-up|embed|show``: the guild's welcome behaviours.

Each subcommand changes only the options it was given (the rest of that section stays as saved), validates
the whole result with :func:`welcomebot.app.behaviour.validate_behaviour` (templates with their placeholders
and lengths) and saves it into ``options["behaviour"]``. Auto-roles are refused unless the invoker could give them by
hand and no one may have the bot give them (:func:`welcomebot.app.roles.invoker_problems`,
:func:`~welcomebot.app.roles.role_refusals`: nothing is saved then); they are also checked against the bot's
place in the role list, and the answer says plainly what to fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from welcomebot.app import (
    Behaviour,
    BehaviourError,
    GuildRole,
    behaviour_of,
    invoker_problems,
    options_with,
    role_problems,
    role_refusals,
    validate_behaviour,
)
from welcomebot.commands.context import Handler
from welcomebot.commands.errors import InvalidOption
from welcomebot.commands.respond import Reply

if TYPE_CHECKING:
    from welcomebot.commands.context import CommandContext
    from welcomebot.commands.model import Invocation

__all__ = ["HANDLERS", "auto_role_problems", "describe"]

#: Option name -> field name, per section (Discord option names use dashes).
_FIELDS: dict[str, dict[str, str]] = {
    "goodbye": {"enabled": "enabled", "channel": "channel_id", "template": "template", "card": "card"},
    "dm": {"mode": "mode", "template": "template", "card": "card"},
    "auto_delete": {"quick-leave-minutes": "quick_leave_minutes", "after-minutes": "after_minutes"},
    "raid": {"enabled": "enabled", "joins": "joins", "seconds": "window_s", "group-size": "group_size",
             "cards": "cards"},
    "gate": {"min-account-age-hours": "min_account_age_hours", "rejoin-window-hours": "rejoin_window_hours"},
    "catch_up": {"enabled": "enabled", "max-age-minutes": "max_age_minutes"},
    "embed": {"enabled": "enabled", "title": "title", "colour": "colour"},
}  # fmt: skip
ROLE_OPTIONS = ("role1", "role2", "role3", "role4", "role5")


def _guild(call: Invocation) -> int:
    assert call.guild_id is not None, "the dispatcher refuses invocations outside a server"
    return call.guild_id


def _colour(text: Any) -> int:
    value = str(text).strip().removeprefix("#")
    if len(value) != 6 or any(c not in "0123456789abcdefABCDEF" for c in value):
        raise InvalidOption(f"colour: {text!r} is not a colour like #5865f2; write # and six hex digits.")
    return int(value, 16)


async def _save(ctx: CommandContext, guild_id: int, section: str, changes: dict[str, Any]) -> Behaviour:
    config = await ctx.config(guild_id)
    current = msgspec.to_builtins(behaviour_of(config.options, guild_id=guild_id))
    current[section] = {**current[section], **changes}
    try:
        behaviour = validate_behaviour(current, message_template=config.message_template)
    except BehaviourError as exc:
        raise InvalidOption(str(exc)) from exc
    await ctx.save(guild_id, options=options_with(config.options, behaviour))
    return behaviour


def _section_handler(section: str) -> Handler:
    async def run(ctx: CommandContext, call: Invocation) -> Reply:
        names = _FIELDS[section]
        changes = {names[k]: v for k, v in call.options.items() if k in names}
        if "colour" in changes:
            changes["colour"] = _colour(changes["colour"])
        if changes.get("channel_id") is not None:
            await ctx.guild_channel(call, int(changes["channel_id"]))
        behaviour = await _save(ctx, _guild(call), section, changes)
        return Reply("Saved. " + describe(behaviour, only=section))

    return Handler(run)


async def set_roles(ctx: CommandContext, call: Invocation) -> Reply:
    guild_id = _guild(call)
    role_ids = [int(call.options[name]) for name in ROLE_OPTIONS if call.options.get(name) is not None]
    if role_ids:
        await _check_grantable(ctx, call, guild_id, role_ids)
    changes: dict[str, Any] = {"role_ids": role_ids}
    if call.options.get("delay-seconds") is not None:
        changes["delay_s"] = call.options["delay-seconds"]
    behaviour = await _save(ctx, guild_id, "roles", changes)
    text = "Saved. " + describe(behaviour, only="roles")
    found = await auto_role_problems(ctx, guild_id, behaviour)
    if found:
        text += "\n⚠️ The roles cannot be given yet:\n" + "\n".join(f"- {p}" for p in found)
    return Reply(text)


async def _check_grantable(ctx: CommandContext, call: Invocation, guild_id: int, role_ids: list[int]) -> None:
    """Refuse (``InvalidOption``, nothing saved) roles the invoker could not give by hand, or no one may."""
    guild = await ctx.api.get_guild(guild_id)
    roles = _roles(guild)
    refused = role_refusals(guild_id, roles, role_ids)
    refused += invoker_problems(guild_id, roles, owner_id=int(guild["owner_id"]),
                                invoker_id=0 if call.invoker is None else call.invoker.id,
                                invoker_role_ids=call.member_roles, wanted=role_ids)  # fmt: skip
    if refused:
        raise InvalidOption("Auto-roles not changed:\n" + "\n".join(f"- {p}" for p in refused))


def _roles(guild: dict[str, Any]) -> dict[int, GuildRole]:
    return {r.id: r for r in msgspec.convert(guild.get("roles", []), list[GuildRole], strict=False)}


async def show(ctx: CommandContext, call: Invocation) -> Reply:
    guild_id = _guild(call)
    config = await ctx.config(guild_id)
    behaviour = behaviour_of(config.options, guild_id=guild_id)
    lines = ["**Welcome behaviours**", describe(behaviour)]
    found = await auto_role_problems(ctx, guild_id, behaviour)
    if config.channel_problem is not None:
        found.append(f"The last welcome could not be posted: {config.channel_problem}.")
    lines.append("**To fix:**" if found else "Nothing to fix.")
    lines.extend(f"- {p}" for p in found)
    return Reply("\n".join(lines))


async def auto_role_problems(ctx: CommandContext, guild_id: int, behaviour: Behaviour) -> list[str]:
    """Why the auto-roles cannot be given (Manage Roles, hierarchy), for /behaviour and /preview."""
    if not behaviour.roles.role_ids:
        return []
    guild = await ctx.api.get_guild(guild_id)
    me = await ctx.api.get_guild_member(guild_id, await ctx.bot_id())
    return role_problems(guild_id, _roles(guild), [int(r) for r in me.get("roles", [])], behaviour.roles.role_ids)


def describe(behaviour: Behaviour, *, only: str | None = None) -> str:
    """The settings in words, one line per section (or just ``only``)."""
    b = behaviour
    lines = {
        "goodbye": "Goodbyes: " + ("off" if not b.goodbye.enabled else
                                   f"on, in {_channel(b.goodbye.channel_id)}{' with a card' if b.goodbye.card else ''}"
                                   f": “{b.goodbye.template}”"),
        "dm": "DM welcome: " + ("off" if b.dm.mode == "off" else
                                f"{'instead of' if b.dm.mode == 'instead' else 'as well as'} the channel welcome"
                                f"{' with a card' if b.dm.card else ''}: “{b.dm.template}”"),
        "auto_delete": "Auto-delete: " + _auto_delete(b),
        "roles": "Auto-roles: " + ("none" if not b.roles.role_ids else
                                   " ".join(f"<@&{r}>" for r in b.roles.role_ids)
                                   + (f" after {b.roles.delay_s:g} s" if b.roles.delay_s else "")),
        "raid": "Raid mode: " + ("off" if not b.raid.enabled else
                                 f"above {b.raid.joins} joins in {b.raid.window_s:g} s, one welcome per "
                                 f"{b.raid.group_size} members{' with cards' if b.raid.cards else ', no cards'}"),
        "gate": "Not welcomed: " + _gate(b),
        "catch_up": "Catch-up after downtime: " + ("off" if not b.catch_up.enabled else
                                                   f"on, up to {b.catch_up.max_age_minutes:g} minutes late"),
        "embed": "Embed: " + ("off" if not b.embed.enabled else f"on, colour #{b.embed.colour:06x}"
                              + (f", title “{b.embed.title}”" if b.embed.title else "")),
    }  # fmt: skip
    if only is not None:
        return lines[only]
    return "\n".join(lines.values())


def _channel(channel_id: int | None) -> str:
    return "the welcome channel" if channel_id is None else f"<#{channel_id}>"


def _auto_delete(b: Behaviour) -> str:
    return _either(
        (b.auto_delete.quick_leave_minutes, "a welcome when the member leaves within {:g} minutes"),
        (b.auto_delete.after_minutes, "every welcome after {:g} minutes"),
        none="off",
    )


def _gate(b: Behaviour) -> str:
    return _either(
        (b.gate.min_account_age_hours, "accounts younger than {:g} hours"),
        (b.gate.rejoin_window_hours, "members rejoining within {:g} hours"),
        none="everyone is welcomed",
    )


def _either(*settings: tuple[float, str], none: str) -> str:
    """The settings that are on (non-zero), each as its phrase; ``none`` when all are off."""
    return "; ".join(phrase.format(value) for value, phrase in settings if value) or none


HANDLERS: dict[tuple[str, ...], Handler] = {
    ("behaviour", "goodbye"): _section_handler("goodbye"),
    ("behaviour", "dm"): _section_handler("dm"),
    ("behaviour", "auto-delete"): _section_handler("auto_delete"),
    ("behaviour", "raid"): _section_handler("raid"),
    ("behaviour", "gate"): _section_handler("gate"),
    ("behaviour", "catch-up"): _section_handler("catch_up"),
    ("behaviour", "embed"): _section_handler("embed"),
    ("behaviour", "roles"): Handler(set_roles, slow=True),
    ("behaviour", "show"): Handler(show, slow=True),
}
