"""The smaller points of #23.11, each against the docs page that defines it."""

import io
import zlib
from typing import Any

import httpx
import msgspec
import pytest
import trio
import zstandard
from PIL import Image
from trio_websocket import ConnectionClosed

from .conftest import gateway_client, identify_payload, recv, send


def _channel(guild: dict[str, Any]) -> str:
    return str(guild["channels"][0]["id"])


@pytest.mark.parametrize(
    ("embed", "where"),
    [
        ({"title": "t" * 257}, ["embeds", "0", "title"]),
        ({"description": "d" * 4097}, ["embeds", "0", "description"]),
        ({"fields": [{"name": "n", "value": "v"}] * 26}, ["embeds", "0", "fields"]),
        ({"fields": [{"name": "n" * 257, "value": "v"}]}, ["embeds", "0", "fields", "0", "name"]),
        ({"footer": {"text": "f" * 2049}}, ["embeds", "0", "footer", "text"]),
        ({"author": {"name": "a" * 257}}, ["embeds", "0", "author", "name"]),
    ],
)
async def test_embed_limits(emu, api, embed, where):
    """resources/message.mdx, "Embed Limits": each limit broken is a Bad Request under the field."""
    channel = _channel((await emu.control.guilds())[0])
    r = await api.http.post(f"/channels/{channel}/messages", json={"embeds": [embed]})
    assert (r.status_code, r.json()["code"]) == (400, 50035)
    node = r.json()["errors"]
    for key in where:
        node = node[key]
    assert "_errors" in node


async def test_embeds_over_6000_characters_in_all_are_refused(emu, api):
    """resources/message.mdx, "Embed Limits": "the combined sum of characters ... must not exceed 6000"."""
    channel = _channel((await emu.control.guilds())[0])
    embeds = [{"description": "d" * 4000}, {"description": "d" * 2001}]
    r = await api.http.post(f"/channels/{channel}/messages", json={"embeds": embeds})
    assert (r.status_code, r.json()["code"]) == (400, 50035)


