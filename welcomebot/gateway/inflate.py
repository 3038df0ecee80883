"""``compress=zlib-stream``: one zlib context per connection; a message ends with ``00 00 ff ff``."""

from __future__ import annotations

import zlib

__all__ = ["ZlibStream"]

_SUFFIX = b"\x00\x00\xff\xff"


class ZlibStream:
    """Feed binary frames; get a complete JSON payload back when a message is complete, else None."""

    def __init__(self) -> None:
        self._inflater = zlib.decompressobj()
        self._buffer = bytearray()

    def feed(self, frame: bytes) -> bytes | None:
        self._buffer += frame
        if len(self._buffer) < 4 or self._buffer[-4:] != _SUFFIX:
            return None
        data = self._inflater.decompress(bytes(self._buffer))
        self._buffer.clear()
        return data
