"""From INTERACTION_CREATE to an Invocation: subcommand paths, typed options, DMs, other types."""

from typing import Any

import msgspec

from welcomebot.commands.model import parse_invocation
from welcomebot.gateway.events import InteractionCreate


def interaction(data: dict[str, Any], **extra: object) -> InteractionCreate:
    payload = {"id": "11", "application_id": "22", "type": 2, "token": "t", "channel_id": "33", "data": data,
               **extra}  # fmt: skip
    return msgspec.convert(payload, InteractionCreate, strict=False)


def test_subcommand_path_and_snowflake_options() -> None:
    data = {"name": "welcome", "options": [{"name": "channel", "type": 1, "options": [
        {"name": "channel", "type": 7, "value": "123456789012345678"}]}],
        "resolved": {"channels": {"123456789012345678": {"id": "123456789012345678", "type": 0,
                                                         "name": "hi"}}}}  # fmt: skip
    member = {"user": {"id": "5", "username": "ada"}, "permissions": "32", "roles": []}
    call = parse_invocation(interaction(data, guild_id="44", member=member), 1.5)
    assert call is not None
    assert call.path == ("welcome", "channel")
    assert call.options == {"channel": 123456789012345678}
    assert call.resolved.channels[123456789012345678].name == "hi"
    assert call.invoker is not None
    assert call.invoker.username == "ada"
    assert call.permissions == 32
    assert call.command == "/welcome channel"
    assert "t" not in repr(call).replace("path", "").replace("Invocation", "").replace("welcome", "")


def test_top_level_command_in_a_dm() -> None:
    call = parse_invocation(interaction({"name": "preview"}, user={"id": "5", "username": "ada"}), 0.0)
    assert call is not None
    assert call.path == ("preview",)
    assert call.guild_id is None
    assert call.permissions is None
    assert call.invoker is not None


def test_other_interaction_types_are_ignored() -> None:
    assert parse_invocation(interaction({"name": "x"}, type=1), 0.0) is None  # PING
    assert parse_invocation(interaction({"custom_id": "button"}, type=3), 0.0) is None
