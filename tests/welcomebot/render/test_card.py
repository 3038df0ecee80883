from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from welcomebot.render import CardSpec, FontSet, Format, Renderer, RenderError, display_name
from welcomebot.render.fonts import FONT_DIR_ENV, default_font_dirs
from welcomebot.render.testing import busy_photo, image_bytes, image_diff, sample_avatar

BUSY = image_bytes(busy_photo(1200, 800), "JPEG", quality=85)
AVATAR = image_bytes(sample_avatar())


def decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def test_display_name_prefers_global_name():
    assert display_name("Ada", "ada_l") == "Ada"
    assert display_name(None, "ada_l") == "ada_l"
    assert display_name("   ", "ada_l") == "ada_l"


def test_background_decoded_once_per_key_and_size(fonts: FontSet):
    renderer = Renderer(fonts=fonts)
    for i in range(5):
        renderer.render(CardSpec(name=f"n{i}", background=BUSY, background_key="bg1", avatar=AVATAR))
    assert (renderer._backgrounds.misses, renderer._backgrounds.hits) == (1, 4)
    assert (renderer._avatars.misses, renderer._avatars.hits) == (1, 4)
    renderer.render(CardSpec(name="x", background=BUSY, background_key="bg1", width=800, height=300))
    assert renderer._backgrounds.misses == 2  # another size is another entry


def test_background_cache_is_bounded(fonts: FontSet):
    renderer = Renderer(fonts=fonts, background_cache=2)
    for key in ("a", "b", "c"):
        renderer.render(CardSpec(name="x", background=BUSY, background_key=key))
    assert len(renderer._backgrounds) == 2
    renderer.render(CardSpec(name="x", background=BUSY, background_key="a"))  # evicted: decoded again
    assert renderer._backgrounds.misses == 4


def test_threads_render_the_same_cards(fonts: FontSet):
    """Several worker threads sharing one Renderer produce exactly what one thread produces."""
    renderer = Renderer(fonts=fonts)
    names = ["Alice", "山田太郎", "محمد علي", "🌸 Sakura", "Ben שלום", "Zoë", "नमस्ते", "สวัสดี"]
    specs = [
        CardSpec(name=n, server="S", member_count=i, avatar=AVATAR, background=BUSY, background_key="k", format="png")
        for i, n in enumerate(names * 3)
    ]
    expected = [Renderer(fonts=fonts).render(s) for s in specs]
    results: dict[int, bytes] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker(offset: int) -> None:
        try:
            barrier.wait()
            for i in range(offset, len(specs), 4):
                results[i] = renderer.render(specs[i])
        except Exception as exc:  # noqa: BLE001  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i, data in sorted(results.items()):
        assert image_diff(decoded(data), decoded(expected[i])) == (0.0, 0.0), specs[i].name
    assert len(results) == len(specs)


def test_rejected_avatar_falls_back_to_placeholder(renderer: Renderer):
    before = renderer.avatar_fallbacks
    bad = decoded(renderer.render(CardSpec(name="x", avatar=b"GIF89a garbage", format="png")))
    none = decoded(renderer.render(CardSpec(name="x", avatar=None, format="png")))
    assert renderer.avatar_fallbacks == before + 1
    assert image_diff(bad, none) == (0.0, 0.0)


@pytest.mark.parametrize(("width", "height"), [(100, 100), (5000, 450)])
def test_bad_size_is_a_render_error(renderer: Renderer, width, height):
    with pytest.raises(RenderError, match="card size"):
        renderer.render(CardSpec(name="x", width=width, height=height))


@pytest.mark.parametrize(("width", "height"), [(1024, 450), (800, 300), (600, 600), (1600, 500)])
def test_other_sizes_and_formats(renderer: Renderer, width, height):
    formats: list[tuple[Format, bytes]] = [("webp", b"RIFF"), ("jpeg", b"\xff\xd8"), ("png", b"\x89PNG")]
    for fmt, magic in formats:
        data = renderer.render(
            CardSpec(name="Alice", avatar=AVATAR, background=BUSY, width=width, height=height, format=fmt)
        )
        assert data.startswith(magic)
        assert decoded(data).size == (width, height)


def test_default_format_is_small(renderer: Renderer):
    data = renderer.render(CardSpec(name="A" * 40, avatar=AVATAR, background=BUSY))
    assert len(data) <= 250_000


def test_text_is_readable_on_a_busy_photo(renderer: Renderer):
    """The scrim darkens the photo enough that white text stands out: mean luminance well below white."""
    card = decoded(renderer.render(CardSpec(name="", lines=(), background=BUSY, format="png")))
    mean = ImageStat.Stat(card.convert("L")).mean[0]
    assert mean < 110


def test_font_dir_override(monkeypatch, tmp_path: Path, fonts: FontSet):
    for face in fonts.faces:
        (tmp_path / face.path.name).symlink_to(face.path)
    monkeypatch.setenv(FONT_DIR_ENV, str(tmp_path))
    assert default_font_dirs() == [tmp_path]
    found = FontSet.discover()
    assert [f.path.parent for f in found.faces] == [tmp_path] * len(fonts.faces)
