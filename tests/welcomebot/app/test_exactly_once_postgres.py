"""The whole bot on PostgreSQL: a raid welcomed once and in order while the server drops our connections."""

import uuid

import pytest
import trio

from tests.helpers import bot_against, channel_of, mentions, postgres_dsn
from welcomebot.emulator.testing import running_emulator
from welcomebot.render import Renderer
from welcomebot.store.testing import run_sql, scratch_schema, with_query

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


async def test_raid_on_postgres_is_welcomed_once_in_order_while_connections_are_killed(tmp_path):
    app = f"wb-{uuid.uuid4().hex[:12]}"
    with trio.fail_after(240):
        async with scratch_schema(postgres_dsn()) as url, running_emulator(guilds=1) as emu:
            await emu.control.limits(message_period_s=0.2)
            async with bot_against(
                emu, tmp_path, Renderer(), database_url=with_query(url, application_name=app)
            ) as run:
                guild = run.guilds[0]
                joined = []
                for i in range(300):
                    if i in (100, 200):  # the server drops every connection of ours, mid-raid
                        killed = await run_sql(
                            url, "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
                            " WHERE application_name = $1", app,
                        )  # fmt: skip
                        assert killed, "the bot holds connections to terminate"
                    joined.append((await emu.control.join(guild["id"]))["user_id"])
                messages = await emu.control.wait_for_mentions(channel_of(guild), 300, wait_s=200)
            stats = await emu.control.stats()
    assert mentions(messages) == joined, "every member once, in join order"
    assert stats["rate_limited_total"] == 0
    assert stats["invalid_requests_total"] == 0
