"""Where a shard keeps its session between processes, so a restart can RESUME (DESIGN.md rule 4).

The store only ever sees sequences the application has checkpointed (see :mod:`.shard`), never the
sequence merely received. The durable implementation lives with the other tables in ``welcomebot.store``;
:class:`MemorySessionStore` serves tests and single-run tools.
"""

from __future__ import annotations

from typing import Protocol

import trio

from welcomebot.gateway.protocol import SavedSession

__all__ = ["MemorySessionStore", "SavedSession", "SessionStore"]


class SessionStore(Protocol):
    async def load(self, shard_id: int) -> SavedSession | None: ...
    async def save(self, shard_id: int, session: SavedSession) -> None: ...
    async def clear(self, shard_id: int) -> None: ...


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
