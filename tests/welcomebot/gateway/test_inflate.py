"""zlib-stream: one context per connection, messages end with 00 00 ff ff, split across frames."""

import zlib

from welcomebot.gateway.inflate import ZlibStream


def compress_all(messages: list[bytes]) -> list[bytes]:
    c = zlib.compressobj()
    return [c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH) for m in messages]


def test_messages_share_one_context() -> None:
    messages = [b'{"op":10,"d":{"heartbeat_interval":41250}}', b'{"op":11}' * 3, b'{"op":0,"t":"X"}' * 100]
    inflater = ZlibStream()
    assert [inflater.feed(f) for f in compress_all(messages)] == messages


def test_a_message_split_over_frames_is_buffered_until_the_suffix() -> None:
    (frame,) = compress_all([b"x" * 100_000 + b"end"])
    inflater = ZlibStream()
    parts = [frame[i : i + 7] for i in range(0, len(frame), 7)]
    results = [inflater.feed(p) for p in parts]
    assert results[:-1] == [None] * (len(parts) - 1)
    assert results[-1] == b"x" * 100_000 + b"end"
