"""A small actor runtime on trio: backoff, rate windows, and (growing) mailboxes and supervision.

Nothing here knows about Discord; welcomebot composes these pieces.
"""

from actors._backoff import ExponentialBackoff
from actors._window import FixedWindow

__all__ = ["ExponentialBackoff", "FixedWindow"]
