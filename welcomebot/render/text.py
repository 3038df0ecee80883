"""Names in any script: clean the text, split it into runs by font, order runs for bidi, measure and draw.

A Discord name may mix scripts and emoji, so one string is drawn with several fonts. Each run (same face,
same direction) is shaped by Pillow's raqm layout, which handles Arabic joining, Indic clusters and the
order of characters inside an RTL run; the order of the runs themselves follows a simplified Unicode bidi
algorithm (paragraph direction from the first strong character, RTL segments reversed). Colour emoji come
from a bitmap font with one strike (109 px) and are scaled down to the text size, cached per (run, size).
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageDraw

from welcomebot.render.fonts import COLOR_EMOJI_SIZE, FontSet

__all__ = ["Run", "TextDrawer", "sanitize", "split_runs", "visual_order"]

RGB = tuple[int, int, int]
_log = logging.getLogger(__name__)
# What FreeType (OSError: "raster overflow") and raqm (RuntimeError: "raqm_layout() failed") raise for a run
# they cannot handle.
_FREETYPE_ERRORS: Final = (OSError, RuntimeError, ValueError, MemoryError)

_RTL_CLASSES: Final = frozenset({"R", "AL"})
# Kept although "zero-width": they change shaping (ZWJ emoji sequences, Persian ZWNJ).
_KEPT_FORMAT: Final = frozenset({0x200C, 0x200D})
_EMOJI_SCALE: Final = 1.0  # emoji em box == text size; the 109 px strike is a 136 px wide glyph


def sanitize(text: str) -> str:
    """Drop control characters, zero-width / bidi-override formatting and variation selectors; NFC."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        cp = ord(ch)
        cat = unicodedata.category(ch)
        if ch in "\t\n\r\x0b\x0c\x85":
            out.append(" ")
            continue
        if cat in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp"):
            continue
        if cat == "Cf" and cp not in _KEPT_FORMAT:
            continue  # ZWSP, word joiner, BOM, LRM/RLM, LRE..PDF, LRI..PDI, soft hyphen, tag characters
        if 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF:
            continue  # variation selectors: the chain already prefers colour emoji faces
        out.append(" " if cat == "Zs" else ch)
    return " ".join("".join(out).split())


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive characters drawn with one face in one direction."""

    text: str
    face: int
    rtl: bool


def _is_attached(ch: str) -> bool:
    """Characters that belong to the run before them whatever font they would pick on their own."""
    return ord(ch) in _KEPT_FORMAT or unicodedata.category(ch) in ("Mn", "Mc", "Me", "Sk")


def split_runs(text: str, fonts: FontSet) -> list[Run]:
    """Split sanitized ``text`` into runs in logical order; characters no face has are dropped."""
    runs: list[Run] = []
    chars: list[str] = []
    face = -1
    rtl = False
    prev_zwj = False
    for ch in text:
        cp = ord(ch)
        bidi = unicodedata.bidirectional(ch)
        strong_rtl = bidi in _RTL_CLASSES
        neutral = bidi not in ("L", "R", "AL")
        if ch == " ":
            # Spaces are runs of their own (neutral for bidi, drawn with the first face): kept inside an RTL
            # run they would land on the wrong side of it, and colour faces have huge space advances.
            if chars:
                runs.append(Run("".join(chars), face, rtl))
                chars = []
            runs.append(Run(" ", fonts.face_index(cp) or 0, False))
            face, prev_zwj = -1, False
            continue
        color = chars and fonts.faces[face].color
        if chars and (prev_zwj or _is_attached(ch) or (neutral and not color and cp in fonts.faces[face].codepoints)):
            if prev_zwj and cp not in fonts.faces[face].codepoints:
                pass  # fall through to a new run below
            else:
                chars.append(ch)
                prev_zwj = cp == 0x200D
                continue
        index = fonts.face_index(cp)
        if index is None:
            prev_zwj = False
            continue
        ch_rtl = strong_rtl if not neutral else rtl
        if chars and (index != face or ch_rtl != rtl):
            runs.append(Run("".join(chars), face, rtl))
            chars = []
        face, rtl = index, ch_rtl
        chars.append(ch)
        prev_zwj = cp == 0x200D
    if chars:
        runs.append(Run("".join(chars), face, rtl))
    return _merge_spaces(runs, {i for i, f in enumerate(fonts.faces) if f.color})


def _merge_spaces(runs: list[Run], color_faces: set[int]) -> list[Run]:
    """Fold a space back into its neighbours when both sides share face and direction (fewer raqm calls)."""
    merged: list[Run] = []
    i = 0
    while i < len(runs):
        run = runs[i]
        while (
            i + 2 < len(runs)
            and runs[i + 1].text == " "
            and runs[i + 2].face == run.face
            and runs[i + 2].rtl == run.rtl
            and run.text != " "
            and runs[i + 2].text != " "
            and run.face not in color_faces
        ):
            run = Run(run.text + " " + runs[i + 2].text, run.face, run.rtl)
            i += 2
        merged.append(run)
        i += 1
    return merged


def _strong_direction(run: Run) -> bool | None:
    for ch in run.text:
        bidi = unicodedata.bidirectional(ch)
        if bidi in _RTL_CLASSES:
            return True
        if bidi == "L":
            return False
    return None


def visual_order(runs: list[Run]) -> list[Run]:
    """Order runs left to right: the paragraph direction comes from the first strong character."""
    dirs = [_strong_direction(r) for r in runs]
    base_rtl = next((d for d in dirs if d is not None), False)
    # A neutral run (spaces, digits, emoji) takes its neighbours' direction when they agree, else the base.
    resolved: list[bool] = []
    for i, d in enumerate(dirs):
        if d is None:
            before = next((x for x in reversed(dirs[:i]) if x is not None), base_rtl)
            after = next((x for x in dirs[i + 1 :] if x is not None), base_rtl)
            d = before if before == after else base_rtl
        resolved.append(d)
    segments: list[tuple[bool, list[Run]]] = []
    for run, d in zip(runs, resolved, strict=True):
        if segments and segments[-1][0] == d:
            segments[-1][1].append(run)
        else:
            segments.append((d, [run]))
    if base_rtl:
        segments.reverse()
    ordered: list[Run] = []
    for seg_rtl, seg in segments:
        ordered.extend(reversed(seg) if seg_rtl else seg)
    return ordered


class TextDrawer:
    """Measures and draws run lists with a :class:`FontSet`; safe to share between threads."""

    def __init__(self, fonts: FontSet, *, emoji_cache_size: int = 512) -> None:
        self.fonts = fonts
        self._emoji: OrderedDict[tuple[str, int], tuple[Image.Image, int, int]] = OrderedDict()
        self._emoji_max = emoji_cache_size
        self._lock = threading.Lock()
        #: Runs drawn with a fallback (regular weight, or left blank) because FreeType refused them.
        self.run_fallbacks = 0

    def runs(self, text: str) -> list[Run]:
        return visual_order(split_runs(text, self.fonts))

    def _scale(self, run: Run, size: int) -> float:
        return size * _EMOJI_SCALE / COLOR_EMOJI_SIZE if self.fonts.faces[run.face].color else 1.0

    def run_width(self, run: Run, size: int, *, bold: bool = False) -> float:
        font = self.fonts.font(run.face, size, bold=bold)
        try:
            width = font.getlength(run.text, direction="rtl" if run.rtl else "ltr")
        except _FREETYPE_ERRORS:
            # raqm refuses some runs ("raqm_layout() failed"): the run is drawn blank, at about a char's width.
            self.run_fallbacks += 1
            width = size * 0.6 * len(run.text)
        return width * self._scale(run, size)

    def shape(self, text: str, size: int, *, bold: bool = False) -> tuple[list[Run], list[float]]:
        """Runs of ``text`` in visual order and the advance of each at ``size``."""
        runs = self.runs(text)
        return runs, [self.run_width(r, size, bold=bold) for r in runs]

    def measure(self, text: str, size: int, *, bold: bool = False) -> float:
        return sum(self.shape(text, size, bold=bold)[1])

    def _emoji_image(self, run: Run, size: int) -> tuple[Image.Image, int, int]:
        """The run drawn at the colour face's native size, scaled to ``size``, with its offset from the pen."""
        key = (run.text, size)
        with self._lock:
            cached = self._emoji.get(key)
            if cached is not None:
                self._emoji.move_to_end(key)
                return cached
        font = self.fonts.font(run.face, size)
        left, top, right, bottom = (round(v) for v in font.getbbox(run.text, anchor="ls"))
        scale = self._scale(run, size)
        big = Image.new("RGBA", (max(1, right - left), max(1, bottom - top)))
        ImageDraw.Draw(big).text((-left, -top), run.text, font=font, anchor="ls", embedded_color=True)
        small = (max(1, round(big.width * scale)), max(1, round(big.height * scale)))
        cached = (big.resize(small, Image.Resampling.LANCZOS), round(left * scale), round(top * scale))
        with self._lock:
            self._emoji[key] = cached
            while len(self._emoji) > self._emoji_max:
                self._emoji.popitem(last=False)
        return cached

    def draw(
        self,
        image: Image.Image,
        x: float,
        baseline: float,
        runs: list[Run],
        size: int,
        *,
        fill: tuple[int, int, int],
        bold: bool = False,
        widths: list[float] | None = None,
    ) -> None:
        """Draw ``runs`` (visual order) from ``x`` on the baseline; ``widths`` from :meth:`shape` saves work.

        On an RGBA image the emoji are alpha-composited, so a transparent line image keeps correct edges.
        """
        draw = ImageDraw.Draw(image)
        if widths is None:
            widths = [self.run_width(r, size, bold=bold) for r in runs]
        for run, advance in zip(runs, widths, strict=True):
            if run.text.isspace():
                pass
            elif self.fonts.faces[run.face].color:
                glyphs, dx, dy = self._emoji_image(run, size)
                at = (round(x) + dx, round(baseline) + dy)
                if image.mode == "RGBA":
                    image.alpha_composite(glyphs, at)
                else:
                    image.paste(glyphs, at, glyphs)
            else:
                self._draw_run(draw, x, baseline, run, size, fill=fill, bold=bold)
            x += advance

    def _draw_run(
        self, draw: ImageDraw.ImageDraw, x: float, baseline: float, run: Run, size: int, *, fill: RGB, bold: bool
    ) -> None:
        """Draw one run; a run FreeType cannot rasterise (U+FDFD bold: "raster overflow") is drawn at the
        regular weight, else left blank, so one glyph never costs a member their card."""
        direction = "rtl" if run.rtl else "ltr"
        for weight in (bold, False) if bold else (False,):
            font = self.fonts.font(run.face, size, bold=weight)
            # Faces without a weight axis (Noto Sans CJK Regular) get a thin stroke to match bold text.
            stroke = max(1, size // 45) if weight and not self.fonts.faces[run.face].variable else 0
            try:
                draw.text(
                    (x, baseline),
                    run.text,
                    font=font,
                    fill=fill,
                    anchor="ls",
                    direction=direction,
                    stroke_width=stroke,
                    stroke_fill=fill,
                )
                return
            except _FREETYPE_ERRORS as exc:
                self.run_fallbacks += 1
                face = self.fonts.faces[run.face].path.name
                _log.warning("a text run cannot be drawn; falling back",
                             extra={"face": face, "bold": weight, "error": str(exc)})  # fmt: skip
