"""The command definitions: valid by Discord's spec, guild-only, Manage Server, one handler per leaf."""

from typing import Any

from welcomebot.commands.definitions import COMMANDS, definitions_hash, definitions_payload, leaf_paths
from welcomebot.commands.dispatch import HANDLERS
from welcomebot.emulator.openapi import SpecValidator


def test_payload_matches_discords_spec():
    spec = SpecValidator.load()
    spec.validate_request("PUT", "/applications/1234567890123456789/commands", definitions_payload())


def test_every_command_is_guild_only_and_for_managers():
    for command in definitions_payload():
        assert command["default_member_permissions"] == 32
        assert command["contexts"] == [0]
        assert command["integration_types"] == [0]


def test_names_and_descriptions_fit_discords_limits():
    def walk(options: list[dict[str, Any]]) -> None:
        for option in options:
            assert option["name"] == option["name"].lower()
            assert 1 <= len(option["name"]) <= 32
            assert 1 <= len(option["description"]) <= 100, option["description"]
            walk(option.get("options", []))

    walk(definitions_payload())


def test_each_leaf_path_has_a_handler_and_no_handler_is_orphaned():
    assert set(HANDLERS) == leaf_paths()
    assert ("welcome", "channel") in leaf_paths()
    assert ("preview",) in leaf_paths()


def test_hash_changes_with_the_definitions_only():
    assert definitions_hash() == definitions_hash(COMMANDS)
    assert definitions_hash(COMMANDS[:1]) != definitions_hash()
