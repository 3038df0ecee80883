"""The welcome card renderer (issue 8): Pillow + raqm, any script and emoji, cached for speed.

Use one :class:`Renderer` per process and call ``renderer.render(CardSpec(...))`` from worker threads, or
``await RenderPool(renderer).render(spec)`` from trio (threads bounded by a CapacityLimiter). Avatars come from
:class:`AvatarFetcher` (async, httpx) and :func:`avatar_url`. A guild's look is a :class:`CardDesign` (issue 14:
themes, colours, avatar shapes, built-in/colour/avatar backgrounds, an uploaded font, animation).
"""

from __future__ import annotations

from welcomebot.render.avatars import AvatarFetcher, avatar_url, decode_image
from welcomebot.render.backgrounds import Builtin
from welcomebot.render.card import DEFAULT_LINES, CardSpec, Renderer, display_name
from welcomebot.render.design import CardDesign, DesignError, decode_design, design_to_options, parse_background
from welcomebot.render.encode import CONTENT_TYPES, Format
from welcomebot.render.errors import (
    FontRejectedError,
    FontsMissingError,
    ImageRejectedError,
    RenderError,
    TemplateError,
)
from welcomebot.render.fonts import FontSet, load_font
from welcomebot.render.pool import RenderPool
from welcomebot.render.shapes import Shape
from welcomebot.render.template import parse_template
from welcomebot.render.themes import Theme

__all__ = [
    "CONTENT_TYPES",
    "DEFAULT_LINES",
    "AvatarFetcher",
    "Builtin",
    "CardDesign",
    "CardSpec",
    "DesignError",
    "FontRejectedError",
    "FontSet",
    "FontsMissingError",
    "Format",
    "ImageRejectedError",
    "RenderError",
    "RenderPool",
    "Renderer",
    "Shape",
    "TemplateError",
    "Theme",
    "avatar_url",
    "decode_design",
    "decode_image",
    "design_to_options",
    "display_name",
    "load_font",
    "parse_background",
    "parse_template",
]
