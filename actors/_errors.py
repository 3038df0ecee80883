"""Errors raised by the actor runtime. Plain exceptions: the runtime knows nothing about welcomebot."""

from __future__ import annotations

__all__ = ["ActorDead", "ActorError", "MailboxFull", "PoolBusy", "RegistryFull", "SupervisorEscalation"]


class ActorError(Exception):
    """Root of the runtime's errors."""


class ActorDead(ActorError):
    """The actor stopped or crashed before it answered; send again to a fresh actor if it matters."""


class MailboxFull(ActorError):
    """``tell_nowait`` found the mailbox full; use ``await tell`` to wait for room instead."""


class PoolBusy(ActorError):
    """``try_run`` found the thread pool's waiting queue full; retry later or use ``await run``."""


class RegistryFull(ActorError):
    """Every actor in a full registry is busy, so none could be evicted; raise ``max_actors`` or retry."""


class SupervisorEscalation(ActorError):
    """A child crashed more than ``max_restarts`` times within ``window`` seconds; the parent decides."""
