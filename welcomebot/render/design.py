"""A guild's card design: validated values only (enums, ``#rrggbb`` colours, ranges), never CSS or code.

Stored in ``GuildConfig.options["design"]`` as plain JSON (``design_to_options``) and read back with
:func:`decode_design`, which refuses anything else with a :class:`DesignError` naming the option. The
background is a tagged union (``{"kind": "gradient", "stops": [...], "angle": 135}``); :func:`parse_background`
reads the short form people type (``builtin:aurora``, ``#1e1f22``, ``#ff0080,#7928ca@135``, ``avatar``, ``image``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, TypeAlias

import msgspec

from welcomebot.options import stored_section, with_section
from welcomebot.render.backgrounds import RGB, Builtin, parse_hex
from welcomebot.render.errors import RenderError
from welcomebot.render.layout import DEFAULT_RING
from welcomebot.render.shapes import Shape
from welcomebot.render.themes import Theme

__all__ = [
    "AvatarBackground",
    "Background",
    "BuiltinBackground",
    "CardDesign",
    "DesignError",
    "GradientBackground",
    "ImageBackground",
    "SolidBackground",
    "background_label",
    "decode_design",
    "design_of",
    "design_to_options",
    "options_with_design",
    "parse_background",
    "parse_color",
    "rgb",
]


Color = Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$")]
#: An asset reference as the store writes it (``welcomebot.store.api.ASSET_PREFIX`` + sha256 hex).
AssetRef = Annotated[str, msgspec.Meta(pattern=r"^asset:[0-9a-f]{64}$")]
MAX_RING: Final = 16
MAX_SCRIM: Final = 90


class DesignError(RenderError):
    """A design value is not one we accept; ``option`` names it (e.g. ``text_color``)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


class ImageBackground(msgspec.Struct, frozen=True, tag="image", tag_field="kind"):
    """The guild's uploaded background image; the built-in twilight gradient until one is uploaded."""


class BuiltinBackground(msgspec.Struct, frozen=True, tag="builtin", tag_field="kind"):
    name: Builtin


class SolidBackground(msgspec.Struct, frozen=True, tag="solid", tag_field="kind"):
    color: Color


class GradientBackground(msgspec.Struct, frozen=True, tag="gradient", tag_field="kind"):
    stops: Annotated[tuple[Color, ...], msgspec.Meta(min_length=2, max_length=3)]
    angle: Annotated[int, msgspec.Meta(ge=0, le=359)] = 135


class AvatarBackground(msgspec.Struct, frozen=True, tag="avatar", tag_field="kind"):
    """A gradient in the member's avatar colour (its dominant colour, cached per avatar)."""


Background: TypeAlias = ImageBackground | BuiltinBackground | SolidBackground | GradientBackground | AvatarBackground


