"""The hostile-input battery, against the emulator with the real bot: what a hostile admin or member can send
through the slash commands (templates, roles, channels, backgrounds, fonts) and their profile (names).

Every refusal is checked three ways: the answer's text says why, nothing was stored (the guild's config is
exactly as before), and another guild is still welcomed afterwards (counted from the emulator's records).
"""

from typing import Any

import pytest

from tests.helpers import HOSTILE_NAMES
from tests.welcomebot.commands.conftest import MANAGE_GUILD, Rig, answer_text, command_options
from welcomebot.emulator.world import ATTACH_FILES, MANAGE_ROLES, SEND_MESSAGES, VIEW_CHANNEL
from welcomebot.store.api import GuildConfig

ADMINISTRATOR = 1 << 3
BOT = VIEW_CHANNEL | SEND_MESSAGES | ATTACH_FILES | MANAGE_ROLES

#: (command, options, what the answer must say); ``{...}`` in options are filled from the rig.
TEMPLATES: list[tuple[str, dict[str, Any], str]] = [
    ("welcome message", {"template": "Hi {user.__class__}"}, "template"),
    ("welcome message", {"template": "Hi {0}"}, "template"),
    ("welcome message", {"template": "Hi {name"}, "template"),
    ("welcome message", {"template": "Hi name}"}, "template"),
    ("welcome message", {"template": "{nope} joined"}, "nope"),
    ("welcome message", {"template": "{name!r}"}, "template"),
    ("welcome message", {"template": "{name:>99999}"}, "template"),
    ("welcome message", {"template": "x" * 2001}, "longer than 2000 characters"),
    ("behaviour goodbye", {"template": "{name.__init__.__globals__}"}, "goodbye.template"),
    ("behaviour goodbye", {"template": "bye {"}, "goodbye.template"),
    ("behaviour dm", {"mode": "also", "template": "{server.name}"}, "dm.template"),
    ("behaviour dm", {"mode": "also", "template": "y" * 2001}, "dm.template"),
    ("behaviour embed", {"enabled": True, "title": "{user}" * 100}, "embed.title"),
    ("behaviour embed", {"enabled": True, "title": "{age"}, "embed.title"),
    ("behaviour embed", {"enabled": True, "colour": "javascript:alert(1)"}, "is not a colour"),
]
ROLES: list[tuple[dict[str, Any], str]] = [
    ({"role1": "{admins}"}, "role Admins carries the Administrator permission"),
    ({"role1": "{managers}"}, "role Managers carries the Manage Server permission"),
    ({"role1": "{moderators}"}, "carries the Ban Members, Kick Members, Moderate Members permission"),
    ({"role1": "{pingers}"}, "role Pingers carries the Mention Everyone permission"),
    ({"role1": "{everyone}"}, "@everyone is every member's already"),
    ({"role1": "{foreign_role}"}, "is not a role of this server"),
    ({"role1": 123456789012345678}, "role 123456789012345678 is not a role of this server"),
    ({"role1": "{newcomer}", "role2": "{admins}"}, "role Admins carries the Administrator permission"),
    ({"role1": "{veteran}", "as": "{helper}"}, "role Veteran is not below your highest role"),
    ({"role1": "{newcomer}", "as": "{manager}"}, "you need the Manage Roles permission"),
]
CHANNELS: list[tuple[str, dict[str, Any], str]] = [
    ("welcome channel", {"channel": "{foreign_channel}"}, "is not a channel of this server"),
    ("welcome channel", {"channel": 123456789012345678}, "is not a channel of this server"),
    ("behaviour goodbye", {"enabled": True, "channel": "{foreign_channel}"}, "is not a channel of this server"),
    ("behaviour goodbye", {"enabled": True, "channel": 123456789012345678}, "is not a channel of this server"),
    ("behaviour goodbye", {"channel": "{deleted_channel}"}, "is not a channel of this server"),
]
BACKGROUNDS = [
    ("{emulator}/_control/info", "holds no images"),
    ("{emulator}/api/v10/users/@me", "holds no images"),
    ("{emulator}/cdn/../_control/info", "holds no images"),
    ("{emulator}/cdn/%2e%2e/_control/guilds", "holds no images"),
    ("http://127.0.0.1:1/x.png", "Only https://"),
    ("https://127.0.0.1/x.png", "loopback"),
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://10.0.0.1/bg.png", "private-network"),
    ("https://[::1]/bg.png", "loopback"),
    ("https://0x7f.1/bg.png", "loopback"),
    ("https://2130706433/bg.png", "loopback"),
    ("file:///etc/passwd", "Only https://"),
    ("javascript:alert(1)", "Only https://"),
    ("https://user:pass@example.com/bg.png", "user name or password"),
    ("https://example.com:22/bg.png", "port 22"),
]
FONTS: list[tuple[tuple[str, str, bytes], str]] = [
    (("evil.ttf", "font/ttf", b"not a font at all"), "Font refused"),
    (("empty.otf", "font/otf", b""), "Font refused"),
    (("image.ttf", "font/ttf", b"\x89PNG\r\n\x1a\n" + b"\0" * 64), "Font refused"),
    (("zip.ttf", "font/ttf", b"PK\x03\x04" + b"\0" * 64), "Font refused"),
    (("truncated.ttf", "font/ttf", b"\x00\x01\x00\x00\x00\x10"), "Font refused"),
]
#: The names whose escaping the unit tests check one by one, now through the real bot's welcomes.
NAMES = HOSTILE_NAMES


