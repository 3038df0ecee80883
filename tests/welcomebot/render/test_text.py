from __future__ import annotations

import unicodedata

import pytest
from PIL import Image

from welcomebot.render import FontSet, FontsMissingError
from welcomebot.render.text import TextDrawer, sanitize, split_runs, visual_order

CORPUS = [
    "Alice",
    "Zoë Ångström-Łukasz",
    "Владимир Путешественник",
    "Αλέξανδρος",
    "山田太郎",
    "김민준",
    "さくら🌸",
    "محمد علي",
    "نستعليق فارسی",
    "שלום עליכם",
    "देवनागरी नमस्ते",
    "สวัสดีครับ",
    "😀🎉👍🏽❤️",
    "👨‍👩‍👧 family",
    "Ben שלום 42 مرحبا 🎉 東京",
    "x\u200by\u202ez\u0007w\ufeff",
    "ᚠᛇᚻ",  # runic: no face has it -> dropped, never a box
]

NOTDEF_PROBE = chr(0x10FFFD)  # private use, in no face: FreeType draws .notdef


def test_sanitize_strips_invisible_and_control():
    assert sanitize("a\u200bb\u202ec\u0007d\ufeffe\u2066f") == "abcdef"
    assert sanitize("  lots   of\tspace ") == "lots of space"
    assert sanitize("❤\ufe0f") == "❤"
    assert sanitize("👨\u200d👩") == "👨\u200d👩"  # ZWJ kept: it makes the emoji sequence


def test_missing_fonts_tell_operator_what_to_do(tmp_path):
    with pytest.raises(FontsMissingError, match="scripts/bootstrap"):
        FontSet.discover([tmp_path])


def test_colour_emoji_installed(fonts):
    assert fonts.has_color_emoji, "run scripts/bootstrap to fetch Noto Color Emoji"


@pytest.mark.parametrize("name", CORPUS)
def test_every_codepoint_has_a_real_glyph(fonts: FontSet, name: str):
    """The no-tofu guarantee: cmap check for every codepoint and a pixel check against .notdef."""
    text = sanitize(name)
    runs = split_runs(text, fonts)
    drawn = "".join(r.text for r in runs)
    dropped = [ch for ch in text if ch not in drawn]
    assert all(fonts.face_index(ord(ch)) is None for ch in dropped)
    for run in runs:
        face = fonts.faces[run.face]
        font = fonts.font(run.face, 40)
        notdef = None if face.color else font.getmask(NOTDEF_PROBE)
        for ch in run.text:
            if ord(ch) in (0x200C, 0x200D):
                continue
            assert ord(ch) in face.codepoints, f"{ch!r} U+{ord(ch):04X} not in {face.path.name}"
            if notdef is not None and unicodedata.category(ch) not in ("Zs", "Mn", "Mc"):
                mask = font.getmask(ch)
                same = mask.size == notdef.size and bytes(mask) == bytes(notdef)
                assert not same, f"{ch!r} drew .notdef in {face.path.name}"


def test_probe_really_draws_notdef(fonts: FontSet):
    """The pixel check above can fail: .notdef is a visible box in Noto Sans."""
    font = fonts.font(0, 40)
    assert font.getbbox(NOTDEF_PROBE)[2] > 0
    assert bytes(font.getmask(NOTDEF_PROBE)) != bytes(font.getmask("A"))


def test_scripts_pick_their_faces(fonts: FontSet):
    def face_of(text: str) -> str:
        (run,) = split_runs(text, fonts)
        return fonts.faces[run.face].path.name

    assert face_of("Hello") == "NotoSans[wght].ttf"
    assert face_of("مرحبا") == "NotoSansArabic[wght].ttf"
    assert face_of("שלום") == "NotoSansHebrew[wght].ttf"
    assert face_of("東京") == "NotoSansCJK-Regular.ttc"
    assert face_of("😀") == "NotoColorEmoji.ttf"


def test_rtl_runs_are_flagged_and_reordered(fonts: FontSet):
    runs = split_runs("abc שלום", fonts)
    assert [r.rtl for r in runs if r.text != " "] == [False, True]
    # RTL paragraph: the Latin run that comes first logically is drawn on the right.
    runs = visual_order(split_runs("שלום abc", fonts))
    assert runs[0].text.strip() == "abc"
    assert runs[-1].text.strip() == "שלום"


def test_arabic_is_shaped(fonts: FontSet):
    """Lam + alef form the lam-alef ligature, narrower than the two letters apart: raqm shaping is on."""
    drawer = TextDrawer(fonts)
    joined = drawer.measure("لا", 40)
    isolated = drawer.measure("ل", 40) + drawer.measure("\u0627", 40)
    assert joined < isolated * 0.8


def test_emoji_drawn_in_colour(fonts: FontSet):
    drawer = TextDrawer(fonts)
    image = Image.new("RGB", (200, 80), (0, 0, 0))
    drawer.draw(image, 10, 60, drawer.runs("😀"), 48, fill=(255, 255, 255))
    pixels = [image.getpixel((x, y)) for x in range(0, 200, 2) for y in range(0, 80, 2)]
    assert any(isinstance(p, tuple) and p[0] > 150 and p[1] > 100 and p[2] < 80 for p in pixels)  # yellow smiley


def test_spaces_fold_into_same_face_runs_but_not_emoji(fonts: FontSet):
    assert [r.text for r in split_runs("Alice Wonder 12", fonts)] == ["Alice Wonder 12"]
    assert [r.text for r in split_runs("محمد علي", fonts)] == ["محمد علي"]
    # a colour face's space is as wide as an emoji: spaces between emoji stay text-face runs
    assert [r.text for r in split_runs("😀 😀", fonts)] == ["😀", " ", "😀"]


def test_without_colour_emoji_the_monochrome_face_draws_them(tmp_path, fonts: FontSet):
    for face in fonts.faces:
        if not face.color:
            (tmp_path / face.path.name).symlink_to(face.path)
    mono = FontSet.discover([tmp_path])
    assert not mono.has_color_emoji
    (run,) = split_runs("😀", mono)
    assert mono.faces[run.face].path.name == "NotoEmoji[wght].ttf"
    image = Image.new("RGB", (120, 80))
    TextDrawer(mono).draw(image, 10, 60, [run], 48, fill=(255, 255, 255))
    assert image.getbbox() is not None
