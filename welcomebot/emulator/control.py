"""The control API (``/_control``): make things happen in the emulated Discord, and read what happened.

Tests, the sandbox and the benchmarks use it to create guilds, make members join or leave, invoke slash
commands, inject faults, and count from the emulator's own records what the bot really did.

``POST /_control/interactions`` invokes a slash command the application registered (404 otherwise), sent with
the registered command's id; ``locale`` and ``guild_locale`` set what the invoking client reports.

``PATCH /_control/application`` sets ``shards`` (Get Gateway Bot's recommended count), ``max_concurrency``
(IDENTIFYs per 5 s, one per ``shard_id % max_concurrency``; more get op 9, counted as
``gateway.identify_refused`` in ``/_control/stats``), ``identify_remaining``, and the privileged intents the
portal allows: ``members_intent_enabled``, ``presences_intent_enabled``, ``message_content_intent_enabled``.

``POST /_control/clock {"advance_s": 310}`` moves the emulator's clock forward (answering ``{"advanced_s": 310}``):
everything time-based moves with it (the nonce window of ``enforce_nonce``, rate-limit windows and their reset
headers, interaction deadlines, the gateway's heartbeat and resume windows, the timestamps and snowflakes of new
messages), as if that much time had passed; a connected bot is then late with its heartbeats, as it would be
after a real pause. It needs a clock that can move (``welcomebot emulator`` runs on one; in-process tests use
``trio.testing.MockClock`` or :class:`~welcomebot.emulator.clock.AdvanceableClock`), else it answers 409.

``DELETE /_control/guilds/{id}/bot`` removes the bot from a guild: the gateway sends GUILD_DELETE without
``unavailable``, as Discord does when a bot is kicked or the guild deleted, and the guild leaves READY and
the REST routes; ``POST /_control/guilds/{id}/bot`` adds it back (a GUILD_CREATE, the same guild as before).

``POST /_control/guilds/{id}/outage {"on": true}`` makes a guild unavailable, as in a Discord outage: sessions
get GUILD_DELETE with ``unavailable: true``, the guild sends no events meanwhile (the world still changes: joins
go on), and a new session's READY lists it unavailable and sends GUILD_DELETE for it instead of GUILD_CREATE;
``{"on": false}`` ends it with a GUILD_CREATE. REST on the guild keeps working (not modelled).
"""

from __future__ import annotations

import base64
import secrets
from typing import TYPE_CHECKING, Any

import msgspec
import trio

from welcomebot.emulator.clock import FixedClock, advance
from welcomebot.emulator.gateway import GUILD_MEMBERS, GatewayServer
from welcomebot.emulator.rest import MAX_UPLOAD, Interaction, RestApi
from welcomebot.emulator.world import (
    Attachment,
    Guild,
    Member,
    Message,
    Overwrite,
    Role,
    World,
    attachment_json,
    iso,
    permissions_for,
)
from welcomebot.httpserver import Request, Response

if TYPE_CHECKING:
    from welcomebot.emulator.cdn import Cdn

__all__ = ["Control"]