class Battery:
    """One guild under attack and another that must still be served."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.ids: dict[str, Any] = {}
        self.other: dict[str, Any] = {}

    async def setup(self) -> None:
        rig, control = self.rig, self.rig.emu.control
        (bot_role,) = rig.guild["bot_role_ids"]
        await control.update_role(rig.guild_id, bot_role, permissions=BOT, position=20)
        self.other = await control.create_guild("Other")
        other_channel = self.other["channels"][0]["id"]
        config = GuildConfig(guild_id=int(self.other["id"]), welcome_channel_id=int(other_channel), updated_at=1.0)
        await rig.store.put_guild_config(config)
        spare = rig.guild["channels"][1]["id"]
        await control.delete_channel(spare)
        roles = {
            "admins": (ADMINISTRATOR, 5), "managers": (MANAGE_GUILD, 4), "moderators": (0b110 | 1 << 40, 4),
            "pingers": (1 << 17, 3), "veteran": (0, 8), "newcomer": (0, 1), "helpers": (MANAGE_ROLES | 1 << 10, 6),
        }  # fmt: skip
        for name, (permissions, position) in roles.items():
            self.ids[name] = await control.create_role(rig.guild_id, name.title(), position=position,
                                                       permissions=permissions)  # fmt: skip
        for person, role in (("helper", "helpers"), ("manager", "managers")):
            self.ids[person] = (await control.join(rig.guild_id, global_name=person))["user_id"]
            await control.update_member(rig.guild_id, self.ids[person], roles=[self.ids[role]])
        self.ids |= {
            "everyone": rig.guild_id,
            "foreign_channel": other_channel,
            "deleted_channel": spare,
            "foreign_role": await control.create_role(self.other["id"], "Theirs", position=1),
            "emulator": rig.emu.info.api_base.split("/api")[0],
        }
        # The attacked guild is set up and working before the attack.
        await rig.invoke("welcome channel", channel=rig.channel_id)

    def fill(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in self.ids:
            return int(self.ids[value[1:-1]])
        if isinstance(value, str) and "{emulator}" in value:
            return value.replace("{emulator}", self.ids["emulator"])
        return value

    async def refused(self, path: str, expected: str, *, user: Any = None, **options: Any) -> None:
        rig = self.rig
        before = await rig.store.get_guild_config(rig.guild_id)
        values = {k: self.fill(v) for k, v in options.items()}
        if "channel" in values:
            # A channel option Discord would have resolved only within the guild: sent as a bare integer,
            # as a hostile client can, it reaches the bot unresolved.
            created = await rig.emu.control.interaction(
                guild_id=rig.guild_id, channel_id=rig.channel_id, user_id=rig.owner_id, name=path.split()[0],
                permissions=MANAGE_GUILD, options=_as_integers(command_options(path, values), "channel"))  # fmt: skip
            record = await rig.emu.control.wait_answered(created["id"], wait_s=60)
        else:
            record = await rig.invoke(path, user_id=None if user is None else int(self.fill(user)),
                                      permissions=MANAGE_GUILD, **values)  # fmt: skip
        text = answer_text(record)
        assert expected in text, f"{path} {values}: {text}"
        assert "Saved" not in text, f"{path} {values}: {text}"
        assert await self.rig.store.get_guild_config(self.rig.guild_id) == before, f"{path} {values} stored"

    async def other_guild_is_served(self) -> None:
        control = self.rig.emu.control
        member = (await control.join(self.other["id"]))["user_id"]
        posted = await control.wait_for_mentions(self.other["channels"][0]["id"], 1)
        assert [u for m in posted for u in m["mentioned_user_ids"]] == [member]


def _as_integers(options: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    for option in options:
        if option["name"] == name and "value" in option:
            option["type"], option["value"] = 4, int(option["value"])
        _as_integers(option.get("options", []), name)
    return options


async def _battery(rig: Rig) -> Battery:
    battery = Battery(rig)
    await battery.setup()
    return battery


@pytest.mark.slow
@pytest.mark.parametrize("category", ["templates", "roles", "channels", "backgrounds", "fonts"])
async def test_hostile_commands_are_refused_store_nothing_and_other_guilds_are_served(rig: Rig, category: str):
    battery = await _battery(rig)
    if category == "templates":
        for path, options, expected in TEMPLATES:
            await battery.refused(path, expected, **options)
    elif category == "roles":
        for options, expected in ROLES:
            options = dict(options)
            user = options.pop("as", None)
            await battery.refused("behaviour roles", expected, user=user, **options)
    elif category == "channels":
        for path, options, expected in CHANNELS:
            await battery.refused(path, expected, **options)
    elif category == "backgrounds":
        for url, expected in BACKGROUNDS:
            await battery.refused("set-background", expected, url=url)
    else:
        for attachment, expected in FONTS:
            before = await rig.store.get_guild_config(rig.guild_id)
            record = await rig.invoke("card font", attachment=attachment, attachment_option="file")
            assert expected in answer_text(record), (attachment[0], answer_text(record))
            assert await rig.store.get_guild_config(rig.guild_id) == before
    await battery.other_guild_is_served()


@pytest.mark.slow
async def test_hostile_names_read_literally_in_the_welcome_and_other_guilds_are_served(rig: Rig):
    battery = await _battery(rig)
    await rig.invoke("welcome message", template="Hi {name}!")
    for name, _ in NAMES:
        await rig.emu.control.join(rig.guild_id, global_name=name, username="plain")
    posted = await rig.emu.control.wait_for_mentions(rig.channel_id, len(NAMES))
    content = "\n".join(m["content"] for m in posted)
    for name, escaped in NAMES:
        assert escaped in content, (name, content)
    assert "](https://evil.example)" not in content
    await battery.other_guild_is_served()


def test_the_battery_has_at_least_80_cases():
    assert len(TEMPLATES) + len(ROLES) + len(CHANNELS) + len(BACKGROUNDS) + len(FONTS) + len(NAMES) >= 80
