"""The app's ports (``welcomebot.app.ports``) over the outside world: Discord's REST API, the render pool, the store.

``app/`` holds the core and talks only through its ports; each class here implements one of them, and
``welcomebot.bot`` plugs them in. Nothing in ``app/``, ``store/`` or ``rest/`` imports this package.
"""

from welcomebot.adapters.actions import RestActions
from welcomebot.adapters.cards import RenderedCards, render_card
from welcomebot.adapters.history import RestHistory
from welcomebot.adapters.rest import RestMembers, RestPoster
from welcomebot.adapters.store import (
    CachedConfigs,
    MetaCatchUpState,
    StoreDepartures,
    StoreGuildSnapshots,
    StoreShardLeases,
    StoreWelcomeLog,
    to_welcome_config,
)

__all__ = [
    "CachedConfigs",
    "MetaCatchUpState",
    "RenderedCards",
    "RestActions",
    "RestHistory",
    "RestMembers",
    "RestPoster",
    "StoreDepartures",
    "StoreGuildSnapshots",
    "StoreShardLeases",
    "StoreWelcomeLog",
    "render_card",
    "to_welcome_config",
]
