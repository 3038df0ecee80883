"""Behaviour settings (validated at save time), message composition, gates, raid detection, role checks."""

import pytest
import trio
import trio.testing

from welcomebot.app.behaviour import Behaviour, BehaviourError, behaviour_of, options_with, validate_behaviour
from welcomebot.app.gate import account_age_text, account_created_s, too_young, within_rejoin_window
from welcomebot.app.message import compose, embed_json
from welcomebot.app.model import GuildInfo, Join
from welcomebot.app.raid import RaidDetector
from welcomebot.app.roles import MANAGE_ROLES, GuildRole, role_problems
from welcomebot.render.template import ordinal

NOW = 1_764_000_000.0  # 2025-11-24
#: A user id created exactly one day before NOW.
DAY_OLD = int((NOW - 86400 - 1_420_070_400) * 1000) << 22


def member(user_id: int = DAY_OLD, name: str | None = "Zoë", number: int | None = None) -> Join:
    return Join(guild_id=1, user_id=user_id, joined_at="2025-11-24T10:00:00+00:00", username="zoe",
                global_name=name, member_number=number)  # fmt: skip


def test_everything_is_off_by_default():
    b = validate_behaviour({})
    assert b == Behaviour() == behaviour_of({})
    assert b.dm.mode == "off"
    assert not b.goodbye.enabled
    assert not b.raid.enabled
    assert b.roles.role_ids == []
    assert b.auto_delete.quick_leave_minutes == 0
    assert b.gate.min_account_age_hours == 0


def test_settings_round_trip_through_options_keeping_other_options():
    b = validate_behaviour({"dm": {"mode": "instead"}, "roles": {"role_ids": [5, 6], "delay_s": 30}})
    options = options_with({"design": {"theme": "dark"}}, b)
    assert options["design"] == {"theme": "dark"}
    assert behaviour_of(options) == b


@pytest.mark.parametrize(
    ("raw", "points_at"),
    [
        ({"roles": {"role_ids": [1, 2, 3, 4, 5, 6]}}, "$.roles.role_ids"),
        ({"raid": {"group_size": 500}}, "$.raid.group_size"),
        ({"dm": {"mode": "sometimes"}}, "$.dm.mode"),
        ({"goodbye": {"enabeld": True}}, "enabeld"),
        ({"embed": {"colour": -1}}, "$.embed.colour"),
    ],
)
def test_bad_settings_name_the_setting(raw, points_at):
    with pytest.raises(BehaviourError, match="change that value") as info:
        validate_behaviour(raw)
    assert points_at in str(info.value)


def test_bad_templates_point_at_the_setting_and_position():
    with pytest.raises(BehaviourError, match=r"dm\.template: unknown placeholder \{nmae\}.* position 8"):
        validate_behaviour({"dm": {"template": "Welcome {nmae}"}})
    with pytest.raises(BehaviourError, match=r"message_template: template is longer than 2000"):
        validate_behaviour({}, message_template="x" * 2001)
    # An embed description may be longer than message content.
    validate_behaviour({"embed": {"enabled": True}}, message_template="x" * 4000)
    with pytest.raises(BehaviourError, match="listed twice"):
        validate_behaviour({"roles": {"role_ids": [7, 7]}})


def test_invalid_stored_settings_fall_back_to_off():
    assert behaviour_of({"behaviour": {"raid": {"joins": "many"}}}) == Behaviour()


@pytest.mark.parametrize(("n", "text"), [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"),
                                         (12, "12th"), (13, "13th"), (21, "21st"), (112, "112th"),
                                         (1234, "1,234th"), (1001, "1,001st")])  # fmt: skip
def test_ordinals(n, text):
    assert ordinal(n) == text


def test_compose_fills_every_placeholder():
    guild = GuildInfo(guild_id=1, name="Cozy {count}", member_count=1234)
    text = compose("{user}|{mention}|{name}|{username}|{server}|{count}|{ordinal}|{age}", [member(number=1234)],
                   guild, now_s=NOW)  # fmt: skip
    assert text == f"<@{DAY_OLD}>|<@{DAY_OLD}>|Zoë|zoe|Cozy {{count}}|1,234|1,234th|1 day"


