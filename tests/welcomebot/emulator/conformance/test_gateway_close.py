"""A client may close its connection at any moment; the gateway carries on serving everyone else (#23.12)."""

import pytest
import trio

from welcomebot.emulator.clock import AdvanceableClock
from welcomebot.emulator.gateway import IDENTIFY_WINDOW_S
from welcomebot.emulator.testing import running_emulator

from .conftest import gateway_client, identify_payload, recv, send


@pytest.fixture
def advanceable() -> AdvanceableClock:
    return AdvanceableClock()  # pytest-trio runs a test on the Clock among its arguments


async def test_client_closing_during_guild_creates_leaves_the_emulator_up(advanceable):
    """events/gateway.mdx, "Connection Lifecycle" and "Disconnecting": a client may close the connection
    whenever it likes (here right after READY, while GUILD_CREATEs are still being written); only that
    connection ends. It used to kill the whole emulator with BrokenResourceError from the session pump."""
    # The limit is generous: each cycle moves the clock past the 5 s identify window.
    with trio.fail_after(IDENTIFY_WINDOW_S * 8 + 120):
        async with running_emulator(guilds=300, members=1, heartbeat_interval_ms=10_000_000) as emu:
            for _ in range(8):
                async with gateway_client(emu.info.gateway_url) as ws:
                    await recv(ws)  # HELLO
                    await send(ws, 2, identify_payload(emu.info.token, intents=1))
                    assert (await recv(ws))["t"] == "READY"
                await emu.control.advance_clock(IDENTIFY_WINDOW_S)  # the next IDENTIFY of shard 0 may start
            async with gateway_client(emu.info.gateway_url) as ws:
                assert (await recv(ws))["op"] == 10
            assert (await emu.control.stats())["gateway"]["identifies"] == 8
