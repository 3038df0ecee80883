"""Decide what some bytes are by decoding them, and turn an accepted image into the one form we store.

Accepted: PNG, JPEG, WebP and GIF (first frame), recognised by Pillow, never by name or claimed type. The
pixel count is checked from the header before any pixel is decoded (decompression bombs); PNG is also run
through ``verify()`` (chunk CRCs), and every format must decode completely (truncation is an error). The
limits come from the policy of each call; Pillow's global ``MAX_IMAGE_PIXELS`` is left alone.

The result has EXIF orientation applied, an embedded colour profile converted to sRGB, no metadata at all,
at most ``max_output_pixels`` pixels and ``max_output_bytes`` bytes, and is always WebP: colour at quality 90,
the alpha channel (kept only if some pixel is not opaque) lossless, so cut-out edges stay exact. Measured with
Pillow 13 on this VM, procedural images:
- opaque 1600x900, WebP q90 vs JPEG q90: blurred photo 47 vs 113 KB, gradient 5 vs 31 KB (and no JPEG
  banding), pure noise 406 vs 438 KB;
- transparent 2000x2000, WebP vs PNG (level 6): blurred photo 93 KB vs 2.1 MB, noise 0.7 vs 6.6 MB, gradient
  14 vs 27 KB; WebP encodes faster too (0.3-0.9 s vs 0.2-1.8 s). PNG would spend a guild's storage quota
  (counted in these bytes) on a few uploads and, above ``max_output_bytes``, force a smaller picture.
The cost against JPEG, 50-300 ms more per encode, is paid once per upload, and the renderer decodes a
background once and caches it scaled.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Final, cast

import trio
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from welcomebot.images.budget import DecodeBudget, release_free_memory
from welcomebot.images.errors import ImageRejected
from welcomebot.images.policy import MIB, FetchPolicy, too_large

__all__ = ["ACCEPTED_FORMATS", "NormalizedImage", "decode_cost", "normalize", "normalize_within"]

ACCEPTED_FORMATS: Final = ("PNG", "JPEG", "WEBP", "GIF")
_ACCEPTED: Final = "a PNG, JPEG, WebP or GIF image"
_SRGB: Final = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True, slots=True)
class NormalizedImage:
    data: bytes
    media_type: str  # "image/webp"; a field so that stored assets say what they are
    width: int
    height: int


def normalize(data: bytes, policy: FetchPolicy) -> NormalizedImage:
    """Decode ``data`` under ``policy``'s limits and re-encode it; :class:`ImageRejected` says why not.

    CPU-bound (tens of milliseconds for a large photo): call it from a worker thread.
    """
    if len(data) > policy.max_bytes:
        raise too_large(policy.max_bytes)
    try:
        try:
            image, (width, height) = _decode(data, policy)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageRejected(
                f"The image file is damaged or incomplete; upload it again or send {_ACCEPTED}."
            ) from exc
        if width < policy.min_width or height < policy.min_height:
            raise ImageRejected(
                f"The image is {width}x{height} pixels; backgrounds must be at least "
                f"{policy.min_width}x{policy.min_height}, so upload a larger one."
            )
        return _encode(image, policy)
    finally:
        release_free_memory()


async def normalize_within(data: bytes, policy: FetchPolicy, budget: DecodeBudget) -> NormalizedImage:
    """:func:`normalize` in a worker thread once its :func:`decode_cost` fits in ``budget``."""
    async with budget.hold(decode_cost(data, policy)):
        return await trio.to_thread.run_sync(normalize, data, policy)


def _decode(data: bytes, policy: FetchPolicy) -> tuple[Image.Image, tuple[int, int]]:
    """The first frame, fully decoded and upright, in sRGB, as RGB or RGBA (only if some pixel is not opaque),
    and the upright size of the original (a JPEG may be decoded smaller).

    At most one full-size copy of the frame ever exists: it is box-reduced (``Image.reduce``) to just above the
    output size straight after decoding and dropped, so the conversions below work on the small copy. A 40 MP
    RGBA PNG held five full-size copies (160 MB each) before.
    """
    _open(data, policy).verify()  # verify() leaves the image unusable: open again to decode
    frame, original = _prepare(data, policy)
    frame.load()
    image: Image.Image = frame
    del frame  # the reduced copy below replaces it: nothing may keep the full-size frame alive
    icc = image.info.get("icc_profile")
    alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    mode = "RGBA" if alpha else "RGB"
    factor = _reduce_factor(image.size, policy)
    if factor > 1:
        if image.mode not in _REDUCIBLE:
            image = image.convert(mode)  # palette or 16-bit: reduce() needs 8 bits a band
        image = _reduce(image, factor)
    upright = ImageOps.exif_transpose(image.convert(mode) if image.mode not in ("RGB", "CMYK", "L") else image)
    colour = _to_srgb(upright.convert("RGB") if alpha else upright, icc)
    if alpha:
        opacity = upright.getchannel("A")
        if cast(int, opacity.getextrema()[0]) < 255:
            colour.putalpha(opacity)
    clean = colour.convert("RGB") if colour.mode != "RGBA" else colour.copy()
    clean.info.clear()  # no EXIF, ICC, text or GIF timing may reach the stored file
    turned = (upright.width > upright.height) != (image.width > image.height)
    return clean, (original[::-1] if turned else original)


_REDUCIBLE: Final = ("L", "LA", "RGB", "RGBA", "CMYK")


def _reduce(image: Image.Image, factor: int) -> Image.Image:
    """``image.reduce(factor)`` a band of rows at a time: for RGBA, reduce() premultiplies alpha in a full-size
    copy of its own (a second 160 MB for 40 MP); bands a multiple of ``factor`` high give the same pixels."""
    rows = factor * 128
    out = Image.new(image.mode, (math.ceil(image.width / factor), math.ceil(image.height / factor)))
    for top in range(0, image.height, rows):
        band = image.crop((0, top, image.width, min(image.height, top + rows)))
        out.paste(band.reduce(factor), (0, top // factor))
    out.info = image.info.copy()  # EXIF orientation and ICC profile are read from the reduced copy
    return out


def _prepare(data: bytes, policy: FetchPolicy) -> tuple[ImageFile.ImageFile, tuple[int, int]]:
    """The image opened at the first frame and set to decode at its final decode size, and its header size."""
    image = _open(data, policy)
    original = image.size
    if image.format == "JPEG":
        # Decode straight at 1/2, 1/4 or 1/8 scale when the output bound is that much smaller: a 24 MP photo
        # then takes a quarter of the time and memory. draft() never goes below the requested size.
        scale = _output_scale(original, policy)
        image.draft(None, (math.ceil(original[0] * scale), math.ceil(original[1] * scale)))
    image.seek(0)
    return image, original


def _reduce_factor(size: tuple[int, int], policy: FetchPolicy) -> int:
    """The largest integer reduction that keeps the image at least as big as the output bound."""
    return max(1, math.floor(1 / _output_scale(size, policy)))


def decode_cost(data: bytes, policy: FetchPolicy) -> int:
    """The most bytes :func:`normalize` holds at once for ``data``, read from the header (no pixel decoded).

    The decoded frame, a converted full-size copy if its mode cannot be reduced directly, and three
    working copies (RGBA) of the reduced image (measured: a 40 MP RGBA PNG peaks 196 MB over the
    frame-less baseline; this says 212 MB). An unreadable image costs nothing: :func:`normalize` refuses
    it before decoding.
    """
    if len(data) > policy.max_bytes:
        return 0
    try:
        image, _ = _prepare(data, policy)
    except (ImageRejected, OSError, SyntaxError, ValueError, EOFError):
        return 0
    width, height = image.size
    pixels = width * height
    frame = pixels * max(1, len(image.getbands()))  # P, L: 1 byte a pixel; RGBA: 4
    factor = _reduce_factor(image.size, policy)
    if factor > 1 and image.mode not in _REDUCIBLE:
        frame += pixels * 4
    return frame + 3 * 4 * (pixels // (factor * factor))


def _output_scale(size: tuple[int, int], policy: FetchPolicy) -> float:
    return min(1.0, math.sqrt(policy.max_output_pixels / (size[0] * size[1])))


def _open(data: bytes, policy: FetchPolicy) -> ImageFile.ImageFile:
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
        if head.startswith(b"<"):
            raise ImageRejected(
                f"The link gave a web page or SVG drawing, not {_ACCEPTED}; use a direct link to the image file."
            ) from None
        raise ImageRejected(f"The file is not {_ACCEPTED}; convert it to one of those formats.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own, global limit fired first (the warning is an error under pytest's filterwarnings).
        raise _too_many_pixels(policy, None) from None
    width, height = image.size
    if width * height > policy.max_pixels:
        raise _too_many_pixels(policy, (width, height))
    return image


def _too_many_pixels(policy: FetchPolicy, size: tuple[int, int] | None) -> ImageRejected:
    shown = f"{size[0]}x{size[1]} pixels" if size else "too many pixels"
    return ImageRejected(
        f"The image is {shown}, above the limit of {policy.max_pixels / 1e6:g} megapixels; upload a smaller one."
    )


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Pixels converted from the embedded colour profile to sRGB (phone photos are often Display P3)."""
    if not icc:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # a broken profile: the pixels are most likely sRGB already
    return converted if converted is not None else image


def _encode(image: Image.Image, policy: FetchPolicy) -> NormalizedImage:
    """Encode; if the result is over ``max_output_bytes``, shrink by the estimated factor and try again."""
    scale = _output_scale(image.size, policy)
    while min(image.width * scale, image.height * scale) >= 16:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        scaled = image if size == image.size else image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        buf = io.BytesIO()
        scaled.save(buf, format="WEBP", quality=90, alpha_quality=100, method=4)
        if buf.tell() <= policy.max_output_bytes:
            return NormalizedImage(buf.getvalue(), "image/webp", *scaled.size)
        # Bytes grow about with the pixel count: aim a little under the limit, shrink at least 10% a step.
        scale *= min(0.9, 0.95 * math.sqrt(policy.max_output_bytes / buf.tell()))
    raise ImageRejected(
        f"The image cannot be stored in {policy.max_output_bytes / MIB:.3g} MiB; upload a simpler or smaller one."
    )
