"""Validation against Discord's own OpenAPI 3.1 spec (``../shared/discord/api-spec/openapi.json``).

Tests use it to check that every request the bot sends and every response the emulator gives has the
documented shape. Validators are compiled once per (operation, status) and cached.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["VENDORED", "RouteMatch", "SpecValidator", "SpecViolation", "find_spec", "full_spec"]

_ROOT = "urn:discord-openapi"


class SpecViolation(AssertionError):
    """A request or response does not match Discord's OpenAPI spec."""


@dataclass(frozen=True)
class RouteMatch:
    template: str
    params: dict[str, str]


#: A trimmed copy of the spec (the operations we use and what they reference), made by
#: ``scripts/vendor-openapi``; MIT-licensed by Discord (DISCORD-OPENAPI-LICENSE beside it).
VENDORED = Path(__file__).with_name("discord-openapi.json")


def full_spec() -> Path | None:
    """Discord's full spec: ``$WELCOMEBOT_DISCORD_SPEC``, or ``shared/discord`` beside the repository."""
    env = os.environ.get("WELCOMEBOT_DISCORD_SPEC")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "discord" / "api-spec" / "openapi.json"
        if candidate.is_file():
            return candidate
    return None


def find_spec() -> Path | None:
    """The full spec when it is around, else the vendored trimmed copy."""
    return full_spec() or (VENDORED if VENDORED.is_file() else None)


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _apply_errata(spec: dict[str, Any]) -> None:
    """Where the spec and the documentation disagree, the documentation (and Discord itself) wins.

    - Field errors: ``reference.mdx`` documents ``{"_errors": [{"code": "BASE_TYPE_REQUIRED", ...}]}``
      with string codes, which is what Discord sends; the spec types ``code`` as an integer there.
    """
    spec["components"]["schemas"]["InnerErrors"]["properties"]["_errors"]["items"] = {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": ["string", "integer"]}, "message": {"type": "string"}},
    }


class SpecValidator:
    def __init__(self, spec: dict[str, Any]) -> None:
        _apply_errata(spec)
        self.spec = spec
        self._registry: Registry[Any] = Registry().with_resource(
            _ROOT, Resource.from_contents(spec, default_specification=DRAFT202012)
        )
        self._routes: list[tuple[re.Pattern[str], str]] = []
        for template in spec["paths"]:
            regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            self._routes.append((re.compile(f"^{regex}$"), template))
        # Literal segments beat parameters: /users/@me before /users/{user_id}.
        self._routes.sort(key=lambda r: r[1].count("{"))

    @classmethod
    @cache
    def load(cls, path: Path | None = None) -> SpecValidator:
        path = path or find_spec()
        if path is None:
            raise FileNotFoundError("Discord's OpenAPI spec not found; set WELCOMEBOT_DISCORD_SPEC")
        return cls(msgspec.json.decode(path.read_bytes()))

    def match(self, method: str, path: str) -> RouteMatch:
        path = re.sub(r"^/api/v\d+", "", path.split("?", 1)[0])
        for regex, template in self._routes:
            m = regex.match(path)
            if m and method.lower() in self.spec["paths"][template]:
                return RouteMatch(template, m.groupdict())
        raise SpecViolation(f"{method} {path}: no such operation in Discord's API spec")

    def validate_request(self, method: str, path: str, body: Any, content_type: str = "application/json") -> RouteMatch:
        route = self.match(method, path)
        operation = self.spec["paths"][route.template][method.lower()]
        request_body = operation.get("requestBody")
        if request_body is None:
            if body not in (None, b"", {}):
                raise SpecViolation(f"{method} {route.template}: the spec defines no request body")
            return route
        kind = "multipart/form-data" if content_type.startswith("multipart/") else "application/json"
        if kind == "multipart/form-data":
            kind = "application/json"  # payload_json carries the same schema; files are checked apart
        if kind not in request_body["content"]:
            raise SpecViolation(f"{method} {route.template}: content type {content_type} not accepted")
        pointer = _pointer("paths", route.template, method.lower(), "requestBody", "content", kind, "schema")
        self._check(pointer, body, f"{method} {route.template} request")
        return route

    def validate_response(self, method: str, path: str, status: int, body: Any) -> RouteMatch:
        route = self.match(method, path)
        responses = self.spec["paths"][route.template][method.lower()]["responses"]
        key = str(status) if str(status) in responses else f"{str(status)[0]}XX"
        if key not in responses:
            raise SpecViolation(f"{method} {route.template}: status {status} is not documented")
        where: tuple[str, ...] = ("paths", route.template, method.lower(), "responses", key)
        response = responses[key]
        if "$ref" in response:  # a shared response under #/components/responses
            where = tuple(response["$ref"].removeprefix("#/").split("/"))
            response = self.spec[where[0]][where[1]][where[2]]
        content = response.get("content")
        if content is None:
            if status != 204 and body not in (None, b""):
                raise SpecViolation(f"{method} {route.template}: {status} should have no body")
            return route
        pointer = _pointer(*where, "content", "application/json", "schema")
        self._check(pointer, body, f"{method} {route.template} {status} response")
        return route

    def _check(self, pointer: str, instance: Any, what: str) -> None:
        validator = self._validator(pointer)
        error = next(iter(sorted(validator.iter_errors(instance), key=lambda e: len(e.path))), None)
        if error is not None:
            raise SpecViolation(f"{what}: at /{'/'.join(map(str, error.absolute_path))}: {_short(error)}")

    @cache  # noqa: B019  (one validator per schema pointer for the life of the process)
    def _validator(self, pointer: str) -> Draft202012Validator:
        schema = {"$ref": f"{_ROOT}#/{pointer}"}
        return Draft202012Validator(schema, registry=self._registry)


def _short(error: ValidationError) -> str:
    text = str(error.message)
    return text if len(text) < 300 else text[:300] + "…"
