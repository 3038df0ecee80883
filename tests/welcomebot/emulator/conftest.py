"""Fixtures: a running emulator, and an HTTP client that checks every REST exchange against the spec."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
import trio

from welcomebot.emulator.openapi import SpecValidator
from welcomebot.emulator.testing import RunningEmulator, running_emulator


@pytest.fixture
def spec() -> SpecValidator:
    return SpecValidator.load()


@pytest.fixture
async def emu() -> AsyncIterator[RunningEmulator]:
    with trio.fail_after(30):
        async with running_emulator(guilds=2, members=3, heartbeat_interval_ms=1000) as running:
            yield running


@pytest.fixture
def interactions_sent(emu: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every INTERACTION_CREATE payload the emulator's gateway dispatches from now on, in order."""
    seen: list[dict[str, Any]] = []
    gateway = emu.emulator.gateway
    original = gateway.dispatch

    def spy(name: str, data: dict[str, Any], **kw: Any) -> None:
        if name == "INTERACTION_CREATE":
            seen.append(data)
        original(name, data, **kw)

    monkeypatch.setattr(gateway, "dispatch", spy)
    return seen


class CheckedApi:
    """A plain httpx client on the emulator's REST base that validates each exchange against the spec."""

    def __init__(self, emu: RunningEmulator, spec: SpecValidator, *, auth: bool = True) -> None:
        headers = {"Authorization": f"Bot {emu.info.token}"} if auth else {}
        self.spec = spec
        self.checked = 0
        self.http = httpx.AsyncClient(
            base_url=emu.info.api_base, headers=headers, event_hooks={"response": [self._check]}, timeout=30
        )

    async def _check(self, response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        path = request.url.path
        ctype = request.headers.get("content-type", "")
        if 200 <= response.status_code < 300 and ctype.startswith("application/json") and request.content:
            self.spec.validate_request(request.method, path, msgspec.json.decode(request.content), ctype)
        if response.status_code >= 500:
            return  # Discord's 5xx (injected faults) are outside the documented API
        is_json = response.headers.get("content-type", "").startswith("application/json")
        if is_json or not response.content:
            body: Any = msgspec.json.decode(response.content) if response.content else None
            self.spec.validate_response(request.method, path, response.status_code, body)
            self.checked += 1


@pytest.fixture
async def api(emu: RunningEmulator, spec: SpecValidator) -> AsyncIterator[CheckedApi]:
    checked = CheckedApi(emu, spec)
    yield checked
    await checked.http.aclose()
