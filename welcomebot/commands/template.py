"""Validate a welcome message template before it is saved, pointing at the bad part.

The grammar is :mod:`welcomebot.render.template`'s (the message placeholders; ``{{`` and ``}}`` are literal
braces), as :func:`welcomebot.app.message.compose` fills it in. The length check is against the worst case:
``{user}`` names up to 10 members when a raid is welcomed in one message.
"""

from __future__ import annotations

from typing import Final

from welcomebot.commands.errors import InvalidOption
from welcomebot.render import TemplateError, parse_template
from welcomebot.render.template import MESSAGE_PLACEHOLDERS, Placeholder, Template

__all__ = ["MAX_MESSAGE_LENGTH", "WORST_CASE", "pointer", "validate_message_template"]

MAX_MESSAGE_LENGTH: Final = 2000
_GROUP: Final = 10  # members named together in one raid welcome


def _listed(longest: int) -> int:
    """The length of ``_GROUP`` items of ``longest`` characters joined as "a, b, … and j"."""
    return _GROUP * longest + (_GROUP - 2) * len(", ") + len(" and ")


#: The longest text each message placeholder can become: mentions of the largest snowflake, 32-character
#: display and user names (Discord's limits), a 100-character server name, a count up to 999,999,999.
WORST_CASE: Final = {
    "user": _listed(len("<@18446744073709551615>")),
    "mention": _listed(len("<@18446744073709551615>")),
    "name": _listed(32),
    "username": _listed(32),
    "server": 100,
    "count": len("999,999,999"),
    "ordinal": len("999,999,999th"),
    "age": _listed(len("less than a minute")),
}
_WINDOW: Final = 40


def validate_message_template(source: str) -> Template:
    """The parsed template, or :class:`InvalidOption` saying what is wrong and where."""
    try:
        template = parse_template(source, placeholders=MESSAGE_PLACEHOLDERS, max_length=MAX_MESSAGE_LENGTH)
    except TemplateError as exc:
        raise InvalidOption(f"That template has a problem: {exc.reason}.\n{pointer(source, exc.position)}") from exc
    worst = 0
    position = 0
    for token in template.tokens:
        before = worst
        worst += len(token) if isinstance(token, str) else WORST_CASE[token.name]
        if before <= MAX_MESSAGE_LENGTH < worst:
            at = position + (MAX_MESSAGE_LENGTH - before if isinstance(token, str) else 0)
            over = _worst_length(template) - MAX_MESSAGE_LENGTH
            raise InvalidOption(
                f"That template can grow past Discord's {MAX_MESSAGE_LENGTH} characters once the placeholders are "
                f"filled in (a raid welcome names 10 members): shorten it by {over} characters.\n"
                f"{pointer(source, min(at, len(source)))}"
            )
        position += len(_source_text(token))
    return template


def _worst_length(template: Template) -> int:
    return sum(len(t) if isinstance(t, str) else WORST_CASE[t.name] for t in template.tokens)


def _source_text(token: str | Placeholder) -> str:
    """How many source characters a token came from (literal braces were doubled in the source)."""
    if isinstance(token, Placeholder):
        return "{" + token.name + "}"
    return token.replace("{", "{{").replace("}", "}}")


def pointer(source: str, position: int) -> str:
    """A code block with the template around ``position`` and a caret under it."""
    start = max(0, position - _WINDOW)
    end = min(len(source), position + _WINDOW)
    excerpt = source[start:end].replace("`", "'").replace("\n", " ")
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(source) else ""
    caret = " " * (len(prefix) + position - start) + "^"
    return f"```\n{prefix}{excerpt}{suffix}\n{caret} position {position + 1}\n```"
