"""The emulator checks its own REST answers against Discord's OpenAPI spec in tests (#23, "What to build")."""

from typing import Any

import httpx
import pytest
import trio

from welcomebot.emulator.testing import running_emulator


async def _no_id(request: Any, params: Any) -> tuple[int, Any]:
    return 200, {"username": "no id"}


async def test_an_answer_outside_the_spec_is_logged_and_fails_the_test(caplog):
    """api-spec/openapi.json, GET /users/@me → 200 User: an answer without ``id`` is an emulator bug; it is
    counted in /_control/stats and the ``running_emulator`` block fails at its end."""
    seen: dict[str, Any] = {}

    async def run() -> None:
        async with running_emulator(guilds=1, members=1) as emu:
            for route in emu.emulator.rest.routes:
                if route.template == "/users/@me":
                    route.handler = _no_id
            headers = {"Authorization": f"Bot {emu.info.token}"}
            async with httpx.AsyncClient(base_url=emu.info.api_base, headers=headers) as http:
                seen["status"] = (await http.get("/users/@me")).status_code
            seen["stats"] = await emu.control.stats()

    with trio.fail_after(30), pytest.raises(AssertionError, match="outside Discord's spec"):
        await run()
    assert seen["status"] == 200
    assert seen["stats"]["spec_violations"]
    assert "EMULATOR BUG" in caplog.text
