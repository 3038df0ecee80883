"""The emulated CDN: avatars (static, animated ``a_`` hashes, default avatars) and message attachments.

Avatars are generated deterministically from their hash and cached per (hash, format, size). Responses
carry an ``ETag``; ``If-None-Match`` gets ``304 Not Modified``, as a real CDN would answer.
"""

from __future__ import annotations

import hashlib
import io
import re
from functools import lru_cache

import trio
from PIL import Image, ImageDraw

from welcomebot.emulator.world import World
from welcomebot.httpserver import Request, Response

__all__ = ["Cdn"]

_AVATAR = re.compile(r"^/avatars/(\d+)/((?:a_)?[0-9a-f]{32})\.(png|webp|gif|jpg|jpeg)$")
_DEFAULT = re.compile(r"^/embed/avatars/([0-5])\.png$")
_ATTACHMENT = re.compile(r"^/attachments/(\d+)/(\d+)/([^/]+)$")
_SIZES = frozenset(2**n for n in range(4, 13))
_TYPES = {
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
}
DEFAULT_COLOURS = ["#5865F2", "#757E8A", "#3BA55C", "#FAA61A", "#ED4245", "#EB459F"]


class Cdn:
    def __init__(self, world: World) -> None:
        self.world = world
        self.requests = 0
        self.latency_s = 0.0

    async def handle(self, request: Request, path: str) -> Response:
        self.requests += 1
        if self.latency_s:
            await trio.sleep(self.latency_s)
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"", content_type=None)
        size_text = request.arg("size")
        size = 128 if size_text is None else int(size_text) if size_text.isdigit() else -1
        if size not in _SIZES:
            return Response(400, b"invalid size", content_type="text/plain")
        if m := _AVATAR.match(path):
            user = self.world.users.get(int(m.group(1)))
            avatar_hash, ext = m.group(2), m.group(3)
            if user is None or user.avatar != avatar_hash:
                return Response(404, b"", content_type=None)
            # An a_ hash "can be retrieved as animated WebP using the .webp file extension and ?animated=true"
            # (reference.mdx, Image Formatting); a plain .webp is its first frame, a .gif always animated.
            wants_animation = ext == "gif" or (ext == "webp" and request.arg("animated") == "true")
            animated = avatar_hash.startswith("a_") and wants_animation
            if ext == "gif" and not avatar_hash.startswith("a_"):
                return Response(415, b"", content_type=None)
            data = await trio.to_thread.run_sync(_avatar, avatar_hash, ext, size, animated)
            return _image(request, data, _TYPES[ext])
        if m := _DEFAULT.match(path):
            data = await trio.to_thread.run_sync(_default_avatar, int(m.group(1)))
            return _image(request, data, "image/png")
        if m := _ATTACHMENT.match(path):
            channel_id, attachment_id, filename = int(m.group(1)), int(m.group(2)), m.group(3)
            for message in self.world.messages.get(channel_id, []):
                for a in message.attachments:
                    if a.id == attachment_id and a.filename == filename:
                        return _image(request, a.data, a.content_type)
            return Response(404, b"", content_type=None)
        return Response(404, b"", content_type=None)


def _image(request: Request, data: bytes, content_type: str) -> Response:
    etag = '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'
    headers = [("ETag", etag), ("Cache-Control", "public, max-age=86400")]
    if request.header("if-none-match") == etag:
        return Response(304, b"", headers, content_type=None)
    return Response(200, b"" if request.method == "HEAD" else data, headers, content_type)


@lru_cache(maxsize=512)
def _avatar(avatar_hash: str, ext: str, size: int, animated: bool) -> bytes:
    digest = hashlib.sha256(avatar_hash.encode()).digest()
    frames = []
    for f in range(4 if animated else 1):
        image = Image.new("RGB", (size, size), tuple(digest[0:3]))
        draw = ImageDraw.Draw(image)
        for i in range(6):
            box = [digest[3 + i] * size // 256, digest[9 + i] * size // 256]
            r = max(2, digest[15 + i] * size // 512)
            shift = f * size // 8
            draw.ellipse(
                (box[0] - r + shift, box[1] - r, box[0] + r + shift, box[1] + r),
                fill=tuple(digest[20 + i : 23 + i]),
            )
        frames.append(image)
    out = io.BytesIO()
    fmt = {"jpg": "JPEG", "jpeg": "JPEG"}.get(ext, ext.upper())
    if animated:
        frames[0].save(out, format=fmt, save_all=True, append_images=frames[1:], duration=120, loop=0)
    else:
        frames[0].save(out, format=fmt)
    return out.getvalue()


@lru_cache(maxsize=6)
def _default_avatar(index: int) -> bytes:
    image = Image.new("RGB", (256, 256), DEFAULT_COLOURS[index])
    ImageDraw.Draw(image).ellipse((64, 64, 192, 192), fill="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
