"""Member-supplied names read literally in the bot's messages: every markdown construct Discord knows is escaped.

Discord's parser is not available here, so each case states what the name must become: the construct's
characters behind backslashes (Discord shows ``\\x`` as ``x``), nothing else changed.
"""

import re

import pytest

from welcomebot.app.escape import escape_markdown
from welcomebot.app.message import compose
from welcomebot.app.model import GuildInfo, Join

#: (hostile name, what it must become in the message's content)
HOSTILE_NAMES = [
    ("[free nitro](https://evil.example)", r"\[free nitro\]\(https\://evil.example\)"),
    ("[x](<https://evil.example>)", r"\[x\]\(\<https\://evil.example\>\)"),
    ("https://evil.example/login", r"https\://evil.example/login"),
    ("<https://evil.example>", r"\<https\://evil.example\>"),
    ("# Official announcement", r"\# Official announcement"),
    ("### small heading", r"\#\#\# small heading"),
    ("-# subtext", r"\-\# subtext"),
    ("- list item", r"\- list item"),
    ("+ plus item", r"\+ plus item"),
    ("* star item", r"\* star item"),
    ("1. ordered", r"1\. ordered"),
    ("  42. indented", r"  42\. indented"),
    ("**bold**", r"\*\*bold\*\*"),
    ("*italic*", r"\*italic\*"),
    ("_italic_", r"\_italic\_"),
    ("__underline__", r"\_\_underline\_\_"),
    ("~~strike~~", r"\~\~strike\~\~"),
    ("||spoiler||", r"\|\|spoiler\|\|"),
    ("`code`", r"\`code\`"),
    ("```py\nimport os```", r"\`\`\`py import os\`\`\`"),
    ("> quoted", r"\> quoted"),
    (">>> quote all", r"\>\>\> quote all"),
    ("<t:1700000000:R>", r"\<t\:1700000000\:R\>"),
    ("<@123456789012345678>", r"\<\@123456789012345678\>"),
    ("<@&123456789012345678>", r"\<\@&123456789012345678\>"),
    ("<#123456789012345678>", r"\<\#123456789012345678\>"),
    ("</ban:123456789012345678>", r"\</ban\:123456789012345678\>"),
    ("<:pepe:123456789012345678>", r"\<\:pepe\:123456789012345678\>"),
    ("@everyone", r"\@everyone"),
    ("@here", r"\@here"),
    ("a\\*b", r"a\\\*b"),
    ("line\n# two", r"line \# two"),
    ("ada.lovelace-99", "ada.lovelace-99"),
    ("Zoë 🌸", "Zoë 🌸"),
]


@pytest.mark.parametrize(("name", "expected"), HOSTILE_NAMES)
def test_a_hostile_name_is_escaped(name: str, expected: str):
    assert escape_markdown(name) == expected


@pytest.mark.parametrize(("name", "expected"), HOSTILE_NAMES)
def test_a_hostile_name_reads_literally_and_the_template_keeps_its_markdown(name: str, expected: str):
    join = Join(guild_id=1, user_id=5 << 22, joined_at="x", username="plain", global_name=name)
    guild = GuildInfo(guild_id=1, name="S", member_count=3)
    text = compose("**Welcome** {name} ({username})! See <#7>.", [join], guild, now_s=0)
    assert text == f"**Welcome** {expected} (plain)! See <#7>."
    assert "\n" not in text
    # Every markdown character of the name has a backslash before it, so Discord shows it as typed.
    unescaped = re.sub(r"\\.", "", expected)
    assert not re.search(r"[\\*_~|`\[\]()<>#@:]", unescaped)
