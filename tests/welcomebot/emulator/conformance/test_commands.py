"""Bulk Overwrite Global Application Commands validated as interactions/application-commands.mdx says (#23.8)."""

from typing import Any

import pytest


def _cmd(**kw: Any) -> dict[str, Any]:
    return {"name": "welcome", "description": "Welcome settings", "type": 1, **kw}


def _opt(name: str, *, required: bool = False, **kw: Any) -> dict[str, Any]:
    return {"name": name, "description": f"the {name}", "type": 3, "required": required, **kw}


@pytest.mark.parametrize(
    ("commands", "where"),
    [
        ([_cmd(), _cmd()], "1.name"),  # names are unique per type
        ([_cmd(options=[_opt(f"o{i}") for i in range(26)])], "0.options"),  # "max of 25"
        (
            [_cmd(options=[_opt("o", choices=[{"name": str(i), "value": str(i)} for i in range(26)])])],
            "0.options.0.choices",
        ),  # "Choices ... max 25"
        ([_cmd(options=[_opt("a"), _opt("b", required=True)])], "0.options.1"),  # required before optional
        ([_cmd(options=[_opt("a"), _opt("a")])], "0.options.1.name"),  # option names unique
        ([{"name": "Greet", "type": 2, "description": "not empty"}], "0.description"),  # empty for USER
        ([_cmd(default_member_permissions="abc")], "0.default_member_permissions"),
        ([_cmd(name="Welcome")], "0.name"),  # chat-input names use the lowercase variant
    ],
)
async def test_invalid_overwrites_are_refused_with_the_field(emu, api, commands, where):
    """ "Application Command Structure", "Application Command Naming" and "Application Command Option
    Structure": each rule broken gets 50035 with the error under the offending field; nothing is stored."""
    url = f"/applications/{emu.info.application_id}/commands"
    r = await api.http.put(url, json=commands)
    assert (r.status_code, r.json()["code"]) == (400, 50035), r.text
    node = r.json()["errors"]
    for key in where.split("."):
        node = node[key]
    assert "_errors" in node
    assert (await api.http.get(url)).json() == []


async def test_names_the_docs_allow_are_accepted(emu, api):
    """ "Application Command Naming": chat-input names may hold ``'`` and uncased letters; "USER and MESSAGE
    commands may be mixed case and can include spaces"."""
    commands = [_cmd(name="don't"), _cmd(name="ようこそ"), {"name": "Send Welcome", "type": 2, "description": ""},
                {"name": "Quote This", "type": 3}]  # fmt: skip
    r = await api.http.put(f"/applications/{emu.info.application_id}/commands", json=commands)
    assert r.status_code == 200, r.text


async def test_ids_stay_across_overwrites_by_name_and_type(emu, api):
    """ "Bulk Overwrite Global Application Commands": existing commands (by name and type) are updated, not
    re-created, so they keep their id; ``version`` changes only when the definition does."""
    url = f"/applications/{emu.info.application_id}/commands"
    first = {c["name"]: c for c in (await api.http.put(url, json=[_cmd(), _cmd(name="card")])).json()}
    again = {c["name"]: c for c in (await api.http.put(url, json=[_cmd(), _cmd(name="card", description="New")]))
             .json()}  # fmt: skip
    assert again["welcome"]["id"] == first["welcome"]["id"]
    assert again["welcome"]["version"] == first["welcome"]["version"]
    assert again["card"]["id"] == first["card"]["id"]
    assert again["card"]["version"] != first["card"]["version"]


@pytest.mark.parametrize("sent", [{}, {"integration_types": None}])
async def test_integration_types_default_to_the_apps_contexts(emu, api, sent):
    """application-commands.mdx, "Application Command Structure": ``integration_types`` is a list that
    "Defaults to your app's configured contexts" (the emulated bot is installed to guilds: ``[0]``, GUILD_INSTALL);
    a null is no value, as discord.py sends it, and is answered with the default, never null."""
    url = f"/applications/{emu.info.application_id}/commands"
    r = await api.http.put(url, json=[_cmd(**sent)])
    assert r.status_code == 200, r.text
    assert r.json()[0]["integration_types"] == [0]
    assert (await api.http.get(url)).json()[0]["integration_types"] == [0]
