"""multipart/form-data parsing for message creates (``payload_json`` + ``files[n]``), strict as Discord is.

python-multipart (the parser Starlette uses) reads the body; what it tolerates and Discord does not is refused
here: a body must use CRLF line endings (an LF-only one fails the parser) and end with the closing boundary
(``--boundary--``; a body cut short is not read as the parts that arrived), and every part needs a name.
The stdlib ``email`` parser this replaced accepted both, so the emulator took uploads Discord refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

__all__ = ["MultipartError", "Part", "parse_multipart"]


class MultipartError(ValueError):
    pass


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class _Reading:
    """The parser's callbacks write here; a part is kept once its end is seen."""

    parts: list[Part] = field(default_factory=list)
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_name: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    data: bytearray = field(default_factory=bytearray)
    ended: bool = False

    def begin(self) -> None:
        self.headers, self.data = {}, bytearray()

    def header_end(self) -> None:
        self.headers[bytes(self.header_name).lower()] = bytes(self.header_value)
        self.header_name, self.header_value = bytearray(), bytearray()

    def part_end(self) -> None:
        kind, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        if kind != b"form-data" or name is None:
            raise MultipartError("a part has no name")
        filename = options.get(b"filename")
        ctype = self.headers.get(b"content-type")
        self.parts.append(Part(name.decode(), None if filename is None else filename.decode(),
                               None if ctype is None else ctype.decode("latin-1"), bytes(self.data)))  # fmt: skip

    def end(self) -> None:
        self.ended = True


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise MultipartError("multipart body without a boundary")
    reading = _Reading()
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": reading.begin,
            "on_header_field": lambda data, start, end: reading.header_name.extend(data[start:end]),
            "on_header_value": lambda data, start, end: reading.header_value.extend(data[start:end]),
            "on_header_end": reading.header_end,
            "on_part_data": lambda data, start, end: reading.data.extend(data[start:end]),
            "on_part_end": reading.part_end,
            "on_end": reading.end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise MultipartError(f"malformed multipart body: {exc}") from None
    if not reading.ended:
        raise MultipartError("multipart body without its closing boundary")
    return reading.parts
