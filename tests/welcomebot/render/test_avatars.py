from __future__ import annotations

import httpx
import pytest
import trio
from PIL import Image

from welcomebot.render import ImageRejectedError, avatar_url, decode_image
from welcomebot.render.avatars import AvatarFetcher, AvatarFetchError, cdn_size
from welcomebot.render.testing import image_bytes, sample_avatar

CDN = "https://cdn.example"


@pytest.mark.parametrize(("pixels", "size"), [(1, 16), (16, 16), (17, 32), (180, 256), (256, 256), (9000, 4096)])
def test_cdn_size_power_of_two(pixels, size):
    assert cdn_size(pixels) == size


def test_avatar_urls():
    assert avatar_url(80351110224678912, "abc", 180, cdn=CDN) == f"{CDN}/avatars/80351110224678912/abc.png?size=256"
    # animated hash: still .png, which the CDN serves as the first frame
    assert avatar_url(1, "a_dead", 100, cdn=CDN) == f"{CDN}/avatars/1/a_dead.png?size=128"
    user_id = 80351110224678912
    assert avatar_url(user_id, None, 180, cdn=CDN) == f"{CDN}/embed/avatars/{(user_id >> 22) % 6}.png"


@pytest.mark.parametrize("hostile", ["../../_control/info?", "x/../../../api/v10/users/@me#", "%2e%2e", "a b", ""])
def test_an_avatar_hash_that_is_no_hash_gets_the_default_avatar(hostile: str):
    user_id = 80351110224678912
    assert avatar_url(user_id, hostile, 180, cdn=CDN) == f"{CDN}/embed/avatars/{(user_id >> 22) % 6}.png"


def test_decode_first_frame_of_animated_gif():
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = image_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    image = decode_image(data)
    assert image.mode == "RGBA"
    pixel = image.getpixel((5, 5))
    assert isinstance(pixel, tuple)
    assert pixel[0] > 200
    assert pixel[2] < 50


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_allowed_formats_decode(fmt):
    assert decode_image(image_bytes(sample_avatar(64).convert("RGB"), fmt)).size == (64, 64)


def test_refuses_other_formats():
    with pytest.raises(ImageRejectedError, match="not an image we accept"):
        decode_image(image_bytes(sample_avatar(16), "BMP"))


def test_refuses_garbage_and_truncated():
    with pytest.raises(ImageRejectedError):
        decode_image(b"not an image at all")
    with pytest.raises(ImageRejectedError):
        decode_image(image_bytes(sample_avatar(64), "PNG")[:200])


def test_refuses_too_many_bytes():
    with pytest.raises(ImageRejectedError, match="bytes"):
        decode_image(b"x" * 101, max_bytes=100)


def test_refuses_pixel_bomb_before_decoding():
    # 20000x20000 solid PNG: a few hundred KB on the wire, 1.6 GB decoded.
    bomb = image_bytes(Image.new("1", (20000, 20000)), "PNG", optimize=True)
    with pytest.raises(ImageRejectedError, match="pixels"):
        decode_image(bomb)


async def test_fetcher_ttl_and_etag_revalidation(autojump_clock):
    payload = image_bytes(sample_avatar(32))
    seen: list[httpx.Request] = []

    def cdn(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304, headers={"etag": '"v1"'})
        return httpx.Response(200, content=payload, headers={"etag": '"v1"'})

    async with httpx.AsyncClient(transport=httpx.MockTransport(cdn)) as client:
        fetcher = AvatarFetcher(client, ttl=60)
        url = f"{CDN}/avatars/1/h.png?size=256"
        assert await fetcher.fetch(url) == payload
        assert await fetcher.fetch(url) == payload
        assert len(seen) == 1  # fresh: served from cache
        await trio.sleep(61)
        assert await fetcher.fetch(url) == payload
        assert len(seen) == 2
        assert seen[1].headers["if-none-match"] == '"v1"'
        assert fetcher.revalidated == 1
        assert await fetcher.fetch(url) == payload
        assert len(seen) == 2  # revalidation refreshed the TTL


async def test_fetcher_errors(autojump_clock):
    def cdn(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    async with httpx.AsyncClient(transport=httpx.MockTransport(cdn)) as client:
        with pytest.raises(AvatarFetchError, match="404"):
            await AvatarFetcher(client).fetch(f"{CDN}/avatars/1/x.png")


async def test_fetch_avatar_falls_back_to_default_then_none(autojump_clock):
    default = image_bytes(sample_avatar(16, seed=9))
    user_id = 80351110224678912
    served: list[str] = []
    cdn_up = True

    def cdn(request: httpx.Request) -> httpx.Response:
        served.append(request.url.path)
        if not cdn_up:
            return httpx.Response(503)
        if request.url.path.startswith("/embed/avatars/"):
            return httpx.Response(200, content=default)
        return httpx.Response(404)

    async with httpx.AsyncClient(transport=httpx.MockTransport(cdn)) as client:
        fetcher = AvatarFetcher(client)
        assert await fetcher.fetch_avatar(user_id, "gone", 180, cdn=CDN) == default
        assert served == [f"/avatars/{user_id}/gone.png", f"/embed/avatars/{(user_id >> 22) % 6}.png"]
        cdn_up = False
        assert await AvatarFetcher(client).fetch_avatar(2, None, 180, cdn=CDN) is None
