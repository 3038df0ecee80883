"""normalize: good images come out upright, clean and bounded; the rest is refused (more in test_hostile)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageCms

from welcomebot.images import FetchPolicy, ImageRejected, normalize
from welcomebot.images.testing import animated_gif, photo_bytes, png_header_only, rotated_jpeg
from welcomebot.render.testing import busy_photo, image_bytes

POLICY = FetchPolicy()


def reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_accepted_formats_become_webp_with_their_size(fmt):
    image = normalize(photo_bytes(fmt, (800, 450)), POLICY)
    assert (image.media_type, image.width, image.height) == ("image/webp", 800, 450)
    decoded = reopen(image.data)
    assert (decoded.format, decoded.size, decoded.mode) == ("WEBP", (800, 450), "RGB")


def webp_chunks(data: bytes) -> list[bytes]:
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WEBP"
    chunks, at = [], 12
    while at < len(data):
        kind, size = data[at : at + 4], int.from_bytes(data[at + 4 : at + 8], "little")
        chunks.append(kind)
        at += 8 + size + (size & 1)
    return chunks


def test_exif_orientation_is_applied_and_metadata_dropped():
    image = normalize(rotated_jpeg((640, 360), orientation=6), POLICY)
    assert (image.width, image.height) == (360, 640)
    assert webp_chunks(image.data) == [b"VP8 "]  # no EXIF, XMP or ICCP chunk


def test_rotation_is_applied_before_the_minimum_size_check():
    with pytest.raises(ImageRejected, match=r"^The image is 100x400 pixels"):
        normalize(rotated_jpeg((400, 100), orientation=8), POLICY)
    assert normalize(rotated_jpeg((100, 400), orientation=6), POLICY).width == 400


def test_animated_gif_gives_its_first_frame():
    image = normalize(animated_gif((400, 200), ("red", "blue", "lime")), POLICY)
    assert (image.width, image.height) == (400, 200)
    red, green, blue = reopen(image.data).convert("RGB").getpixel((200, 100))  # type: ignore[misc]
    assert red > 200
    assert max(green, blue) < 50


def test_transparency_is_kept_exactly():
    rgba = busy_photo(640, 360).convert("RGBA")
    alpha = Image.linear_gradient("L").resize((640, 360))
    rgba.putalpha(alpha)
    image = normalize(image_bytes(rgba, "PNG"), POLICY)
    assert image.media_type == "image/webp"
    assert webp_chunks(image.data) == [b"VP8X", b"ALPH", b"VP8 "]
    decoded = reopen(image.data)
    assert decoded.mode == "RGBA"
    assert decoded.getchannel("A").tobytes() == alpha.tobytes()  # lossless alpha: cut-out edges stay exact


def test_an_alpha_channel_that_is_all_opaque_is_dropped():
    image = normalize(image_bytes(busy_photo(640, 360).convert("RGBA"), "PNG"), POLICY)
    assert reopen(image.data).mode == "RGB"


@pytest.mark.parametrize("mode", ["L", "LA", "P", "CMYK", "I;16"])
def test_other_modes_become_rgb(mode):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    image = normalize(image_bytes(busy_photo(400, 200).convert(mode), fmt), POLICY)
    assert reopen(image.data).mode in ("RGB", "RGBA")


@pytest.mark.parametrize("profile", ["sRGB", "broken"])
def test_colour_profiles_are_applied_or_ignored_then_dropped(profile):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes() if profile == "sRGB" else b"junk" * 40
    source = busy_photo(400, 200)
    image = normalize(image_bytes(source, "JPEG", icc_profile=icc), POLICY)
    assert webp_chunks(image.data) == [b"VP8 "]
    assert (image.width, image.height) == source.size


def test_output_is_bounded_in_pixels_and_bytes():
    policy = FetchPolicy(max_output_pixels=320 * 180, max_output_bytes=12_000)
    image = normalize(photo_bytes("JPEG", (1280, 720)), policy)
    assert image.width * image.height <= 320 * 180
    assert image.width / image.height == pytest.approx(16 / 9, rel=0.02)
    assert len(image.data) <= 12_000


def test_output_that_cannot_fit_is_refused():
    with pytest.raises(ImageRejected, match=r"cannot be stored in"):
        normalize(photo_bytes("PNG", (640, 360)), FetchPolicy(max_output_bytes=10))


def test_pixel_limit_is_per_call_and_checked_before_decoding():
    header = png_header_only(3000, 2000)  # 6 MP declared, a few dozen bytes: never decoded
    pillow_limit = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageRejected, match=r"^The image is 3000x2000 pixels, above the limit of 5 megapixels"):
        normalize(header, FetchPolicy(max_pixels=5_000_000))
    assert pillow_limit == Image.MAX_IMAGE_PIXELS  # no global state changed
    with pytest.raises(ImageRejected, match="damaged or incomplete"):  # within the limit: decoding finds the lie
        normalize(header, FetchPolicy())


def test_bytes_over_the_limit_are_refused_before_decoding():
    with pytest.raises(ImageRejected, match=r"larger than 0\.01 MiB"):
        normalize(photo_bytes("PNG"), FetchPolicy(max_bytes=10_485))


@pytest.mark.parametrize(("orientation", "upright"), [(1, (1280, 720)), (6, (720, 1280))])
def test_large_jpegs_decode_at_reduced_scale_but_minimums_apply_to_the_original(orientation, upright):
    """With an output bound 1/16 of the photo, the JPEG decodes at 1/4 scale; the minimum-size check still
    sees the original (upright) size, and the output keeps the upright aspect."""
    policy = FetchPolicy(max_output_pixels=320 * 180, min_width=upright[0], min_height=upright[1])
    image = normalize(rotated_jpeg((1280, 720), orientation=orientation), policy)
    assert (image.width, image.height) == (upright[0] // 4, upright[1] // 4)
    with pytest.raises(ImageRejected, match=rf"^The image is {upright[0]}x{upright[1]} pixels"):
        normalize(rotated_jpeg((1280, 720), orientation), FetchPolicy(min_width=upright[0] + 1, min_height=1))
