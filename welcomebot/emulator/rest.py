"""The emulated REST API v10: the routes a welcome bot uses, with Discord's codes, errors and limits.

Each route is ``(method, pattern, handler, bucket)``. Handlers raise :class:`ApiError` for Discord's JSON
errors; the dispatcher adds rate-limit headers, counts invalid requests and records statistics.
"""

from __future__ import annotations

import io
import logging
import math
import mimetypes
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

import msgspec
import trio
from PIL import Image

from welcomebot.emulator.multipart import MultipartError, parse_multipart
from welcomebot.emulator.openapi import SpecValidator, SpecViolation
from welcomebot.emulator.ratelimits import BucketSpec, RateLimiter
from welcomebot.emulator.world import (
    ATTACH_FILES,
    MANAGE_ROLES,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    Attachment,
    Guild,
    Member,
    Message,
    World,
    iso,
    permissions_for,
)
from welcomebot.httpserver import Request, Response

if TYPE_CHECKING:
    from collections.abc import Awaitable

__all__ = ["ApiError", "Faults", "RestApi"]

log = logging.getLogger(__name__)

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode

MESSAGE_BUCKET = BucketSpec("POST /channels/{channel_id}/messages", 5, 5.0)
DEFAULT_BUCKET = BucketSpec("default", 50, 1.0)
MEMBERS_BUCKET = BucketSpec("GET /guilds/{guild_id}/members", 10, 10.0)
MEMBER_ROLES_BUCKET = BucketSpec("PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}", 10, 10.0)
COMMANDS_BUCKET = BucketSpec("PUT /applications/{application_id}/commands", 2, 60.0)
INTERACTION_BUCKET = BucketSpec("POST /interactions/{interaction_id}/{token}/callback", 50, 1.0)
WEBHOOK_BUCKET = BucketSpec("/webhooks/{application_id}/{token}", 5, 2.0)
MAX_FILES = 10
MAX_UPLOAD = 10 * 1024 * 1024  # per file
MAX_REQUEST = 25 * 1024 * 1024  # all files of one request together, as Discord answers
NONCE_WINDOW_S = 300.0
INTERACTION_DEADLINE_S = 3.0
TOKEN_LIFETIME_S = 15 * 60.0
BANNED_BODY = b"error code: 1015"
#: Fields of a stored command that the server sets (the rest is what the application sent).
_SERVER_FIELDS = frozenset({"id", "application_id", "version", "guild_id"})
#: Callback types an APPLICATION_COMMAND interaction accepts: a message, a deferral, a modal.
APPLICATION_COMMAND_CALLBACKS = (4, 5, 9)
_MENTION = re.compile(r"<@!?(\d{17,20})>")


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> bytes:
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            data["errors"] = self.errors
        return _encode(data)


def form_error(path: str, code: str, message: str) -> ApiError:
    """Discord's 50035 Invalid Form Body, with the error under its field path."""
    node: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path.split(".")):
        node = {key: node}
    return ApiError(400, 50035, "Invalid Form Body", node)


@dataclass
class Faults:
    """REST and CDN faults injected through the control API."""

    latency_s: float = 0.0
    cdn_latency_s: float = 0.0
    fail_share: float = 0.0
    fail_status: int = 503
    fail_scope: str = "user"  # for injected 429s: user, global or shared
    drop_responses: int = 0  # lose the responses of the next N message creates (each still creates or dedupes)


@dataclass
class Interaction:
    id: int
    token: str
    application_id: int
    guild_id: int | None
    channel_id: int
    user_id: int
    created_at: float
    responded: bool = False
    #: ``trio.current_time()`` of the accepted callback (always within the 3 s deadline: later ones get 10062).
    responded_at: float | None = None
    deferred: bool = False
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    template: str
    handler: Callable[[Request, dict[str, str]], Awaitable[tuple[int, Any]]]
    bucket: BucketSpec | None
    major: str | None
    auth: bool = True
    global_limited: bool = True


