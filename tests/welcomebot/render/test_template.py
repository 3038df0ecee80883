from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welcomebot.render import TemplateError, parse_template
from welcomebot.render.template import MAX_TEMPLATE_LENGTH, Placeholder


def test_placeholders_and_literals():
    t = parse_template("Welcome {user} to {server}, member #{count}!")
    assert t.tokens == (
        "Welcome ",
        Placeholder("user"),
        " to ",
        Placeholder("server"),
        ", member #",
        Placeholder("count"),
        "!",
    )
    assert t.render(user="Ann", server="Trio", count=12345) == "Welcome Ann to Trio, member #12,345!"


def test_escaped_braces_are_literal():
    assert parse_template("{{user}} }}").render(user="x", server="s", count=1) == "{user} }"


def test_values_are_not_reinterpreted():
    t = parse_template("{user}")
    assert t.render(user="{server.__class__}", server="s", count=1) == "{server.__class__}"


@pytest.mark.parametrize(
    ("source", "position"),
    [
        ("Hi {user.__class__}", 3),
        ("{server:>99999}", 0),
        ("{0}", 0),
        ("x {nope} y", 2),
        ("Hello {user", 6),
        ("oops } here", 5),
        ("{}", 0),
    ],
)
def test_bad_templates_point_at_position(source, position):
    with pytest.raises(TemplateError) as info:
        parse_template(source)
    assert info.value.position == position
    assert f"position {position}" in str(info.value)


def test_unknown_placeholder_lists_allowed():
    with pytest.raises(TemplateError, match=r"allowed: \{count\}, \{server\}, \{user\}"):
        parse_template("{guild}")


def test_length_cap():
    with pytest.raises(TemplateError, match="longer than"):
        parse_template("x" * (MAX_TEMPLATE_LENGTH + 1))


@given(st.text(alphabet=st.sampled_from("{}ab :.0_userservcount"), max_size=40))
def test_any_input_parses_or_raises_template_error(source):
    error: TemplateError | None = None
    try:
        t = parse_template(source)
    except TemplateError as exc:
        error = exc
    if error is not None:
        assert 0 <= error.position <= len(source)
        return
    out = t.render(user="U", server="S", count=7)
    # Rendering only substitutes: stripping the placeholders' values leaves no brace pairs unescaped.
    assert "{user}" not in out.replace("{{", "")
    assert all(isinstance(tok, str) or tok.name in {"user", "server", "count"} for tok in t.tokens)


def test_message_vocabulary_and_limit_through_the_same_parser():
    from welcomebot.render.template import MESSAGE_PLACEHOLDERS

    t = parse_template("{mention} is our {ordinal} ({age})", placeholders=MESSAGE_PLACEHOLDERS, max_length=2000)
    assert t.fill({"mention": "<@1>", "ordinal": "3rd", "age": "1 day"}) == "<@1> is our 3rd (1 day)"
    with pytest.raises(TemplateError, match=r"allowed: .*ordinal"):
        parse_template("{nope}", placeholders=MESSAGE_PLACEHOLDERS)
    with pytest.raises(TemplateError, match="unknown placeholder"):
        parse_template("{ordinal}")  # not a card placeholder
    with pytest.raises(TemplateError, match="longer than 5"):
        parse_template("abcdef", max_length=5)
