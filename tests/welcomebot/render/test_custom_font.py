"""An uploaded font goes first in the fallback chain; what it lacks still renders with Noto; bad fonts are
refused with a sentence saying what to upload."""

from __future__ import annotations

import io

import pytest
from fontTools.ttLib import TTFont

from welcomebot.render import CardSpec, FontRejectedError, FontSet, Renderer, load_font
from welcomebot.render.fonts import MAX_FONT_BYTES
from welcomebot.render.testing import garbage_glyf_font, image_diff, latin_only_font

CJK = "山田太郎"


def latin_italic() -> bytes:
    return latin_only_font("NotoSans-Italic[wght].ttf")


def test_subset_font_lacks_cjk_and_is_accepted():
    face = load_font(latin_italic())
    assert ord("A") in face.codepoints
    assert not any(ord(c) in face.codepoints for c in CJK)
    assert face.variable  # the wght axis survives subsetting, so bold names use it


def test_uploaded_font_first_and_cjk_from_noto(fonts: FontSet):
    chain = fonts.with_first(load_font(latin_italic()))
    assert chain.face_index(ord("A")) == 0
    for ch in CJK:
        index = chain.face_index(ord(ch))
        assert index is not None
        assert "CJK" in chain.faces[index].path.name


def name_card(name: str, font: bytes | None) -> CardSpec:
    return CardSpec(name=name, lines=(), font=font, format="png")


def test_cjk_name_renders_with_an_uploaded_latin_font(renderer: Renderer):
    font = latin_italic()
    with_font = renderer.compose(name_card(CJK, font))
    without_font = renderer.compose(name_card(CJK, None))
    blank = renderer.compose(name_card("", font))
    # The CJK glyphs are drawn (not dropped, not boxes) and they are Noto CJK's: same as without the upload.
    assert image_diff(with_font, blank)[1] > 0.002
    assert image_diff(with_font, without_font)[0] < 0.05
    # The Latin letters do come from the uploaded font.
    latin_custom = renderer.compose(name_card("Alice", font))
    latin_noto = renderer.compose(name_card("Alice", None))
    assert image_diff(latin_custom, latin_noto)[1] > 0.001


def test_uploaded_font_cached_per_font(fonts: FontSet):
    renderer = Renderer(fonts=fonts)
    for i in range(3):
        renderer.render(CardSpec(name=f"Ann {i}", font=latin_italic(), font_key="asset:x"))
    assert (renderer._drawers.misses, renderer._drawers.hits) == (1, 2)


def without(table: str) -> bytes:
    font = TTFont(io.BytesIO(latin_italic()))
    del font[table]
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (garbage_glyf_font, "glyphs cannot be drawn"),
        (lambda: b"\x00\x01\x00\x00" + b"\x00" * (MAX_FONT_BYTES + 1), "at most 5 MiB"),
        (lambda: b"ttcf" + latin_italic()[4:], "collection"),
        (lambda: b"wOF2" + latin_italic()[4:], "WOFF"),
        (lambda: b"GIF89a" + b"\x00" * 100, "not a TrueType or OpenType font"),
        (lambda: b"", "not a TrueType or OpenType font"),
        (lambda: latin_italic()[: len(latin_italic()) // 3], "damaged"),
        (lambda: without("cmap"), "character map"),
        (lambda: without("glyf"), "damaged|outlines"),
    ],
)
def test_bad_fonts_refused(make, message):
    with pytest.raises(FontRejectedError, match=message):
        load_font(make())


def test_bad_font_fails_the_render_with_a_clear_error(renderer: Renderer):
    with pytest.raises(FontRejectedError, match="upload"):
        renderer.render(CardSpec(name="x", font=b"not a font"))
