import msgspec

from welcomebot.app.intake import to_router_event
from welcomebot.app.router import GuildAvailable, GuildGone, MemberJoined, MemberLeft, MemberUpdated
from welcomebot.gateway.events import InteractionCreate
from welcomebot.gateway.protocol import Dispatch


def dispatch(name: str, data: object) -> Dispatch:
    return Dispatch(name, 1, msgspec.Raw(msgspec.json.encode(data)), "s")


USER = {"id": "42", "username": "ada", "global_name": "Ada", "avatar": "a_ff", "bot": False}


def test_member_add_becomes_a_join():
    event = to_router_event(
        dispatch("GUILD_MEMBER_ADD", {"guild_id": "7", "user": USER, "joined_at": "2026-01-01T00:00:00+00:00",
                                      "pending": True, "roles": [], "extra": 1}), 5.0)  # fmt: skip
    assert isinstance(event, MemberJoined)
    j = event.join
    assert (j.guild_id, j.user_id, j.display_name, j.avatar, j.pending, j.received_at) == (
        7,
        42,
        "Ada",
        "a_ff",
        True,
        5.0,
    )


def test_other_events():
    assert isinstance(to_router_event(dispatch("GUILD_CREATE", {"id": "7", "name": "g", "member_count": 3}), 0),
                      GuildAvailable)  # fmt: skip
    assert to_router_event(dispatch("GUILD_CREATE", {"id": "7", "unavailable": True}), 0) is None
    assert isinstance(to_router_event(dispatch("GUILD_DELETE", {"id": "7"}), 0), GuildGone)
    assert to_router_event(dispatch("GUILD_DELETE", {"id": "7", "unavailable": True}), 0) is None
    assert isinstance(to_router_event(dispatch("GUILD_MEMBER_REMOVE", {"guild_id": "7", "user": USER}), 0), MemberLeft)
    update = {"guild_id": "7", "user": USER, "joined_at": "2026-01-01T00:00:00+00:00", "pending": False}
    assert isinstance(to_router_event(dispatch("GUILD_MEMBER_UPDATE", update), 0), MemberUpdated)
    interaction = {"id": "1", "application_id": "2", "type": 2, "token": "t"}
    assert isinstance(to_router_event(dispatch("INTERACTION_CREATE", interaction), 0), InteractionCreate)
    assert to_router_event(dispatch("PRESENCE_UPDATE", {}), 0) is None


def test_malformed_event_is_skipped_not_fatal():
    assert to_router_event(dispatch("GUILD_MEMBER_ADD", {"guild_id": "x"}), 0) is None
