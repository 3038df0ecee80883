"""multipart/form-data parsing for message creates (``payload_json`` + ``files[n]``)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP

__all__ = ["MultipartError", "Part", "parse_multipart"]


class MultipartError(ValueError):
    pass


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    if "boundary=" not in content_type:
        raise MultipartError("multipart body without a boundary")
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise MultipartError("body is not multipart")
    parts = []
    for sub in message.iter_parts():
        assert isinstance(sub, Message)
        name = sub.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise MultipartError("a part has no name")
        filename = sub.get_filename()
        payload = sub.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        ctype = sub.get("content-type")
        parts.append(Part(name, filename, None if ctype is None else str(ctype), data))
    return parts
