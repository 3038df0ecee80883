"""/behaviour through the emulator: settings saved validated, answers that say what to fix, and their effect."""

from typing import Any

from tests.welcomebot.commands.conftest import Rig, answer_text
from welcomebot.app.behaviour import behaviour_of
from welcomebot.emulator.world import ATTACH_FILES, EMBED_LINKS, MANAGE_ROLES, SEND_MESSAGES, VIEW_CHANNEL

#: The bot role's permissions in a new emulated guild, plus Manage Roles.
MANAGER = VIEW_CHANNEL | SEND_MESSAGES | ATTACH_FILES | EMBED_LINKS | MANAGE_ROLES


def opts(**values: Any) -> dict[str, Any]:
    """Option names with dashes, as keyword arguments."""
    return {k.replace("_", "-"): v for k, v in values.items()}


async def _behaviour(rig: Rig):
    config = await rig.store.get_guild_config(rig.guild_id)
    assert config is not None
    return behaviour_of(config.options)


async def test_each_section_is_saved_and_described(rig: Rig):
    goodbyes = int(rig.guild["channels"][1]["id"])
    record = await rig.invoke("behaviour goodbye", enabled=True, channel=goodbyes, template="Bye {name}!")
    assert f"Goodbyes: on, in <#{goodbyes}>" in answer_text(record)
    await rig.invoke("behaviour dm", mode="instead", card=True)
    await rig.invoke("behaviour auto-delete", **opts(quick_leave_minutes=5))
    await rig.invoke("behaviour raid", enabled=True, joins=20, seconds=5, **opts(group_size=30))
    await rig.invoke("behaviour gate", **opts(min_account_age_hours=24))
    await rig.invoke("behaviour catch-up", enabled=True)
    record = await rig.invoke("behaviour embed", enabled=True, title="Hi {name}", colour="#00ff00")
    assert "colour #00ff00" in answer_text(record)
    b = await _behaviour(rig)
    assert b.goodbye.channel_id == goodbyes
    assert b.goodbye.template == "Bye {name}!"
    assert (b.dm.mode, b.dm.card) == ("instead", True)
    assert b.auto_delete.quick_leave_minutes == 5
    assert (b.raid.enabled, b.raid.joins, b.raid.window_s, b.raid.group_size) == (True, 20, 5, 30)
    assert b.gate.min_account_age_hours == 24
    assert b.catch_up.enabled
    assert (b.embed.enabled, b.embed.title, b.embed.colour) == (True, "Hi {name}", 0x00FF00)
    record = await rig.invoke("behaviour dm", mode="off")
    assert "DM welcome: off" in answer_text(record)
    assert (await _behaviour(rig)).dm.card, "options not given keep their saved value"
    text = answer_text(await rig.invoke("behaviour show"))
    assert "Raid mode: above 20 joins in 5 s, one welcome per 30 members, no cards" in text
    assert "Nothing to fix." in text


async def test_a_bad_template_or_colour_is_refused_and_nothing_changes(rig: Rig):
    record = await rig.invoke("behaviour goodbye", enabled=True, template="Bye {nmae}")
    assert "goodbye.template: unknown placeholder {nmae}" in answer_text(record)
    record = await rig.invoke("behaviour embed", enabled=True, colour="green")
    assert "#5865f2" in answer_text(record)
    assert await rig.store.get_guild_config(rig.guild_id) is None


async def test_roles_above_the_bot_are_explained_in_the_answer_and_in_preview(rig: Rig):
    (bot_role,) = rig.guild["bot_role_ids"]
    await rig.emu.control.update_role(rig.guild_id, bot_role, position=3)
    high = await rig.emu.control.create_role(rig.guild_id, "Moderator", position=5)
    record = await rig.invoke("behaviour roles", role1=high)
    text = answer_text(record)
    assert "lacks the Manage Roles permission" in text
    assert "role Moderator is not below the bot's highest role" in text
    await rig.invoke("welcome channel", channel=rig.channel_id)
    assert "Auto-roles: role Moderator is not below" in answer_text(await rig.invoke("preview"))
    await rig.emu.control.update_role(rig.guild_id, bot_role, permissions=MANAGER, position=9)
    assert "Nothing to fix." in answer_text(await rig.invoke("behaviour show"))


async def test_auto_roles_are_given_after_the_welcome(rig: Rig):
    (bot_role,) = rig.guild["bot_role_ids"]
    await rig.emu.control.update_role(rig.guild_id, bot_role, permissions=MANAGER, position=3)
    member_role = await rig.emu.control.create_role(rig.guild_id, "Member", position=1)
    await rig.invoke("welcome channel", channel=rig.channel_id)
    await rig.invoke("behaviour roles", role1=member_role)
    joined = await rig.emu.control.join(rig.guild_id, pending=True)
    await rig.emu.control.update_member(rig.guild_id, joined["user_id"], pending=False)
    await rig.emu.control.wait_for_mentions(rig.channel_id, 1)
    update = await rig.emu.control.wait_member_roles(rig.guild_id, joined["user_id"], 1)
    assert update["roles"] == [member_role]
