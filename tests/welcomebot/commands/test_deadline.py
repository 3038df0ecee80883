"""/preview answers inside Discord's 3 s while the render pool is busy with a raid over several guilds."""

import trio

from tests.welcomebot.commands.conftest import Rig, answer_text
from welcomebot.store.api import GuildConfig

GUILDS = 4
JOINS_PER_GUILD = 60


async def test_preview_answers_within_the_deadline_during_a_raid(rig: Rig):
    await rig.emu.control.limits(message_period_s=0.2)  # the channel limit is not the bottleneck: rendering is
    channels = []
    for i in range(GUILDS):
        guild = await rig.emu.control.create_guild(f"Raided {i}")
        channel = int(guild["channels"][0]["id"])
        channels.append(channel)
        await rig.store.put_guild_config(GuildConfig(guild_id=int(guild["id"]), welcome_channel_id=channel,
                                                     updated_at=1.0))  # fmt: skip

    async def raid(guild_id: int) -> None:
        for _ in range(JOINS_PER_GUILD):
            await rig.emu.control.join(guild_id)

    guild_ids = [g["id"] for g in await rig.emu.control.guilds()][1:]
    async with trio.open_nursery() as nursery:
        for gid in guild_ids:
            nursery.start_soon(raid, gid)
    record = await rig.invoke("preview")
    welcomed_by_then = 0
    for channel in channels:
        welcomed_by_then += sum(len(m["mentioned_user_ids"]) for m in await rig.emu.control.messages(channel))

    # The emulator refuses callbacks after 3 s (10062), so an accepted first response is a timely one.
    assert record["responded"]
    assert record["responded_after_s"] < 3
    assert record["original"]["attachments"], "the card was rendered, not skipped"
    assert "Preview" in answer_text(record)
    assert welcomed_by_then < GUILDS * JOINS_PER_GUILD, "the raid was still being welcomed: the preview jumped it"
    for channel in channels:  # and the raid itself is finished, every member once
        messages = await rig.emu.control.wait_for_mentions(channel, JOINS_PER_GUILD, wait_s=120)
        assert sum(len(m["mentioned_user_ids"]) for m in messages) == JOINS_PER_GUILD
