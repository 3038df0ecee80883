"""``welcomebot render`` as a user runs it: one card per golden case, one clear line and exit 2 on bad input."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.helpers import run_welcomebot
from welcomebot.cli import main
from welcomebot.render.testing import busy_photo, dark_background, image_bytes, light_background, sample_avatar

NAMES = {
    "latin": "Alice Wonder",
    "cjk": "山田太郎",
    "arabic": "محمد علي",
    "emoji": "🌸 Sakura ✨",
    "long": "An Extraordinarily Long Display Name That Goes On And On And On Forever",
}


@pytest.fixture
def files(tmp_path):
    paths = {}
    for name, image, fmt in [
        ("avatar.png", sample_avatar(), "PNG"),
        ("dark.png", dark_background(), "PNG"),
        ("light.png", light_background(), "PNG"),
        ("busy.jpg", busy_photo(), "JPEG"),
    ]:
        path = tmp_path / name
        path.write_bytes(image_bytes(image, fmt))
        paths[name] = str(path)
    frames = [sample_avatar(64, seed=s).convert("RGB") for s in (1, 2)]
    gif = tmp_path / "animated.gif"
    gif.write_bytes(image_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50))
    paths["animated.gif"] = str(gif)
    return paths


@pytest.mark.parametrize("case", sorted(NAMES))
@pytest.mark.parametrize("background", ["dark.png", "light.png", "busy.jpg"])
def test_writes_a_card(tmp_path, files, case, background, capsys):
    out = tmp_path / f"{case}.webp"
    argv = [
        "render",
        "--name",
        NAMES[case],
        "--avatar",
        files["avatar.png"],
        "--background",
        files[background],
        "--server",
        "Trio Lovers",
        "--member-count",
        "1234",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    card = Image.open(io.BytesIO(out.read_bytes()))
    assert (card.format, card.size) == ("WEBP", (1024, 450))
    assert out.stat().st_size <= 250_000
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize(("avatar", "fmt", "expect"), [(None, "png", "PNG"), ("animated.gif", "jpeg", "JPEG")])
def test_missing_and_animated_avatar(tmp_path, files, avatar, fmt, expect):
    out = tmp_path / "card.bin"
    argv = ["render", "--name", "Someone", "--format", fmt, "--out", str(out), "--template", "Hi {user}!"]
    if avatar:
        argv += ["--avatar", files[avatar]]
    assert main(argv) == 0
    with Image.open(out) as card:
        assert card.format == expect


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--template", "{user.__class__}"], "unknown placeholder"),
        (["--avatar", "/does/not/exist.png"], "cannot read avatar"),
        (["--width", "50"], "too small"),
        (["--background", __file__], "not an image we accept"),
        (["--animated"], "animated cards are WebP"),
        (["--format", "webp"], "names png but --format is webp"),
        (["--name", ""], "--name is empty"),
        (["--name", " \u200b "], "--name is empty"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, extra, message, capsys):
    assert main(["render", "--name", "x", "--out", str(tmp_path / "c.png"), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_help_as_a_subprocess():
    result = run_welcomebot(
        ["render", "--help"],
        env=None,
    )
    assert result.returncode == 0
    for option in ("--name", "--avatar", "--background", "--template", "--format", "--out", "{server}"):
        assert option in result.stdout


def test_a_name_freetype_cannot_draw_bold_still_renders(tmp_path):
    out = tmp_path / "ada.png"
    assert main(["render", "--name", "Ada \ufdfd", "--out", str(out)]) == 0
    with Image.open(out) as card:
        assert card.format == "PNG"
