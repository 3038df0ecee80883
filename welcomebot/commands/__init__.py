"""Admin slash commands: definitions, registration, and answering INTERACTION_CREATE.

::

    INTERACTION_CREATE ──▶ Dispatcher.submit ──task──▶ authorize ──▶ handler(ctx, invocation) ──▶ Responder
                                                        (Manage Server)      store / render pool / REST     (ephemeral)
"""

from __future__ import annotations

from welcomebot.commands.context import CommandContext
from welcomebot.commands.definitions import COMMANDS, definitions_hash, definitions_payload
from welcomebot.commands.dispatch import Dispatcher
from welcomebot.commands.errors import CommandError, InvalidOption, NotAllowed
from welcomebot.commands.sync import sync_commands

__all__ = [
    "COMMANDS",
    "CommandContext",
    "CommandError",
    "Dispatcher",
    "InvalidOption",
    "NotAllowed",
    "definitions_hash",
    "definitions_payload",
    "sync_commands",
]
