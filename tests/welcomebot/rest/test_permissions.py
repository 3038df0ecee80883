"""Discord's permission computation for the bot in a channel (topics/permissions.mdx)."""

from welcomebot.rest.permissions import ALL, Overwrite, Permission, can_manage, channel_permissions, missing

GUILD = 100
OWNER = 1
BOT = 2
BOT_ROLE = 300
OTHER_ROLE = 301
VIEW, SEND, ATTACH = Permission.VIEW_CHANNEL, Permission.SEND_MESSAGES, Permission.ATTACH_FILES


def perms(everyone: int = VIEW | SEND | ATTACH, bot_role: int = 0, overwrites: list[Overwrite] | None = None,
          member_id: int = BOT, roles: tuple[int, ...] = (BOT_ROLE,)) -> int:  # fmt: skip
    return channel_permissions(guild_id=GUILD, owner_id=OWNER, member_id=member_id, member_roles=roles,
                               role_permissions={GUILD: everyone, BOT_ROLE: bot_role, OTHER_ROLE: 0},
                               overwrites=overwrites or [])  # fmt: skip


def test_base_is_everyone_or_roles() -> None:
    assert missing(perms()) == []
    assert missing(perms(everyone=VIEW)) == ["Send Messages", "Attach Files"]
    assert missing(perms(everyone=VIEW, bot_role=SEND | ATTACH)) == []


def test_owner_and_administrator_have_everything() -> None:
    assert perms(everyone=0, member_id=OWNER) == ALL
    deny_all = [Overwrite(GUILD, 0, deny=VIEW | SEND | ATTACH), Overwrite(BOT, 1, deny=VIEW)]
    assert perms(everyone=0, bot_role=Permission.ADMINISTRATOR, overwrites=deny_all) == ALL


def test_overwrites_apply_everyone_then_roles_then_member() -> None:
    everyone_denied = [Overwrite(GUILD, 0, deny=SEND)]
    assert missing(perms(overwrites=everyone_denied)) == ["Send Messages"]
    role_allows_back = [*everyone_denied, Overwrite(BOT_ROLE, 0, allow=SEND)]
    assert missing(perms(overwrites=role_allows_back)) == []
    # Within roles, allow wins over deny; the member's own overwrite comes last and wins over both.
    roles_both = [Overwrite(BOT_ROLE, 0, deny=ATTACH), Overwrite(OTHER_ROLE, 0, allow=ATTACH)]
    assert missing(perms(overwrites=roles_both, roles=(BOT_ROLE, OTHER_ROLE))) == []
    member_denies = [*role_allows_back, Overwrite(BOT, 1, deny=VIEW)]
    assert missing(perms(overwrites=member_denies)) == ["View Channel"]


def test_an_overwrite_for_a_role_the_member_lacks_is_ignored() -> None:
    assert missing(perms(overwrites=[Overwrite(OTHER_ROLE, 0, deny=SEND)])) == []
    assert missing(perms(overwrites=[Overwrite(BOT, 0, deny=SEND)])) == [], "type 0 is a role, not the member"


def test_can_manage() -> None:
    assert can_manage(Permission.MANAGE_GUILD)
    assert can_manage(Permission.ADMINISTRATOR)
    assert not can_manage(VIEW | SEND)
    assert not can_manage(None)
