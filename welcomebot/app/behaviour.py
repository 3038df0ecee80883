"""A guild's welcome behaviours: goodbyes, DM welcomes, auto-roles, raid mode, auto-delete, catch-up, embeds.

They live in ``GuildConfig.options["behaviour"]`` as JSON and are decoded into :class:`Behaviour`, a frozen
msgspec Struct whose fields carry their limits. Everything is off by default. :func:`validate_behaviour` is
what a settings command calls before saving: it decodes, then parses every template, and its error names the
setting and the position of the problem, so the admin knows what to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from welcomebot.errors import WelcomeBotError
from welcomebot.options import stored_section, with_section
from welcomebot.render.errors import TemplateError
from welcomebot.render.template import MAX_MESSAGE_TEMPLATE_LENGTH, MESSAGE_PLACEHOLDERS, parse_template

__all__ = [
    "MAX_AUTO_ROLES",
    "AutoDelete",
    "AutoRoles",
    "Behaviour",
    "BehaviourError",
    "CatchUp",
    "DirectMessage",
    "Embed",
    "Gate",
    "Goodbye",
    "RaidMode",
    "behaviour_of",
    "options_with",
    "validate_behaviour",
]

MAX_AUTO_ROLES = 5
#: Discord's embed limits (resources/message.mdx, "Embed Limits").
MAX_EMBED_TITLE = 256
MAX_EMBED_DESCRIPTION = 4096


class BehaviourError(WelcomeBotError):
    """An admin's behaviour settings cannot be saved; the message names the setting and what to change."""


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class Embed(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Post the welcome as an embed: the message template becomes its description, the card its image."""

    enabled: bool = False
    title: Annotated[str, Meta(max_length=MAX_EMBED_TITLE)] = ""
    colour: Annotated[int, Meta(ge=0, le=0xFFFFFF)] = 0x5865F2


class Goodbye(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    enabled: bool = False
    #: None: the welcome channel.
    channel_id: int | None = None
    template: str = "{name} has left {server}."
    card: bool = False
    #: The goodbye's embed title when embeds are on (the welcome's ``embed.title`` greets, this one does not).
    title: Annotated[str, Meta(max_length=MAX_EMBED_TITLE)] = "Goodbye, {name}"


class AutoDelete(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: Delete a member's welcome when they leave within this many minutes of joining (0: never).
    quick_leave_minutes: Annotated[float, Meta(ge=0, le=7 * 24 * 60)] = 0
    #: Delete every welcome this many minutes after it was posted (0: keep them).
    after_minutes: Annotated[float, Meta(ge=0, le=30 * 24 * 60)] = 0


class DirectMessage(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: "also": a DM as well as the channel welcome; "instead": only a DM, the channel when DMs are closed.
    mode: Literal["off", "also", "instead"] = "off"
    template: str = "Welcome to {server}, {name}! We are glad you are here."
    card: bool = False


class AutoRoles(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    role_ids: Annotated[list[int], Meta(max_length=MAX_AUTO_ROLES)] = []
    #: Seconds after the welcome (membership screening passed) before the roles are given.
    delay_s: Annotated[float, Meta(ge=0, le=24 * 3600)] = 0


class RaidMode(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Above ``joins`` within ``window_s`` the guild gets grouped welcomes until the rate falls below it."""

    enabled: bool = False
    joins: Annotated[int, Meta(ge=2, le=1000)] = 10
    window_s: Annotated[float, Meta(gt=0, le=3600)] = 10
    #: Members named in one grouped welcome.
    group_size: Annotated[int, Meta(ge=2, le=50)] = 25
    #: Cards on grouped welcomes (at most 10, Discord's attachment limit); text only by default.
    cards: bool = False


class Gate(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Who is not welcomed at all."""

    #: Accounts younger than this (from their id's timestamp) are not welcomed (0: everyone is).
    min_account_age_hours: Annotated[float, Meta(ge=0, le=365 * 24)] = 0
    #: A member who rejoins within this many hours of their last welcome is not welcomed again (0: off).
    rejoin_window_hours: Annotated[float, Meta(ge=0, le=365 * 24)] = 0


class CatchUp(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """After downtime the bot could not RESUME from, welcome who joined meanwhile, up to ``max_age_minutes``."""

    enabled: bool = False
    max_age_minutes: Annotated[float, Meta(gt=0, le=24 * 60)] = 30


class Behaviour(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    embed: Embed = Embed()
    goodbye: Goodbye = Goodbye()
    auto_delete: AutoDelete = AutoDelete()
    dm: DirectMessage = DirectMessage()
    roles: AutoRoles = AutoRoles()
    raid: RaidMode = RaidMode()
    gate: Gate = Gate()
    catch_up: CatchUp = CatchUp()


def validate_behaviour(raw: Any, *, message_template: str | None = None) -> Behaviour:
    """Decode and check settings an admin wants to save; :class:`BehaviourError` says what to change."""
    try:
        behaviour = msgspec.convert(raw if raw is not None else {}, Behaviour)
    except msgspec.ValidationError as exc:
        raise BehaviourError(f"behaviour settings not saved: {exc}; change that value and save again") from exc
    templates = {
        "goodbye.template": behaviour.goodbye.template,
        "dm.template": behaviour.dm.template,
        "embed.title": behaviour.embed.title,
        "goodbye.title": behaviour.goodbye.title,
    }
    if message_template is not None:
        templates["message_template"] = message_template
    for setting, source in templates.items():
        limit = MAX_EMBED_TITLE if setting.endswith(".title") else _message_limit(behaviour, setting)
        try:
            parse_template(source, placeholders=MESSAGE_PLACEHOLDERS, max_length=limit)
        except TemplateError as exc:
            raise BehaviourError(f"{setting}: {exc}; fix it there and save again") from exc
    if len(set(behaviour.roles.role_ids)) != len(behaviour.roles.role_ids):
        raise BehaviourError("roles.role_ids: a role is listed twice; list each role once")
    return behaviour


def _message_limit(behaviour: Behaviour, setting: str) -> int:
    # The welcome's text is an embed description (4096) when embeds are on, message content (2000) otherwise.
    if setting == "message_template" and behaviour.embed.enabled:
        return MAX_EMBED_DESCRIPTION
    return MAX_MESSAGE_TEMPLATE_LENGTH


def behaviour_of(options: Mapping[str, Any], *, guild_id: int | None = None) -> Behaviour:
    """The stored behaviours of a guild; settings that no longer decode count as off (and are logged)."""
    return stored_section(options, "behaviour", validate_behaviour, Behaviour, BehaviourError,
                          what="behaviour settings", guild_id=guild_id)  # fmt: skip


def options_with(options: Mapping[str, Any], behaviour: Behaviour) -> dict[str, Any]:
    """``options`` with ``behaviour`` stored in it (other options, such as the card design, are kept)."""
    return with_section(options, "behaviour", behaviour)