_encode = msgspec.json.Encoder().encode


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Control:
    def __init__(self, world: World, rest: RestApi, gateway: GatewayServer, cdn: Cdn, info: dict[str, Any]) -> None:
        self.world = world
        self.rest = rest
        self.gateway = gateway
        self.cdn = cdn
        self.info = info
        self.joins_sent = 0

    async def handle(self, request: Request, path: str) -> Response:
        wait_for = request.arg("wait_for_mentions")
        wait_count = request.arg("wait_for_count")
        if request.method == "GET" and (wait_for or wait_count) is not None and path.startswith("/channels/"):
            # Long poll: answer once the channel's messages mention that many users, or once it holds exactly
            # that many messages (a deletion), or after wait_s.
            channel_id = int(path.split("/")[2])

            def waiting() -> bool:
                messages = self.world.messages.get(channel_id, [])
                if wait_count is not None:
                    return len(messages) != int(wait_count)
                return sum(len(m.mentions) for m in messages) < int(wait_for or 0)

            with trio.move_on_after(float(request.arg("wait_s") or 30)):
                while waiting():
                    await self.world.message_posted.wait()
        wait_roles = request.arg("wait_for_roles")
        if request.method == "GET" and wait_roles is not None and path.startswith("/guilds/"):
            # Long poll: answer once the member holds that many roles (given over REST), or after wait_s.
            _, _, gid, _, uid = path.split("/")[:5]
            with trio.move_on_after(float(request.arg("wait_s") or 30)):
                while len(getattr(self.world.guilds[int(gid)].members.get(int(uid)), "roles", [])) < int(wait_roles):
                    await self.world.message_posted.wait()
        if request.method == "GET" and request.arg("wait") == "answered" and path.startswith("/interactions/"):
            # Long poll: answer once the interaction has its final response (an answer, or an edited deferral).
            iid = int(path.split("/")[2]) if path.split("/")[2].isdigit() else 0
            with trio.move_on_after(float(request.arg("wait_s") or 30)):
                while not _answered(self.rest.interactions.get(iid)):
                    await self.rest.interaction_updated.wait()
        try:
            body = msgspec.json.decode(request.body) if request.body else {}
            status, payload = self._route(request.method, path, body)
        except ControlError as exc:
            return Response(exc.status, _encode({"error": str(exc)}))
        except (msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
            return Response(400, _encode({"error": f"bad control request: {exc}"}))
        return Response(status, _encode(payload))

    def _role_event(self, event: str, guild: Guild, role: Role) -> None:
        self.gateway.dispatch(event, {"guild_id": str(guild.id), "role": role.to_json()}, guild_id=guild.id, intent=1)

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        match method, parts:
            case "GET", ["info"]:
                return 200, self.info
            case "GET", ["guilds"]:
                return 200, [self._guild_summary(g) for g in self.world.guilds.values()]
            case "POST", ["guilds"]:
                guild = self.world.new_guild(
                    str(body.get("name", "New Server")), channels=int(body.get("channels", 2)),
                    members=int(body.get("members", 0)),
                )  # fmt: skip
                self.gateway.dispatch("GUILD_CREATE", self.world.guild_create(guild.id), guild_id=guild.id, intent=1)
                return 201, self._guild_summary(guild)
            case "DELETE", ["guilds", gid, "bot"]:
                guild = self._guild(gid)
                self.gateway.dispatch("GUILD_DELETE", {"id": str(guild.id)}, guild_id=guild.id, intent=1)
                self.world.left[guild.id] = self.world.guilds.pop(guild.id)
                return 200, {"removed": str(guild.id)}
            case "POST", ["guilds", gid, "outage"]:
                # An outage (events/gateway-events.mdx, Guild Delete: "Sent when a guild becomes ... unavailable
                # due to an outage"): GUILD_DELETE with unavailable true, no events meanwhile; when it ends, the
                # guild "becomes available again": a GUILD_CREATE.
                guild = self._guild(gid)
                if bool(body.get("on", True)):
                    if guild.id not in self.world.outages:
                        data = {"id": str(guild.id), "unavailable": True}
                        self.gateway.dispatch("GUILD_DELETE", data, guild_id=guild.id, intent=1)
                        self.world.outages.add(guild.id)
                elif guild.id in self.world.outages:
                    self.world.outages.discard(guild.id)
                    self.gateway.dispatch("GUILD_CREATE", self.world.guild_create(guild.id), guild_id=guild.id,
                                          intent=1)  # fmt: skip
                return 200, {"id": str(guild.id), "unavailable": guild.id in self.world.outages}
            case "POST", ["guilds", gid, "bot"]:
                left = self.world.left.pop(int(gid), None)
                if left is None:
                    raise ControlError(404, f"the bot was not removed from a guild {gid}")
                self.world.guilds[left.id] = left
                self.gateway.dispatch("GUILD_CREATE", self.world.guild_create(left.id), guild_id=left.id, intent=1)
                return 201, self._guild_summary(left)
            case "POST", ["guilds", gid, "channels"]:
                guild = self._guild(gid)
                channel = self.world.new_channel(guild, str(body.get("name", "channel")))
                self.gateway.dispatch("CHANNEL_CREATE", channel.to_json(), guild_id=guild.id, intent=1)
                return 201, {"id": str(channel.id), "name": channel.name}
            case "DELETE", ["channels", cid]:
                channel = self._channel(cid)
                del self.world.guilds[channel.guild_id].channels[channel.id]
                del self.world.channels[channel.id]
                self.gateway.dispatch("CHANNEL_DELETE", channel.to_json(), guild_id=channel.guild_id, intent=1)
                return 200, {"deleted": str(channel.id)}
            case "PUT", ["channels", cid, "overwrites"]:
                channel = self._channel(cid)
                target = self.world.bot.id if body.get("target", "bot") == "bot" else int(body["target"])
                channel.overwrites = [o for o in channel.overwrites if o.id != target]
                channel.overwrites.append(
                    Overwrite(target, 1 if target == self.world.bot.id else int(body.get("type", 0)),
                              int(body.get("allow", 0)), int(body.get("deny", 0)))
                )  # fmt: skip
                self.gateway.dispatch("CHANNEL_UPDATE", channel.to_json(), guild_id=channel.guild_id, intent=1)
                return 200, channel.to_json()
            case "GET", ["channels", cid, "messages"]:
                channel_id = int(cid)
                return 200, [self._message(m) for m in self.world.messages.get(channel_id, [])]
            case "POST", ["guilds", gid, "members"]:
                return 201, self._join(self._guild(gid), body)
            case "GET", ["guilds", gid, "members", uid]:
                found = self._guild(gid).members.get(int(uid))
                if found is None:
                    raise ControlError(404, "no such member")
                return 200, found.to_json()
            case "POST", ["guilds", gid, "roles"]:
                guild = self._guild(gid)
                role = Role(self.world.ids.next(), str(body.get("name", "role")), int(body.get("permissions", 0)),
                            int(body.get("position", 1)))  # fmt: skip
                guild.roles[role.id] = role
                self._role_event("GUILD_ROLE_CREATE", guild, role)
                return 201, role.to_json()
            case "PATCH", ["guilds", gid, "roles", rid]:
                role = self._guild(gid).roles.get(int(rid))
                if role is None:
                    raise ControlError(404, f"no role {rid}")
                role.permissions = int(body.get("permissions", role.permissions))
                role.position = int(body.get("position", role.position))
                self._role_event("GUILD_ROLE_UPDATE", self._guild(gid), role)
                return 200, role.to_json()
            case "DELETE", ["guilds", gid, "roles", rid]:
                guild = self._guild(gid)
                if int(rid) == guild.id or guild.roles.pop(int(rid), None) is None:
                    raise ControlError(404, f"no role {rid} to delete")
                for member in guild.members.values():
                    member.roles = [r for r in member.roles if r != int(rid)]
                data = {"guild_id": str(guild.id), "role_id": rid}
                self.gateway.dispatch("GUILD_ROLE_DELETE", data, guild_id=guild.id, intent=1)
                return 200, {"deleted": rid}
            case "PATCH", ["guilds", gid]:
                guild = self._guild(gid)
                guild.name = str(body.get("name", guild.name))
                guild.icon = body.get("icon", guild.icon)
                if "system_channel_id" in body:
                    system = body["system_channel_id"]
                    guild.system_channel_id = None if system is None else int(system)
                # Discord sends GUILD_UPDATE (a guild object, no member count or members) to every session.
                self.gateway.dispatch("GUILD_UPDATE", guild.to_json(), guild_id=guild.id, intent=1)
                return 200, self._guild_summary(guild)
            case "GET", ["users", uid, "dms"]:
                dm = self.world.dm_channels.get(int(uid))
                return 200, [] if dm is None else [self._message(m) for m in self.world.messages[dm.id]]
            case "PATCH", ["guilds", gid, "members", uid]:
                return 200, self._update(self._guild(gid), int(uid), body)
            case "DELETE", ["guilds", gid, "members", uid]:
                guild = self._guild(gid)
                member = guild.members.pop(int(uid), None)
                if member is None:
                    raise ControlError(404, "no such member")
                data = {"guild_id": str(guild.id), "user": member.user.to_json()}
                self.gateway.dispatch("GUILD_MEMBER_REMOVE", data, guild_id=guild.id, intent=GUILD_MEMBERS)
                return 200, {"removed": uid}
            case "POST", ["interactions"]:
                return 201, self._interaction(body)
            case "GET", ["interactions", iid]:
                interaction = self.rest.interactions.get(int(iid))
                if interaction is None:
                    raise ControlError(404, "no such interaction")
                return 200, self._interaction_record(interaction)
            case "GET", ["gateway", "sessions"]:
                return 200, self.gateway.sessions()
            case "GET", ["stats"]:
                return 200, self._stats()
            case "POST", ["clock"]:
                seconds = float(body.get("advance_s", 0))
                try:
                    advance(seconds)
                except FixedClock as exc:
                    raise ControlError(409, str(exc)) from None
                return 200, {"advanced_s": seconds}
            case "POST", ["faults"]:
                self._fault(body)
                return 200, {"ok": True}
            case "POST", ["limits"]:
                limiter = self.rest.limiter
                limiter.global_per_second = int(body.get("global_per_second", limiter.global_per_second))
                limiter.invalid_ban_threshold = int(body.get("invalid_ban_threshold", limiter.invalid_ban_threshold))
                if "message_period_s" in body:
                    self.rest.set_message_period(float(body["message_period_s"]))
                return 200, {"global_per_second": limiter.global_per_second}
            case "PATCH", ["application"]:
                for flag in ("members_intent_enabled", "presences_intent_enabled", "message_content_intent_enabled"):
                    if flag in body:
                        setattr(self.world, flag, bool(body[flag]))
                if "identify_remaining" in body:
                    self.world.identify_remaining = int(body["identify_remaining"])
                if "shards" in body:
                    self.world.recommended_shards = _positive(body, "shards")
                if "max_concurrency" in body:
                    self.world.max_concurrency = _positive(body, "max_concurrency")
                return 200, {**self.world.application_partial(), "shards": self.world.recommended_shards,
                             "max_concurrency": self.world.max_concurrency}  # fmt: skip
        raise ControlError(404, f"no control route {method} /{'/'.join(parts)}")

    # --- helpers ------------------------------------------------------------------------------------

    def _guild(self, gid: str) -> Any:
        guild = self.world.guilds.get(int(gid))
        if guild is None:
            raise ControlError(404, f"no guild {gid}")
        return guild

    def _channel(self, cid: str) -> Any:
        channel = self.world.channels.get(int(cid))
        if channel is None:
            raise ControlError(404, f"no channel {cid}")
        return channel

    def _guild_summary(self, guild: Any) -> dict[str, Any]:
        bot = guild.members.get(self.world.bot.id)
        return {
            "roles": [{"id": str(r.id), "name": r.name, "position": r.position} for r in guild.roles.values()],
            "bot_role_ids": [] if bot is None else [str(r) for r in bot.roles],
            "id": str(guild.id),
            "name": guild.name,
            "member_count": len(guild.members),
            "channels": [{"id": str(c.id), "name": c.name} for c in guild.channels.values()],
            "owner_id": str(guild.owner_id),
        }

    def _join(self, guild: Any, body: dict[str, Any]) -> dict[str, Any]:
        """A member joins: a new user, or ``user_id`` coming back; ``account_age_s`` backdates a new account,
        ``dms_closed`` makes their privacy settings refuse DMs from the bot (error 50007)."""
        if "user_id" in body:
            user = self.world.users[int(body["user_id"])]
            if user.id in guild.members:
                raise ControlError(409, "already a member")
        else:
            created = None
            if "account_age_s" in body:
                created = self.world.now_ms(trio.current_time()) - int(float(body["account_age_s"]) * 1000)
            user = self.world.new_user(
                username=body.get("username"),
                global_name=body.get("global_name"),
                avatar=body.get("avatar", "random"),
                created_ms=created,
            )
            user.bot = bool(body.get("bot", False))
        if body.get("dms_closed"):
            self.world.closed_dms.add(user.id)
        joined_at = iso(self.world.now_ms(trio.current_time()))
        member = Member(user, joined_at, pending=bool(body.get("pending", False)))
        guild.members[user.id] = member
        self.joins_sent += 1
        data = {**member.to_json(), "guild_id": str(guild.id)}
        self.gateway.dispatch("GUILD_MEMBER_ADD", data, guild_id=guild.id, intent=GUILD_MEMBERS)
        return {
            "user_id": str(user.id),
            "joined_at": joined_at,
            "username": user.username,
            "avatar": user.avatar,
        }

    def _update(self, guild: Any, user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        member = guild.members.get(user_id)
        if member is None:
            raise ControlError(404, "no such member")
        if "pending" in body:
            member.pending = bool(body["pending"])
        if "nick" in body:
            member.nick = body["nick"]
        if "roles" in body:  # as a moderator would give them in Discord's UI
            member.roles = [int(r) for r in body["roles"] if int(r) in guild.roles]
        data = {**member.to_json(), "guild_id": str(guild.id)}
        self.gateway.dispatch("GUILD_MEMBER_UPDATE", data, guild_id=guild.id, intent=GUILD_MEMBERS)
        return data

    def _interaction(self, body: dict[str, Any]) -> dict[str, Any]:
        world = self.world
        guild_id = body.get("guild_id")
        guild = self._guild(str(guild_id)) if guild_id is not None else None
        channel_id = int(body["channel_id"])
        user_id = int(body["user_id"])
        user = world.users.get(user_id)
        if user is None:
            raise ControlError(404, f"no user {user_id}")
        name = str(body["name"])
        # Discord only delivers commands the application registered (globally or in this guild), with the
        # registered command's id (interactions/receiving-and-responding.mdx, Application Command Data).
        scopes = [guild.id, None] if guild is not None else [None]
        command = next(
            (c for scope in scopes for c in world.commands.get(scope, []) if c["name"] == name and c["type"] == 1),
            None,
        )
        if command is None:
            raise ControlError(404, f"no slash command {name!r} is registered; the bot registers its commands first")
        if guild is not None:
            channel = guild.channels.get(channel_id)
            if channel is None:
                raise ControlError(404, f"no channel {channel_id} in the guild")
        else:
            channel = world.dm_channel(user)  # a command used in a DM comes from the bot's DM with the user
            channel_id = channel.id
        iid = world.ids.next()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
        options = list(body.get("options") or [])
        resolved: dict[str, Any] = {}
        attachment = body.get("attachment")
        member = guild.members.get(user_id) if guild is not None else None
        if guild is not None:
            if member is None:
                raise ControlError(404, "that user is not a member of the guild")
            self._resolve(guild, member, options, resolved)
        if attachment is not None:
            data = base64.b64decode(attachment["data_b64"])
            a = Attachment(world.ids.next(), str(attachment.get("filename", "upload.png")),
                           str(attachment.get("content_type", "application/octet-stream")), data)  # fmt: skip
            world.messages.setdefault(0, []).append(_holder(world, a))
            resolved["attachments"] = {str(a.id): attachment_json(a, self.rest.cdn_base, 0)}
            # The attachment option sits with the invoked (sub)command's other options, as Discord sends it.
            leaf = options
            while leaf and leaf[0].get("type") in (1, 2):
                leaf = leaf[0].setdefault("options", [])
            leaf.append({"name": str(attachment.get("option", "image")), "type": 11, "value": str(a.id)})
        data_obj: dict[str, Any] = {"id": command["id"], "name": name, "type": 1, "options": options}
        if "guild_id" in command:
            data_obj["guild_id"] = command["guild_id"]
        if resolved:
            data_obj["resolved"] = resolved
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(world.application_id),
            "type": 2,
            "data": data_obj,
            "channel_id": str(channel_id),
            "channel": channel.to_json(),
            "token": token,
            "version": 1,
            "locale": str(body.get("locale", "en-US")),
            # The limit of an unboosted guild or a DM: 10 MiB per file (topics/reference.mdx, Uploading Files).
            "attachment_size_limit": MAX_UPLOAD,
            "app_permissions": str(body.get("app_permissions", "0")),
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)} if guild else {},
            "context": 0 if guild else 1,
        }
        if guild is not None and member is not None:
            payload["guild_id"] = str(guild.id)
            payload["guild_locale"] = str(body.get("guild_locale", "en-US"))
            payload["member"] = {**member.to_json(), "permissions": str(int(body.get("permissions", 0)))}
            payload["channel"]["permissions"] = payload["member"]["permissions"]
            payload["guild"] = {"id": str(guild.id), "locale": payload["guild_locale"], "features": []}
        else:
            payload["user"] = user.to_json()
        self.rest.interactions[iid] = Interaction(
            iid,
            token,
            world.application_id,
            guild.id if guild else None,
            channel_id,
            user_id,
            trio.current_time(),
        )
        self.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=guild.id if guild else None, intent=None)
        return {"id": str(iid), "token": token}

    def _resolve(self, guild: Any, invoker: Member, options: list[dict[str, Any]], resolved: dict[str, Any]) -> None:
        """Fill ``resolved`` for user and channel options, nested in subcommands too, as Discord does."""
        for option in options:
            kind = option.get("type")
            if kind in (1, 2):
                self._resolve(guild, invoker, list(option.get("options") or []), resolved)
            elif kind == 6:
                member = guild.members.get(int(option["value"]))
                if member is None:
                    raise ControlError(404, f"no member {option['value']} in the guild")
                resolved.setdefault("users", {})[str(member.user.id)] = member.user.to_json()
                partial = {k: v for k, v in member.to_json().items() if k not in ("user", "deaf", "mute")}
                partial["permissions"] = str(permissions_for(guild, member, None))
                resolved.setdefault("members", {})[str(member.user.id)] = partial
            elif kind == 7:
                channel = guild.channels.get(int(option["value"]))
                if channel is None:
                    raise ControlError(404, f"no channel {option['value']} in the guild")
                resolved.setdefault("channels", {})[str(channel.id)] = {
                    "id": str(channel.id), "name": channel.name, "type": channel.type,
                    "permissions": str(permissions_for(guild, invoker, channel)),
                }  # fmt: skip

    def _interaction_record(self, i: Interaction) -> dict[str, Any]:
        return {
            "id": str(i.id),
            "responded": i.responded,
            "responded_after_s": None if i.responded_at is None else i.responded_at - i.created_at,
            "answered": _answered(i),
            "deferred": i.deferred,
            "responses": i.responses,
            "original": None if i.original is None else self._message(i.original),
            "followups": [self._message(m) for m in i.followups],
        }

    def _message(self, m: Any) -> dict[str, Any]:
        data = self.rest.message_json(m)
        data["allowed_mentions"] = m.allowed_mentions
        data["mentioned_user_ids"] = [str(u.id) for u in m.mentions]
        return data

    def _stats(self) -> dict[str, Any]:
        rest = self.rest
        now = trio.current_time()
        posted = sum(len(v) for k, v in self.world.messages.items() if k != 0)
        return {
            "requests": dict(rest.requests),
            "spec_violations": list(rest.spec_violations),
            "rate_limited": dict(rest.rate_limited),
            "rate_limited_total": sum(rest.rate_limited.values()),
            "injected_failures": {str(k): v for k, v in rest.injected.items()},
            "invalid_requests_total": rest.limiter.invalid_total,
            "invalid_requests_window": rest.limiter.invalid_in_window(now),
            "messages": posted,
            "joins_sent": self.joins_sent,
            "cdn_requests": self.cdn.requests,
            "gateway": self.gateway.stats(),
        }

    def _fault(self, body: dict[str, Any]) -> None:
        target = body.get("target", "rest")
        if target == "gateway":
            self.gateway.inject_fault(body)
        elif target == "rest":
            faults = self.rest.faults
            faults.latency_s = float(body.get("latency_s", faults.latency_s))
            faults.fail_share = float(body.get("fail_share", faults.fail_share))
            faults.fail_status = int(body.get("fail_status", faults.fail_status))
            faults.fail_scope = str(body.get("fail_scope", faults.fail_scope))
            faults.drop_responses = int(body.get("drop_responses", faults.drop_responses))
        elif target == "cdn":
            self.cdn.latency_s = float(body.get("latency_s", self.cdn.latency_s))
        else:
            raise ControlError(400, f"unknown fault target {target!r}")


def _positive(body: dict[str, Any], key: str) -> int:
    value = body[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ControlError(400, f"{key} must be a whole number, 1 or more (got {value!r})")
    return value


def _answered(i: Interaction | None) -> bool:
    """Has the interaction its final response: a message callback, or a deferral edited since?"""
    if i is None or not i.responded:
        return False
    return not i.deferred or any("edit" in r for r in i.responses)


def _holder(world: World, attachment: Attachment) -> Message:
    """Uploads to slash commands live on Discord's CDN; here, in a hidden channel 0 the CDN serves."""
    return Message(world.ids.next(), 0, world.bot, "", iso(world.start_ms), [attachment])