async def test_content_of_the_wrong_type_is_a_type_error_not_a_length_error(emu, api):
    """resources/message.mdx, "Create Message" (content: string): a number is not a string."""
    channel = _channel((await emu.control.guilds())[0])
    r = await api.http.post(f"/channels/{channel}/messages", json={"content": 5})
    assert r.json()["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_STRING"


async def test_a_malformed_snowflake_is_a_form_error(emu):
    """reference.mdx, "Snowflakes" and "Error Messages": a path id that is not a snowflake is 50035 under that
    parameter, not a 404."""
    async with httpx.AsyncClient(base_url=emu.info.api_base, headers={"Authorization": f"Bot {emu.info.token}"}) as h:
        r = await h.get("/channels/abc")
    assert (r.status_code, r.json()["code"]) == (400, 50035)
    assert "channel_id" in r.json()["errors"]


async def test_the_upload_limit_is_per_file(emu, api):
    """reference.mdx, "Uploading Files": "The file upload size limit applies to each file in a request. The
    default limit is 10 MiB": two 6 MiB files go through; one 11 MiB file is 413."""
    channel = _channel((await emu.control.guilds())[0])
    six = b"\0" * (6 * 1024 * 1024)
    two = {
        "files[0]": ("a.bin", six, "application/octet-stream"),
        "files[1]": ("b.bin", six, "application/octet-stream"),
    }
    ok = await api.http.post(f"/channels/{channel}/messages", files=two, data={"payload_json": "{}"})
    assert ok.status_code == 200, ok.text
    big = {"files[0]": ("c.bin", b"\0" * (11 * 1024 * 1024), "application/octet-stream")}
    refused = await api.http.post(f"/channels/{channel}/messages", files=big, data={"payload_json": "{}"})
    assert (refused.status_code, refused.json()["code"]) == (413, 40005)


async def test_interaction_responses_are_webhook_messages_with_interaction_metadata(emu, api):
    """resources/message.mdx, "Message Structure": a response to an interaction has ``webhook_id`` and
    ``application_id`` (the application's) and ``interaction_metadata`` (the interaction's id, type, user)."""
    guild = (await emu.control.guilds())[0]
    await emu.register_commands("welcome")
    created = await emu.control.interaction(guild_id=guild["id"], channel_id=_channel(guild),
                                            user_id=guild["owner_id"], name="welcome")  # fmt: skip
    async with httpx.AsyncClient(base_url=emu.info.api_base) as raw:
        path = f"/interactions/{created['id']}/{created['token']}/callback"
        r = await raw.post(path, params={"with_response": "true"}, json={"type": 4, "data": {"content": "hi"}})
    message = r.json()["resource"]["message"]
    assert message["webhook_id"] == message["application_id"] == emu.info.application_id
    meta = message["interaction_metadata"]
    assert (meta["id"], meta["type"], meta["user"]["id"]) == (created["id"], 2, guild["owner_id"])


async def test_a_session_closed_with_4007_cannot_be_resumed(emu):
    """topics/opcodes-and-status-codes.mdx, 4007 "Invalid seq": "Reconnect and start a new session" — the
    session is over, so a later RESUME of it gets op 9 (d false)."""
    with trio.fail_after(20):
        async with gateway_client(emu.info.gateway_url, close_code=3000) as ws:
            await recv(ws)
            await send(ws, 2, identify_payload(emu.info.token, intents=0))
            session_id = (await recv(ws))["d"]["session_id"]
        async with gateway_client(emu.info.gateway_url) as ws:
            await recv(ws)
            await send(ws, 6, {"token": emu.info.token, "session_id": session_id, "seq": 999})
            with pytest.raises(ConnectionClosed) as closed:
                await recv(ws)
            assert closed.value.reason is not None
            assert closed.value.reason.code == 4007
        async with gateway_client(emu.info.gateway_url) as ws:
            await recv(ws)
            await send(ws, 6, {"token": emu.info.token, "session_id": session_id, "seq": 1})
            assert (await recv(ws)) == {"op": 9, "d": False, "s": None, "t": None}


async def test_identify_compress_true_sends_dispatches_as_zlib_packets(emu):
    """events/gateway.mdx, "Payload Compression": with ``compress: true`` in IDENTIFY, dispatches arrive as
    binary zlib packets (RFC 1950), each decompressed on its own; other payloads may stay text."""

    with trio.fail_after(20):
        async with gateway_client(emu.info.gateway_url) as ws:
            await recv(ws)
            await send(ws, 2, {**identify_payload(emu.info.token, intents=0), "compress": True})
            packet = await ws.get_message()
            assert isinstance(packet, bytes)
            assert msgspec.json.decode(zlib.decompress(packet))["t"] == "READY"
            await send(ws, 1, None)
            assert (await recv(ws))["op"] == 11


async def test_attachment_content_type_comes_from_the_file_not_the_header(emu, api):
    """resources/message.mdx, "Attachment Object": ``content_type`` is "the attachment's media type", which
    Discord determines itself: a PNG sent as text/plain is image/png; a .txt with no image inside is text/plain."""
    png = io.BytesIO()
    Image.new("RGB", (2, 3)).save(png, "PNG")
    channel = _channel((await emu.control.guilds())[0])
    files = {"files[0]": ("card.png", png.getvalue(), "text/plain"), "files[1]": ("a.txt", b"hi", "image/png")}
    sent = (await api.http.post(f"/channels/{channel}/messages", files=files, data={"payload_json": "{}"})).json()
    assert [a["content_type"] for a in sent["attachments"]] == ["image/png", "text/plain"]


async def test_animated_webp_only_with_animated_true(emu):
    """reference.mdx, Image Formatting: an ``a_`` hash "can be retrieved as animated WebP using the ``.webp``
    file extension and ``?animated=true`` querystring parameter"; without it the WebP is one still frame."""
    guild = (await emu.control.guilds())[0]
    joined = await emu.control.join(guild["id"], avatar="animated")
    url = f"/avatars/{joined['user_id']}/{joined['avatar']}.webp"
    async with httpx.AsyncClient(base_url=emu.info.cdn_base) as cdn:
        still = await cdn.get(url, params={"size": 64})
        moving = await cdn.get(url, params={"size": 64, "animated": "true"})
    assert (still.status_code, moving.status_code) == (200, 200)
    assert getattr(Image.open(io.BytesIO(still.content)), "n_frames", 1) == 1
    assert getattr(Image.open(io.BytesIO(moving.content)), "n_frames", 1) > 1


async def test_zstd_stream_compresses_every_message_through_one_context(emu):
    """events/gateway.mdx, "Transport Compression", zstd-stream: "all data needs to be processed through a zstd
    decompression context that stays alive for the lifetime of the gateway connection"; "each websocket message
    corresponds to a single gateway message, but does not end a zstd frame". With IDENTIFY ``compress: true``
    too, transport compression alone applies (no payload-compressed dispatch inside)."""
    inflate = zstandard.ZstdDecompressor().decompressobj()

    async def next_payload(ws: Any) -> dict[str, Any]:
        message = await ws.get_message()
        assert isinstance(message, bytes)
        decoded: dict[str, Any] = msgspec.json.decode(inflate.decompress(message))
        return decoded

    with trio.fail_after(20):
        async with gateway_client(emu.info.gateway_url, "v=10&encoding=json&compress=zstd-stream") as ws:
            assert (await next_payload(ws))["op"] == 10
            await send(ws, 2, {**identify_payload(emu.info.token), "compress": True})
            assert (await next_payload(ws))["t"] == "READY"
            assert (await next_payload(ws))["t"] == "GUILD_CREATE"
            await send(ws, 1, None)
            while (payload := await next_payload(ws))["op"] != 11:
                assert payload["t"] == "GUILD_CREATE"
