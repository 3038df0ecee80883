"""A small actor runtime on trio: actors with bounded mailboxes, a supervisor, a keyed registry, rate
accounting and a bounded thread pool. Everything runs in nurseries owned by the caller; no global state.

Nothing here knows about Discord; welcomebot composes these pieces.
"""

from actors._actor import Actor
from actors._backoff import ExponentialBackoff
from actors._bucket import RateLimit, SlidingWindow, TokenBucket, take
from actors._errors import (
    ActorDead,
    ActorError,
    MailboxFull,
    PoolBusy,
    RegistryFull,
    SupervisorEscalation,
)
from actors._pool import Priority, ThreadPoolActor
from actors._registry import KeyedRegistry
from actors._supervisor import ChildSpec, Restart, Supervisor
from actors._window import FixedWindow

__all__ = [
    "Actor",
    "ActorDead",
    "ActorError",
    "ChildSpec",
    "ExponentialBackoff",
    "FixedWindow",
    "KeyedRegistry",
    "MailboxFull",
    "PoolBusy",
    "Priority",
    "RateLimit",
    "RegistryFull",
    "Restart",
    "SlidingWindow",
    "Supervisor",
    "SupervisorEscalation",
    "ThreadPoolActor",
    "TokenBucket",
    "take",
]
