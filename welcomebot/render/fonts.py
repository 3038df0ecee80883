"""The renderer's fonts: found in the project's own install, loaded once, chosen per character.

Fonts come from PyPI packages in our dependencies (``manimgx-fonts``: Noto Sans and the Noto faces for
Arabic, Hebrew, Devanagari, Thai, symbols and monochrome emoji; ``noto-cjk-sans-otc``: Noto Sans CJK) and
from ``.venv/share/welcomebot-fonts/`` where ``scripts/bootstrap`` unpacks Noto Color Emoji from its Debian
package. Never from the host's font directories: a card must look the same on every machine.
``WELCOMEBOT_FONT_DIR`` points at a directory holding the same file names instead.

The fallback chain is an ordered list of faces; a codepoint goes to the first face whose cmap (read with
fontTools) maps it, decided once per codepoint and cached. FreeType faces are not safe to share between
threads, so each worker thread keeps its own :class:`PIL.ImageFont.FreeTypeFont` objects.

A guild may upload its own font (:func:`load_font` parses it with fontTools and draws a sample of its cmap and
the card's strings at every size and weight the card uses, so a font FreeType cannot rasterise is refused
before it is stored); it goes first
in the chain (:meth:`FontSet.with_first`), so characters it lacks still come from Noto.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fontTools.ttLib import TTCollection, TTFont
from PIL import ImageFont

from welcomebot.render.errors import FontRejectedError, FontsMissingError

__all__ = [
    "COLOR_EMOJI_SIZE",
    "FONT_DIR_ENV",
    "MAX_FONT_BYTES",
    "Face",
    "FontSet",
    "default_font_dirs",
    "font_digest",
    "load_font",
]

#: Uploaded fonts: a full Latin/Cyrillic/Greek family member is 0.2-1 MB; 5 MiB leaves room for big scripts.
MAX_FONT_BYTES: Final = 5 * 1024 * 1024
_SFNT_TAGS: Final = (b"\x00\x01\x00\x00", b"OTTO", b"true")

FONT_DIR_ENV: Final = "WELCOMEBOT_FONT_DIR"
#: Noto Color Emoji is a CBDT bitmap font with a single strike; FreeType only opens it at this size.
COLOR_EMOJI_SIZE: Final = 109


@dataclass(frozen=True, slots=True)
class _Want:
    file: str
    required: bool
    color: bool = False


# Order is the fallback order. Colour emoji come before CJK and symbols so that pictographs those faces
# also cover are drawn in colour; the monochrome emoji face is the last resort.
_CHAIN: Final = (
    _Want("NotoSans[wght].ttf", required=True),
    _Want("NotoSansArabic[wght].ttf", required=True),
    _Want("NotoSansHebrew[wght].ttf", required=True),
    _Want("NotoSansDevanagari[wght].ttf", required=True),
    _Want("NotoSansThai[wght].ttf", required=True),
    _Want("NotoSansArmenian[wght].ttf", required=False),
    _Want("NotoSansGeorgian[wght].ttf", required=False),
    _Want("NotoSansBengali[wght].ttf", required=False),
    _Want("NotoSansTamil[wght].ttf", required=False),
    _Want("NotoSansTelugu[wght].ttf", required=False),
    _Want("NotoSansGujarati[wght].ttf", required=False),
    _Want("NotoSansGurmukhi[wght].ttf", required=False),
    _Want("NotoSansKannada[wght].ttf", required=False),
    _Want("NotoSansMalayalam[wght].ttf", required=False),
    _Want("NotoSansKhmer[wght].ttf", required=False),
    _Want("NotoSansLao[wght].ttf", required=False),
    _Want("NotoSansMyanmar[wght].ttf", required=False),
    _Want("NotoSansSinhala[wght].ttf", required=False),
    _Want("NotoSansEthiopic[wght].ttf", required=False),
    _Want("NotoColorEmoji.ttf", required=False, color=True),
    _Want("NotoSansCJK-Regular.ttc", required=True),
    _Want("NotoSansSymbols[wght].ttf", required=False),
    _Want("NotoEmoji[wght].ttf", required=True),
)


@dataclass(frozen=True, slots=True)
class Face:
    """One font of the chain: its file, its codepoints, and whether it is a colour bitmap font or has a
    weight axis. An uploaded font is read from ``data``; its ``path`` is only a label (``uploaded/<hash>``)."""

    path: Path
    codepoints: frozenset[int]
    color: bool
    variable: bool
    data: bytes | None = None

    def open(self, size: int) -> ImageFont.FreeTypeFont:
        source = io.BytesIO(self.data) if self.data is not None else str(self.path)
        return ImageFont.truetype(source, size, layout_engine=ImageFont.Layout.RAQM)


def load_font(data: bytes) -> Face:
    """Validate an uploaded TTF/OTF and return it as a :class:`Face`; :class:`FontRejectedError` otherwise.

    It must be one sfnt font (not a collection, not WOFF), at most :data:`MAX_FONT_BYTES`, with a character
    map and outlines (``glyf`` or ``CFF``), and FreeType must open it.
    """
    if len(data) > MAX_FONT_BYTES:
        raise FontRejectedError(f"the font is {len(data)} bytes; upload one of at most {MAX_FONT_BYTES // 2**20} MiB")
    head = data[:4]
    if head == b"ttcf":
        raise FontRejectedError("the file is a font collection (.ttc); upload a single .ttf or .otf font")
    if head in (b"wOFF", b"wOF2"):
        raise FontRejectedError("the file is a web font (WOFF); convert it to .ttf or .otf and upload that")
    if head not in _SFNT_TAGS:
        raise FontRejectedError("the file is not a TrueType or OpenType font; upload a .ttf or .otf file")
    try:
        with TTFont(io.BytesIO(data), lazy=False) as font:
            if "glyf" not in font and "CFF " not in font and "CFF2" not in font:
                raise FontRejectedError("the font has no glyph outlines (glyf or CFF); upload a .ttf or .otf font")
            codepoints = frozenset(font.getBestCmap() or {}) if "cmap" in font else frozenset()
            axes = [a.axisTag for a in font["fvar"].axes] if "fvar" in font else []
    except FontRejectedError:
        raise
    except Exception as exc:  # fontTools raises many unrelated types on malformed input
        raise FontRejectedError(
            f"the font file is damaged ({type(exc).__name__}); upload a valid .ttf or .otf"
        ) from exc
    if not codepoints:
        raise FontRejectedError("the font has no character map (cmap); upload a font that maps Unicode characters")
    face = Face(Path("uploaded") / font_digest(data), codepoints, color=False, variable=axes[:1] == ["wght"], data=data)
    try:
        face.open(20)
    except OSError as exc:
        raise FontRejectedError(f"the font cannot be opened ({exc}); upload a valid .ttf or .otf") from exc
    _prove_draws(face)
    return face


#: The card's text sizes (names 12-96 px, lines under them smaller) and its own strings.
_PROOF_SIZES: Final = (12, 20, 32, 48, 72, 96)
_PROOF_TEXT: Final = "Welcome to Member #0123456789 Goodbye, will miss you"


def _prove_draws(face: Face) -> None:
    """Draw a sample of the font's cmap and the card's strings at every size and weight the card uses, so a
    font whose outlines FreeType cannot rasterise (garbage ``glyf``) is refused before it is stored."""
    cmap = sorted(face.codepoints)
    sample = "".join(chr(cp) for cp in cmap[:: max(1, len(cmap) // 256)] if chr(cp).isprintable())
    for size in _PROOF_SIZES:
        for bold in (False, True) if face.variable else (False,):
            try:
                font = face.open(size)
                if bold:
                    with contextlib.suppress(OSError):
                        font.set_variation_by_axes([700])
                for start in range(0, len(sample), 64):
                    font.getmask(sample[start : start + 64])
                font.getmask(_PROOF_TEXT)
            except (OSError, RuntimeError, ValueError, MemoryError) as exc:
                weight = "bold" if bold else "regular"
                raise FontRejectedError(
                    f"the font's glyphs cannot be drawn at {size} px {weight} ({exc}); upload a working .ttf or .otf"
                ) from exc


def font_digest(data: bytes) -> str:
    """A short content hash, the cache key of an uploaded font."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def default_font_dirs() -> list[Path]:
    """Where the install puts fonts, or only ``$WELCOMEBOT_FONT_DIR`` when that is set."""
    override = os.environ.get(FONT_DIR_ENV)
    if override:
        return [Path(override)]
    dirs = [Path(sys.prefix) / "share" / "welcomebot-fonts"]
    for pkg in ("manimgx_fonts", "noto_cjk_sans_otc"):
        found = _package_dir(pkg)
        if found is not None:
            dirs.append(found)
    return dirs


