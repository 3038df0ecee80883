"""What a welcome, goodbye or DM says: an admin's template filled in for one member or a group.

Members' names and usernames are escaped for Discord markdown (:func:`welcomebot.app.escape.escape_markdown`):
the admin's template keeps its markdown, a member's name reads literally. Templates are validated when saved
(:func:`welcomebot.app.behaviour.validate_behaviour`); one that no longer parses (saved by an older version) is
replaced by the default rather than posted with raw braces.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from welcomebot.app.escape import escape_markdown
from welcomebot.app.gate import account_age_text
from welcomebot.render.errors import TemplateError
from welcomebot.render.template import MESSAGE_PLACEHOLDERS, Template, ordinal, parse_template

if TYPE_CHECKING:
    from welcomebot.app.behaviour import Embed
    from welcomebot.app.model import GuildInfo, Join

__all__ = ["DEFAULT_MESSAGE", "MAX_CONTENT", "compose", "embed_json", "join_names"]

log = logging.getLogger(__name__)

DEFAULT_MESSAGE = "Welcome to {server}, {user}! You are member #{count}."
MAX_CONTENT = 2000
_MAX_EMBED_DESCRIPTION = 4096


def join_names(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _parsed(source: str) -> Template:
    try:
        return parse_template(source, placeholders=MESSAGE_PLACEHOLDERS, max_length=_MAX_EMBED_DESCRIPTION)
    except TemplateError as exc:
        log.warning("a stored template does not parse; using the default", extra={"error": str(exc)})
        return parse_template(DEFAULT_MESSAGE, placeholders=MESSAGE_PLACEHOLDERS)


def compose(source: str, joins: list[Join], guild: GuildInfo | None, *, now_s: float, limit: int = MAX_CONTENT) -> str:
    """``source`` filled in for ``joins`` (one member, or a group named together), cut to ``limit``."""
    first, last = _numbers(joins, guild)
    if first is None or last is None:
        count = place = ""
    elif first == last:
        count, place = f"{last:,}", ordinal(last)
    else:
        count, place = f"{first:,}\u2013{last:,}", f"{ordinal(first)}\u2013{ordinal(last)}"  # en dashes
    values = {
        "user": join_names([f"<@{j.user_id}>" for j in joins]),
        "name": join_names([escape_markdown(j.display_name) for j in joins]),
        "username": join_names([escape_markdown(j.username) for j in joins]),
        "server": "" if guild is None else guild.name,
        "count": count,
        "ordinal": place,
        "age": _ages(joins, now_s),
    }
    values["mention"] = values["user"]
    return _parsed(source).fill(values)[:limit]


def _numbers(joins: list[Join], guild: GuildInfo | None) -> tuple[int | None, int | None]:
    """The members' places, first and last: a group is counted as the range it fills ("#14-21"), never as
    the guild's total repeated for each of them."""
    numbers = [j.member_number for j in joins]
    if all(n is not None for n in numbers):
        known = [n for n in numbers if n is not None]
        return min(known), max(known)
    total = guild.member_count if guild is not None else None
    return (None, None) if total is None else (total - len(joins) + 1, total)


def _ages(joins: list[Join], now_s: float) -> str:
    """One account age, or the group's range youngest to oldest ("3 days to 1 year"): never one per member."""
    youngest = account_age_text(max(j.user_id for j in joins), now_s)  # snowflakes grow with creation time
    oldest = account_age_text(min(j.user_id for j in joins), now_s)
    return youngest if youngest == oldest else f"{youngest} to {oldest}"


def embed_json(embed: Embed, description: str, title: str, image: str | None) -> dict[str, Any]:
    """An embed in Discord's shape (resources/message.mdx); ``image`` is an ``attachment://`` file name."""
    data: dict[str, Any] = {"description": description[:_MAX_EMBED_DESCRIPTION], "color": embed.colour}
    if title:
        data["title"] = title[:256]
    if image is not None:
        data["image"] = {"url": f"attachment://{image}"}
    return data
