"""Errors of the card renderer, under :class:`welcomebot.errors.WelcomeBotError`::

RenderError              a card cannot be rendered (message says what to fix)
├── FontsMissingError    the project's fonts are not installed: run scripts/bootstrap
├── TemplateError        an admin's card template is invalid (carries the position)
├── ImageRejectedError   an avatar or background is not an image we accept (format, bytes, pixels)
├── FontRejectedError    an uploaded font is not a single valid TTF/OTF within the size cap
└── DesignError          a card design value is invalid (design.py; carries the option's name)
"""

from __future__ import annotations

from welcomebot.errors import WelcomeBotError

__all__ = [
    "AvatarFetchError",
    "FontRejectedError",
    "FontsMissingError",
    "ImageRejectedError",
    "RenderError",
    "TemplateError",
]


class RenderError(WelcomeBotError):
    """A welcome card cannot be rendered."""


class FontsMissingError(RenderError):
    """The fonts welcomebot ships through its install are not where they should be."""


class TemplateError(RenderError):
    """A per-guild card template is invalid; ``position`` is the 0-based index of the offending character."""

    def __init__(self, message: str, template: str, position: int) -> None:
        super().__init__(f"{message} at position {position} of the template {template!r}")
        self.reason = message
        self.template = template
        self.position = position


class ImageRejectedError(RenderError):
    """An avatar or background image was refused (unsupported format, too many bytes or pixels, corrupt)."""


class AvatarFetchError(RenderError):
    """The avatar could not be downloaded; the card falls back to the default avatar."""


class FontRejectedError(RenderError):
    """An uploaded font was refused (not a single TTF/OTF, too big, no cmap or outlines, damaged)."""
