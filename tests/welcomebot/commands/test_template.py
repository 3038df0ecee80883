"""The welcome message template check: a table of templates and what the admin is told."""

import pytest

from welcomebot.commands.errors import InvalidOption
from welcomebot.commands.template import MAX_MESSAGE_LENGTH, WORST_CASE, pointer, validate_message_template
from welcomebot.render.template import MESSAGE_PLACEHOLDERS
from welcomebot.store.api import DEFAULT_TEMPLATE

VALID = [
    DEFAULT_TEMPLATE,
    "plain text, no placeholders",
    "{user}",
    "Hi {user}, welcome to {server}! You are #{count}.",
    "{{literal braces}} around {user}",
    "}}{{",
    "{mention} ({name}, @{username}) is our {ordinal} member; account {age} old",
    "émoji 🎉 and 日本語 {user}",
    "x" * (MAX_MESSAGE_LENGTH - WORST_CASE["user"]) + "{user}",
    "line one\nline two {server}",
]

INVALID = [
    ("Hi {usr}!", "unknown placeholder {usr}", 4),
    ("Hi {User}!", "unknown placeholder {User}", 4),
    ("{user.__class__}", "unknown placeholder {user.__class__}", 1),
    ("{0}", "unknown placeholder {0}", 1),
    ("{}", "unknown placeholder {}", 1),
    ("{user:>999999}", "unknown placeholder {user:>999999}", 1),
    ("{ user }", "unknown placeholder { user }", 1),
    ("Hi {user", "unclosed '{'", 4),
    ("Hi {", "unclosed '{'", 4),
    ("Hi } there", "single '}'", 4),
    ("{user}}", "single '}'", 7),
    ("{{user}", "single '}'", 7),
    ("x" * 2001, "longer than 2000 characters", 2001),
    ("x" * (MAX_MESSAGE_LENGTH - WORST_CASE["user"] + 1) + "{user}", "can grow past Discord's 2000", 1751),
    ("{user} " * 8, "can grow past Discord's 2000", 50),
    ("{server}" + "y" * 1950, "can grow past Discord's 2000", 1909),
]


@pytest.mark.parametrize("source", VALID)
def test_valid_templates_are_accepted(source: str) -> None:
    assert validate_message_template(source).source == source


@pytest.mark.parametrize(("source", "reason", "position"), INVALID)
def test_invalid_templates_say_what_and_where(source: str, reason: str, position: int) -> None:
    with pytest.raises(InvalidOption) as info:
        validate_message_template(source)
    message = str(info.value)
    assert reason in message
    assert f"^ position {position}\n" in message


def test_every_message_placeholder_has_a_worst_case() -> None:
    assert set(WORST_CASE) == MESSAGE_PLACEHOLDERS


def test_pointer_windows_long_templates() -> None:
    text = pointer("a" * 100 + "{bad}" + "b" * 100, 100)
    excerpt, caret = text.splitlines()[1:3]
    assert excerpt.startswith("…")
    assert excerpt.endswith("…")
    assert excerpt[caret.index("^")] == "{"
