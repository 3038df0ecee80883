"""The root of every error welcomebot raises on purpose.

Each layer has one hierarchy under :class:`WelcomeBotError`, and translates the errors of the
libraries below it at its boundary (``raise X from exc``), so callers catch by meaning::

    WelcomeBotError
    ├── ConfigError            bad settings: the process exits with code 2, one line, no traceback
    │   └── SettingsError      an environment variable has a value we cannot use
    ├── FatalError             Discord refused us for good (bad token, intents): exit code 2
    ├── GatewayError           welcomebot.gateway
    ├── RestError              welcomebot.rest
    ├── StoreError             welcomebot.store
    └── RenderError            welcomebot.render

A message says what went wrong and what to do about it; it never contains the bot token.
"""

from __future__ import annotations

__all__ = ["ConfigError", "FatalError", "SettingsError", "WelcomeBotError", "first_leaf"]


class WelcomeBotError(Exception):
    """Base class of welcomebot's own errors."""


class ConfigError(WelcomeBotError):
    """The operator's configuration cannot work; the CLI prints the message and exits with code 2."""


class SettingsError(ConfigError):
    """An environment variable is set to a value welcomebot cannot use."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class FatalError(WelcomeBotError):
    """Discord refuses this bot until the operator changes something (exit code 2)."""


def first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first exception inside a (nested) exception group: the one to report when a nursery fails."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