class CardDesign(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a guild's cards look. The defaults are the original card."""

    theme: Theme = Theme.CENTERED
    background: Background = msgspec.field(default_factory=ImageBackground)
    text_color: Color = "#ffffff"
    accent_color: Color = "#ffffff"
    #: Opacity in percent of the dark overlay where the text sits (lighter towards the top).
    scrim: Annotated[int, msgspec.Meta(ge=0, le=MAX_SCRIM)] = 70
    shape: Shape = Shape.CIRCLE
    #: Ring width in pixels around a 200 px avatar, scaled with the avatar; 0 for no ring.
    ring: Annotated[int, msgspec.Meta(ge=0, le=MAX_RING)] = DEFAULT_RING
    #: An uploaded font (asset reference); it comes first in the fallback chain.
    font: AssetRef | None = None
    #: Animated WebP when the background or the avatar is animated; otherwise their first frame.
    animated: bool = False


_BUILTIN_NAMES: Final = ", ".join(b.value for b in Builtin)
_HINTS: Final[dict[str, str]] = {
    "theme": f"choose one of {', '.join(t.value for t in Theme)}",
    "shape": f"choose one of {', '.join(s.value for s in Shape)}",
    "text_color": "use a colour like #ffffff",
    "accent_color": "use a colour like #5865f2",
    "scrim": f"use a whole number of percent from 0 to {MAX_SCRIM}",
    "ring": f"use a whole number of pixels from 0 to {MAX_RING}",
    "font": "upload the font again",
    "animated": "use true or false",
    "background": "use image, avatar, builtin:NAME, a colour like #1e1f22 or a gradient like #ff0080,#7928ca@135",
    "background.name": f"choose a built-in background: {_BUILTIN_NAMES}",
    "background.stops": "give 2 or 3 colours like #ff0080",
    "background.color": "use a colour like #1e1f22",
    "background.angle": "use an angle in degrees from 0 to 359",
}
_AT: Final = re.compile(r"- at `\$\.?([^`]*)`$")


def _option_of(message: str) -> str:
    found = _AT.search(message)
    path = re.sub(r"\[\d+\]", "", found.group(1)) if found else ""
    if "unknown field" in message.lower():
        unknown = re.search(r"`([^`]+)`", message)
        return unknown.group(1) if unknown else path
    return path


def decode_design(raw: Any) -> CardDesign:
    """The design from its JSON form (``options["design"]``); None or missing means the defaults."""
    if raw is None:
        return CardDesign()
    try:
        return msgspec.convert(raw, CardDesign)
    except msgspec.ValidationError as exc:
        option = _option_of(str(exc))
        if option not in _HINTS and "unknown field" in str(exc).lower():
            raise DesignError(option, f"card design: there is no option {option!r}; the options are "
                                      f"{', '.join(CardDesign.__struct_fields__)}") from exc  # fmt: skip
        hint = _HINTS.get(option) or _HINTS.get(option.split(".")[0], "check the value")
        raise DesignError(option, f"card design option {option or 'design'!r} is invalid: {hint}") from exc


def design_to_options(design: CardDesign) -> dict[str, Any]:
    """The JSON-able form to store in ``GuildConfig.options["design"]`` (defaults included, for clarity)."""
    out: dict[str, Any] = msgspec.to_builtins(design)
    return out


def design_of(options: Mapping[str, Any], *, guild_id: int | None = None) -> CardDesign:
    """A guild's stored design; one that no longer decodes (an older version's value) gives the defaults."""
    return stored_section(options, "design", decode_design, CardDesign, DesignError, what="card design",
                          guild_id=guild_id)  # fmt: skip


def options_with_design(options: Mapping[str, Any], design: CardDesign) -> dict[str, Any]:
    """``options`` with ``design`` stored in it (the other options, such as behaviours, are kept)."""
    return with_section(options, "design", design)


def parse_color(text: str, option: str = "color") -> str:
    """``#rgb``/``#rrggbb`` (with or without ``#``) as ``#rrggbb``; DesignError naming ``option`` otherwise."""
    value = text.strip().lower().removeprefix("#")
    if re.fullmatch(r"[0-9a-f]{3}", value):
        value = "".join(c * 2 for c in value)
    if not re.fullmatch(r"[0-9a-f]{6}", value):
        raise DesignError(option, f"{option} {text!r} is not a colour: use hex like #ffcc00")
    return f"#{value}"


def rgb(color: str) -> RGB:
    """``#rrggbb`` (already validated) as an RGB tuple."""
    return parse_hex(color)


def parse_background(text: str) -> Background:
    """The background from its short form: ``image``, ``avatar``, ``builtin:NAME`` (or just ``NAME``),
    ``#rrggbb`` (solid), or 2-3 colours ``#a,#b[,#c][@ANGLE]`` (gradient, angle in degrees, default 135)."""
    value = text.strip().lower()
    if value == "image":
        return ImageBackground()
    if value == "avatar":
        return AvatarBackground()
    name = value.removeprefix("builtin:")
    if name in Builtin.__members__.values():
        return BuiltinBackground(Builtin(name))
    colors, _, angle_text = value.partition("@")
    parts = [p for p in colors.split(",") if p.strip()]
    if parts and all(re.fullmatch(r"\s*#?[0-9a-f]{3}([0-9a-f]{3})?\s*", p) for p in parts) and value[0] == "#":
        stops = tuple(parse_color(p, "background") for p in parts)
        if len(stops) == 1 and not angle_text:
            return SolidBackground(stops[0])
        if not 2 <= len(stops) <= 3:
            raise DesignError("background", f"background {text!r}: a gradient has 2 or 3 colours")
        if angle_text and not (angle_text.strip().isdigit() and 0 <= int(angle_text) <= 359):
            raise DesignError("background", f"background {text!r}: the angle after @ is 0 to 359 degrees")
        return GradientBackground(stops, int(angle_text) if angle_text else 135)
    raise DesignError("background", f"background {text!r} is not one we know: {_HINTS['background']}")


def background_label(background: Background) -> str:
    """The short form of ``background`` (inverse of :func:`parse_background`), for messages and cache keys."""
    match background:
        case ImageBackground():
            return "image"
        case AvatarBackground():
            return "avatar"
        case BuiltinBackground(name=name):
            return f"builtin:{name.value}"
        case SolidBackground(color=color):
            return color
        case GradientBackground(stops=stops, angle=angle):
            return f"{','.join(stops)}@{angle}"
