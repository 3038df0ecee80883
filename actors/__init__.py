"""A small actor runtime on trio: mailboxes, supervision, keyed registries, token buckets, thread pools.

Nothing here knows about Discord; welcomebot composes these pieces.
"""

__all__: list[str] = []
