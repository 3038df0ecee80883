"""Readiness: every shard connected with a recent heartbeat ACK, the store reachable, not draining. Pure."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ShardHealth", "readiness"]


@dataclass(frozen=True)
class ShardHealth:
    shard_id: int
    connected: bool
    last_ack_at: float | None
    heartbeat_interval: float | None


def readiness(
    shards: list[ShardHealth], store_problem: str | None, draining: bool, now: float
) -> tuple[bool, list[str]]:
    """(ready, reasons it is not). ``store_problem``: why the database does not answer (None: it does).
    A heartbeat ACK is recent within two heartbeat intervals."""
    reasons = []
    if draining:
        reasons.append("shutting down")
    if store_problem is not None:
        reasons.append(f"the database is unreachable: {store_problem}")
    if not shards:
        reasons.append("no gateway shard started yet")
    for shard in shards:
        if not shard.connected:
            reasons.append(f"shard {shard.shard_id} is not connected to the gateway")
        elif (
            shard.last_ack_at is not None
            and shard.heartbeat_interval is not None
            and now - shard.last_ack_at > 2 * shard.heartbeat_interval
        ):
            reasons.append(f"shard {shard.shard_id} has had no heartbeat ACK for {now - shard.last_ack_at:.0f} s")
    return (not reasons, reasons)
