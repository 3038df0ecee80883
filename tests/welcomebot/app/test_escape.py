"""Member-supplied names read literally in the bot's messages: every markdown construct Discord knows is escaped.

Discord's parser is not available here, so each case states what the name must become: the construct's
characters behind backslashes (Discord shows ``\\x`` as ``x``), nothing else changed.
"""

import re

import pytest

from tests.helpers import HOSTILE_NAMES
from welcomebot.app.escape import escape_markdown
from welcomebot.app.message import compose
from welcomebot.app.model import GuildInfo, Join

#: (hostile name, what it must become in the message's content)


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
