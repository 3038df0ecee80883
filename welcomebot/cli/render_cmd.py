"""``welcomebot render``: draw one welcome card to a file, no Discord needed (for admins and developers)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import httpx
import trio

from welcomebot.cli._types import Subparsers
from welcomebot.render import DEFAULT_LINES, Builtin, CardDesign, CardSpec, Renderer, RenderError, Shape, Theme
from welcomebot.render.animated import AnimatedCard
from welcomebot.render.avatars import MAX_IMAGE_BYTES, AvatarFetcher
from welcomebot.render.design import ImageBackground, decode_design, design_to_options, parse_background, parse_color
from welcomebot.render.encode import Format
from welcomebot.render.fonts import MAX_FONT_BYTES
from welcomebot.render.text import sanitize
from welcomebot.render.themes import THEME_SIZES
from welcomebot.settings import Settings

__all__ = ["register"]

_FORMATS: tuple[Format, ...] = ("png", "webp", "jpeg")
_EXIT_BAD_INPUT = 2
_BY_SUFFIX: dict[str, Format] = {"png": "png", "webp": "webp", "jpg": "jpeg", "jpeg": "jpeg"}


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "render",
        help="render a welcome card to an image file, to preview a design without Discord",
        description=(
            "Render one welcome card and write it to --out. Example:\n"
            "  welcomebot render --name 'Ann' --server 'Trio Lovers' --member-count 42 "
            "--avatar me.png --out card.webp\n"
            "Template lines may use {user}, {server} and {count}; write {{ or }} for a literal brace.\n"
            "Design: --theme banner --shape rounded --background builtin:aurora --accent-color '#ffcc00'\n"
            f"Built-in backgrounds: {', '.join(b.value for b in Builtin)}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--name", required=True, help="the member's display name (any script, emoji welcome)")
    parser.add_argument("--avatar", metavar="PATH|URL", help="avatar image file or https URL (default: placeholder)")
    parser.add_argument(
        "--background",
        metavar="PATH|SPEC",
        help="background image file, or builtin:NAME, avatar (its colour), #rrggbb, or a gradient #a,#b[,#c][@ANGLE]"
        " (default: the built-in twilight gradient)",
    )
    parser.add_argument("--theme", choices=[t.value for t in Theme], help="card layout (default: centered)")
    parser.add_argument("--shape", choices=[s.value for s in Shape], help="avatar shape (default: circle)")
    parser.add_argument(
        "--ring", type=int, metavar="PX", help="avatar ring width for a 200 px avatar, 0-16 (default 7)"
    )
    parser.add_argument("--text-color", metavar="#RRGGBB", help="text colour (default #ffffff)")
    parser.add_argument("--accent-color", metavar="#RRGGBB", help="ring and accent bar colour (default #ffffff)")
    parser.add_argument("--scrim", type=int, metavar="PERCENT", help="dark overlay behind the text, 0-90 (default 70)")
    parser.add_argument("--font", metavar="PATH", help="a TTF/OTF font to use first (Noto still covers what it lacks)")
    parser.add_argument(
        "--animated", action="store_true", help="animated WebP when the avatar or background is an animated GIF/WebP"
    )
    parser.add_argument("--server", default="My Server", help="server name for {server} (default: My Server)")
    parser.add_argument("--member-count", type=_count, default=1, help="member number for {count} (default: 1)")
    parser.add_argument(
        "--template",
        action="append",
        metavar="LINE",
        help=f"a text line under the name; repeat for more lines (default: {' / '.join(DEFAULT_LINES)})",
    )
    parser.add_argument("--width", type=_count, help="card width in pixels (default: the theme's, 1024)")
    parser.add_argument("--height", type=_count, help="card height in pixels (default: the theme's, e.g. 450)")
    parser.add_argument(
        "--format",
        choices=_FORMATS,
        help="image format (default: from the --out extension, else webp)",
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="where to write the card")
    parser.set_defaults(handler=run)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _read(path: str, what: str, limit: int = MAX_IMAGE_BYTES) -> bytes:
    try:
        size = Path(path).stat().st_size
        if size > limit:
            raise RenderError(f"{what} {path} is {size} bytes; the limit is {limit}")
        return Path(path).read_bytes()
    except OSError as exc:
        raise RenderError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc


async def _download(url: str) -> bytes:
    async with httpx.AsyncClient(timeout=15, follow_redirects=True) as client:
        return await AvatarFetcher(client).fetch(url)


def _format_for(args: argparse.Namespace) -> Format:
    """--format, else the --out suffix's; a mismatch between them (or with --animated) is refused."""
    suffix = Path(args.out).suffix.lower().lstrip(".")
    named = _BY_SUFFIX.get(suffix)
    fmt: Format = args.format or named or "webp"
    if named is not None and fmt != named:
        raise RenderError(f"--out {args.out} names {named} but --format is {fmt}; make them agree")
    if args.animated and fmt != "webp":
        raise RenderError(f"animated cards are WebP; write them to a .webp file, not {args.out}")
    return fmt


def _design(args: argparse.Namespace) -> tuple[CardDesign, bytes | None]:
    """The design the options ask for (validated like a stored one), and the background image, if a file."""
    chosen = {
        "theme": args.theme,
        "shape": args.shape,
        "ring": args.ring,
        "text_color": args.text_color and parse_color(args.text_color, "--text-color"),
        "accent_color": args.accent_color and parse_color(args.accent_color, "--accent-color"),
        "scrim": args.scrim,
        "animated": args.animated or None,
    }
    raw = {k: v for k, v in chosen.items() if v is not None}
    image = None
    if args.background:
        spec = args.background
        if Path(spec).is_file() or "/" in spec or "." in spec:
            image = _read(spec, "background")
        else:
            raw["background"] = design_to_options(CardDesign(background=parse_background(spec)))["background"]
    design = decode_design(raw)
    assert image is None or isinstance(design.background, ImageBackground)
    return design, image


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if not sanitize(args.name):
            raise RenderError("--name is empty; give the member's display name, e.g. --name 'Ada'")
        fmt = _format_for(args)
        avatar: bytes | None = None
        if args.avatar:
            if args.avatar.startswith(("https://", "http://")):
                avatar = trio.run(_download, args.avatar)
            else:
                avatar = _read(args.avatar, "avatar")
        design, background = _design(args)
        font = _read(args.font, "font", MAX_FONT_BYTES) if args.font else None
        width, height = THEME_SIZES[design.theme]
        spec = CardSpec(
            name=args.name,
            server=args.server,
            member_count=args.member_count,
            lines=tuple(args.template) if args.template else DEFAULT_LINES,
            avatar=avatar,
            background=background,
            width=args.width or width,
            height=args.height or height,
            format=fmt,
            design=design,
            font=font,
        )
        renderer = Renderer()
        data = AnimatedCard(renderer, spec).render() if design.animated else renderer.render(spec)
        try:
            Path(args.out).write_bytes(data)
        except OSError as exc:
            raise RenderError(f"cannot write {args.out}: {exc.strerror or exc}") from exc
    except RenderError as exc:
        print(f"welcomebot render: error: {exc}", file=sys.stderr)
        return _EXIT_BAD_INPUT
    print(f"wrote {args.out} ({spec.width}x{spec.height} {spec.format}, {len(data)} bytes)")
    return 0
