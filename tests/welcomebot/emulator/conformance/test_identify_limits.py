"""Identify limits (events/gateway.mdx, "Identifying", "Rate Limiting", "Sharding", "Session Start Limit
Object") and the control API that sets them (#23.6)."""

from typing import Any

import trio

from welcomebot.emulator.testing import RunningEmulator

from .conftest import gateway_client, identify_payload, recv, send


async def _identify_all(emu: RunningEmulator, shards: int) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = []
    async with trio.open_nursery() as nursery:
        for shard in range(shards):

            async def one(shard: int = shard) -> None:
                async with gateway_client(emu.info.gateway_url) as ws:
                    await recv(ws)  # HELLO
                    await send(ws, 2, identify_payload(emu.info.token, intents=1, shard=[shard, shards]))
                    answers.append(await recv(ws))

            nursery.start_soon(one)
    return answers


async def test_simultaneous_identifies_beyond_max_concurrency_get_invalid_session(emu, api):
    """ "If your app exceeds this limit, Discord will respond with a Invalid Session (opcode 9)": with
    ``max_concurrency`` 1, of three IDENTIFYs at once one gets READY; ``session_start_limit.remaining`` drops
    by the session started; /_control/stats counts the refusals as ``gateway.identify_refused``."""
    before = (await api.http.get("/gateway/bot")).json()["session_start_limit"]
    assert before["max_concurrency"] == 1
    answers = await _identify_all(emu, 3)
    assert sorted((a["op"], a.get("t")) for a in answers) == [(0, "READY"), (9, None), (9, None)]
    assert all(a["d"] is False for a in answers if a["op"] == 9)
    after = (await api.http.get("/gateway/bot")).json()["session_start_limit"]
    assert after["remaining"] == before["remaining"] - 1
    gateway = (await emu.control.stats())["gateway"]
    assert (gateway["identifies"], gateway["identify_refused"]) == (1, 2)


async def test_max_concurrency_lets_one_identify_per_rate_limit_key(emu, api):
    """ "Sharding for Large Bots": ``rate_limit_key = shard_id % max_concurrency``; with max_concurrency 3 the
    three shards have three keys and start together. PATCH /_control/application sets ``shards`` (the
    recommended count of Get Gateway Bot) and ``max_concurrency``."""
    await emu.control.application(shards=3, max_concurrency=3)
    got = (await api.http.get("/gateway/bot")).json()
    assert (got["shards"], got["session_start_limit"]["max_concurrency"]) == (3, 3)
    answers = await _identify_all(emu, 3)
    assert [a.get("t") for a in answers] == ["READY"] * 3
    assert (await emu.control.stats())["gateway"]["identify_refused"] == 0


async def test_no_session_starts_left_is_refused(emu):
    """ "Session Start Limit Object": ``remaining`` session starts; at 0 an IDENTIFY starts no session."""
    await emu.control.application(identify_remaining=0)
    [answer] = await _identify_all(emu, 1)
    assert (answer["op"], answer["d"]) == (9, False)
