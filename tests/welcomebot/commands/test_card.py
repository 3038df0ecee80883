"""/card through the emulator: changes are tried out as a draft (answered with the card), saved or dropped,
refused with a message naming the option and nothing stored; fonts are uploaded, validated, kept as assets."""

from typing import Any

from tests.welcomebot.commands.conftest import Rig, answer_text, command_options
from welcomebot.commands.draft import DRAFT
from welcomebot.render import Shape, Theme
from welcomebot.render.design import GradientBackground, decode_design
from welcomebot.render.testing import garbage_glyf_font, latin_only_font


def card_size(record: dict[str, Any]) -> tuple[int, int]:
    """The card attached to the answer, as the emulator measured it."""
    attachments = record["original"]["attachments"]
    assert len(attachments) == 1, record["original"]
    assert attachments[0]["content_type"] == "image/webp"
    return attachments[0]["width"], attachments[0]["height"]


async def options(rig: Rig) -> dict[str, Any]:
    config = await rig.store.get_guild_config(rig.guild_id)
    return {} if config is None else dict(config.options)


async def test_style_is_a_draft_until_saved(rig: Rig):
    hyphenated: dict[str, Any] = {"accent-color": "fc0"}
    record = await rig.invoke("card style", theme="side", shape="rounded", ring=4, **hyphenated)
    text = answer_text(record)
    assert "Not saved yet" in text
    assert card_size(record) == (1024, 400)  # the side theme's card, for the admin
    stored = await options(rig)
    draft = decode_design(stored[DRAFT])
    assert (draft.theme, draft.shape, draft.accent_color, draft.ring) == (Theme.SIDE, Shape.ROUNDED, "#ffcc00", 4)
    assert "design" not in stored  # new members still get the saved (default) card

    record = await rig.invoke("preview")
    assert "unsaved design" in answer_text(record)
    assert card_size(record) == (1024, 400)

    record = await rig.invoke("card background", colors="#ff0080,#7928ca@90")
    assert decode_design((await options(rig))[DRAFT]).background == GradientBackground(("#ff0080", "#7928ca"), 90)
    assert decode_design((await options(rig))[DRAFT]).theme == Theme.SIDE  # changes add up

    assert "unsaved changes wait" in answer_text(await rig.invoke("welcome show"))
    record = await rig.invoke("card save")
    assert "saved" in answer_text(record)
    assert "Card: side theme, #ff0080,#7928ca@90 background, rounded avatar" in answer_text(
        await rig.invoke("welcome show")
    )
    stored = await options(rig)
    assert DRAFT not in stored
    assert decode_design(stored["design"]).theme == Theme.SIDE

    # The next welcome uses it: the saved design reaches the pipeline (the config cache was invalidated).
    await rig.invoke("welcome channel", channel=rig.channel_id)
    await rig.emu.control.join(rig.guild_id)
    posted = await rig.emu.control.wait_for_mentions(rig.channel_id, 1)
    attachment = posted[-1]["attachments"][0]
    assert (attachment["width"], attachment["height"]) == (1024, 400)


async def test_discard_and_reset(rig: Rig):
    await rig.invoke("card background", builtin="aurora")
    record = await rig.invoke("card discard")
    assert "dropped" in answer_text(record)
    assert DRAFT not in await options(rig)
    assert "nothing changed" in answer_text(await rig.invoke("card discard"))
    assert "no card design to save" in answer_text(await rig.invoke("card save"))
    await rig.invoke("card reset")
    assert decode_design((await options(rig))[DRAFT]) == decode_design(None)


async def test_bad_values_are_refused_and_nothing_stored(rig: Rig):
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("card style", {"text-color": "red"}, "text-color 'red' is not a colour"),
        ("card style", {}, "at least one thing"),
        ("card background", {}, "one of the two"),
        ("card background", {"builtin": "aurora", "colors": "#000"}, "one of the two"),
        ("card background", {"colors": "url(https://example.com/x.png)"}, "not one we know"),
        ("card background", {"colors": "#000,#fff,#f00,#0f0"}, "2 or 3 colours"),
    ]
    for path, values, expected in cases:
        record = await rig.invoke(path, **values)
        assert expected in answer_text(record), (path, values, answer_text(record))
    assert await rig.store.get_guild_config(rig.guild_id) is None


async def upload(rig: Rig, filename: str, data: bytes) -> dict[str, Any]:
    created = await rig.emu.control.interaction(
        guild_id=rig.guild_id, channel_id=rig.channel_id, user_id=rig.owner_id, name="card",
        permissions=1 << 5, options=command_options("card font", {}), attachment=(filename, "font/ttf", data),
        attachment_option="file",
    )  # fmt: skip
    return await rig.emu.control.wait_answered(created["id"], wait_s=60)


async def test_font_upload_is_validated_and_stored_as_an_asset(rig: Rig):
    record = await upload(rig, "junk.ttf", b"\x00\x01\x00\x00" + b"garbage" * 50)
    assert "Font refused" in answer_text(record)
    assert await rig.store.get_guild_config(rig.guild_id) is None

    font = latin_only_font()
    record = await upload(rig, "Italic.ttf", font)
    assert "Card font: Italic.ttf" in answer_text(record)
    ref = decode_design((await options(rig))[DRAFT]).font
    assert ref is not None
    assert ref.startswith("asset:")
    assets = await rig.store.list_assets()
    assert [(a.media_type, a.size, a.owner_guild) for a in assets] == [("font/ttf", len(font), rig.guild_id)]
    assert ref.removeprefix("asset:") in await rig.store.referenced_assets()  # kept by the GC while drafted


async def test_a_font_whose_glyphs_cannot_be_drawn_is_refused_and_nothing_is_stored(rig: Rig):
    record = await upload(rig, "corrupt.ttf", garbage_glyf_font())
    assert "Font refused: the font's glyphs cannot be drawn" in answer_text(record)
    assert await rig.store.list_assets() == []
    assert await rig.store.get_guild_config(rig.guild_id) is None
