"""RestHistory (the reconciler's view of a channel) against the emulator: own messages, bounded pages, permissions."""

import trio

from welcomebot.adapters.history import RestHistory
from welcomebot.emulator.world import Message, User, iso, snowflake_time_ms


def _add(emu, channel_id: int, author: User, mentions: list[User]) -> Message:
    world = emu.emulator.world
    now = world.now_ms(trio.current_time())
    message = Message(world.ids.next(now), channel_id, author, "hi", iso(now), mentions=mentions)
    world.messages[channel_id].append(message)
    return message


async def test_own_messages_are_the_bots_since_the_time_asked_in_bounded_pages(emu, api):
    guild = (await emu.control.guilds())[0]
    channel = int(guild["channels"][0]["id"])
    world = emu.emulator.world
    member = world.users[int((await emu.control.join(guild["id"]))["user_id"])]
    history = RestHistory(api)
    now = await history.discord_now()
    assert abs(now - world.now_ms(trio.current_time()) / 1000) < 2, "Discord's clock (its Date header), not ours"
    earlier = _add(emu, channel, world.bot, [member])  # before `since`: not read
    since = (snowflake_time_ms(earlier.id) + 1) / 1000
    world.ids.skip_ms(10)
    own = []
    for i in range(150):
        if i % 3 == 0:
            _add(emu, channel, member, [])  # someone else's message: skipped
        own.append(_add(emu, channel, world.bot, [member]))
    everything = await history.own_messages(int(guild["id"]), channel, since, max_pages=5)
    assert everything is not None
    assert [m.id for m in everything] == [m.id for m in own], "the bot's own, oldest first, nothing older"
    assert everything[0].user_ids == {member.id}
    one_page = await history.own_messages(int(guild["id"]), channel, since, max_pages=1)
    assert one_page is not None
    assert len(one_page) == 75, "a page is 100 messages, 25 of them someone else's: never more than asked"


async def test_own_messages_is_none_without_read_message_history(emu, api):
    guild = (await emu.control.guilds())[0]
    channel = guild["channels"][0]["id"]
    await emu.control.deny_bot(channel, 1 << 16)
    assert await RestHistory(api).own_messages(int(guild["id"]), int(channel), 0.0, max_pages=5) is None
