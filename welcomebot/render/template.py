"""Safe per-guild card templates: ``"Welcome to {server}"`` with the placeholders ``{user}``, ``{server}``,
``{count}`` and nothing else.

Admins type templates, so they are parsed into literal and placeholder tokens here and never handed to
``str.format`` (which would evaluate ``{0.__class__}`` attribute access and ``{x:>999999}`` format specs).
``{{`` and ``}}`` are literal braces. Anything else inside braces is a :class:`TemplateError` with its position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from welcomebot.render.errors import TemplateError

__all__ = ["MAX_TEMPLATE_LENGTH", "PLACEHOLDERS", "Placeholder", "Template", "parse_template"]

PLACEHOLDERS: Final = frozenset({"user", "server", "count"})
MAX_TEMPLATE_LENGTH: Final = 200


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template line: a tuple of literal strings and :class:`Placeholder` tokens."""

    source: str
    tokens: tuple[str | Placeholder, ...]

    def render(self, *, user: str, server: str, count: int) -> str:
        values = {"user": user, "server": server, "count": f"{count:,}"}
        return "".join(t if isinstance(t, str) else values[t.name] for t in self.tokens)


def parse_template(source: str) -> Template:
    """Parse one template line; raises :class:`TemplateError` pointing at the first bad character."""
    if len(source) > MAX_TEMPLATE_LENGTH:
        raise TemplateError(f"template is longer than {MAX_TEMPLATE_LENGTH} characters", source, MAX_TEMPLATE_LENGTH)
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
            if name not in PLACEHOLDERS:
                allowed = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
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
