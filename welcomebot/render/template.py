"""Safe per-guild templates: card lines (``"Welcome to {server}"`` with ``{user}``, ``{server}``, ``{count}``)
and messages (the wider :data:`MESSAGE_PLACEHOLDERS`), through one parser.

Admins type templates, so they are parsed into literal and placeholder tokens here and never handed to
``str.format`` (which would evaluate ``{0.__class__}`` attribute access and ``{x:>999999}`` format specs).
``{{`` and ``}}`` are literal braces. Anything else inside braces is a :class:`TemplateError` with its position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from welcomebot.render.errors import TemplateError

__all__ = [
    "MAX_MESSAGE_TEMPLATE_LENGTH",
    "MAX_TEMPLATE_LENGTH",
    "MESSAGE_PLACEHOLDERS",
    "PLACEHOLDERS",
    "Placeholder",
    "Template",
    "ordinal",
    "parse_template",
]

#: What a card line may use.
PLACEHOLDERS: Final = frozenset({"user", "server", "count"})
MAX_TEMPLATE_LENGTH: Final = 200
#: What a welcome, goodbye or DM message may use: ``{user}``/``{mention}`` ping the member, ``{name}`` is the
#: display name, ``{ordinal}`` is "1,234th", ``{age}`` the account's age ("3 days").
MESSAGE_PLACEHOLDERS: Final = frozenset({"user", "mention", "name", "username", "server", "count", "ordinal", "age"})
#: Discord's limit for a message's content and an embed's description.
MAX_MESSAGE_TEMPLATE_LENGTH: Final = 2000


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template line: a tuple of literal strings and :class:`Placeholder` tokens."""

    source: str
    tokens: tuple[str | Placeholder, ...]

    def render(self, *, user: str, server: str, count: int) -> str:
        return self.fill({"user": user, "server": server, "count": f"{count:,}"})

    def fill(self, values: Mapping[str, str]) -> str:
        """Substitute ``values`` (one per placeholder the template uses); values are never re-parsed."""
        return "".join(t if isinstance(t, str) else values[t.name] for t in self.tokens)


def ordinal(n: int) -> str:
    """``1,234th``, ``21st``, ``112th``: English ordinals with thousands separators."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"


def parse_template(
    source: str, *, placeholders: frozenset[str] = PLACEHOLDERS, max_length: int = MAX_TEMPLATE_LENGTH
) -> Template:
    """Parse one template; raises :class:`TemplateError` pointing at the first bad character.

    Card lines use the defaults; messages pass :data:`MESSAGE_PLACEHOLDERS` and their own length limit.
    """
    if len(source) > max_length:
        raise TemplateError(f"template is longer than {max_length} characters", source, max_length)
    tokens: list[str | Placeholder] = []
    literal: list[str] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch == "{":
            if i + 1 < n and source[i + 1] == "{":
                literal.append("{")
                i += 2
                continue
            end = source.find("}", i + 1)
            if end == -1:
                raise TemplateError("unclosed '{' (write '{{' for a literal brace)", source, i)
            name = source[i + 1 : end]
            if name not in placeholders:
                allowed = ", ".join("{" + p + "}" for p in sorted(placeholders))
                raise TemplateError(f"unknown placeholder {{{name}}} (allowed: {allowed})", source, i)
            if literal:
                tokens.append("".join(literal))
                literal.clear()
            tokens.append(Placeholder(name))
            i = end + 1
        elif ch == "}":
            if i + 1 < n and source[i + 1] == "}":
                literal.append("}")
                i += 2
                continue
            raise TemplateError("single '}' (write '}}' for a literal brace)", source, i)
        else:
            literal.append(ch)
            i += 1
    if literal:
        tokens.append("".join(literal))
    return Template(source, tuple(tokens))
