"""The welcome card renderer (issue 8): Pillow + raqm, any script and emoji, cached for speed.

Use one :class:`Renderer` per process and call ``renderer.render(CardSpec(...))`` from worker threads, or
``await RenderPool(renderer).render(spec)`` from trio (threads bounded by a CapacityLimiter). Avatars come from
:class:`AvatarFetcher` (async, httpx) and :func:`avatar_url`.
"""

from __future__ import annotations

from welcomebot.render.avatars import AvatarFetcher, avatar_url, decode_image
from welcomebot.render.card import DEFAULT_LINES, CardSpec, Renderer, display_name
from welcomebot.render.encode import CONTENT_TYPES, Format
from welcomebot.render.errors import FontsMissingError, ImageRejectedError, RenderError, TemplateError
from welcomebot.render.fonts import FontSet
from welcomebot.render.pool import RenderPool
from welcomebot.render.template import parse_template

__all__ = [
    "CONTENT_TYPES",
    "DEFAULT_LINES",
    "AvatarFetcher",
    "CardSpec",
    "FontSet",
    "FontsMissingError",
    "Format",
    "ImageRejectedError",
    "RenderError",
    "RenderPool",
    "Renderer",
    "TemplateError",
    "avatar_url",
    "decode_image",
    "display_name",
    "parse_template",
]
