"""A small actor runtime on trio: a keyed registry of supervised workers with bounded mailboxes, a
supervisor, backoff, a rate window and a bounded thread pool. Everything runs in nurseries owned by the
caller; no global state.

Nothing here knows about Discord; welcomebot composes these pieces.
"""

from actors._backoff import ExponentialBackoff
from actors._errors import ActorError, KeyParked, SupervisorEscalation
from actors._pool import Priority, ThreadPoolActor
from actors._registry import KeyedRegistry
from actors._supervisor import ChildSpec, Restart, Supervisor
from actors._window import FixedWindow

__all__ = [
    "ActorError",
    "ChildSpec",
    "ExponentialBackoff",
    "FixedWindow",
    "KeyParked",
    "KeyedRegistry",
    "Priority",
    "Restart",
    "Supervisor",
    "SupervisorEscalation",
    "ThreadPoolActor",
]
