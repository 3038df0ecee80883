from __future__ import annotations

import pytest

from welcomebot.render import FontSet, Renderer


@pytest.fixture(scope="session")
def fonts() -> FontSet:
    return FontSet.discover()


@pytest.fixture(scope="session")
def renderer(fonts: FontSet) -> Renderer:
    return Renderer(fonts=fonts)
