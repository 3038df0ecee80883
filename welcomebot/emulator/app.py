"""The whole emulator in one nursery: HTTP (REST under /api/v10, CDN under /cdn, control under /_control)
and the gateway on its own port."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Any

import msgspec
import trio

from welcomebot.emulator.cdn import Cdn
from welcomebot.emulator.control import Control
from welcomebot.emulator.gateway import DIRECT_MESSAGES, GUILD_MEMBERS, GUILD_MESSAGES, GatewayServer
from welcomebot.emulator.gateway_schemas import GatewayValidator
from welcomebot.emulator.openapi import SpecValidator
from welcomebot.emulator.ratelimits import RateLimiter
from welcomebot.emulator.rest import RestApi
from welcomebot.emulator.world import Message, World
from welcomebot.httpserver import Request, Response, serve_http

__all__ = ["Emulator", "EmulatorConfig", "EmulatorInfo", "serve_emulator"]


@dataclass(frozen=True)
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    gateway_port: int = 0
    guilds: int = 1
    members: int = 5
    seed: int = 0
    heartbeat_interval_ms: int = 41250
    resume_window_s: float = 300.0
    members_intent_enabled: bool = True
    global_per_second: int = 50
    invalid_ban_threshold: int = 10_000
    #: The world's clock at start (epoch ms); None: the real clock, as Discord's. A fixed value only makes a
    #: run's snowflakes and timestamps reproducible; rate-limit reset headers stay in real epoch seconds.
    start_ms: int | None = None
    #: Check every REST answer against Discord's OpenAPI spec and every gateway payload against the docs'
    #: schemas (``gateway-schemas.json``); on in tests: see ``testing.running_emulator``.
    validate_responses: bool = False


class EmulatorInfo(msgspec.Struct, frozen=True):
    api_base: str
    gateway_url: str
    cdn_base: str
    control_base: str
    token: str
    application_id: str


class Emulator:
    """The composed emulator; its parts stay reachable for in-process tests."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.world = World(
            seed=config.seed, members_intent_enabled=config.members_intent_enabled, start_ms=config.start_ms
        )
        self.world.clock_origin = trio.current_time()  # so the world's "now" is start_ms plus time since
        self.world.seed_world(config.guilds, config.members)
        self.gateway = GatewayServer(
            self.world,
            heartbeat_interval_ms=config.heartbeat_interval_ms,
            resume_window_s=config.resume_window_s,
            seed=config.seed,
        )
        if config.validate_responses:
            self.gateway.validator = GatewayValidator.load()
        self.limiter = RateLimiter(
            global_per_second=config.global_per_second,
            invalid_ban_threshold=config.invalid_ban_threshold,
        )
        self.cdn = Cdn(self.world)
        self.rest = self._wired(RestApi(self.world, self.limiter, cdn_base="", gateway_url=lambda: self.gateway.url))
        self.control = Control(self.world, self.rest, self.gateway, self.cdn, {})
        self.info: EmulatorInfo | None = None

    def _wired(self, rest: RestApi) -> RestApi:
        """REST changes that Discord announces on the gateway: a member's roles, the bot's own messages."""
        if self.config.validate_responses:
            rest.validator = SpecValidator.load()
        rest.on_member_update = lambda guild, member: self.gateway.dispatch(
            "GUILD_MEMBER_UPDATE", {**member.to_json(), "guild_id": str(guild.id)}, guild_id=guild.id,
            intent=GUILD_MEMBERS,
        )  # fmt: skip
        rest.on_message_create = self._message_created
        return rest

    def _message_created(self, message: Message, data: dict[str, Any]) -> None:
        """MESSAGE_CREATE (events/gateway-events.mdx): GUILD_MESSAGES in a guild, DIRECT_MESSAGES in a DM, with
        the author's partial member in a guild; the bot's own messages keep their content without
        MESSAGE_CONTENT (events/gateway.mdx, Message Content Intent)."""
        channel = self.world.channels.get(message.channel_id)
        if channel is None:
            return
        event = dict(data)
        if channel.recipient is None:
            guild = self.world.guilds[channel.guild_id]
            event["guild_id"] = str(guild.id)
            member = guild.members.get(message.author.id)
            if member is not None:
                event["member"] = {k: v for k, v in member.to_json().items() if k != "user"}
            self.gateway.dispatch("MESSAGE_CREATE", event, guild_id=guild.id, intent=GUILD_MESSAGES)
        else:
            self.gateway.dispatch("MESSAGE_CREATE", event, guild_id=None, intent=DIRECT_MESSAGES)

    async def _route(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/api/v10/"):
            return await self.rest.handle(request, path[len("/api/v10") :])
        if path.startswith("/cdn/"):
            return await self.cdn.handle(request, path[len("/cdn") :])
        if path.startswith("/_control/"):
            return await self.control.handle(request, path[len("/_control") :])
        return Response(404, b'{"message": "404: Not Found", "code": 0}')

    async def serve(self, *, task_status: trio.TaskStatus[EmulatorInfo] = trio.TASK_STATUS_IGNORED) -> None:
        cfg = self.config
        async with trio.open_nursery() as nursery:
            gw_port = await nursery.start(self.gateway.serve, cfg.host, cfg.gateway_port)
            port = await nursery.start(partial(serve_http, self._route, cfg.host, cfg.port, name="emulator"))
            base = f"http://{cfg.host}:{port}"
            info = EmulatorInfo(
                api_base=f"{base}/api/v10",
                gateway_url=f"ws://{cfg.host}:{gw_port}",
                cdn_base=f"{base}/cdn",
                control_base=f"{base}/_control",
                token=self.world.token,
                application_id=str(self.world.application_id),
            )
            # X-RateLimit-Reset is "Epoch time" (topics/rate-limits.mdx): the real clock, whatever start_ms is.
            self.limiter.epoch_offset = time.time() - trio.current_time()
            self.rest = self._wired(
                RestApi(self.world, self.limiter, cdn_base=info.cdn_base, gateway_url=lambda: info.gateway_url)
            )
            self.control = Control(self.world, self.rest, self.gateway, self.cdn, msgspec.to_builtins(info))
            self.info = info
            task_status.started(info)


async def serve_emulator(
    config: EmulatorConfig, *, task_status: trio.TaskStatus[EmulatorInfo] = trio.TASK_STATUS_IGNORED
) -> None:
    await Emulator(config).serve(task_status=task_status)
