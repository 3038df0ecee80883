"""The escalation the probe found, against the emulator with the real bot: a member with only Manage Server
cannot make the bot give a role they could not give by hand, and their alt account never gets it.

Counts come from the emulator's records (members' roles, the channel's messages), not from the bot's word.
"""

from tests.welcomebot.commands.conftest import MANAGE_GUILD, Rig, answer_text
from welcomebot.app.behaviour import behaviour_of
from welcomebot.emulator.world import ATTACH_FILES, MANAGE_ROLES, SEND_MESSAGES, VIEW_CHANNEL

ADMINISTRATOR = 1 << 3
BOT = VIEW_CHANNEL | SEND_MESSAGES | ATTACH_FILES | MANAGE_ROLES


async def _member_with(rig: Rig, name: str, permissions: int, position: int) -> str:
    role = await rig.emu.control.create_role(rig.guild_id, name, position=position, permissions=permissions)
    member = (await rig.emu.control.join(rig.guild_id, global_name=name))["user_id"]
    await rig.emu.control.update_member(rig.guild_id, member, roles=[role])
    return str(member)


async def test_a_manage_server_member_cannot_have_the_bot_grant_administrator_to_their_alt(rig: Rig):
    (bot_role,) = rig.guild["bot_role_ids"]
    await rig.emu.control.update_role(rig.guild_id, bot_role, permissions=BOT, position=10)
    admins = await rig.emu.control.create_role(rig.guild_id, "Admins", position=5, permissions=ADMINISTRATOR)
    manager = await _member_with(rig, "Manager", MANAGE_GUILD, position=2)
    await rig.invoke("welcome channel", channel=rig.channel_id)
    before = await rig.store.get_guild_config(rig.guild_id)

    record = await rig.invoke("behaviour roles", user_id=int(manager), permissions=MANAGE_GUILD, role1=admins)

    text = answer_text(record)
    assert text.startswith("Auto-roles not changed:")
    assert "role Admins carries the Administrator permission" in text
    assert "you need the Manage Roles permission" in text
    after = await rig.store.get_guild_config(rig.guild_id)
    assert after == before, "nothing was stored"
    assert after is not None
    assert behaviour_of(after.options).roles.role_ids == []
    alt = (await rig.emu.control.join(rig.guild_id, global_name="alt"))["user_id"]
    await rig.emu.control.wait_for_mentions(rig.channel_id, 1)
    welcomed = [u for m in await rig.emu.control.messages(rig.channel_id) for u in m["mentioned_user_ids"]]
    assert alt in welcomed
    # Roles are given right after the welcome: the emulator answers as soon as the alt holds one.
    assert (await rig.emu.control.wait_member_roles(rig.guild_id, alt, 1, wait_s=5))["roles"] == []


async def test_roles_above_the_invokers_highest_role_are_refused_and_below_are_saved(rig: Rig):
    (bot_role,) = rig.guild["bot_role_ids"]
    await rig.emu.control.update_role(rig.guild_id, bot_role, permissions=BOT, position=10)
    high = await rig.emu.control.create_role(rig.guild_id, "Veteran", position=6)
    low = await rig.emu.control.create_role(rig.guild_id, "Newcomer", position=1)
    helper = await _member_with(rig, "Helper", MANAGE_GUILD | MANAGE_ROLES, position=4)

    refused = await rig.invoke("behaviour roles", user_id=int(helper), role1=low, role2=high)
    assert answer_text(refused) == (
        "Auto-roles not changed:\n"
        "- role Veteran is not below your highest role: you can only choose roles you could give yourself"
    )
    assert await rig.store.get_guild_config(rig.guild_id) is None
    saved = await rig.invoke("behaviour roles", user_id=int(helper), role1=low)
    assert answer_text(saved).startswith("Saved. Auto-roles: <@&")
    config = await rig.store.get_guild_config(rig.guild_id)
    assert config is not None
    assert behaviour_of(config.options).roles.role_ids == [int(low)]


async def test_a_role_made_dangerous_after_saving_is_skipped_at_grant_time_and_shown(rig: Rig):
    (bot_role,) = rig.guild["bot_role_ids"]
    await rig.emu.control.update_role(rig.guild_id, bot_role, permissions=BOT, position=10)
    member_role = await rig.emu.control.create_role(rig.guild_id, "Member", position=1)
    await rig.invoke("welcome channel", channel=rig.channel_id)
    assert answer_text(await rig.invoke("behaviour roles", role1=member_role)).startswith("Saved.")
    await rig.emu.control.update_role(rig.guild_id, member_role, permissions=1 << 2)  # Ban Members
    joined = (await rig.emu.control.join(rig.guild_id))["user_id"]
    await rig.emu.control.wait_for_mentions(rig.channel_id, 1)
    shown = answer_text(await rig.invoke("behaviour show"))
    assert "- role Member carries the Ban Members permission" in shown
    assert (await rig.emu.control.wait_member_roles(rig.guild_id, joined, 1, wait_s=5))["roles"] == []
