"""``welcomebot render``: draw one welcome card to a file, no Discord needed (for admins and developers)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import httpx
import trio

from welcomebot.cli._types import Subparsers
from welcomebot.render import DEFAULT_LINES, CardSpec, Renderer, RenderError
from welcomebot.render.avatars import MAX_IMAGE_BYTES, AvatarFetcher
from welcomebot.render.encode import Format
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
            "Template lines may use {user}, {server} and {count}; write {{ or }} for a literal brace."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--name", required=True, help="the member's display name (any script, emoji welcome)")
    parser.add_argument("--avatar", metavar="PATH|URL", help="avatar image file or https URL (default: placeholder)")
    parser.add_argument("--background", metavar="PATH", help="background image file (default: built-in gradient)")
    parser.add_argument("--server", default="My Server", help="server name for {server} (default: My Server)")
    parser.add_argument("--member-count", type=_count, default=1, help="member number for {count} (default: 1)")
    parser.add_argument(
        "--template",
        action="append",
        metavar="LINE",
        help=f"a text line under the name; repeat for more lines (default: {' / '.join(DEFAULT_LINES)})",
    )
    parser.add_argument("--width", type=_count, default=1024, help="card width in pixels (default 1024)")
    parser.add_argument("--height", type=_count, default=450, help="card height in pixels (default 450)")
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


def _read(path: str, what: str) -> bytes:
    try:
        size = Path(path).stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise RenderError(f"{what} {path} is {size} bytes; the limit is {MAX_IMAGE_BYTES}")
        return Path(path).read_bytes()
    except OSError as exc:
        raise RenderError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc


async def _download(url: str) -> bytes:
    async with httpx.AsyncClient(timeout=15, follow_redirects=True) as client:
        return await AvatarFetcher(client).fetch(url)


def _format_for(args: argparse.Namespace) -> Format:
    if args.format:
        fmt: Format = args.format
        return fmt
    suffix = Path(args.out).suffix.lower().lstrip(".")
    return _BY_SUFFIX.get(suffix, "webp")


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        avatar: bytes | None = None
        if args.avatar:
            if args.avatar.startswith(("https://", "http://")):
                avatar = trio.run(_download, args.avatar)
            else:
                avatar = _read(args.avatar, "avatar")
        background = _read(args.background, "background") if args.background else None
        spec = CardSpec(
            name=args.name,
            server=args.server,
            member_count=args.member_count,
            lines=tuple(args.template) if args.template else DEFAULT_LINES,
            avatar=avatar,
            background=background,
            width=args.width,
            height=args.height,
            format=_format_for(args),
        )
        data = Renderer().render(spec)
        try:
            Path(args.out).write_bytes(data)
        except OSError as exc:
            raise RenderError(f"cannot write {args.out}: {exc.strerror or exc}") from exc
    except RenderError as exc:
        print(f"welcomebot render: error: {exc}", file=sys.stderr)
        return _EXIT_BAD_INPUT
    print(f"wrote {args.out} ({spec.width}x{spec.height} {spec.format}, {len(data)} bytes)")
    return 0
