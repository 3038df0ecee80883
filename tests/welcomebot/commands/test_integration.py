"""Every admin command through the emulator's control API, answered by the real bot (run_bot)."""

import io
from typing import Any

import pytest
from PIL import Image

from tests.welcomebot.commands.conftest import ADMINISTRATOR, SEND_MESSAGES, Rig, answer_text
from welcomebot.commands.definitions import leaf_paths
from welcomebot.store.api import DEFAULT_TEMPLATE, MAX_ATTEMPTS, WelcomeKey

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


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 160)).save(out, "PNG")
    return out.getvalue()


async def test_set_background_from_an_upload_stores_the_asset_and_the_card_uses_it(rig: Rig):
    record = await rig.invoke("set-background", attachment=("sky.png", "image/png", png(800, 300)))
    assert "Background saved (800x300 pixels)" in answer_text(record)
    config = await rig.store.get_guild_config(rig.guild_id)
    assert config is not None
    assert config.background_ref is not None
    assert config.background_ref.startswith("asset:")
    assert await rig.store.get_asset(config.background_ref.removeprefix("asset:")) is not None
    record = await rig.invoke("welcome show")
    assert "Background: custom image" in answer_text(record)

    record = await rig.invoke("welcome reset-background")
    config = await rig.store.get_guild_config(rig.guild_id)
    assert config is not None
    assert config.background_ref is None


async def test_set_background_from_a_link(rig: Rig):
    await rig.invoke("set-background", attachment=("a.png", "image/png", png(640, 200)))
    link = f"{rig.emu.info.cdn_base}/attachments/0/{_last_attachment_id(rig)}/a.png"  # on the trusted CDN
    await rig.invoke("welcome reset-background")
    record = await rig.invoke("set-background", url=link)
    assert "640x200" in answer_text(record)
    config = await rig.store.get_guild_config(rig.guild_id)
    assert config is not None
    assert config.background_ref is not None


def _last_attachment_id(rig: Rig) -> int:
    holder = rig.emu.emulator.world.messages[0]
    return holder[-1].attachments[0].id


@pytest.mark.parametrize(
    ("attachment", "url", "expected"),
    [
        (("notes.txt", "image/png", b"definitely not an image"), None, "Background not changed"),
        (("tiny.png", "image/png", png(50, 50)), None, "Background not changed"),
        (None, "http://169.254.169.254/latest/meta-data/bg.png", "Background not changed"),
        (None, "file:///etc/passwd", "Background not changed"),
        (None, "https://user:pw@example.com/bg.png", "Background not changed"),
    ],
)
async def test_set_background_refusals_store_nothing(
    rig: Rig, attachment: tuple[str, str, bytes] | None, url: str | None, expected: str
) -> None:
    values: dict[str, Any] = {} if url is None else {"url": url}
    record = await rig.invoke("set-background", attachment=attachment, **values)
    assert expected in answer_text(record)
    assert await rig.store.get_guild_config(rig.guild_id) is None
    assert await rig.store.list_assets() == []


async def test_welcome_show_and_readyz_say_what_is_quarantined_and_parked(rig: Rig):
    await rig.invoke("welcome channel", channel=rig.channel_id)
    key = WelcomeKey(rig.guild_id, 42 << 22, "2026-11-24T10:00:00+00:00")
    await rig.store.claim_welcome(key, "gone", 0.0, 60)
    for _ in range(MAX_ATTEMPTS):
        await rig.store.retry_or_quarantine([key], "KeyError: 'avatar'", 1.0)
    parked = rig.bot.pipeline.parked
    assert isinstance(parked, dict)
    parked[rig.guild_id] = "StoreError: database disk image is malformed"  # as the registry parks a guild
    try:
        text = answer_text(await rig.invoke("welcome show"))
        _, reasons = await rig.bot.ready()
    finally:
        parked.clear()
    assert f"1 welcome quarantined (tried {MAX_ATTEMPTS} times, never tried again), last: quarantined after" in text
    assert "KeyError: 'avatar'" in text
    assert "Welcomes here are paused" in text
    assert "StoreError: database disk image is malformed" in text
    assert f"guild {rig.guild_id} is parked: its welcomer kept crashing (StoreError" in " ".join(reasons)
