"""What is kept and for how long: the welcome log pruned past every window its guild's features use, and
everything about one guild or user deleted (``welcomebot purge``, and a removed guild's data after its grace).

Both know the app's records (a guild's behaviour windows, the catch-up's per-shard record) as well as the
store's tables, so they sit above both: ``store/`` knows nothing of the app.
"""

from welcomebot.retention.prune import BASE_S, EVERY_S, Pruner, horizon_s, prune_once
from welcomebot.retention.purge import Kind, PurgeReport, purge

__all__ = ["BASE_S", "EVERY_S", "Kind", "Pruner", "PurgeReport", "horizon_s", "prune_once", "purge"]
