"""What a grouped welcome says: its members and their places in one sentence, whatever the group's size."""

import pytest

from welcomebot.app.message import compose
from welcomebot.app.model import GuildInfo, Join

G = 1 << 22
NOW = 1_795_000_000.0  # 2026-11-18
YEAR_OLD = int((NOW - 400 * 86400 - 1_420_070_400) * 1000) << 22
TEMPLATE = "Welcome to {server}, {name}! You are our {ordinal} member 🎉 (account age {age})"


def members(n: int, *, first_number: int | None = None) -> list[Join]:
    return [
        Join(
            guild_id=G,
            user_id=YEAR_OLD + i,
            joined_at="2026-11-18T00:00:00+00:00",
            username=f"m{i}",
            member_number=None if first_number is None else first_number + i,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("size", "names", "places"),
    [
        (2, "m0 and m1", "20th\u201321st"),
        (3, "m0, m1 and m2", "19th\u201321st"),
        (8, "m0, m1, m2, m3, m4, m5, m6 and m7", "14th\u201321st"),
        (10, "m0, m1, m2, m3, m4, m5, m6, m7, m8 and m9", "12th\u201321st"),
    ],
)
def test_a_group_reads_as_one_sentence(size, names, places):
    text = compose(TEMPLATE, members(size), GuildInfo(guild_id=G, name="Cozy", member_count=21), now_s=NOW)
    assert text == f"Welcome to Cozy, {names}! You are our {places} member 🎉 (account age 1 year)"
    assert text.count("1 year") == 1, "one age for the group, not one per member"


def test_a_group_with_known_places_and_ages_counts_its_own_range():
    group = members(2, first_number=7)
    young = Join(guild_id=G, user_id=int((NOW - 3 * 86400 - 1_420_070_400) * 1000) << 22,
                 joined_at="2026-11-18T00:00:00+00:00", username="new", member_number=9)  # fmt: skip
    text = compose("#{count}: {age}", [*group, young], GuildInfo(guild_id=G, name="Cozy", member_count=50), now_s=NOW)
    assert text == "#7\u20139: 3 days to 1 year"


def test_one_member_keeps_their_own_number():
    (one,) = members(1, first_number=5)
    assert compose("#{count} {ordinal}", [one], GuildInfo(guild_id=G, name="Cozy", member_count=50), now_s=NOW) == (
        "#5 5th"
    )
