"""Member-supplied text (names, usernames) made literal for Discord markdown, sans-IO.

A member chooses their display name, so without escaping a name like ``[free nitro](https://evil.example)``
makes the bot's own welcome carry a masked link, and ``# hi`` a heading. Discord's markdown treats a
backslash before any ASCII punctuation as that character, literally (messages/message-formatting.mdx), so
every character markdown could read is escaped: emphasis, strike, spoilers and code (``* _ ~ | ```), links
and masked links (``[ ] ( )``, and ``:`` so that ``https://`` is no autolink), headings, block quotes, lists
and subtext (``#``, ``>``, and ``-``, ``+``, ``1.`` where the name starts), mentions, channels, timestamps
and emoji (``< > @ # :``).
Line breaks become spaces: a name is one line. Admins' templates are not passed through here.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["escape_markdown"]

_SPECIAL: Final = re.compile(r"([\\*_~|`\[\]()<>#@:])")
#: A list marker where the name starts (a template may put it at a line start): ``- ``, ``+ ``, ``1. ``.
_LIST_MARKER: Final = re.compile(r"^(\s*)([-+]|[0-9]+\.)")
_LINE_BREAKS: Final = re.compile(r"[\r\n\u2028\u2029\x85\x0b\x0c]+")


def escape_markdown(text: str) -> str:
    """``text`` as Discord shows it literally, on one line."""
    escaped = _SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", text))
    return _LIST_MARKER.sub(lambda m: m[1] + m[2][:-1] + "\\" + m[2][-1], escaped)