class RestApi:
    def __init__(self, world: World, limiter: RateLimiter, *, cdn_base: str, gateway_url: Callable[[], str]) -> None:
        self.world = world
        self.limiter = limiter
        self.cdn_base = cdn_base
        self._gateway_url = gateway_url
        self.faults = Faults()
        self.interactions: dict[int, Interaction] = {}
        #: Set (and replaced) whenever an interaction is answered or edited: the control API long-polls it.
        self.interaction_updated = trio.Event()
        self._nonces: dict[tuple[int, int, str], tuple[float, Message]] = {}
        self.requests: Counter[str] = Counter()
        self.rate_limited: Counter[str] = Counter()
        self.injected: Counter[int] = Counter()
        #: Called when a REST call changes a member (a role added); the emulator sends GUILD_MEMBER_UPDATE.
        self.on_member_update: Callable[[Guild, Member], None] = lambda guild, member: None
        #: Set to check every answer against Discord's OpenAPI spec (tests); mismatches land in spec_violations.
        self.validator: SpecValidator | None = None
        self.spec_violations: list[str] = []
        #: Called with each message the bot creates in a channel, and its JSON; the emulator sends MESSAGE_CREATE.
        self.on_message_create: Callable[[Message, dict[str, Any]], None] = lambda message, data: None
        self._fault_phase = 0.0
        self.routes: list[Route] = []
        self._add("GET", "/gateway/bot", self.get_gateway_bot, DEFAULT_BUCKET, None)
        # "This endpoint does not require authentication" (topics/gateway.mdx, Get Gateway).
        self._add("GET", "/gateway", self.get_gateway, DEFAULT_BUCKET, None, auth=False)
        self._add("GET", "/users/@me", self.get_me, DEFAULT_BUCKET, None)
        self._add("GET", "/applications/@me", self.get_application, DEFAULT_BUCKET, None)
        self._add("GET", "/oauth2/applications/@me", self.get_application, DEFAULT_BUCKET, None)
        self._add("GET", "/applications/{application_id}/commands", self.get_commands, DEFAULT_BUCKET, None)
        self._add("PUT", "/applications/{application_id}/commands", self.put_commands, COMMANDS_BUCKET, None)
        self._add(
            "GET",
            "/applications/{application_id}/guilds/{guild_id}/commands",
            self.get_commands,
            DEFAULT_BUCKET,
            "guild_id",
        )
        self._add(
            "PUT",
            "/applications/{application_id}/guilds/{guild_id}/commands",
            self.put_commands,
            COMMANDS_BUCKET,
            "guild_id",
        )
        self._add("GET", "/guilds/{guild_id}", self.get_guild, DEFAULT_BUCKET, "guild_id")
        self._add("GET", "/guilds/{guild_id}/channels", self.get_guild_channels, DEFAULT_BUCKET, "guild_id")
        self._add("GET", "/guilds/{guild_id}/members", self.list_members, MEMBERS_BUCKET, "guild_id")
        self._add("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member, DEFAULT_BUCKET, "guild_id")
        self._add(
            "PUT",
            "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
            self.add_member_role,
            MEMBER_ROLES_BUCKET,
            "guild_id",
        )
        self._add("POST", "/users/@me/channels", self.create_dm, DEFAULT_BUCKET, None)
        self._add("GET", "/channels/{channel_id}", self.get_channel, DEFAULT_BUCKET, "channel_id")
        self._add("GET", "/channels/{channel_id}/messages", self.get_messages, DEFAULT_BUCKET, "channel_id")
        self._add("POST", "/channels/{channel_id}/messages", self.create_message, MESSAGE_BUCKET, "channel_id")
        self._add(
            "DELETE",
            "/channels/{channel_id}/messages/{message_id}",
            self.delete_message,
            DEFAULT_BUCKET,
            "channel_id",
        )
        self._add(
            "PATCH",
            "/channels/{channel_id}/messages/{message_id}",
            self.edit_message,
            DEFAULT_BUCKET,
            "channel_id",
        )
        self._add(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            self.interaction_callback,
            INTERACTION_BUCKET,
            "interaction_id",
            auth=False,
            global_limited=False,
        )
        self._add(
            "GET",
            "/webhooks/{application_id}/{interaction_token}/messages/@original",
            self.get_original,
            WEBHOOK_BUCKET,
            "interaction_token",
            auth=False,
            global_limited=False,
        )
        self._add(
            "PATCH",
            "/webhooks/{application_id}/{interaction_token}/messages/@original",
            self.edit_original,
            WEBHOOK_BUCKET,
            "interaction_token",
            auth=False,
            global_limited=False,
        )
        self._add(
            "DELETE",
            "/webhooks/{application_id}/{interaction_token}/messages/@original",
            self.delete_original,
            WEBHOOK_BUCKET,
            "interaction_token",
            auth=False,
            global_limited=False,
        )
        for method, handler in (("PATCH", self.edit_followup), ("DELETE", self.delete_followup)):
            self._add(
                method,
                "/webhooks/{application_id}/{interaction_token}/messages/{message_id}",
                handler,
                WEBHOOK_BUCKET,
                "interaction_token",
                auth=False,
                global_limited=False,
            )
        self._add(
            "POST",
            "/webhooks/{application_id}/{interaction_token}",
            self.create_followup,
            WEBHOOK_BUCKET,
            "interaction_token",
            auth=False,
            global_limited=False,
        )

    def set_message_period(self, period_s: float) -> None:
        """Speed the per-channel message window up or down (tests and benchmarks); the limit stays 5."""
        spec = BucketSpec(MESSAGE_BUCKET.name, MESSAGE_BUCKET.limit, period_s)
        for route in self.routes:
            if route.bucket is not None and route.bucket.name == MESSAGE_BUCKET.name:
                route.bucket = spec

    def _add(
        self,
        method: str,
        template: str,
        handler: Any,
        bucket: BucketSpec | None,
        major: str | None,
        *,
        auth: bool = True,
        global_limited: bool = True,
    ) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        self.routes.append(
            Route(method, re.compile(f"^{regex}$"), template, handler, bucket, major, auth, global_limited)
        )

    # --- dispatch -----------------------------------------------------------------------------------

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            m = route.pattern.match(path)
            if m and route.method == method:
                return route, m.groupdict()
        return None

    async def handle(self, request: Request, path: str) -> Response:
        response = await self._handle(request, path)
        if self.validator is not None:
            self._check_against_spec(request.method, path, response)
        if response.body != BANNED_BODY:
            # Discord's answers pass Google's front end; Cloudflare's 1015 ban does not (clients tell them apart).
            response.headers.append(("Via", "1.1 google"))
        return response

    def _check_against_spec(self, method: str, path: str, response: Response) -> None:
        """A documented route's answer must match Discord's OpenAPI spec; a mismatch is an emulator bug."""
        assert self.validator is not None
        if response.status >= 500 or response.body == BANNED_BODY or self.match(method, path) is None:
            return  # injected outages, Cloudflare's ban and unknown routes are outside the documented API
        try:
            body = _decode(response.body) if response.body else None
            self.validator.validate_response(method, path, response.status, body)
        except (SpecViolation, msgspec.DecodeError) as exc:
            log.error("EMULATOR BUG: its answer does not match Discord's spec: %s", exc)
            self.spec_violations.append(str(exc))

    async def _handle(self, request: Request, path: str) -> Response:
        now = trio.current_time()
        if self.faults.latency_s:
            await trio.sleep(self.faults.latency_s)
        found = self.match(request.method, path)
        if found is None:
            if any(r.pattern.match(path) for r in self.routes):
                return self._error(ApiError(405, 0, "405: Method Not Allowed"), "?", now)
            return self._error(ApiError(404, 0, "404: Not Found"), "?", now)
        route, params = found
        key = f"{route.method} {route.template}"
        for name, value in params.items():
            # A malformed id is a form error on that path parameter, not a 404 (as Discord answers).
            if name.endswith("_id") and not (value.isdigit() and len(value) <= 20):
                return self._error(form_error(name, "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.'),
                                   key, now)  # fmt: skip
        self.requests[key] += 1
        if self.limiter.banned(now):
            # Cloudflare bans before Discord reads the token: a bad token's 401s earn the ban too
            # (topics/rate-limits.mdx, Invalid Request Limit).
            return self._rate_limited(key, self.limiter.invalid_window, "global", [], now, banned=True)
        if route.auth and request.header("authorization") != f"Bot {self.world.token}":
            return self._error(ApiError(401, 0, "401: Unauthorized"), key, now)
        injected = self._injected_failure(key, now)
        if injected is not None:
            return injected
        major = params.get(route.major, "") if route.major else ""
        decision = self.limiter.check(route.bucket, major, now, global_limited=route.global_limited)
        if not decision.allowed:
            return self._rate_limited(
                key,
                decision.retry_after,
                decision.scope or "user",
                decision.headers,
                now,
                banned=decision.banned,
            )
        try:
            status, payload = await route.handler(request, params)
        except ApiError as exc:
            response = self._error(exc, key, now)
            response.headers.extend(decision.headers)
            return response
        body = b"" if status == 204 else _encode(payload)
        headers = [*decision.headers, ("Date", formatdate(self.world.now_ms(trio.current_time()) / 1000, usegmt=True))]
        return Response(status, body, headers, None if status == 204 else "application/json")

    def _error(self, exc: ApiError, key: str, now: float) -> Response:
        self.limiter.count_invalid(exc.status, now)
        self.requests[f"{key} -> {exc.status}"] += 1
        return Response(exc.status, exc.body())

    def _rate_limited(
        self,
        key: str,
        retry_after: float,
        scope: str,
        headers: list[tuple[str, str]],
        now: float,
        *,
        banned: bool = False,
    ) -> Response:
        self.rate_limited[scope] += 1
        self.limiter.count_invalid(429, now, scope=scope)
        if banned:
            return Response(429, BANNED_BODY, [("Retry-After", str(int(retry_after)))], "text/plain")
        is_global = scope == "global"
        message = "The resource is being rate limited." if scope == "shared" else "You are being rate limited."
        # "code" is optional in the docs and required by the spec; 0 satisfies both.
        body = _encode({"message": message, "retry_after": retry_after, "global": is_global, "code": 0})
        # The header is whole seconds, rounded up (topics/rate-limits.mdx: "Retry-After: 65" beside
        # "X-RateLimit-Reset-After: 64.57"); the body's retry_after keeps the fraction.
        out = [*headers, ("Retry-After", str(max(1, math.ceil(retry_after)))), ("X-RateLimit-Scope", scope)]
        if is_global and not any(k == "X-RateLimit-Global" for k, _ in out):
            out.append(("X-RateLimit-Global", "true"))
        return Response(429, body, out)

    def _injected_failure(self, key: str, now: float) -> Response | None:
        share = self.faults.fail_share
        if share <= 0:
            return None
        # Golden-ratio stepping: deterministic, and a share of 0.05 fails 5 % of requests evenly spread.
        self._fault_phase = (self._fault_phase + 0.6180339887) % 1.0
        if self._fault_phase >= share:
            return None
        status = self.faults.fail_status
        self.injected[status] += 1
        if status == 429:
            return self._rate_limited(key, 0.5, self.faults.fail_scope, [], now)
        return Response(status, b'{"message": "Service Unavailable", "code": 0}')

    # --- helpers ------------------------------------------------------------------------------------

    def _channel(self, channel_id: str) -> Any:
        channel = self.world.channels.get(_int(channel_id))
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _guild(self, guild_id: str) -> Any:
        guild = self.world.guilds.get(_int(guild_id))
        if guild is None or self.world.bot.id not in guild.members:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    def _bot_permissions(self, channel: Any) -> int:
        if channel.recipient is not None:  # a DM: no roles or overwrites; the recipient's privacy decides
            return VIEW_CHANNEL | SEND_MESSAGES | ATTACH_FILES
        guild = self.world.guilds[channel.guild_id]
        return permissions_for(guild, guild.members[self.world.bot.id], channel)

    def message_json(self, message: Message) -> dict[str, Any]:
        return message.to_json(self.cdn_base)

    # --- handlers -----------------------------------------------------------------------------------

    async def get_gateway_bot(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        w = self.world
        shards = w.recommended_shards or max(1, -(-len(w.guilds) // 1000))
        return 200, {
            "url": self._gateway_url(),
            "shards": shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": w.identify_remaining,
                "reset_after": 86_400_000,
                "max_concurrency": w.max_concurrency,
            },
        }

    async def get_gateway(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        return 200, {"url": self._gateway_url()}

    async def get_me(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.world.bot_user()

    async def get_application(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        w = self.world
        return 200, {
            "id": str(w.application_id),
            "name": "welcomebot",
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "type": None,
            "flags": w.application_partial()["flags"],
            "flags_new": str(w.application_partial()["flags"]),
            "bot": w.bot.to_json(),
            "owner": next(iter(w.users.values())).to_json(),
            "team": None,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "approximate_guild_count": len(w.guilds),
            "approximate_user_install_count": 0,
            "approximate_user_authorization_count": 0,
            "explicit_content_filter": 0,
            "eligible_oauth2_scopes": ["bot", "applications.commands"],
        }

    def _check_app(self, params: dict[str, str]) -> None:
        if params["application_id"] != str(self.world.application_id):
            raise ApiError(403, 50001, "Missing Access")

    async def get_commands(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        self._check_app(params)
        guild_id = _int(params["guild_id"]) if "guild_id" in params else None
        if guild_id is not None:
            self._guild(params["guild_id"])
        return 200, self.world.commands.get(guild_id, [])

    async def put_commands(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        self._check_app(params)
        guild_id = _int(params["guild_id"]) if "guild_id" in params else None
        if guild_id is not None:
            self._guild(params["guild_id"])
        body = _json_body(request)
        if not isinstance(body, list) or len(body) > 100:
            raise form_error("_root", "BASE_TYPE_MAX_LENGTH", "Must be a list of at most 100 commands.")
        stored = []
        # A command keeps its id across overwrites when its name and type match (application-commands.mdx,
        # Bulk Overwrite: "Commands that do not already exist will count toward daily application command
        # create limits"); its version changes only when the definition does.
        previous = {(c["name"], c["type"]): c for c in self.world.commands.get(guild_id, [])}
        keys: set[tuple[Any, Any]] = set()
        for i, command in enumerate(body):
            _validate_command(command, f"{i}")
            key = (command["name"], command.get("type", 1))
            if key in keys:
                raise form_error(f"{i}.name", "APPLICATION_COMMANDS_DUPLICATE_NAME",
                                 "Application command names must be unique per type")  # fmt: skip
            keys.add(key)
        for command in body:
            definition = {
                **command,
                "type": command.get("type", 1),
                # Sent as a string or an integer; always answered as a string (or null).
                "default_member_permissions": None
                if (p := command.get("default_member_permissions")) is None
                else str(p),
                "description": command.get("description", ""),
                # "Defaults to your app's configured contexts": the emulated bot is installed to guilds only
                # (GUILD_INSTALL); a null, as some libraries send, is no value (application-commands.mdx).
                "integration_types": command.get("integration_types") or [0],
            }
            old = previous.get((definition["name"], definition["type"]))
            same = old is not None and {k: v for k, v in old.items() if k not in _SERVER_FIELDS} == definition
            stored.append(
                {
                    **definition,
                    "id": old["id"] if old is not None else str(self.world.ids.next()),
                    "application_id": str(self.world.application_id),
                    "version": old["version"] if same and old is not None else str(self.world.ids.next()),
                    **({"guild_id": str(guild_id)} if guild_id is not None else {}),
                }
            )
        self.world.commands[guild_id] = stored
        return 200, stored

    async def get_guild(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        guild = self._guild(params["guild_id"])
        return 200, guild.to_json(with_counts=request.arg("with_counts") in ("true", "True", "1"))

    async def get_guild_channels(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        guild = self._guild(params["guild_id"])
        return 200, [c.to_json() for c in guild.channels.values()]

    async def get_member(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        guild = self._guild(params["guild_id"])
        member = guild.members.get(_int(params["user_id"]))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return 200, member.to_json()

    async def list_members(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        guild = self._guild(params["guild_id"])
        if not self.world.members_intent_enabled:
            raise ApiError(403, 50001, "Missing Access")
        limit_text = request.arg("limit") or "1"
        after_text = request.arg("after") or "0"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
            raise form_error("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 1000.")
        after = _int(after_text)
        members = sorted((m for m in guild.members.values() if m.user.id > after), key=lambda m: m.user.id)
        return 200, [m.to_json() for m in members[: int(limit_text)]]

    async def add_member_role(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        """Discord's rules: Manage Roles, and the role strictly below the bot's highest (topics/permissions)."""
        guild = self._guild(params["guild_id"])
        member = guild.members.get(_int(params["user_id"]))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        role = guild.roles.get(_int(params["role_id"]))
        if role is None or role.id == guild.id:
            raise ApiError(404, 10011, "Unknown Role")
        bot = guild.members[self.world.bot.id]
        if not permissions_for(guild, bot, None) & MANAGE_ROLES:
            raise ApiError(403, 50013, "Missing Permissions")
        top = max((guild.roles[r].position for r in bot.roles if r in guild.roles), default=0)
        if bot.user.id != guild.owner_id and role.position >= top:
            raise ApiError(403, 50013, "Missing Permissions")
        if role.id not in member.roles:
            member.roles.append(role.id)
            self.on_member_update(guild, member)
            self.world.posted()  # wakes the control API's long polls
        return 204, None

    async def create_dm(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        body = _json_body(request)
        recipient = body.get("recipient_id") if isinstance(body, dict) else None
        if recipient is None:
            raise form_error("recipient_id", "BASE_TYPE_REQUIRED", "This field is required")
        user = self.world.users.get(_int(str(recipient)))
        if user is None:
            raise ApiError(400, 50033, "Invalid Recipient(s)")
        return 200, self.world.dm_channel(user).to_json()

    async def get_channel(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        channel = self._channel(params["channel_id"])
        if not self._bot_permissions(channel) & VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        return 200, channel.to_json()

    async def delete_message(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        channel = self._channel(params["channel_id"])
        messages = self.world.messages[channel.id]
        target = _int(params["message_id"])
        for i, message in enumerate(messages):
            if message.id == target:
                if message.author.id != self.world.bot.id:
                    raise ApiError(403, 50013, "Missing Permissions")
                del messages[i]
                self.world.posted()  # wakes the control API's long polls, which also wait for deletions
                return 204, None
        raise ApiError(404, 10008, "Unknown Message")

    async def edit_message(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        """Edit Message (resources/message.mdx): only the author edits content, embeds and attachments
        (50005 otherwise); new files are appended, and ``attachments`` lists the ones to keep."""
        channel = self._channel(params["channel_id"])
        target = _int(params["message_id"])
        message = next((m for m in self.world.messages[channel.id] if m.id == target), None)
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
        if message.author.id != self.world.bot.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        payload, files = _message_payload(request, edit=True)
        self._apply_edit(message, payload, files)
        self.world.posted()
        return 200, self.message_json(message)

    def _apply_edit(self, message: Message, payload: dict[str, Any], files: dict[int, Attachment]) -> None:
        """Message edits as resources/message.mdx (Edit Message) describes them; absent fields are kept."""
        if "content" in payload:
            message.content = payload["content"] or ""
            message.mentions = _pinged(self.world, message.content, payload.get("allowed_mentions"))
        if "embeds" in payload:
            message.embeds = _embeds(payload["embeds"])
        if "flags" in payload and payload["flags"] is not None:
            # Only SUPPRESS_EMBEDS may be changed by an edit; the other flags stay as they were.
            message.flags = (message.flags & ~4) | (int(payload["flags"]) & 4)
        kept = message.attachments
        if "attachments" in payload:
            listed = {_int_or_none(meta.get("id")) for meta in payload["attachments"] or []}
            kept = [a for a in message.attachments if a.id in listed]
        added = self._build_message(message.channel_id, payload, files, trio.current_time()).attachments
        message.attachments = [*kept, *added]
        message.edited_timestamp = iso(self.world.now_ms(trio.current_time()))

    async def get_messages(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        """Get Channel Messages (resources/message.mdx): newest first; ``before``, ``after`` and ``around`` are
        mutually exclusive; ``limit`` 1-100, default 50. View Channel is required; without Read Message History
        the answer is an empty list, not an error. Fetched messages carry no ``nonce`` (only the create
        response and MESSAGE_CREATE do)."""
        channel = self._channel(params["channel_id"])
        if not self._bot_permissions(channel) & VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        limit_text = request.arg("limit") or "50"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
            raise form_error("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
        limit = int(limit_text)
        anchors: dict[str, int] = {}
        for name in ("before", "after", "around"):
            value = request.arg(name)
            if value is None:
                continue
            if not value.isdigit() or len(value) > 20:
                raise form_error(name, "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')
            anchors[name] = int(value)
        if len(anchors) > 1:
            raise form_error("_root", "BASE_TYPE_INVALID", "before, after and around are mutually exclusive.")
        if not self._bot_permissions(channel) & READ_MESSAGE_HISTORY:
            return 200, []
        oldest_first = sorted(self.world.messages.get(channel.id, []), key=lambda m: m.id)
        if "before" in anchors:
            page = [m for m in oldest_first if m.id < anchors["before"]][-limit:]
        elif "after" in anchors:
            # The messages right after the anchor (so a client pages forward by the newest id it got).
            page = [m for m in oldest_first if m.id > anchors["after"]][:limit]
        elif "around" in anchors:
            # Centred on the anchor (the anchor included if it exists), as many as fit on each side.
            at = sum(1 for m in oldest_first if m.id < anchors["around"])
            start = max(0, min(at - limit // 2, len(oldest_first) - limit))
            page = oldest_first[start : start + limit]
        else:
            page = oldest_first[-limit:]
        return 200, [self.fetched_json(m) for m in reversed(page)]

    def fetched_json(self, message: Message) -> dict[str, Any]:
        """A message as Get Channel Messages returns it: without the nonce it was sent with."""
        data = self.message_json(message)
        data.pop("nonce", None)
        return data

    async def create_message(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        channel = self._channel(params["channel_id"])
        if channel.recipient is not None and channel.recipient.id in self.world.closed_dms:
            raise ApiError(403, 50007, "Cannot send messages to this user")
        perms = self._bot_permissions(channel)
        if not perms & VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        if not perms & SEND_MESSAGES:
            raise ApiError(403, 50013, "Missing Permissions")
        payload, files = _message_payload(request)
        if files and not perms & ATTACH_FILES:
            raise ApiError(403, 50013, "Missing Permissions")
        now = trio.current_time()
        nonce = payload.get("nonce")
        if self.faults.drop_responses > 0:
            # Lost on the way back, whether it created a message or returned the nonce's (a retry's answer can be
            # lost too).
            self.faults.drop_responses -= 1
            request.drop_response = True
        if nonce is not None and payload.get("enforce_nonce"):
            hit = self._nonces.get((channel.id, self.world.bot.id, str(nonce)))
            if hit is not None and now - hit[0] < NONCE_WINDOW_S:
                return 200, self.message_json(hit[1])
        message = self._build_message(channel.id, payload, files, now)
        self.world.messages[channel.id].append(message)
        self.world.posted()
        if nonce is not None and payload.get("enforce_nonce"):
            self._nonces[(channel.id, self.world.bot.id, str(nonce))] = (now, message)
        data = self.message_json(message)
        self.on_message_create(message, data)
        return 200, data

    def _build_message(
        self,
        channel_id: int,
        payload: dict[str, Any],
        files: dict[int, Attachment],
        now: float,
        *,
        flags: int = 0,
    ) -> Message:
        content = payload.get("content") or ""
        for index, meta in enumerate(payload.get("attachments") or []):
            fid = _int(str(meta.get("id", index)))
            if fid in files and meta.get("description") is not None:
                files[fid].description = str(meta["description"])
        world = self.world
        stored = [
            Attachment(
                world.ids.next(),
                a.filename,
                _sniffed_type(a.data, a.filename),
                a.data,
                a.description,
                *_dimensions(a.data),
            )
            for a in files.values()
        ]
        return Message(
            id=world.ids.next(world.now_ms(now)),
            channel_id=channel_id,
            author=world.bot,
            content=content,
            timestamp=iso(world.now_ms(now)),
            attachments=stored,
            embeds=_embeds(payload.get("embeds")),
            nonce=payload.get("nonce"),
            allowed_mentions=payload.get("allowed_mentions"),
            mentions=_pinged(world, content, payload.get("allowed_mentions")),
            flags=flags,
        )

    # --- interactions -------------------------------------------------------------------------------

    def _interaction_by_token(self, params: dict[str, str]) -> Interaction:
        for interaction in self.interactions.values():
            if interaction.token == params["interaction_token"]:
                if str(interaction.application_id) != params["application_id"]:
                    break
                if trio.current_time() - interaction.created_at > TOKEN_LIFETIME_S:
                    raise ApiError(401, 50027, "Invalid Webhook Token")
                return interaction
        raise ApiError(404, 10015, "Unknown Webhook")

    async def interaction_callback(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        interaction = self.interactions.get(_int(params["interaction_id"]))
        if interaction is None or interaction.token != params["interaction_token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        if trio.current_time() - interaction.created_at > INTERACTION_DEADLINE_S:
            raise ApiError(404, 10062, "Unknown interaction")
        if interaction.responded:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        body, files = _message_payload(request, callback=True)
        kind = body.get("type")
        if kind not in (1, 4, 5, 6, 7, 8, 9, 10, 12):
            raise form_error("type", "BASE_TYPE_CHOICES", "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.")
        # Every interaction here is an APPLICATION_COMMAND: PONG answers PINGs, 6 and 7 are for components, 8
        # for autocomplete, 10 is deprecated and monetized-only, 12 needs Activities, which this application
        # lacks (interactions/receiving-and-responding.mdx, Interaction Callback Type).
        if kind not in APPLICATION_COMMAND_CALLBACKS:
            raise form_error(
                "type", "INTERACTION_CALLBACK_TYPE_INVALID", f"Callback type {kind} is not valid for this interaction."
            )
        interaction.responded = True
        interaction.responded_at = trio.current_time()
        interaction.responses.append(body)
        data = body.get("data") or {}
        if kind == 4:
            interaction.original = self._interaction_message(interaction, data, files, int(data.get("flags", 0)))
        elif kind == 5:
            interaction.deferred = True
            interaction.original = self._interaction_message(
                interaction, {"content": ""}, {}, int(data.get("flags", 0)) | 128
            )
        self._interaction_changed()
        if request.arg("with_response") not in ("true", "True", "1"):
            return 204, None
        # with_response=true: 200 and an interaction callback response (same page, Create Interaction Response).
        original = interaction.original
        callback: dict[str, Any] = {"id": str(interaction.id), "type": 2}
        if original is not None:
            callback["response_message_id"] = str(original.id)
            callback["response_message_loading"] = kind == 5
            callback["response_message_ephemeral"] = bool(original.flags & 64)
        answer: dict[str, Any] = {"interaction": callback}
        if kind == 4 and original is not None:
            # ``resource`` is optional; the spec models it only for a message, an update or an Activity.
            answer["resource"] = {"type": kind, "message": self.message_json(original)}
        return 200, answer

    def _interaction_message(
        self, interaction: Interaction, payload: dict[str, Any], files: dict[int, Attachment], flags: int
    ) -> Message:
        """A response or follow-up: sent by the application's webhook, with the interaction's metadata
        (resources/message.mdx, Message Structure: webhook_id, application_id, interaction_metadata)."""
        message = self._build_message(interaction.channel_id, payload, files, trio.current_time(), flags=flags)
        app = str(interaction.application_id)
        user = self.world.users.get(interaction.user_id)
        owners = (
            {"0": str(interaction.guild_id)} if interaction.guild_id is not None else {"1": str(interaction.user_id)}
        )
        message.extra = {
            "webhook_id": app,
            "application_id": app,
            "interaction_metadata": {
                "id": str(interaction.id),
                "type": 2,
                "user": user.to_json() if user is not None else {"id": str(interaction.user_id)},
                "authorizing_integration_owners": owners,
            },
        }
        return message

    def _interaction_changed(self) -> None:
        self.interaction_updated.set()
        self.interaction_updated = trio.Event()

    async def get_original(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        interaction = self._interaction_by_token(params)
        if interaction.original is None:
            raise ApiError(404, 10008, "Unknown Message")
        return 200, self.message_json(interaction.original)

    async def edit_original(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        interaction = self._interaction_by_token(params)
        if interaction.original is None:
            raise ApiError(404, 10008, "Unknown Message")
        payload, files = _message_payload(request, edit=True)
        original = interaction.original
        self._apply_edit(original, payload, files)
        original.flags &= ~128  # no longer "thinking"
        interaction.responses.append({"edit": payload})
        self._interaction_changed()
        return 200, self.message_json(original)

    async def delete_original(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        """Delete Original Interaction Response (interactions/receiving-and-responding.mdx): 204."""
        interaction = self._interaction_by_token(params)
        if interaction.original is None:
            raise ApiError(404, 10008, "Unknown Message")
        interaction.original = None
        interaction.responses.append({"delete": "@original"})
        self._interaction_changed()
        return 204, None

    def _followup(self, interaction: Interaction, message_id: str) -> Message:
        # The original response is a webhook message too: it may be addressed by its id.
        target = _int(message_id)
        for message in [*([interaction.original] if interaction.original else []), *interaction.followups]:
            if message.id == target:
                return message
        raise ApiError(404, 10008, "Unknown Message")

    async def edit_followup(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        """Edit Followup Message (interactions/receiving-and-responding.mdx): as Edit Webhook Message."""
        interaction = self._interaction_by_token(params)
        message = self._followup(interaction, params["message_id"])
        payload, files = _message_payload(request, edit=True)
        self._apply_edit(message, payload, files)
        message.flags &= ~128
        interaction.responses.append({"edit": payload, "message_id": str(message.id)})
        self._interaction_changed()
        return 200, self.message_json(message)

    async def delete_followup(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        """Delete Followup Message (interactions/receiving-and-responding.mdx): 204."""
        interaction = self._interaction_by_token(params)
        message = self._followup(interaction, params["message_id"])
        if message is interaction.original:
            interaction.original = None
        else:
            interaction.followups.remove(message)
        interaction.responses.append({"delete": str(message.id)})
        self._interaction_changed()
        return 204, None

    async def create_followup(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        interaction = self._interaction_by_token(params)
        if not interaction.responded:
            raise ApiError(400, 40060, "Interaction has not been acknowledged.")
        payload, files = _message_payload(request)
        message = self._interaction_message(interaction, payload, files, int(payload.get("flags", 0)))
        interaction.followups.append(message)
        return 200, self.message_json(message)


# --- request parsing ---------------------------------------------------------------------------------


def _int(text: str) -> int:
    if not text.isdigit() or len(text) > 20:
        raise ApiError(404, 0, "404: Not Found")
    return int(text)


def _json_body(request: Request) -> Any:
    if not (request.header("content-type") or "").startswith("application/json"):
        raise ApiError(400, 50109, "The request body contains invalid JSON.")
    try:
        return _decode(request.body)
    except msgspec.DecodeError:
        raise ApiError(400, 50109, "The request body contains invalid JSON.") from None


def _message_payload(
    request: Request, *, callback: bool = False, edit: bool = False
) -> tuple[dict[str, Any], dict[int, Attachment]]:
    """The JSON payload and uploaded files of a message create, edit or interaction callback."""
    ctype = request.header("content-type") or ""
    files: dict[int, Attachment] = {}
    if ctype.startswith("multipart/form-data"):
        try:
            parts = parse_multipart(request.body, ctype)
        except MultipartError as exc:
            raise ApiError(400, 50035, f"Invalid Form Body: {exc}") from None
        payload: Any = {}
        total = 0
        for part in parts:
            if part.name == "payload_json":
                try:
                    payload = _decode(part.data)
                except msgspec.DecodeError:
                    raise form_error("payload_json", "BASE_TYPE_BAD_JSON", "Must be valid JSON.") from None
                continue
            m = re.fullmatch(r"files\[(\d+)\]", part.name)
            if m is None or not part.filename:
                continue
            total += len(part.data)
            index = int(m.group(1))
            files[index] = Attachment(index, part.filename, part.content_type or "application/octet-stream", part.data)
        if len(files) > MAX_FILES:
            raise form_error("files", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length.")
        # "The file upload size limit applies to each file in a request" (reference.mdx, Uploading Files).
        if any(len(f.data) > MAX_UPLOAD for f in files.values()) or total > MAX_REQUEST:
            raise ApiError(413, 40005, "Request entity too large")
    else:
        payload = _json_body(request)
    if not isinstance(payload, dict):
        raise form_error("_root", "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
    message = payload.get("data") if callback else payload
    if isinstance(message, dict):
        _validate_message(message, files, required=not callback and not edit, edit=edit)
    return payload, files


def _validate_message(
    payload: dict[str, Any], files: dict[int, Attachment], *, required: bool, edit: bool = False
) -> None:
    """``edit``: ``attachments`` may also name the message's existing attachments, to keep them."""
    content = payload.get("content")
    if content is not None and not isinstance(content, str):
        raise form_error("content", "BASE_TYPE_STRING", "Could not interpret the value as string.")
    if content is not None and len(content) > 2000:
        raise form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    if required and not (
        content
        or payload.get("embeds")
        or files
        or payload.get("sticker_ids")
        or payload.get("components")
        or payload.get("poll")
    ):
        raise ApiError(400, 50006, "Cannot send an empty message")
    nonce = payload.get("nonce")
    if nonce is not None and (isinstance(nonce, bool) or not isinstance(nonce, int | str) or len(str(nonce)) > 25):
        raise form_error("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    embeds = payload.get("embeds")
    if embeds is not None and (not isinstance(embeds, list) or len(embeds) > 10):
        raise form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    _validate_embeds(embeds or [])
    attachments = payload.get("attachments")
    if attachments is not None:
        if not isinstance(attachments, list) or len(attachments) > MAX_FILES:
            raise form_error("attachments", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length.")
        for i, meta in enumerate(attachments):
            if not isinstance(meta, dict) or "id" not in meta:
                raise form_error(f"attachments.{i}.id", "BASE_TYPE_REQUIRED", "This field is required")
            desc = meta.get("description")
            if desc is not None and (not isinstance(desc, str) or len(desc) > 1024):
                raise form_error(
                    f"attachments.{i}.description", "BASE_TYPE_MAX_LENGTH", "Must be 1024 or fewer in length."
                )
            if not edit and _int_or_none(meta["id"]) not in files:
                raise form_error(f"attachments.{i}", "ATTACHMENT_NOT_FOUND", "Attachment data not found")
    allowed = payload.get("allowed_mentions")
    if allowed is not None:
        if not isinstance(allowed, dict):
            raise form_error("allowed_mentions", "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        parse = allowed.get("parse", [])
        users = allowed.get("users")
        if not isinstance(parse, list) or any(p not in ("roles", "users", "everyone") for p in parse):
            raise form_error(
                "allowed_mentions.parse",
                "BASE_TYPE_CHOICES",
                'Value must be one of {"roles", "users", "everyone"}.',
            )
        if users is not None:
            if "users" in parse:
                raise form_error(
                    "allowed_mentions",
                    "SET_TYPE_ALREADY_CONTAINS_VALUE",
                    'parse:["users"] and users: [ids] are mutually exclusive.',
                )
            if not isinstance(users, list) or len(users) > 100:
                raise form_error("allowed_mentions.users", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")


#: (path within an embed, limit) from resources/message.mdx, Embed Limits.
_EMBED_LIMITS = (("title", 256), ("description", 4096), ("footer.text", 2048), ("author.name", 256))


def _validate_embeds(embeds: list[Any]) -> None:
    """resources/message.mdx, "Embed Limits": per-field lengths, 25 fields, and 6000 characters in all."""
    total = 0

    def check(value: Any, path: str, limit: int) -> None:
        nonlocal total
        if value is None:
            return
        if not isinstance(value, str):
            raise form_error(path, "BASE_TYPE_STRING", "Could not interpret the value as string.")
        if len(value.strip()) > limit:
            raise form_error(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
        total += len(value.strip())

    for i, embed in enumerate(embeds):
        if not isinstance(embed, dict):
            raise form_error(f"embeds.{i}", "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        for field_path, limit in _EMBED_LIMITS:
            outer, _, inner = field_path.partition(".")
            value = embed.get(outer)
            if inner:  # footer.text, author.name
                value = value.get(inner) if isinstance(value, dict) else None
            check(value, f"embeds.{i}.{field_path}", limit)
        fields = embed.get("fields") or []
        if not isinstance(fields, list) or len(fields) > 25:
            raise form_error(f"embeds.{i}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, item in enumerate(fields):
            if not isinstance(item, dict):
                raise form_error(f"embeds.{i}.fields.{j}", "DICT_TYPE_CONVERT", "Only dictionaries may be used")
            check(item.get("name"), f"embeds.{i}.fields.{j}.name", 256)
            check(item.get("value"), f"embeds.{i}.fields.{j}.value", 1024)
    if total > 6000:
        raise form_error("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _embeds(embeds: Any) -> list[dict[str, Any]]:
    # Discord answers every embed a bot sends with its type, "rich" (resources/message.mdx, Embed Types).
    return [{"type": "rich", **embed} for embed in embeds or []]


def _sniffed_type(data: bytes, filename: str) -> str:
    """The attachment's ``content_type`` as Discord reports it: from the bytes for images, else from the file's
    extension; the part's own Content-Type header is not trusted."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format:
                return Image.MIME.get(image.format, f"image/{image.format.lower()}")
    except (OSError, ValueError, Image.DecompressionBombError):
        pass
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _dimensions(data: bytes) -> tuple[int | None, int | None]:
    """Width and height for image attachments, as Discord reports them."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.width, image.height
    except (OSError, ValueError, Image.DecompressionBombError):
        return None, None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _pinged(world: World, content: str, allowed: dict[str, Any] | None) -> list[Any]:
    """The users a message actually pings, honouring ``allowed_mentions``."""
    mentioned = [int(m) for m in _MENTION.findall(content)]
    if allowed is None:
        permitted = set(mentioned)
    else:
        permitted = (
            set(mentioned) if "users" in allowed.get("parse", []) else {int(u) for u in allowed.get("users") or []}
        )
    seen: list[Any] = []
    for uid in mentioned:
        user = world.users.get(uid)
        if uid in permitted and user is not None and user not in seen:
            seen.append(user)
    return seen


_NAME_MARKS = ("DEVANAGARI", "THAI")


def _chat_input_name(name: Any) -> bool:
    """``^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$``, lowercase where a letter has a lowercase form
    (interactions/application-commands.mdx, Application Command Naming)."""
    if not isinstance(name, str) or not 1 <= len(name) <= 32 or name != name.lower():
        return False
    for char in name:
        category = unicodedata.category(char)
        if char in "-_'" or category[0] in "LN":
            continue
        if category[0] == "M" and unicodedata.name(char, "").startswith(_NAME_MARKS):
            continue
        return False
    return True


def _validate_command(command: Any, path: str) -> None:
    """An application command as interactions/application-commands.mdx defines it (Application Command
    Structure, Naming, Option Structure)."""
    if not isinstance(command, dict):
        raise form_error(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
    kind = command.get("type", 1)
    if kind not in (1, 2, 3, 4):
        raise form_error(f"{path}.type", "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.")
    name = command.get("name")
    # "USER and MESSAGE commands may be mixed case and can include spaces."
    good_name = _chat_input_name(name) if kind == 1 else isinstance(name, str) and 1 <= len(name.strip()) <= 32
    if not good_name:
        raise form_error(f"{path}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    desc = command.get("description", "")
    if kind == 1 and (not isinstance(desc, str) or not 1 <= len(desc) <= 100):
        raise form_error(f"{path}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    if kind in (2, 3) and desc not in ("", None):
        raise form_error(f"{path}.description", "APPLICATION_COMMAND_INVALID_DESCRIPTION",
                         "USER and MESSAGE commands take an empty description.")  # fmt: skip
    perms = command.get("default_member_permissions")
    if perms is not None and (isinstance(perms, bool) or not str(perms).isdigit()):
        raise form_error(f"{path}.default_member_permissions", "NUMBER_TYPE_COERCE",
                         f'Value "{perms}" is not int.')  # fmt: skip
    options = command.get("options")
    if options is not None and kind != 1 and options:
        raise form_error(f"{path}.options", "APPLICATION_COMMAND_OPTIONS_INVALID",
                         "Only CHAT_INPUT commands take options.")  # fmt: skip
    _validate_options(options, f"{path}.options", parent=None)


def _validate_options(options: Any, path: str, *, parent: int | None) -> None:
    if options is None:
        return
    if not isinstance(options, list) or len(options) > 25:
        raise form_error(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    seen: set[Any] = set()
    optional_seen = False
    for i, option in enumerate(options):
        here = f"{path}.{i}"
        if not isinstance(option, dict):
            raise form_error(here, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        kind = option.get("type")
        if not isinstance(kind, int) or isinstance(kind, bool) or not 1 <= kind <= 11:
            raise form_error(f"{here}.type", "BASE_TYPE_CHOICES", "Value must be one of {1..11}.")
        # A group holds subcommands only; a subcommand holds no subcommands; a command mixes neither.
        if (parent == 2 and kind != 1) or (parent == 1 and kind in (1, 2)):
            raise form_error(f"{here}.type", "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                             "Subcommand groups hold subcommands; subcommands hold no subcommands.")  # fmt: skip
        name = option.get("name")
        if not _chat_input_name(name):
            raise form_error(f"{here}.name", "APPLICATION_COMMAND_INVALID_NAME", "Option name is invalid")
        if name in seen:
            raise form_error(f"{here}.name", "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
                             "Option names must be unique within their list.")  # fmt: skip
        seen.add(name)
        desc = option.get("description")
        if not isinstance(desc, str) or not 1 <= len(desc) <= 100:
            raise form_error(f"{here}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if option.get("required"):
            if optional_seen:
                raise form_error(here, "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                                 "Required options must be placed before non-required options")  # fmt: skip
        elif kind not in (1, 2):
            optional_seen = True
        choices = option.get("choices")
        if choices is not None and (not isinstance(choices, list) or len(choices) > 25):
            raise form_error(f"{here}.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        if choices and option.get("autocomplete"):
            raise form_error(f"{here}.autocomplete", "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES",
                             "autocomplete may not be set to true if choices are present.")  # fmt: skip
        _validate_options(option.get("options"), f"{here}.options", parent=kind if kind in (1, 2) else 0)
