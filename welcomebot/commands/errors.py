"""Errors of the admin slash commands, under :class:`welcomebot.errors.WelcomeBotError`::

    CommandError            an invocation cannot be carried out; the message is the admin's answer
    ├── NotAllowed          a DM, or an invoker without Manage Server
    └── InvalidOption       an option value we refuse (a template, a URL, an image), saying what to change

Handlers translate the errors of the layers they call (REST, store, images, assets) into these with
``raise ... from exc``; the dispatcher answers every one of them ephemerally.
"""

from __future__ import annotations

from welcomebot.errors import WelcomeBotError

__all__ = ["CommandError", "InvalidOption", "NotAllowed"]


class CommandError(WelcomeBotError):
    """The command failed; ``str(exc)`` is shown to the admin as is."""


class NotAllowed(CommandError):
    """The invoker may not use this command here."""


class InvalidOption(CommandError):
    """An option's value is refused; the message says which and what to do instead."""
