"""Who may have the bot give which role (sans-IO): every escalation path is refused with a sentence naming why."""

import pytest

from welcomebot.app.roles import (
    ADMINISTRATOR,
    DANGEROUS,
    MANAGE_ROLES,
    GuildRole,
    invoker_problems,
    role_problems,
    role_refusals,
)

GUILD = 100
OWNER = 1
MANAGE_GUILD = 1 << 5
ROLES = {
    GUILD: GuildRole(GUILD, "@everyone", 0, 0),
    10: GuildRole(10, "welcomebot", 10, MANAGE_ROLES),
    6: GuildRole(6, "Veteran", 6, 0),
    5: GuildRole(5, "Admins", 5, ADMINISTRATOR),
    4: GuildRole(4, "Helpers", 4, MANAGE_ROLES | MANAGE_GUILD),
    3: GuildRole(3, "Managers", 3, MANAGE_GUILD),
    2: GuildRole(2, "Booster", 2, 0, managed=True),
    1: GuildRole(1, "Newcomer", 1, 0),
}


@pytest.mark.parametrize(("flag", "name"), DANGEROUS)
def test_a_role_with_a_dangerous_permission_is_refused_naming_it(flag: int, name: str):
    roles = {**ROLES, 7: GuildRole(7, "Trap", 1, flag | 1 << 10)}
    expected = f"role Trap carries the {name} permission: the bot never gives such a role to new members"
    for found in (role_refusals(GUILD, roles, [7]), role_problems(GUILD, roles, [10], [7])):
        assert len(found) == 1
        assert found[0].startswith(expected)


@pytest.mark.parametrize(
    ("wanted", "refusal"),
    [
        (GUILD, "@everyone is every member's already: choose another role"),
        (2, "role Booster is managed by Discord or an integration: choose another role"),
        (999, "role 999 is not a role of this server: choose one of this server's roles"),
        (5, "role Admins carries the Administrator permission"),
        (4, "role Helpers carries the Manage Server, Manage Roles permission"),
    ],
)
def test_roles_no_one_may_have_the_bot_give_are_refused(wanted: int, refusal: str):
    (found,) = role_refusals(GUILD, ROLES, [wanted])
    assert found.startswith(refusal)


def test_a_harmless_role_of_the_server_is_not_refused():
    assert role_refusals(GUILD, ROLES, [1, 6]) == []


def _invoker(role_ids: list[int], wanted: list[int], invoker: int = 42) -> list[str]:
    return invoker_problems(GUILD, ROLES, owner_id=OWNER, invoker_id=invoker, invoker_role_ids=role_ids,
                            wanted=wanted)  # fmt: skip


@pytest.mark.parametrize(
    ("held", "wanted", "problems"),
    [
        ([3], [1], ["you need the Manage Roles permission to choose roles the bot gives: ask an admin who has it"]),
        ([], [1], ["you need the Manage Roles permission to choose roles the bot gives: ask an admin who has it"]),
        ([4], [6], ["role Veteran is not below your highest role: you can only choose roles you could give yourself"]),
        ([4], [4], ["role Helpers is not below your highest role: you can only choose roles you could give yourself"]),
        ([4], [1], []),
        ([5], [6], ["role Veteran is not below your highest role: you can only choose roles you could give yourself"]),
        ([5], [1], []),
        ([5, 4], [1, 3], []),
    ],
)
def test_the_invoker_must_be_able_to_give_the_roles_by_hand(held: list[int], wanted: list[int], problems: list[str]):
    assert _invoker(held, wanted) == problems


def test_the_owner_may_choose_any_role_below_the_bot():
    assert _invoker([], [6, 1], invoker=OWNER) == []
