"""Errors raised by the actor runtime. Plain exceptions: the runtime knows nothing about welcomebot."""

from __future__ import annotations

__all__ = ["ActorError", "KeyParked", "SupervisorEscalation"]


class ActorError(Exception):
    """Root of the runtime's errors."""


class KeyParked(ActorError):
    """The key's worker kept crashing and is parked: nothing is queued for it until it is unparked."""


class SupervisorEscalation(ActorError):
    """A child crashed more than ``max_restarts`` times within ``window`` seconds; the parent decides."""
