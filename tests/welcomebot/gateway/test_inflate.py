"""zlib-stream: one context per connection, messages end with 00 00 ff ff, split across frames."""

import zlib

from hypothesis import given
from hypothesis import strategies as st

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


@given(st.lists(st.binary(max_size=2000), min_size=1, max_size=20), st.data())
def test_any_split_of_any_messages_roundtrips(messages: list[bytes], data: st.DataObject) -> None:
    inflater = ZlibStream()
    for frame, message in zip(compress_all(messages), messages, strict=True):
        cuts = sorted(data.draw(st.lists(st.integers(0, len(frame)), max_size=4)))
        pieces = [frame[a:b] for a, b in zip([0, *cuts], [*cuts, len(frame)], strict=True)]
        outputs = [inflater.feed(p) for p in pieces if p]
        assert [o for o in outputs if o is not None] == [message]
