"""Validation of the gateway payloads the emulator sends against JSON schemas read from Discord's docs.

``gateway-schemas.json`` beside this module is written by ``scripts/gateway-schemas`` from the field tables
of shared/discord/api-docs (events/gateway-events.mdx and the object pages). Tests turn the check on
(``EmulatorConfig.validate_responses``, as for REST answers): a payload that does not match is an emulator
bug, logged and failing the test.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import msgspec
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from welcomebot.emulator.openapi import SpecViolation

__all__ = ["SCHEMAS", "GatewayValidator"]

SCHEMAS = Path(__file__).with_name("gateway-schemas.json")


class GatewayValidator:
    def __init__(self, schemas: dict[str, Any]) -> None:
        defs = schemas["$defs"]

        def compile_(schema: dict[str, Any]) -> Draft202012Validator:
            return Draft202012Validator({**schema, "$defs": defs})

        self._dispatches = {name: compile_(s) for name, s in schemas["dispatches"].items()}
        self._ops = {int(op): compile_(s) for op, s in schemas["ops"].items()}

    @classmethod
    @cache
    def load(cls) -> GatewayValidator:
        return cls(msgspec.json.decode(SCHEMAS.read_bytes()))

    def validate(self, payload: Any) -> None:
        """Raise :class:`SpecViolation` if ``payload`` (one decoded frame) is not what the docs describe."""
        if not isinstance(payload, dict) or not isinstance(payload.get("op"), int):
            raise SpecViolation(f"gateway payload without an integer op: {str(payload)[:200]}")
        op, event = payload["op"], payload.get("t")
        if op == 0:
            validator = self._dispatches.get(event) if isinstance(event, str) else None
            if validator is None or not isinstance(payload.get("s"), int):
                raise SpecViolation(f"dispatch {event!r}: no such event in the docs, or no sequence number")
            what = f"dispatch {event}"
        else:
            if payload.get("s") is not None or event is not None:
                raise SpecViolation(f"op {op}: s and t must be null when op is not 0 (Payload Structure)")
            validator = self._ops.get(op)
            if validator is None:
                raise SpecViolation(f"op {op}: not an opcode the gateway sends")
            what = f"op {op}"
        # best_match descends into anyOf (GUILD_CREATE: available or not) to the error that explains it.
        error = best_match(validator.iter_errors(payload.get("d")))
        if error is not None:
            where = "/".join(map(str, error.absolute_path))
            message = str(error.message)
            raise SpecViolation(f"{what}: at /{where}: {message[:300]}")
