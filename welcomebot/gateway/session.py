"""Where a shard keeps its session between processes, so a restart can RESUME (DESIGN.md rule 4).

The store only ever sees sequences the application has checkpointed (see :mod:`.shard`), never the
sequence merely received. The durable implementation lives with the other tables in ``welcomebot.store``;
:class:`MemorySessionStore` serves tests and single-run tools.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import trio

from welcomebot.gateway.protocol import SavedSession

__all__ = ["FencedSessions", "Lease", "MemorySessionStore", "SavedSession", "SessionStore", "ShardLeases"]


class SessionStore(Protocol):
    async def load(self, shard_id: int) -> SavedSession | None: ...
    async def save(self, shard_id: int, session: SavedSession) -> None: ...
    async def clear(self, shard_id: int) -> None: ...


@dataclass(frozen=True)
class Lease:
    """The outcome of asking for a shard: ``mine``, or held by ``holder``; ``previous``: the owner we took over."""

    mine: bool
    holder: str
    previous: str | None = None


class ShardLeases(Protocol):
    """One live process per shard (DESIGN.md "Owners are processes"); the store keeps them, with a fencing token."""

    owner: str
    #: Seconds a lease lasts unless renewed.
    ttl: float

    async def acquire(self, shard_id: int, shard_count: int) -> Lease: ...
    async def renew(self, shard_id: int) -> bool:
        """False: another process took the shard (our token is stale), stop running it."""
        ...

    async def release(self, shard_id: int) -> None: ...
    async def identify_wait(self, key: int, spacing: float) -> float:
        """Book rate-limit ``key``'s next IDENTIFY slot across every process sharing the store: seconds to wait."""
        ...

    async def survey(self) -> tuple[Mapping[int, str], frozenset[str]]:
        """Say we are alive (``--shards auto``); the live leases (shard id → owner) and the live owners."""
        ...

    def holds(self, shard_id: int) -> bool:
        """Ours, and not past the lease's end by our own clock (a renewal may be failing)."""
        ...


class FencedSessions:
    """A :class:`SessionStore` that writes a shard's session only while this process holds the shard's lease,
    so a process that lost the shard (paused past its lease) never overwrites its successor's session."""

    def __init__(self, store: SessionStore, leases: ShardLeases) -> None:
        self._store = store
        self._leases = leases

    async def load(self, shard_id: int) -> SavedSession | None:
        return await self._store.load(shard_id)

    async def save(self, shard_id: int, session: SavedSession) -> None:
        if self._leases.holds(shard_id):
            await self._store.save(shard_id, session)

    async def clear(self, shard_id: int) -> None:
        if self._leases.holds(shard_id):
            await self._store.clear(shard_id)


class MemorySessionStore:
    """A :class:`SessionStore` in a dict; ``saves`` counts writes, so tests can see what was persisted."""

    def __init__(self) -> None:
        self.sessions: dict[int, SavedSession] = {}
        self.saves = 0

    async def load(self, shard_id: int) -> SavedSession | None:
        await trio.lowlevel.checkpoint()
        return self.sessions.get(shard_id)

    async def save(self, shard_id: int, session: SavedSession) -> None:
        await trio.lowlevel.checkpoint()
        self.sessions[shard_id] = session
        self.saves += 1

    async def clear(self, shard_id: int) -> None:
        await trio.lowlevel.checkpoint()
        self.sessions.pop(shard_id, None)
