"""Event Structs: snowflakes to int, unknown fields ignored, unknown events left raw, malformed ones raise."""

import msgspec
import pytest

from welcomebot.gateway import events as wire

USER = {
    "id": "80351110224678912",
    "username": "nelly",
    "global_name": "Nelly",
    "avatar": "8342729096ea3675442027381ff50dfe",
}


def test_guild_member_add_decodes_snowflakes_and_ignores_unknown_fields() -> None:
    raw = msgspec.json.encode({"guild_id": "41771983423143937", "user": {**USER, "accent_color": 5},
                               "joined_at": "2026-11-25T00:00:00.000000+00:00", "roles": ["41771983423143936"],
                               "pending": True, "flags": 2, "deaf": False, "mute": False})  # fmt: skip
    add = wire.decode_event("GUILD_MEMBER_ADD", raw)
    assert isinstance(add, wire.GuildMemberAdd)
    assert add.guild_id == 41771983423143937
    assert add.user.id == 80351110224678912
    assert add.user.global_name == "Nelly"
    assert add.roles == [41771983423143936]
    assert (add.pending, add.flags, add.user.bot) == (True, 2, False)


def test_interaction_create_with_permissions_and_attachments() -> None:
    raw = msgspec.json.encode({
        "id": "1", "application_id": "2", "type": 2, "token": "interaction-token-secret", "guild_id": "3",
        "channel_id": "4", "locale": "de", "app_permissions": "2248473465835073",
        "member": {"user": USER, "permissions": "2147483647", "roles": [], "joined_at": "2026-01-01T00:00:00Z"},
        "data": {"id": "5", "name": "welcome", "type": 1,
                 "options": [{"name": "background", "type": 11, "value": "6"}],
                 "resolved": {"attachments": {"6": {"id": "6", "filename": "bg.png", "size": 10,
                                                    "url": "https://cdn/bg.png", "content_type": "image/png"}}}},
    })  # fmt: skip
    event = wire.decode_event("INTERACTION_CREATE", raw)
    assert isinstance(event, wire.InteractionCreate)
    assert event.member is not None
    assert event.member.permissions == 2147483647
    assert event.app_permissions == 2248473465835073
    assert event.data is not None
    assert event.data.resolved is not None
    assert event.data.resolved.attachments[6].content_type == "image/png"
    assert event.data.options[0].value == "6"
    assert "interaction-token-secret" not in repr(event)


def test_ready_guild_create_delete_remove_update() -> None:
    ready = wire.decode_event("READY", msgspec.json.encode({
        "v": 10, "user": USER, "session_id": "s", "resume_gateway_url": "wss://r", "shard": [1, 2],
        "guilds": [{"id": "9", "unavailable": True}], "application": {"id": "7", "flags": 8}}))  # fmt: skip
    assert isinstance(ready, wire.Ready)
    assert ready.shard == (1, 2)
    assert ready.guilds == [wire.UnavailableGuild(9)]
    create = wire.decode_event("GUILD_CREATE", msgspec.json.encode({
        "id": "9", "name": "G", "owner_id": "1", "member_count": 3, "system_channel_id": None,
        "channels": [{"id": "10", "type": 0, "name": "general", "topic": "t"}],
        "roles": [{"id": "9", "name": "@everyone", "permissions": "1071698660929"}], "emojis": []}))  # fmt: skip
    assert isinstance(create, wire.GuildCreate)
    assert create.channels[0].id == 10
    assert create.roles[0].permissions == 1071698660929
    assert wire.decode_event("GUILD_DELETE", b'{"id":"9"}') == wire.GuildDelete(9, unavailable=False)
    removed = wire.decode_event("GUILD_MEMBER_REMOVE", msgspec.json.encode({"guild_id": "9", "user": USER}))
    assert isinstance(removed, wire.GuildMemberRemove)
    update = {"guild_id": "9", "user": USER, "pending": False, "roles": []}
    updated = wire.decode_event("GUILD_MEMBER_UPDATE", msgspec.json.encode(update))
    assert isinstance(updated, wire.GuildMemberUpdate)


def test_unknown_events_are_not_decoded_and_malformed_known_ones_raise() -> None:
    assert wire.decode_event("PRESENCE_UPDATE", b"{not even json") is None
    assert "GUILD_MEMBER_ADD" in wire.KNOWN_EVENTS
    with pytest.raises(msgspec.DecodeError):
        wire.decode_event("GUILD_MEMBER_ADD", b'{"guild_id": "x"}')