def test_compose_names_a_group_and_respects_the_limit():
    guild = GuildInfo(guild_id=1, name="S", member_count=10)
    joins = [member(DAY_OLD + i, f"m{i}") for i in range(3)]
    assert compose("Hi {name}!", joins, guild, now_s=NOW) == "Hi m0, m1 and m2!"
    assert len(compose("{user} " * 100, joins * 20, guild, now_s=NOW)) == 2000


def test_compose_falls_back_to_the_default_for_a_template_that_no_longer_parses():
    guild = GuildInfo(guild_id=1, name="S", member_count=3)
    assert (
        compose("{user.__class__}", [member()], guild, now_s=NOW) == f"Welcome to S, <@{DAY_OLD}>! You are member #3."
    )


def test_embed_shape():
    b = validate_behaviour({"embed": {"enabled": True, "title": "Hi", "colour": 255}})
    assert embed_json(b.embed, "text", "Hi", "welcome-1.webp") == {
        "description": "text", "color": 255, "title": "Hi", "image": {"url": "attachment://welcome-1.webp"}
    }  # fmt: skip


def test_account_age_from_the_snowflake():
    assert account_created_s(DAY_OLD) == pytest.approx(NOW - 86400, abs=0.01)
    assert account_age_text(DAY_OLD, NOW) == "1 day"
    assert account_age_text(DAY_OLD, NOW + 400 * 86400) == "1 year"
    assert too_young(DAY_OLD, NOW, 48)
    assert not too_young(DAY_OLD, NOW, 12)
    assert not too_young(DAY_OLD, NOW, 0)


def test_rejoin_window():
    first, again = "2025-11-24T10:00:00+00:00", "2025-11-24T11:00:00+00:00"
    assert within_rejoin_window(first, again, 2)
    assert not within_rejoin_window(first, again, 0.5)
    assert not within_rejoin_window(first, again, 0)
    assert not within_rejoin_window(None, again, 2)
    assert not within_rejoin_window(again, again, 2), "the same join is the claim's business, not a rejoin"


def raiding(d: RaidDetector) -> bool:
    return d.raiding  # read through a call: mypy would keep the value narrowed from the previous assert


def test_raid_detector_switches_on_at_the_rate_and_off_when_calm():
    d = RaidDetector(10, 10.0)
    switched = [d.feed(t * 0.5) for t in range(10)]
    assert switched == [False] * 9 + [True]
    assert d.raiding
    calm = d.calm_at()
    assert calm is not None
    assert not d.update(calm - 0.01)
    assert d.raiding
    assert d.update(calm)
    assert not raiding(d)
    # A trickle never starts it.
    d2 = RaidDetector(10, 10.0)
    assert not any(d2.feed(t * 2.0) for t in range(100))


async def test_raid_detector_on_virtual_time(autojump_clock):
    d = RaidDetector(5, 2.0)
    for _ in range(5):
        d.feed(trio.current_time())
        await trio.sleep(0.1)
    assert d.raiding
    calm = d.calm_at()
    assert calm is not None
    await trio.sleep_until(calm)
    d.update(trio.current_time())
    assert not d.raiding


def test_raid_detector_rejects_nonsense():
    with pytest.raises(ValueError, match="at least 2"):
        RaidDetector(1, 10)


GUILD = 100
ROLES = {
    GUILD: GuildRole(GUILD, "@everyone", 0, 0),
    1: GuildRole(1, "welcomebot", 5, MANAGE_ROLES),
    2: GuildRole(2, "Member", 3, 0),
    3: GuildRole(3, "Moderator", 9, 0),
    4: GuildRole(4, "Booster", 2, 0, managed=True),
}


def test_roles_below_the_bot_with_manage_roles_are_fine():
    assert role_problems(GUILD, ROLES, [1], [2]) == []


def test_role_problems_are_explained():
    problems = role_problems(GUILD, ROLES, [1], [3, 4, 99, 1])
    assert problems == [
        "role Moderator is not below the bot's highest role: drag the bot's role above it",
        "role Booster is managed by Discord or an integration: choose another role",
        "role 99 no longer exists in this server: remove it from the auto-roles",
        "role welcomebot carries the Manage Roles permission: the bot never gives such a role to new members; "
        "choose a role without it",
    ]
    no_perm = {**ROLES, 1: GuildRole(1, "welcomebot", 5, 0)}
    assert role_problems(GUILD, no_perm, [1], [2]) == [
        "the bot lacks the Manage Roles permission: give it to the bot's role in Server Settings"
    ]
