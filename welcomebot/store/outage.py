"""Waiting out a database outage: the running bot's calls retry instead of failing, and say so.

``welcomebot run`` hands one :class:`Outage` to the store. A call that finds the database unreachable
(:class:`StoreUnavailable` that is not a configuration error) waits with capped, jittered backoff and runs
again, indefinitely: every store statement is safe to run twice (see the backends), so a welcome simply waits
claimed or unclaimed until the database is back. Meanwhile :attr:`Outage.reason` feeds ``/readyz`` and one
warning is logged when the outage starts and then every :data:`LOG_EVERY_S` seconds; the end is logged too.
One-shot commands (``backup``, ``migrate``...) use no Outage, so they fail at once with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

from actors import ExponentialBackoff
from welcomebot.errors import ConfigError
from welcomebot.store.errors import StoreUnavailable

__all__ = ["LOG_EVERY_S", "RETRY_CAP_S", "Outage"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The longest wait between two attempts of one call.
RETRY_CAP_S = 10.0
#: How often a continuing outage is logged again.
LOG_EVERY_S = 30.0


class Outage:
    def __init__(self) -> None:
        #: Why the database is unreachable now (the last error), or None while it answers.
        self.reason: str | None = None
        self.down_since: float | None = None
        self.outages = 0
        self._logged_at = -float("inf")

    async def retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, run again after each :class:`StoreUnavailable` until it answers (configuration errors pass)."""
        backoff = ExponentialBackoff(base=0.25, cap=RETRY_CAP_S)
        while True:
            try:
                result = await call()
            except StoreUnavailable as exc:
                if isinstance(exc, ConfigError):
                    raise
                self._failed(exc)
                await trio.sleep(next(backoff))
                continue
            self._answered()
            return result

    def _failed(self, exc: StoreUnavailable) -> None:
        now = trio.current_time()
        if self.down_since is None:
            self.down_since = now
            self.outages += 1
        self.reason = str(exc)
        if now - self._logged_at >= LOG_EVERY_S:
            self._logged_at = now
            log.warning(
                "the database is unreachable; welcomes wait and every call retries until it is back",
                extra={"error": self.reason, "down_s": round(now - self.down_since, 1)},
            )

    def _answered(self) -> None:
        if self.down_since is None:
            return
        log.info("the database answers again", extra={"down_s": round(trio.current_time() - self.down_since, 1)})
        self.reason = None
        self.down_since = None
        self._logged_at = -float("inf")
