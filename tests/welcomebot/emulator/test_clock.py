"""``POST /_control/clock``: the emulator's time moves forward, and everything time-based moves with it."""

from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from welcomebot.emulator.clock import AdvanceableClock
from welcomebot.emulator.rest import NONCE_WINDOW_S
from welcomebot.emulator.testing import RunningEmulator, running_emulator
from welcomebot.emulator.world import snowflake_time_ms


@pytest.fixture
def advanceable() -> AdvanceableClock:
    return AdvanceableClock()  # pytest-trio runs a test on the Clock among its arguments


@pytest.fixture
async def emu(advanceable: AdvanceableClock) -> AsyncIterator[RunningEmulator]:
    # No fail_after here: advancing the clock would trip it.
    async with running_emulator(guilds=1, members=1) as running:
        yield running


async def test_advancing_moves_the_nonce_window_timestamps_and_snowflakes(advanceable, emu, api):
    channel = (await emu.control.guilds())[0]["channels"][0]["id"]
    body = {"content": "hello", "nonce": "same", "enforce_nonce": True}
    first = (await api.http.post(f"/channels/{channel}/messages", json=body)).json()
    await emu.control.advance_clock(NONCE_WINDOW_S - 1)
    again = (await api.http.post(f"/channels/{channel}/messages", json=body)).json()
    assert again["id"] == first["id"], "still inside the window: the first message comes back"
    await emu.control.advance_clock(2)
    later = (await api.http.post(f"/channels/{channel}/messages", json=body)).json()
    assert later["id"] != first["id"], "past the window the nonce is forgotten, as Discord forgets it"
    assert len(await emu.control.messages(channel)) == 2
    gap_ms = snowflake_time_ms(int(later["id"])) - snowflake_time_ms(int(first["id"]))
    assert gap_ms >= (NONCE_WINDOW_S + 1) * 1000
    stamps = [datetime.fromisoformat(m["timestamp"]) for m in (first, later)]
    assert (stamps[1] - stamps[0]).total_seconds() >= NONCE_WINDOW_S + 1


async def test_advancing_backwards_is_refused(advanceable, emu):
    with pytest.raises(RuntimeError, match=r"400.*only moves forward"):
        await emu.control.advance_clock(-1)
