"""Every admin command through the emulator's control API, answered by the real bot (run_bot)."""

from typing import Any

import pytest

from tests.welcomebot.commands.conftest import ADMINISTRATOR, SEND_MESSAGES, Rig, answer_text
from welcomebot.commands.definitions import leaf_paths
from welcomebot.store.api import DEFAULT_TEMPLATE

EPHEMERAL = 1 << 6


def assert_ephemeral(record: dict[str, Any]) -> None:
    first = record["responses"][0]
    assert first["data"]["flags"] & EPHEMERAL, first


async def test_welcome_channel_message_enable_disable_show(rig: Rig):
    record = await rig.invoke("welcome channel", channel=rig.channel_id)
    assert_ephemeral(record)
    assert f"<#{rig.channel_id}>" in answer_text(record)
    assert "cannot post" not in answer_text(record)
    config = await rig.store.get_guild_config(rig.guild_id)
    assert config is not None
    assert config.welcome_channel_id == rig.channel_id

    record = await rig.invoke("welcome message", template="Hello {user}, welcome to {server} (#{count})!")
    assert "Welcome message saved" in answer_text(record)
    assert "welcome to " + rig.guild["name"] in answer_text(record)
    config = await rig.store.get_guild_config(rig.guild_id)
    assert config is not None
    assert config.message_template == "Hello {user}, welcome to {server} (#{count})!"

    record = await rig.invoke("welcome disable")
    assert "off" in answer_text(record)
    config = await rig.store.get_guild_config(rig.guild_id)
    assert config is not None
    assert not config.enabled

    record = await rig.invoke("welcome show")
    text = answer_text(record)
    assert "Welcomes: off" in text
    assert "`/welcome enable`" in text
    assert f"<#{rig.channel_id}>" in text

    record = await rig.invoke("welcome enable", permissions=ADMINISTRATOR)
    assert "on" in answer_text(record)
    config = await rig.store.get_guild_config(rig.guild_id)
    assert config is not None
    assert config.enabled

    record = await rig.invoke("welcome show")
    assert "Everything is in place" in answer_text(record)


async def test_a_config_change_reaches_the_welcomes(rig: Rig):
    """The cache is invalidated: the next join is welcomed with the new template."""
    await rig.invoke("welcome channel", channel=rig.channel_id)
    await rig.invoke("welcome message", template="Ahoy {user}!")
    joined = await rig.emu.control.join(rig.guild_id)
    messages = await rig.emu.control.wait_for_mentions(rig.channel_id, 1)
    assert messages[-1]["content"] == f"Ahoy <@{joined['user_id']}>!"


async def test_welcome_channel_warns_when_the_bot_cannot_post_there(rig: Rig):
    await rig.emu.control.deny_bot(rig.channel_id, SEND_MESSAGES)
    record = await rig.invoke("welcome channel", channel=rig.channel_id)
    assert "lacks Send Messages" in answer_text(record)
    record = await rig.invoke("preview")
    assert "lacks Send Messages" in answer_text(record)


async def test_bad_template_is_refused_with_its_position_and_nothing_stored(rig: Rig):
    record = await rig.invoke("welcome message", template="Hi {usr}!")
    text = answer_text(record)
    assert "unknown placeholder {usr}" in text
    assert "position 4" in text
    assert await rig.store.get_guild_config(rig.guild_id) is None


async def test_preview_renders_the_card_and_says_what_is_missing(rig: Rig):
    record = await rig.invoke("preview")
    assert record["deferred"], "rendering may take longer than a second: deferred first"
    assert record["responded_after_s"] < 3
    original = record["original"]
    assert len(original["attachments"]) == 1
    assert original["attachments"][0]["content_type"] == "image/webp"
    assert "No welcome channel is set" in original["content"]
    assert original["flags"] & EPHEMERAL

    member = (await rig.emu.control.join(rig.guild_id, username="previewed"))["user_id"]
    await rig.invoke("welcome channel", channel=rig.channel_id)
    record = await rig.invoke("preview", member=member)
    assert f"<@{member}>" in answer_text(record)
    assert "✅" in answer_text(record)


async def test_reset_background(rig: Rig):
    record = await rig.invoke("welcome reset-background")
    assert "default background" in answer_text(record)
    config = await rig.store.get_guild_config(rig.guild_id)
    assert config is not None
    assert config.background_ref is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [({}, "one of the two"), ({"url": "https://example.com/a.png", "image": 1}, "one of the two")],
)
async def test_set_background_needs_exactly_one_source(rig: Rig, values, expected):
    record = await rig.invoke("set-background", **values)
    assert expected in answer_text(record)
    assert await rig.store.get_guild_config(rig.guild_id) is None


async def test_every_command_refuses_a_member_without_manage_server(rig: Rig):
    member = int((await rig.emu.control.join(rig.guild_id))["user_id"])
    samples: dict[str, dict[str, Any]] = {
        "welcome channel": {"channel": rig.channel_id},
        "welcome message": {"template": "x {user}"},
        "set-background": {"url": "https://example.com/bg.png"},
    }
    for path in sorted(" ".join(p) for p in leaf_paths()):
        record = await rig.invoke(path, user_id=member, permissions=SEND_MESSAGES, **samples.get(path, {}))
        assert_ephemeral(record)
        assert "Manage Server permission" in answer_text(record), path
    assert await rig.store.get_guild_config(rig.guild_id) is None


async def test_commands_in_direct_messages_are_refused(rig: Rig):
    record = await rig.invoke("welcome enable", dm=True)
    assert "inside a server only" in answer_text(record)
    assert_ephemeral(record)
    assert await rig.store.get_guild_config(rig.guild_id) is None


async def test_default_template_is_valid():
    from welcomebot.commands.template import validate_message_template

    validate_message_template(DEFAULT_TEMPLATE)
