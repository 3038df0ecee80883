"""The emulator's multipart/form-data parser is strict, as Discord's is: CRLF line endings and a closing
boundary, or the upload is refused (400) instead of being read as something the client did not send."""

import pytest

from welcomebot.emulator.multipart import MultipartError, parse_multipart

CTYPE = "multipart/form-data; boundary=b0und"
BODY = (
    b"--b0und\r\n"
    b'Content-Disposition: form-data; name="payload_json"\r\n'
    b"Content-Type: application/json\r\n\r\n"
    b'{"content": "hi"}\r\n'
    b"--b0und\r\n"
    b'Content-Disposition: form-data; name="files[0]"; filename="card.webp"\r\n'
    b"Content-Type: image/webp\r\n\r\n"
    b"RIFF\r\n\x00\xff--b0un\r\n"
    b"--b0und--\r\n"
)


def test_a_well_formed_body_gives_every_part_byte_for_byte():
    payload, card = parse_multipart(BODY, CTYPE)
    assert (payload.name, payload.filename, payload.content_type, payload.data) == (
        "payload_json", None, "application/json", b'{"content": "hi"}'
    )  # fmt: skip
    assert (card.name, card.filename, card.content_type) == ("files[0]", "card.webp", "image/webp")
    assert card.data == b"RIFF\r\n\x00\xff--b0un", "CRLF and a boundary look-alike inside the data are data"


def test_a_quoted_boundary_and_an_epilogue_are_fine():
    parts = parse_multipart(BODY + b"an epilogue is ignored\r\n", 'multipart/form-data; boundary="b0und"')
    assert [p.name for p in parts] == ["payload_json", "files[0]"]


def test_lf_only_line_endings_are_refused():
    with pytest.raises(MultipartError):
        parse_multipart(BODY.replace(b"\r\n", b"\n"), CTYPE)


def test_a_missing_closing_boundary_is_refused():
    with pytest.raises(MultipartError):
        parse_multipart(BODY.removesuffix(b"--b0und--\r\n"), CTYPE)
    with pytest.raises(MultipartError):
        parse_multipart(BODY[: BODY.index(b"RIFF") + 4], CTYPE)  # cut off mid-file


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (BODY, "multipart/form-data"),  # no boundary
        (BODY.replace(b'; name="payload_json"', b""), CTYPE),  # a part without a name
        (b"", CTYPE),
    ],
)
def test_other_malformed_bodies_are_refused(body: bytes, ctype: str):
    with pytest.raises(MultipartError):
        parse_multipart(body, ctype)
