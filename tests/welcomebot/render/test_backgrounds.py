"""Built-in and colour backgrounds: deterministic, distinct, cached per size; the avatar's colour is telling."""

from __future__ import annotations

from PIL import Image, ImageStat

from welcomebot.render import CardSpec, Renderer
from welcomebot.render.backgrounds import Builtin, builtin_background, dominant_color, from_color, gradient
from welcomebot.render.design import AvatarBackground, BuiltinBackground, CardDesign
from welcomebot.render.testing import image_bytes, image_diff


def test_at_least_twelve_builtins_each_deterministic_and_distinct():
    assert len(Builtin) >= 12
    drawn = {}
    for name in Builtin:
        first = builtin_background(name, 320, 140)
        assert first.mode == "RGB"
        assert first.size == (320, 140)
        assert first.tobytes() == builtin_background(name, 320, 140).tobytes(), f"{name} is not deterministic"
        drawn[name] = first
    names = list(drawn)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            mean, _ = image_diff(drawn[a], drawn[b])
            assert mean > 8, f"{a} and {b} look alike ({mean:.1f})"


def test_builtins_are_not_flat():
    """Every built-in has some structure (gradient, pattern or texture), not one colour."""
    for name in Builtin:
        spread = ImageStat.Stat(builtin_background(name, 320, 140).convert("L")).stddev[0]
        assert spread > 2, name


def px(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    r, g, b = image.convert("RGB").getpixel(xy)  # type: ignore[misc]
    return r, g, b


def test_gradient_angle_puts_stops_where_css_does():
    red, blue = (255, 0, 0), (0, 0, 255)
    right = gradient([red, blue], 90, 200, 100)  # to the right: red on the left edge, blue on the right
    assert px(right, (0, 50))[0] > 240
    assert px(right, (199, 50))[2] > 240
    up = gradient([red, blue], 0, 200, 100)  # to the top: red at the bottom
    assert px(up, (100, 99))[0] > 240
    assert px(up, (100, 0))[2] > 240
    three = gradient([red, (0, 255, 0), blue], 90, 201, 50)
    assert px(three, (100, 25))[1] > 200


def test_dominant_color_finds_the_saturated_tone():
    image = Image.new("RGB", (128, 128), (250, 250, 250))
    image.paste((200, 40, 40), (0, 0, 128, 80))  # a big red area on white
    r, g, b = dominant_color(image)
    assert r > 150 > g
    assert b < 100
    assert from_color((r, g, b), 200, 100).size == (200, 100)


def test_renderer_caches_builtins_per_size_and_avatar_colour_per_avatar(fonts):
    renderer = Renderer(fonts=fonts)
    design = CardDesign(background=BuiltinBackground(Builtin.AURORA))
    for i in range(3):
        renderer.render(CardSpec(name=f"n{i}", design=design))
    assert (renderer._backgrounds.misses, renderer._backgrounds.hits) == (1, 2)
    renderer.render(CardSpec(name="x", design=design, width=800, height=300))
    assert renderer._backgrounds.misses == 2

    red = Image.new("RGB", (64, 64), (200, 30, 30))
    avatar = image_bytes(red)
    by_avatar = CardDesign(background=AvatarBackground())
    renderer.render(CardSpec(name="a", avatar=avatar, design=by_avatar))
    renderer.render(CardSpec(name="b", avatar=avatar, design=by_avatar))
    assert renderer._colors.misses == 1
    assert renderer._colors.hits >= 1
    card = renderer.compose(CardSpec(name="", lines=(), avatar=avatar, design=by_avatar))
    r, g, b = px(card, (20, 20))
    assert r > g
    assert r > b
