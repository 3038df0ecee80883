"""Animated cards: bounded frames, duration and bytes; the moving layer moves, the rest stays put."""

from __future__ import annotations

import io
from functools import cache

from PIL import Image

from welcomebot.render import CardDesign, CardSpec, Renderer, Shape
from welcomebot.render.animated import AnimatedCard, Limits, is_animated
from welcomebot.render.testing import busy_photo, dark_background, image_bytes, image_diff, sample_avatar

DISCORD_UPLOAD_LIMIT = 10 * 1024 * 1024
ANIMATED = CardDesign(animated=True)


def gif(frames: list[Image.Image], duration: int | list[int]) -> bytes:
    return image_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0)


@cache
def spinning_background(n: int = 60, duration: int = 50) -> bytes:
    base = dark_background(320, 180)
    return gif([base.rotate(i * 360 / n) for i in range(n)], duration)


@cache
def blinking_avatar() -> bytes:
    return gif([sample_avatar(128, seed=s) for s in range(6)], 100)


def frames_of(data: bytes) -> tuple[list[Image.Image], list[int]]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    frames, durations = [], []
    for i in range(getattr(image, "n_frames", 1)):
        image.seek(i)
        image.load()
        frames.append(image.convert("RGB"))
        durations.append(int(image.info.get("duration", 0)))
    return frames, durations


def test_detects_animation():
    assert is_animated(spinning_background())
    assert not is_animated(image_bytes(sample_avatar()))
    assert not is_animated(None)
    assert not is_animated(b"not an image")


def test_animated_background_is_thinned_to_the_frame_limit_keeping_its_time(renderer: Renderer):
    data = AnimatedCard(renderer, CardSpec(name="Ann", background=spinning_background(), design=ANIMATED)).render()
    frames, durations = frames_of(data)
    assert len(frames) == Limits().frames  # 60 source frames -> 48
    assert sum(durations) == 60 * 50  # skipped frames' time is folded into the kept ones
    assert min(durations) >= Limits().min_frame_ms
    assert len(data) <= Limits().max_bytes < DISCORD_UPLOAD_LIMIT
    assert frames[0].size == (1024, 450)
    assert image_diff(frames[0], frames[10])[0] > 1  # it moves


def test_long_animation_is_cut_to_the_duration_limit(renderer: Renderer):
    tiny = [Image.new("RGB", (64, 36), (i % 256, 40, 90)) for i in range(300)]
    limits = Limits(duration_ms=5000)
    data = AnimatedCard(renderer, CardSpec(name="Ann", background=gif(tiny, 100), design=ANIMATED), limits).render()
    frames, durations = frames_of(data)
    assert len(frames) <= limits.frames
    assert sum(durations) <= limits.duration_ms


def test_too_fast_frames_are_slowed_to_the_minimum(renderer: Renderer):
    frames = [dark_background(64, 36).rotate(i * 30) for i in range(4)]
    card = AnimatedCard(renderer, CardSpec(name="Ann", background=gif(frames, 10), design=ANIMATED))
    _, durations = frames_of(card.render())
    assert min(durations) >= Limits().min_frame_ms


def test_output_bytes_are_bounded_by_dropping_frames_then_quality(renderer: Renderer):
    noisy = [busy_photo(320, 180, seed=s) for s in range(40)]
    spec = CardSpec(name="Ann", background=gif(noisy, 60), design=ANIMATED)
    unbounded = AnimatedCard(renderer, spec).render()
    limit = len(unbounded) // 3
    data = AnimatedCard(renderer, spec, Limits(max_bytes=limit)).render()
    assert len(data) <= limit
    frames, durations = frames_of(data)
    assert 1 < len(frames) < 40
    assert sum(durations) == 40 * 60


def test_nothing_fits_gives_the_static_first_frame(renderer: Renderer):
    spec = CardSpec(name="Ann", background=spinning_background(), design=ANIMATED)
    data = AnimatedCard(renderer, spec, Limits(max_bytes=1000)).render()
    assert len(frames_of(data)[0]) == 1


def test_animated_avatar_moves_on_a_still_background(renderer: Renderer):
    spec = CardSpec(name="Ann", avatar=blinking_avatar(), design=ANIMATED, format="webp")
    frames, durations = frames_of(AnimatedCard(renderer, spec).render())
    assert len(frames) == 6
    assert durations == [100] * 6
    layout = renderer.card_layout(spec)
    box = (layout.avatar.x, layout.avatar.y, layout.avatar.x + layout.avatar.w, layout.avatar.y + layout.avatar.h)
    assert image_diff(frames[0].crop(box), frames[1].crop(box))[0] > 5
    corner = (0, 0, 200, 40)
    assert image_diff(frames[0].crop(corner), frames[1].crop(corner))[0] < 1


def test_still_sources_give_a_static_card(renderer: Renderer):
    spec = CardSpec(name="Ann", avatar=image_bytes(sample_avatar()), design=ANIMATED)
    assert AnimatedCard(renderer, spec).start() == 0
    assert len(frames_of(AnimatedCard(renderer, spec).render())[0]) == 1


def test_hidden_avatar_does_not_animate(renderer: Renderer):
    spec = CardSpec(name="Ann", avatar=blinking_avatar(), design=CardDesign(animated=True, shape=Shape.HIDDEN))
    assert AnimatedCard(renderer, spec).start() == 0
