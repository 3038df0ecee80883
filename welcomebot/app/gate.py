"""Who is not welcomed: accounts younger than a guild's minimum, members rejoining inside its window.

Sans-IO: times are epoch seconds passed in. An account's creation time is in its id (a snowflake's top bits
are milliseconds since Discord's epoch, 2015-01-01), so no request is needed to know it.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["DISCORD_EPOCH_S", "account_age_text", "account_created_s", "joined_s", "too_young", "within_rejoin_window"]

DISCORD_EPOCH_S = 1_420_070_400.0


def account_created_s(user_id: int) -> float:
    return ((user_id >> 22) / 1000) + DISCORD_EPOCH_S


def too_young(user_id: int, now_s: float, min_age_hours: float) -> bool:
    return min_age_hours > 0 and now_s - account_created_s(user_id) < min_age_hours * 3600


def joined_s(joined_at: str) -> float | None:
    """A member's ``joined_at`` (ISO 8601) as epoch seconds; None when it does not parse."""
    try:
        return datetime.fromisoformat(joined_at).timestamp()
    except ValueError:
        return None


def within_rejoin_window(previous_joined_at: str | None, joined_at: str, window_hours: float) -> bool:
    """True when a member welcomed for ``previous_joined_at`` joins again (``joined_at``) inside the window."""
    if window_hours <= 0 or previous_joined_at is None or previous_joined_at == joined_at:
        return False
    before, now = joined_s(previous_joined_at), joined_s(joined_at)
    return before is not None and now is not None and 0 <= now - before < window_hours * 3600


def account_age_text(user_id: int, now_s: float) -> str:
    """How old an account is, in its largest whole unit: "3 days", "1 year", "5 minutes"."""
    seconds = max(0.0, now_s - account_created_s(user_id))
    for unit, size in (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
    return "less than a minute"
