"""``welcomebot render`` design options: theme sizes, built-in backgrounds, fonts, animation, one-line errors."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from welcomebot.cli import main
from welcomebot.render.testing import image_bytes, sample_avatar


def render(tmp_path, *extra: str, out: str = "card.png") -> tuple[int, Image.Image | None]:
    path = tmp_path / out
    code = main(["render", "--name", "Ann 山田", "--out", str(path), *extra])
    return code, (Image.open(io.BytesIO(path.read_bytes())) if code == 0 else None)


@pytest.mark.parametrize(
    ("extra", "size"),
    [
        ([], (1024, 450)),
        (["--theme", "side", "--shape", "rounded", "--background", "builtin:sunset"], (1024, 400)),
        (["--theme", "banner", "--background", "#1e1f22", "--ring", "0", "--accent-color", "fc0"], (1024, 256)),
        (
            ["--theme", "banner", "--width", "1200", "--height", "300", "--background", "#ff0080,#7928ca@90"],
            (1200, 300),
        ),
        (["--shape", "hidden", "--text-color", "#1a1a2e", "--scrim", "0", "--background", "mint"], (1024, 450)),
        (["--background", "avatar"], (1024, 450)),
    ],
)
def test_design_options(tmp_path, extra, size):
    code, card = render(tmp_path, *extra)
    assert code == 0
    assert card is not None
    assert card.size == size


def test_animated_avatar_gives_an_animated_webp(tmp_path):
    frames = [sample_avatar(96, seed=s) for s in range(3)]
    gif = tmp_path / "a.gif"
    gif.write_bytes(image_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=90, loop=0))
    code, card = render(tmp_path, "--avatar", str(gif), "--animated", out="card.webp")
    assert code == 0
    assert card is not None
    assert getattr(card, "n_frames", 1) == 3
    code, still = render(tmp_path, "--avatar", str(gif), out="still.webp")
    assert still is not None
    assert getattr(still, "n_frames", 1) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--background", "builtin:stockphoto"], "not one we know"),
        (["--text-color", "red"], "--text-color 'red' is not a colour"),
        (["--ring", "40"], "'ring' is invalid"),
        (["--scrim", "95"], "'scrim' is invalid"),
        (["--font", "/does/not/exist.ttf"], "cannot read font"),
        (["--font", __file__], "not a TrueType or OpenType font"),
    ],
)
def test_bad_design_values_one_line_exit_2(tmp_path, extra, message, capsys):
    code, _ = render(tmp_path, *extra)
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
