"""Card design values: every option validated, every refusal names the option and says what to use."""

from __future__ import annotations

import msgspec
import pytest

from welcomebot.render.backgrounds import Builtin
from welcomebot.render.design import (
    AvatarBackground,
    BuiltinBackground,
    CardDesign,
    DesignError,
    GradientBackground,
    ImageBackground,
    SolidBackground,
    background_label,
    decode_design,
    design_to_options,
    parse_background,
    parse_color,
)
from welcomebot.render.shapes import Shape
from welcomebot.render.themes import Theme


def test_missing_design_is_the_original_card():
    assert decode_design(None) == CardDesign()
    assert decode_design({}) == CardDesign()
    design = CardDesign()
    assert (design.theme, design.shape, design.background) == (Theme.CENTERED, Shape.CIRCLE, ImageBackground())


def test_round_trip_through_json():
    design = CardDesign(
        theme=Theme.BANNER,
        background=GradientBackground(("#ff0080", "#7928ca", "#000000"), 45),
        text_color="#1a1a2e",
        accent_color="#ffcc00",
        scrim=0,
        shape=Shape.ROUNDED,
        ring=0,
        font="asset:" + "ab" * 32,
        animated=True,
    )
    stored = msgspec.json.decode(msgspec.json.encode(design_to_options(design)))
    assert decode_design(stored) == design


@pytest.mark.parametrize(
    ("raw", "option", "hint"),
    [
        ({"theme": "fancy"}, "theme", "centered, side, banner"),
        ({"theme": 3}, "theme", "centered"),
        ({"shape": "hexagon"}, "shape", "circle, rounded, square, hidden"),
        ({"text_color": "red"}, "text_color", "#ffffff"),
        ({"text_color": "#fff"}, "text_color", "like #"),
        ({"text_color": "#ffffff; background: url(x)"}, "text_color", "like #"),
        ({"accent_color": "#gggggg"}, "accent_color", "like #"),
        ({"scrim": 91}, "scrim", "0 to 90"),
        ({"scrim": -1}, "scrim", "0 to 90"),
        ({"scrim": 0.5}, "scrim", "whole number"),
        ({"ring": 17}, "ring", "0 to 16"),
        ({"ring": "7"}, "ring", "0 to 16"),
        ({"animated": "yes"}, "animated", "true or false"),
        ({"font": "../../etc/passwd"}, "font", "upload"),
        ({"font": "x" * 200}, "font", "upload"),
        ({"font": "asset:" + "AB" * 32}, "font", "upload"),
        ({"background": "builtin:aurora"}, "background", "builtin:NAME"),
        ({"background": {"kind": "css", "value": "url(x)"}}, "background.kind", "builtin:NAME"),
        ({"background": {"kind": "builtin", "name": "stock-photo"}}, "background.name", "aurora"),
        ({"background": {"kind": "solid", "color": "blue"}}, "background.color", "like #"),
        ({"background": {"kind": "gradient", "stops": ["#000000"]}}, "background.stops", "2 or 3"),
        ({"background": {"kind": "gradient", "stops": ["#000000"] * 4}}, "background.stops", "2 or 3"),
        ({"background": {"kind": "gradient", "stops": ["#000000", "nope"]}}, "background.stops", "2 or 3"),
        (
            {"background": {"kind": "gradient", "stops": ["#000000", "#ffffff"], "angle": 360}},
            "background.angle",
            "0 to 359",
        ),
        ({"colour": "#ffffff"}, "colour", "the options are"),
        ({"script": "alert(1)"}, "script", "the options are"),
    ],
)
def test_bad_values_are_refused_naming_the_option(raw, option, hint):
    with pytest.raises(DesignError) as caught:
        decode_design(raw)
    assert caught.value.option == option
    assert option in str(caught.value)
    assert hint in str(caught.value)


def test_not_an_object_is_refused():
    with pytest.raises(DesignError, match="invalid"):
        decode_design("centered")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("image", ImageBackground()),
        ("avatar", AvatarBackground()),
        ("builtin:aurora", BuiltinBackground(Builtin.AURORA)),
        ("Sunset", BuiltinBackground(Builtin.SUNSET)),
        ("#1E1F22", SolidBackground("#1e1f22")),
        ("#abc", SolidBackground("#aabbcc")),
        ("#ff0080,#7928ca", GradientBackground(("#ff0080", "#7928ca"), 135)),
        ("#ff0080, #7928ca, #000@90", GradientBackground(("#ff0080", "#7928ca", "#000000"), 90)),
    ],
)
def test_background_short_forms(text, expected):
    parsed = parse_background(text)
    assert parsed == expected
    assert parse_background(background_label(parsed)) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("builtin:stock", "not one we know"),
        ("https://example.com/x.png", "not one we know"),
        ("red", "not one we know"),
        ("#12345", "not one we know"),
        ("#aaa,#bbb,#ccc,#ddd", "2 or 3 colours"),
        ("#aaa,#bbb@400", "0 to 359"),
        ("#aaa,#bbb@-5", "0 to 359"),
        ("linear-gradient(red, blue)", "not one we know"),
    ],
)
def test_bad_background_short_forms(text, message):
    with pytest.raises(DesignError, match=message) as caught:
        parse_background(text)
    assert caught.value.option == "background"


def test_parse_color():
    assert parse_color("FFCC00") == "#ffcc00"
    assert parse_color("#fc0") == "#ffcc00"
    with pytest.raises(DesignError, match="text_color 'yellow' is not a colour"):
        parse_color("yellow", "text_color")
