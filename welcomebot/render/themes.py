"""Card themes: which layout function draws the card, and the size it looks best at.

A theme is a name an admin picks; its geometry is pure math in ``layout.py``. Each theme has a natural
size (used when the caller does not ask for another) and is tested at that size and at others.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Final, Protocol

from welcomebot.render.layout import CardLayout, banner_layout, centered_layout, side_layout

__all__ = ["THEME_SIZES", "Theme", "layout_for"]


class Theme(enum.StrEnum):
    #: The avatar centred above the name and the lines (the original card).
    CENTERED = "centered"
    #: The avatar on the left, the text left-aligned on the right after an accent bar.
    SIDE = "side"
    #: A compact, short strip with an accent line along the bottom.
    BANNER = "banner"


class _LayoutFn(Protocol):
    def __call__(self, width: int, height: int, n_lines: int = 2, *, avatar: bool = ..., ring: int = ...) -> CardLayout:
        """A layout function of ``layout.py``."""
        ...


_LAYOUTS: Final[dict[Theme, _LayoutFn]] = {
    Theme.CENTERED: centered_layout,
    Theme.SIDE: side_layout,
    Theme.BANNER: banner_layout,
}

#: (width, height) each theme is designed for.
THEME_SIZES: Final[dict[Theme, tuple[int, int]]] = {
    Theme.CENTERED: (1024, 450),
    Theme.SIDE: (1024, 400),
    Theme.BANNER: (1024, 256),
}


def layout_for(theme: Theme) -> Callable[..., CardLayout]:
    """The layout function of ``theme``."""
    return _LAYOUTS[theme]
