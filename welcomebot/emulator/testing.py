"""Run the emulator inside a test (or the sandbox) and drive it through its control API."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import trio

from welcomebot.emulator.app import Emulator, EmulatorConfig, EmulatorInfo

__all__ = ["ControlClient", "RunningEmulator", "running_emulator"]


class ControlClient:
    """A thin typed wrapper over ``/_control`` (plain HTTP: the bot's own classes are not used)."""

    def __init__(self, control_base: str) -> None:
        self._http = httpx.AsyncClient(base_url=control_base, timeout=30)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = await self._http.request(method, path, json=json)
        if response.status_code >= 400:
            raise RuntimeError(f"control {method} {path}: {response.status_code} {response.text}")
        return response.json()

    async def guilds(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("GET", "/guilds")
        return result

    async def create_guild(self, name: str = "New Server", *, channels: int = 2, members: int = 0) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "POST", "/guilds", {"name": name, "channels": channels, "members": members}
        )
        return result

    async def update_guild(self, guild_id: int | str, **fields: Any) -> dict[str, Any]:
        """Change the server's name, icon or system channel; the bot gets GUILD_UPDATE."""
        result: dict[str, Any] = await self._call("PATCH", f"/guilds/{guild_id}", fields)
        return result

    async def delete_role(self, guild_id: int | str, role_id: int | str) -> None:
        await self._call("DELETE", f"/guilds/{guild_id}/roles/{role_id}")

    async def remove_bot(self, guild_id: int | str) -> None:
        """The bot is removed from the guild: GUILD_DELETE without ``unavailable``."""
        await self._call("DELETE", f"/guilds/{guild_id}/bot")

    async def outage(self, guild_id: int | str, *, on: bool = True) -> None:
        """A Discord outage of the guild: GUILD_DELETE with ``unavailable: true``; ``on=False``: GUILD_CREATE."""
        await self._call("POST", f"/guilds/{guild_id}/outage", {"on": on})

    async def add_bot(self, guild_id: int | str) -> None:
        """The bot is added back to a guild it was removed from: GUILD_CREATE."""
        await self._call("POST", f"/guilds/{guild_id}/bot")

    async def join(self, guild_id: int | str, **member: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", f"/guilds/{guild_id}/members", member)
        return result

    async def update_member(self, guild_id: int | str, user_id: int | str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("PATCH", f"/guilds/{guild_id}/members/{user_id}", fields)
        return result

    async def leave(self, guild_id: int | str, user_id: int | str) -> None:
        await self._call("DELETE", f"/guilds/{guild_id}/members/{user_id}")

    async def member(self, guild_id: int | str, user_id: int | str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", f"/guilds/{guild_id}/members/{user_id}")
        return result

    async def wait_member_roles(self, guild_id: int | str, user_id: int | str, count: int,
                                wait_s: float = 60) -> dict[str, Any]:  # fmt: skip
        """The member once they hold ``count`` roles (or after ``wait_s``)."""
        params = {"wait_for_roles": count, "wait_s": wait_s}
        response = await self._http.get(f"/guilds/{guild_id}/members/{user_id}", params=params, timeout=wait_s + 10)
        result: dict[str, Any] = response.json()
        return result

    async def create_role(self, guild_id: int | str, name: str, *, position: int, permissions: int = 0) -> str:
        """A new role at ``position`` (the bot's own role sits at 1); returns its id."""
        body = {"name": name, "position": position, "permissions": permissions}
        result: dict[str, Any] = await self._call("POST", f"/guilds/{guild_id}/roles", body)
        return str(result["id"])

    async def update_role(self, guild_id: int | str, role_id: int | str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("PATCH", f"/guilds/{guild_id}/roles/{role_id}", fields)
        return result

    async def dms(self, user_id: int | str) -> list[dict[str, Any]]:
        """The messages the bot sent ``user_id`` in DMs."""
        result: list[dict[str, Any]] = await self._call("GET", f"/users/{user_id}/dms")
        return result

    async def messages(self, channel_id: int | str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("GET", f"/channels/{channel_id}/messages")
        return result

    async def wait_for_mentions(self, channel_id: int | str, count: int, wait_s: float = 60) -> list[dict[str, Any]]:
        """The channel's messages once they mention ``count`` users (the emulator waits on an event)."""
        response = await self._http.get(
            f"/channels/{channel_id}/messages",
            params={"wait_for_mentions": count, "wait_s": wait_s},
            timeout=wait_s + 10,
        )
        result: list[dict[str, Any]] = response.json()
        return result

    async def wait_for_count(self, channel_id: int | str, count: int, wait_s: float = 60) -> list[dict[str, Any]]:
        """The channel's messages once it holds exactly ``count`` (after posts or deletions)."""
        response = await self._http.get(
            f"/channels/{channel_id}/messages", params={"wait_for_count": count, "wait_s": wait_s}, timeout=wait_s + 10
        )
        result: list[dict[str, Any]] = response.json()
        return result

    async def delete_channel(self, channel_id: int | str) -> None:
        await self._call("DELETE", f"/channels/{channel_id}")

    async def deny_bot(self, channel_id: int | str, deny: int) -> None:
        await self._call("PUT", f"/channels/{channel_id}/overwrites", {"target": "bot", "deny": deny})

    async def interaction(self, *, guild_id: int | str | None, channel_id: int | str, user_id: int | str,
                          name: str, permissions: int = 0, options: list[dict[str, Any]] | None = None,
                          attachment: tuple[str, str, bytes] | None = None,
                          attachment_option: str = "image") -> dict[str, Any]:  # fmt: skip
        body: dict[str, Any] = {"guild_id": guild_id, "channel_id": channel_id, "user_id": user_id,
                                "name": name, "permissions": permissions, "options": options or []}  # fmt: skip
        if attachment is not None:
            filename, content_type, data = attachment
            body["attachment"] = {"filename": filename, "content_type": content_type, "option": attachment_option,
                                  "data_b64": base64.b64encode(data).decode()}  # fmt: skip
        result: dict[str, Any] = await self._call("POST", "/interactions", body)
        return result

    async def interaction_record(self, interaction_id: int | str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", f"/interactions/{interaction_id}")
        return result

    async def wait_answered(self, interaction_id: int | str, wait_s: float = 30) -> dict[str, Any]:
        """The interaction's record once it has its final response (or after ``wait_s``; check ``answered``)."""
        response = await self._http.get(
            f"/interactions/{interaction_id}", params={"wait": "answered", "wait_s": wait_s}, timeout=wait_s + 10
        )
        result: dict[str, Any] = response.json()
        return result

    async def sessions(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("GET", "/gateway/sessions")
        return result

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/stats")
        return result

    async def fault(self, target: str, **fields: Any) -> None:
        await self._call("POST", "/faults", {"target": target, **fields})

    async def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward (nonce window, rate limits, timestamps: see ``control.py``)."""
        await self._call("POST", "/clock", {"advance_s": seconds})

    async def limits(self, **fields: Any) -> None:
        await self._call("POST", "/limits", fields)

    async def application(self, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("PATCH", "/application", fields)
        return result


class RunningEmulator:
    def __init__(self, emulator: Emulator, info: EmulatorInfo, control: ControlClient) -> None:
        self.emulator = emulator
        self.info = info
        self.control = control

    async def register_commands(self, *names: str) -> list[dict[str, Any]]:
        """Register slash commands as a bot would (the control API only invokes registered commands)."""
        commands = [{"name": n, "description": f"{n} command", "type": 1} for n in names]
        async with httpx.AsyncClient(base_url=self.info.api_base, timeout=30) as http:
            response = await http.put(f"/applications/{self.info.application_id}/commands", json=commands,
                                      headers={"Authorization": f"Bot {self.info.token}"})  # fmt: skip
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result


@asynccontextmanager
async def running_emulator(config: EmulatorConfig | None = None, **overrides: Any) -> AsyncIterator[RunningEmulator]:
    """Start an emulator on 127.0.0.1 (free ports) for the duration of the block.

    Every REST answer is checked against Discord's OpenAPI spec and every gateway payload against the docs'
    schemas; a mismatch is an emulator bug, logged when it happens and failing the block at its end
    (``validate_responses=False`` to opt out)."""
    cfg = replace(config or EmulatorConfig(validate_responses=True), **overrides)
    emulator = Emulator(cfg)
    async with trio.open_nursery() as nursery:
        info = await nursery.start(emulator.serve)
        control = ControlClient(info.control_base)
        try:
            yield RunningEmulator(emulator, info, control)
        finally:
            await control.aclose()
            nursery.cancel_scope.cancel()
    violations = emulator.rest.spec_violations + emulator.gateway.spec_violations
    if violations:
        raise AssertionError(f"the emulator answered outside Discord's spec: {violations[:3]}")
