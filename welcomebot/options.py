"""Sections of a guild's free-form options (``GuildConfig.options``): the card design, the welcome behaviours.

Each section is validated when an admin saves it. One read back that no longer decodes (saved by an older
version) gives the section's defaults and a warning in the log, so a stale value never stops a welcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import msgspec

__all__ = ["stored_section", "with_section"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def stored_section(
    options: Mapping[str, Any],
    key: str,
    decode: Callable[[Any], T],
    default: Callable[[], T],
    error: type[Exception],
    *,
    what: str,
    guild_id: int | None = None,
) -> T:
    """``decode(options[key])``, or ``default()`` (logged, naming ``what``) when the stored value raises ``error``."""
    try:
        return decode(options.get(key))
    except error as exc:
        log.warning(f"stored {what} is invalid; using the defaults", extra={"guild_id": guild_id, "error": str(exc)})
        return default()


def with_section(options: Mapping[str, Any], key: str, value: msgspec.Struct) -> dict[str, Any]:
    """``options`` with the section ``key`` replaced by ``value`` (the other sections are kept)."""
    return {**options, key: msgspec.to_builtins(value)}
