"""The gateway client: a sans-IO protocol core (:mod:`.protocol`) and a thin trio runner (:mod:`.shard`).

Entry points for the application::

    manager = ShardManager(ShardConfig(token, url, compress=...), get_gateway_bot, dispatch_send, store,
                           shards=parse_shard_range("0-3"), shard_count=8)
    plan = await nursery.start(manager.run)          # raises GatewayFatal (a FatalError) for 4004, 4014, ...
    async for dispatch in dispatch_receive:          # Dispatch(name, seq, data, session_id, event)
        ...                                          # handle it durably, then:
        manager.handles[shard_id].checkpoint(dispatch.session_id, safe_seq)
"""

from welcomebot.gateway.errors import GatewayError, GatewayFatal
from welcomebot.gateway.manager import ShardManager
from welcomebot.gateway.protocol import INTENTS, Dispatch, GatewayProtocol, SavedSession
from welcomebot.gateway.session import MemorySessionStore, SessionStore
from welcomebot.gateway.shard import ShardConfig, ShardHandle, run_shard
from welcomebot.gateway.sharding import GatewayBot, SessionStartLimit, ShardPlan, parse_shard_range, plan_shards

__all__ = [
    "INTENTS",
    "Dispatch",
    "GatewayBot",
    "GatewayError",
    "GatewayFatal",
    "GatewayProtocol",
    "MemorySessionStore",
    "SavedSession",
    "SessionStartLimit",
    "SessionStore",
    "ShardConfig",
    "ShardHandle",
    "ShardManager",
    "ShardPlan",
    "parse_shard_range",
    "plan_shards",
    "run_shard",
]
