"""A transport that checks every request the client sends (and every answer) against Discord's spec."""

import re
from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest

from welcomebot.emulator.multipart import parse_multipart
from welcomebot.emulator.openapi import SpecValidator
from welcomebot.emulator.testing import RunningEmulator, running_emulator
from welcomebot.rest.api import DiscordApi
from welcomebot.rest.client import RestClient
from welcomebot.secret import Secret


class SpecCheckingTransport(httpx.AsyncBaseTransport):
    def __init__(self, spec: SpecValidator) -> None:
        self.spec = spec
        self.inner = httpx.AsyncHTTPTransport()
        self.checked: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        ctype = request.headers.get("content-type", "")
        path = re.sub(r"^/api/v10", "", request.url.path)
        payload = None
        if ctype.startswith("multipart/"):
            parts = {p.name: p for p in parse_multipart(body, ctype)}
            payload = msgspec.json.decode(parts["payload_json"].data)
        elif body:
            payload = msgspec.json.decode(body)
        self.spec.validate_request(request.method, path, payload, ctype or "application/json")
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        if response.status_code < 500 and response.headers.get("content-type", "").startswith("application/json"):
            self.spec.validate_response(request.method, path, response.status_code, msgspec.json.decode(content))
        self.checked.append(f"{request.method} {path}")
        return httpx.Response(response.status_code, headers=response.headers, content=content)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
async def emu() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(guilds=2, members=2) as running:
        yield running


@pytest.fixture
async def api(emu: RunningEmulator) -> AsyncIterator[DiscordApi]:
    transport = SpecCheckingTransport(SpecValidator.load())
    client = RestClient(Secret(emu.info.token), api_base=emu.info.api_base, transport=transport)
    yield DiscordApi(client)
    await client.aclose()
