"""The guilds' state has one owner; everyone else gets a read-only view of frozen entries."""

import pytest

from welcomebot.app.guilds import Guilds
from welcomebot.app.model import GuildInfo

G = 1


def test_the_view_is_read_only_and_live():
    owner = Guilds()
    view = owner.view
    with pytest.raises(TypeError):
        view[G] = GuildInfo(guild_id=G, name="g")  # type: ignore[index]
    owner.available(GuildInfo(guild_id=G, name="g", member_count=3))
    assert view[G].member_count == 3, "the view shows the owner's changes"


def test_an_entry_is_replaced_never_changed_under_a_reader():
    owner = Guilds({G: GuildInfo(guild_id=G, name="g", member_count=3)})
    held = owner.view[G]
    with pytest.raises(AttributeError):
        held.member_count = 4  # type: ignore[misc]
    counted = owner.count(G, +1, session_id="s", seq=7)
    assert counted is not None
    assert (counted.member_count, counted.session_id, counted.seq) == (4, "s", 7)
    assert held.member_count == 3
    assert owner.view[G] is counted


def test_a_replayed_dispatch_is_not_counted_again():
    owner = Guilds({G: GuildInfo(guild_id=G, name="g", member_count=3)})
    assert owner.count(G, +1, session_id="s", seq=7) is not None
    assert owner.count(G, +1, session_id="s", seq=7) is None
    assert owner.count(G, -1, session_id="s", seq=6) is None
    assert owner.count(G, +1, session_id="other", seq=2) is not None, "another session counts from its own start"
    assert owner.count(G, +1, session_id="s", seq=None) is not None, "no sequence (not from the gateway): counted"
    assert owner.view[G].member_count == 6


def test_unknown_guilds_and_counts_are_left_alone():
    owner = Guilds({G: GuildInfo(guild_id=G, name="g")})
    assert owner.count(G, +1, session_id="s", seq=1) is None
    assert owner.count(2, +1, session_id="s", seq=1) is None
    assert owner.changed(2, name="x", icon=None, system_channel_id=None) is None
    changed = owner.changed(G, name="new", icon="i", system_channel_id=5)
    assert changed is owner.view[G]
    assert (changed.name, changed.icon, changed.system_channel_id) == ("new", "i", 5)
    owner.gone(G)
    assert G not in owner.view
