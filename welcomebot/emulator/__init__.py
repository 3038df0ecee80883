"""A local Discord: gateway, REST, CDN and a control API, faithful to Discord's documentation.

Tests, the sandbox and the benchmarks run the real bot against it over real sockets. When in doubt it
follows ``../shared/discord`` (the OpenAPI spec and docs pages) and is strict: what Discord would reject,
it rejects.
"""

from welcomebot.emulator.app import Emulator, EmulatorConfig, EmulatorInfo, serve_emulator
from welcomebot.emulator.clock import AdvanceableClock, FixedClock, advance
from welcomebot.emulator.testing import ControlClient, RunningEmulator, running_emulator
from welcomebot.emulator.world import DISCORD_EPOCH_MS, Attachment, Channel, Guild, Member, Message, Role, User, World

__all__ = [
    "DISCORD_EPOCH_MS",
    "AdvanceableClock",
    "Attachment",
    "Channel",
    "ControlClient",
    "Emulator",
    "EmulatorConfig",
    "EmulatorInfo",
    "FixedClock",
    "Guild",
    "Member",
    "Message",
    "Role",
    "RunningEmulator",
    "User",
    "World",
    "advance",
    "running_emulator",
    "serve_emulator",
]
