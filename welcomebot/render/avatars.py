"""Avatar URLs, guarded image decoding, and an async avatar fetcher with a TTL cache and ETag revalidation.

URLs follow Discord's CDN rules: ``/avatars/{user_id}/{hash}.png?size=N`` with N a power of two from 16 to
4096; an animated hash (``a_`` prefix) is requested as ``.png``, which the CDN answers with the first frame;
no avatar means the default avatar ``/embed/avatars/{(user_id >> 22) % 6}.png``.

Every image that reaches Pillow passes :func:`decode_image`: byte cap, format allow-list, pixel cap checked
from the header before any pixel is decoded (decompression bombs), first frame only.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import httpx
import trio
from PIL import Image, UnidentifiedImageError

from welcomebot.render.errors import AvatarFetchError, ImageRejectedError

__all__ = [
    "ALLOWED_FORMATS",
    "DEFAULT_CDN",
    "AvatarFetchError",
    "AvatarFetcher",
    "avatar_url",
    "cdn_size",
    "decode_image",
    "open_image",
]

DEFAULT_CDN: Final = "https://cdn.discordapp.com"
ALLOWED_FORMATS: Final = ("PNG", "JPEG", "WEBP", "GIF")
MAX_IMAGE_BYTES: Final = 10 * 1024 * 1024
MAX_IMAGE_PIXELS: Final = 4096 * 4096
_HASH: Final = re.compile(r"(a_)?[0-9a-zA-Z]{1,64}")


def cdn_size(pixels: int) -> int:
    """The smallest power of two in Discord's 16..4096 range that is at least ``pixels``."""
    return min(4096, max(16, 1 << max(0, math.ceil(math.log2(max(1, pixels))))))


def avatar_url(
    user_id: int, avatar_hash: str | None, pixels: int, *, cdn: str = DEFAULT_CDN, animated: bool = False
) -> str:
    """The CDN URL for a user's avatar, big enough for ``pixels`` on the card (static PNG, first frame).

    ``animated`` asks for the GIF of an animated (``a_``) avatar, for animated cards. A hash that is not
    a hash (``../../_control/info?``: the member's profile is theirs to shape) gets the default avatar, so
    the URL never leaves the CDN's avatar paths.
    """
    if avatar_hash is None or not _HASH.fullmatch(avatar_hash):
        return f"{cdn}/embed/avatars/{(user_id >> 22) % 6}.png"
    ext = "gif" if animated and avatar_hash.startswith("a_") else "png"
    return f"{cdn}/avatars/{user_id}/{avatar_hash}.{ext}?size={cdn_size(pixels)}"


@contextmanager
def _guarded() -> Iterator[None]:
    """Pillow's complaints about untrusted bytes, as :class:`ImageRejectedError` saying what is wrong."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejectedError(f"not an image we accept ({', '.join(ALLOWED_FORMATS)}): {exc}") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageRejectedError(f"image is corrupt: {exc}") from exc


def open_image(data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Open (read the header of) a PNG/JPEG/WebP/GIF, refusing too many bytes, or pixels before any is decoded."""
    if len(data) > max_bytes:
        raise ImageRejectedError(f"image is {len(data)} bytes; the limit is {max_bytes}")
    with _guarded():
        image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejectedError(f"image is {width}x{height} pixels; the limit is {max_pixels} pixels")
    return image


def decode_image(
    data: bytes,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_pixels: int = MAX_IMAGE_PIXELS,
    draft: tuple[int, int] | None = None,
) -> Image.Image:
    """Decode the first frame of a PNG/JPEG/WebP/GIF into RGBA, refusing oversized input.

    ``draft`` lets JPEG decode at a reduced scale when the target is smaller (much faster).
    """
    image = open_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    with _guarded():
        if draft is not None and image.format == "JPEG":
            image.draft("RGB", draft)
        image.seek(0)
        image.load()
    return image.convert("RGBA")


@dataclass(slots=True)
class _Entry:
    data: bytes
    etag: str | None
    fresh_until: float


class AvatarFetcher:
    """Fetches avatar bytes with a per-URL TTL cache; after the TTL it revalidates with If-None-Match.

    The httpx client is injected (tests use ``httpx.MockTransport``); time comes from ``trio.current_time()``.
    """

    def __init__(self, client: httpx.AsyncClient, *, ttl: float = 3600.0, max_entries: int = 128) -> None:
        self._client = client
        self._ttl = ttl
        self._max = max_entries
        self._cache: dict[str, _Entry] = {}
        self.requests = 0
        self.revalidated = 0

    async def fetch(self, url: str) -> bytes:
        now = trio.current_time()
        entry = self._cache.get(url)
        if entry is not None and now < entry.fresh_until:
            return entry.data
        headers = {"If-None-Match": entry.etag} if entry is not None and entry.etag else {}
        self.requests += 1
        try:
            response = await self._client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            if entry is not None:
                return entry.data  # stale beats nothing
            raise AvatarFetchError(f"could not download avatar {url}: {exc}") from exc
        if response.status_code == 304 and entry is not None:
            self.revalidated += 1
            entry.fresh_until = now + self._ttl
            return entry.data
        if response.status_code != 200:
            raise AvatarFetchError(f"avatar {url} answered HTTP {response.status_code}")
        data = response.content
        if len(data) > MAX_IMAGE_BYTES:
            raise AvatarFetchError(f"avatar {url} is {len(data)} bytes; the limit is {MAX_IMAGE_BYTES}")
        self._cache.pop(url, None)
        self._cache[url] = _Entry(data, response.headers.get("etag"), now + self._ttl)
        while len(self._cache) > self._max:
            del self._cache[next(iter(self._cache))]
        return data

    async def fetch_avatar(
        self, user_id: int, avatar_hash: str | None, pixels: int, *, cdn: str = DEFAULT_CDN
    ) -> bytes | None:
        """The member's avatar for a card; their default avatar if it is gone; None if the CDN fails too.

        None makes the renderer draw its placeholder, so a welcome never fails for want of an avatar.
        """
        urls = [avatar_url(user_id, avatar_hash, pixels, cdn=cdn)]
        if avatar_hash is not None:
            urls.append(avatar_url(user_id, None, pixels, cdn=cdn))
        for url in urls:
            try:
                return await self.fetch(url)
            except AvatarFetchError:
                continue
        return None
