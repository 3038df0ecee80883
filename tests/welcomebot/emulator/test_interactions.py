"""The emulator's interactions as documented: resolved options, token lifetime, acknowledgement rules, long polls."""

from typing import Any

import httpx
import trio

from welcomebot.emulator.testing import RunningEmulator

SEND_MESSAGES = 1 << 11


async def invoke(emu: RunningEmulator, options: list[dict[str, object]]) -> tuple[dict[str, object], dict[str, str]]:
    guild = (await emu.control.guilds())[0]
    await emu.register_commands("welcome")
    created = await emu.control.interaction(guild_id=guild["id"], channel_id=guild["channels"][0]["id"],
                                            user_id=guild["owner_id"], name="welcome", permissions=1 << 5,
                                            options=options)  # fmt: skip
    return guild, created


async def test_user_and_channel_options_are_resolved_inside_subcommands(
    emu: RunningEmulator, interactions_sent: list[dict[str, Any]]
) -> None:
    guild = (await emu.control.guilds())[0]
    member = await emu.control.join(guild["id"], username="resolved")
    channel = guild["channels"][1]["id"]
    await emu.control.deny_bot(channel, SEND_MESSAGES)
    chosen = [{"name": "channel", "type": 7, "value": channel}, {"name": "member", "type": 6,
                                                                 "value": member["user_id"]}]  # fmt: skip
    await invoke(emu, [{"name": "channel", "type": 1, "options": chosen}])
    resolved = interactions_sent[0]["data"]["resolved"]
    assert resolved["channels"][channel]["name"] == guild["channels"][1]["name"]
    assert set(resolved["channels"][channel]) == {"id", "name", "type", "permissions"}
    assert resolved["users"][member["user_id"]]["username"] == "resolved"
    assert "user" not in resolved["members"][member["user_id"]], "resolved members leave the user to users"


async def test_unknown_option_targets_are_refused(emu: RunningEmulator) -> None:
    guild = (await emu.control.guilds())[0]
    await emu.register_commands("preview")
    async with httpx.AsyncClient(base_url=emu.info.control_base) as http:
        body = {"guild_id": guild["id"], "channel_id": guild["channels"][0]["id"], "user_id": guild["owner_id"],
                "name": "preview", "options": [{"name": "member", "type": 6, "value": "1"}]}  # fmt: skip
        r = await http.post("/interactions", json=body)
    assert r.status_code == 404


async def test_followups_need_an_acknowledgement_and_tokens_expire(emu: RunningEmulator) -> None:
    _, created = await invoke(emu, [])
    webhook = f"/webhooks/{emu.info.application_id}/{created['token']}"
    async with httpx.AsyncClient(base_url=emu.info.api_base) as http:
        r = await http.post(webhook, json={"content": "too early"})
        assert (r.status_code, r.json()["code"]) == (400, 40060)
        r = await http.post(f"/interactions/{created['id']}/{created['token']}/callback",
                            json={"type": 5, "data": {"flags": 64}})  # fmt: skip
        assert r.status_code == 204
        emu.emulator.rest.interactions[int(created["id"])].created_at -= 15 * 60 + 1
        r = await http.patch(f"{webhook}/messages/@original", json={"content": "too late"})
        assert (r.status_code, r.json()["code"]) == (401, 50027)


async def test_long_poll_returns_once_the_deferral_is_edited(emu: RunningEmulator) -> None:
    _, created = await invoke(emu, [])
    async with trio.open_nursery() as nursery, httpx.AsyncClient(base_url=emu.info.api_base) as http:
        records: list[dict[str, object]] = []

        async def poll() -> None:
            records.append(await emu.control.wait_answered(created["id"], wait_s=30))

        nursery.start_soon(poll)
        await http.post(f"/interactions/{created['id']}/{created['token']}/callback", json={"type": 5})
        await trio.testing.wait_all_tasks_blocked()
        assert records == [], "a deferral is not the answer"
        webhook = f"/webhooks/{emu.info.application_id}/{created['token']}/messages/@original"
        await http.patch(webhook, json={"content": "final"})
    assert records[0]["answered"] is True
    assert records[0]["original"]["content"] == "final"  # type: ignore[index]
    assert 0 <= records[0]["responded_after_s"] < 3  # type: ignore[operator]
