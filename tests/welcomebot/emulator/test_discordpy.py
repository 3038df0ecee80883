"""A mainstream client, discord.py, runs unmodified against the emulator (#23).

Only its base URLs point at the emulator (``discord.http.Route.BASE``, ``discord.asset.Asset.BASE``; the
gateway URL is what GET /gateway/bot answers). The emulator checks each REST answer against the OpenAPI spec
as in every test; the results are counted from the emulator's records, not from discord.py's word."""

import asyncio
import logging

import discord
import pytest
import trio
import yarl

from tests.welcomebot.emulator import discordpy_scenario
from welcomebot.emulator.testing import running_emulator


async def test_discordpy_lives_a_bots_life_against_the_emulator(monkeypatch: pytest.MonkeyPatch, caplog):
    """Log in, READY and GUILD_CREATE, members chunked, GUILD_MEMBER_ADD, an avatar from the CDN, a message
    with a file, commands synced, a slash command deferred then followed up with a file, the original edited
    and deleted, a 4000 close and an op 7 each resumed, and events still arrive after them."""
    caplog.set_level(logging.WARNING, logger="discord")
    with trio.fail_after(120):
        async with running_emulator(guilds=2, members=3) as emu:
            monkeypatch.setattr(discord.http.Route, "BASE", emu.info.api_base)
            monkeypatch.setattr(discord.asset.Asset, "BASE", emu.info.cdn_base)
            # Where discord.py reconnects after an op 9 (the base URL it otherwise hardcodes).
            monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(emu.info.gateway_url))
            guilds = await emu.control.guilds()
            guild, channel = guilds[0], guilds[0]["channels"][0]
            info = {"token": emu.info.token, "control_base": emu.info.control_base}

            def in_thread() -> discordpy_scenario.Outcome:
                scenario = discordpy_scenario.run(info, int(guild["id"]), int(channel["id"]), int(guild["owner_id"]))
                return asyncio.run(asyncio.wait_for(scenario, 90))

            outcome = await trio.to_thread.run_sync(in_thread)

            assert outcome.errors == []
            # Every guild arrived, chunked to the emulator's member count (the bot among them).
            assert outcome.ready_guilds == {int(g["id"]): g["member_count"] for g in guilds}
            assert outcome.chunked
            assert outcome.avatar[:8] == b"\x89PNG\r\n\x1a\n"
            assert outcome.avatar_url.startswith(emu.info.cdn_base)

            [posted] = [m for m in await emu.control.messages(channel["id"]) if m["id"] == str(outcome.message_id)]
            assert posted["attachments"][0]["filename"] == "card.png"
            assert outcome.synced == ["hello"]

            assert outcome.interaction_id is not None
            record = await emu.control.interaction_record(outcome.interaction_id)
            assert record["deferred"]
            assert record["answered"]
            assert [f["id"] for f in record["followups"]] == [str(outcome.followup_id)]
            assert record["followups"][0]["attachments"][0]["filename"] == "pixel.png"
            assert outcome.edited_content == "done"
            assert [next(iter(r)) for r in record["responses"]] == ["type", "edit", "delete"]
            assert record["responses"][0]["type"] == 5  # the deferral
            assert record["original"] is None  # deleted

            [session] = await emu.control.sessions()  # one session, resumed twice (closed with 1000 at the end)
            assert session["resume_count"] == 2
            assert outcome.resumes == 2
            assert outcome.after_reconnects_joined is not None
            stats = await emu.control.stats()
            assert stats["gateway"]["identifies"] == 1
            # discord.py asks for zstd-stream when zstandard (an emulator dependency) is installed.
            assert stats["gateway"]["compressed"] == {"zstd-stream": 3}  # the first connection and two resumes
    # Only the voice extras discord.py misses (PyNaCl, davey) may be warned about.
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert [w for w in warned if "voice will NOT be supported" not in w] == []
