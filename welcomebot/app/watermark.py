"""The highest gateway sequence number that is safe to persist for RESUME.

DESIGN.md, exactly-once rule 4: the sequence we persist never runs ahead of what is durably claimed. Guild
actors finish their dispatches out of order (guild A's claim may land before guild B's earlier one), so the
safe sequence is a low watermark: the largest ``s`` such that every dispatch with a sequence ``<= s`` that
we started tracking is done. Resuming from it replays only dispatches that the claim step drops.

Sans-IO: no trio, no I/O; the shard runner asks for :attr:`SeqWatermark.safe` when it checkpoints.
"""

from __future__ import annotations

from collections import deque

__all__ = ["SeqWatermark"]


class SeqWatermark:
    """Tracks in-flight sequence numbers of one gateway session.

    Call :meth:`begin` when a dispatch enters the pipeline and :meth:`done` when it is durable (claimed,
    or needs no durable handling). Sequences are begun in increasing order, as the gateway delivers them;
    a sequence never begun (a gap) needs nothing and does not hold the watermark back.
    """

    def __init__(self, start: int = 0) -> None:
        self._last_begun = start
        self._in_flight: deque[int] = deque()  # begun and not yet known done, in begin order
        self._done: set[int] = set()  # done, but behind an earlier one still in flight

    @property
    def safe(self) -> int:
        """Every tracked dispatch with ``s <= safe`` is done."""
        return self._in_flight[0] - 1 if self._in_flight else self._last_begun

    @property
    def in_flight(self) -> int:
        return len(self._in_flight) - len(self._done)

    def begin(self, seq: int) -> None:
        if seq <= self._last_begun:
            raise ValueError(f"sequence {seq} began after {self._last_begun}; the gateway orders them")
        self._last_begun = seq
        self._in_flight.append(seq)

    def done(self, seq: int) -> None:
        if seq in self._done or seq not in self._in_flight:
            raise ValueError(f"sequence {seq} is not in flight")
        self._done.add(seq)
        while self._in_flight and self._in_flight[0] in self._done:
            self._done.remove(self._in_flight.popleft())