def _read_cmap(path: Path) -> tuple[frozenset[int], bool]:
    if path.suffix.lower() in (".ttc", ".otc"):
        coll = TTCollection(str(path), lazy=True)
        try:
            font = coll.fonts[0]
            return frozenset(font.getBestCmap() or {}), "fvar" in font
        finally:
            coll.close()
    with TTFont(str(path), lazy=True) as font:
        return frozenset(font.getBestCmap() or {}), "fvar" in font


class FontSet:
    """The fallback chain. Build once per process (``FontSet.discover()``) and share between threads."""

    def __init__(self, faces: Iterable[Face]) -> None:
        self.faces: tuple[Face, ...] = tuple(faces)
        if not self.faces:
            raise FontsMissingError("no fonts given to the renderer")
        self._face_for: dict[int, int] = {}
        self._local = threading.local()

    @classmethod
    def discover(cls, dirs: Iterable[Path] | None = None) -> FontSet:
        """Find the chain's files in ``dirs`` (default :func:`default_font_dirs`) and read their cmaps."""
        search = list(dirs) if dirs is not None else default_font_dirs()
        faces: list[Face] = []
        missing: list[str] = []
        for want in _CHAIN:
            path = next((d / want.file for d in search if (d / want.file).is_file()), None)
            if path is None:
                if want.required:
                    missing.append(want.file)
                continue
            codepoints, variable = _read_cmap(path)
            faces.append(Face(path, codepoints, want.color, variable))
        if missing:
            where = ", ".join(str(d) for d in search) or "(nowhere)"
            raise FontsMissingError(
                f"fonts missing: {', '.join(missing)} (looked in {where}); run scripts/bootstrap to install "
                f"welcomebot's fonts, or point {FONT_DIR_ENV} at a directory that has them"
            )
        return cls(faces)

    def with_first(self, face: Face) -> FontSet:
        """A chain with ``face`` (an uploaded font) before all of these faces."""
        return FontSet((face, *self.faces))

    @property
    def has_color_emoji(self) -> bool:
        return any(f.color for f in self.faces)

    def face_index(self, codepoint: int) -> int | None:
        """Index of the first face that has a glyph for ``codepoint``, or None if no face has one."""
        try:
            return self._face_for[codepoint]
        except KeyError:
            pass
        # Benign race: two threads may compute the same answer; the dict assignment itself is atomic.
        found = next((i for i, f in enumerate(self.faces) if codepoint in f.codepoints), None)
        if found is not None:
            self._face_for[codepoint] = found
        return found

    def font(self, index: int, size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
        """This thread's FreeType font for face ``index`` at ``size`` px (colour faces: their native size)."""
        face = self.faces[index]
        if face.color:
            size, bold = COLOR_EMOJI_SIZE, False
        cache: dict[tuple[int, int, bool], ImageFont.FreeTypeFont] | None = getattr(self._local, "fonts", None)
        if cache is None:
            cache = self._local.fonts = {}
        key = (index, size, bold)
        font = cache.get(key)
        if font is None:
            font = face.open(size)
            if face.variable:
                # A face without a usable weight axis despite fvar keeps its default weight.
                with contextlib.suppress(OSError):
                    font.set_variation_by_axes([700 if bold else 500])
            cache[key] = font
        return font
