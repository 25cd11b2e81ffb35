"""_core.frames: RFC 6455 frame parsing as plain function calls (no sockets, no threads)."""

from __future__ import annotations

import struct
from typing import List, Tuple

import pytest

from binance_conn._core.frames import (
    CLOSE_INVALID_DATA,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_TOO_BIG,
    MAX_FRAME,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameError,
    FrameParser,
    is_valid_close_code,
)

Frames = List[Tuple[int, bytes]]


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bytes = b"", rsv: int = 0,
          force_len: int = -1) -> bytes:
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload) if force_len < 0 else force_len
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, n | m)
    elif n < 65536:
        head = struct.pack("!BBH", b0, 126 | m, n)
    else:
        head = struct.pack("!BBQ", b0, 127 | m, n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return head + mask + payload
    return head + payload


def close_frame(code: int, reason: bytes = b"") -> bytes:
    return frame(OP_CLOSE, struct.pack("!H", code) + reason)


def feed_bytewise(parser: FrameParser, data: bytes) -> Frames:
    out: Frames = []
    for i in range(len(data)):
        out.extend(parser.feed(data[i : i + 1]))
    return out


# ------------------------------------------------------------------ data frames
def test_many_frames_in_one_feed() -> None:
    payloads = [f'{{"n":{i}}}'.encode() for i in range(500)]
    got = FrameParser().feed(b"".join(frame(OP_TEXT, p) for p in payloads))
    assert got == [(OP_TEXT, p) for p in payloads]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
def test_length_encodings(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    got = FrameParser().feed(frame(OP_BINARY, payload) + frame(OP_TEXT, b"after"))
    assert got == [(OP_BINARY, payload), (OP_TEXT, b"after")]


MIXED = (frame(OP_TEXT, b"x" * 300) + frame(OP_PING, b"p") + frame(OP_TEXT, b"hel", fin=False)
         + frame(OP_PONG, b"") + frame(OP_CONT, b"lo", fin=False) + frame(OP_CONT, b"!", fin=True)
         + frame(OP_BINARY, b"\x00\x01") + frame(OP_TEXT, b"m", mask=b"\x01\x02\x03\x04")
         + frame(OP_TEXT, b"y" * 70000) + frame(OP_TEXT, b""))
MIXED_FRAMES: Frames = [(OP_TEXT, b"x" * 300), (OP_PING, b"p"), (OP_PONG, b""), (OP_TEXT, b"hello!"),
                        (OP_BINARY, b"\x00\x01"), (OP_TEXT, b"m"), (OP_TEXT, b"y" * 70000), (OP_TEXT, b"")]


def test_split_at_every_byte() -> None:
    parser = FrameParser()
    assert feed_bytewise(parser, MIXED) == MIXED_FRAMES
    assert parser.buffered == 0
    assert parser.take_pings() == [b"p"]


def test_split_once_at_every_offset() -> None:
    for cut in range(len(MIXED) + 1):
        parser = FrameParser()
        got = parser.feed(MIXED[:cut]) + parser.feed(MIXED[cut:])
        assert got == MIXED_FRAMES, cut


def test_partial_frame_waits_for_all_its_bytes() -> None:
    parser = FrameParser()
    data = frame(OP_TEXT, b"z" * 200_000)
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    for chunk in chunks[:-1]:
        assert parser.feed(chunk) == []
    assert parser.buffered == sum(len(c) for c in chunks[:-1])
    assert parser.feed(chunks[-1]) == [(OP_TEXT, b"z" * 200_000)]
    assert parser.buffered == 0


def test_masked_server_frame_is_unmasked() -> None:
    assert FrameParser().feed(frame(OP_TEXT, b'{"a":1}', mask=b"\xff\x00\xaa\x55")) == [(OP_TEXT, b'{"a":1}')]


def test_fragmented_message_is_reassembled_around_a_ping() -> None:
    parser = FrameParser()
    got = parser.feed(frame(OP_TEXT, b"hel", fin=False) + frame(OP_PING, b"p1") + frame(OP_CONT, b"lo"))
    assert got == [(OP_PING, b"p1"), (OP_TEXT, b"hello")]
    assert parser.has_pings and parser.take_pings() == [b"p1"] and not parser.has_pings


def test_text_after_a_fragmented_message_is_fast_again() -> None:
    parser = FrameParser()
    data = frame(OP_BINARY, b"a", fin=False) + frame(OP_CONT, b"b") + frame(OP_TEXT, b"c")
    assert parser.feed(data) == [(OP_BINARY, b"ab"), (OP_TEXT, b"c")]


# ------------------------------------------------------------------ close frames
def test_close_frame_stops_parsing_and_keeps_code_and_reason() -> None:
    parser = FrameParser()
    got = parser.feed(frame(OP_TEXT, b"last") + close_frame(1001, b"going away") + frame(OP_TEXT, b"ignored"))
    assert got == [(OP_TEXT, b"last")]
    assert parser.closed and parser.close_code == 1001 and parser.close_reason == "going away"
    assert parser.feed(frame(OP_TEXT, b"more")) == []


def test_empty_close_frame_has_no_code() -> None:
    parser = FrameParser()
    assert parser.feed(frame(OP_CLOSE, b"")) == []
    assert parser.closed and parser.close_code is None


@pytest.mark.parametrize("payload, code", [
    (b"\x03", CLOSE_PROTOCOL_ERROR),                             # 1-byte close payload
    (struct.pack("!H", 999), CLOSE_PROTOCOL_ERROR),              # code below 1000
    (struct.pack("!H", 1005), CLOSE_PROTOCOL_ERROR),             # reserved, never on the wire
    (struct.pack("!H", 1000) + b"\xff\xfe", CLOSE_INVALID_DATA),  # reason not UTF-8
])
def test_bad_close_frames(payload: bytes, code: int) -> None:
    with pytest.raises(FrameError) as info:
        FrameParser().feed(frame(OP_CLOSE, payload))
    assert info.value.code == code


def test_close_codes() -> None:
    assert all(is_valid_close_code(c) for c in (1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999))
    assert not any(is_valid_close_code(c) for c in (0, 999, 1004, 1005, 1006, 1015, 2999, 5000))


# ------------------------------------------------------------------ protocol violations
def test_oversized_ping_is_a_protocol_error_never_echoed() -> None:
    parser = FrameParser()
    with pytest.raises(FrameError) as info:
        parser.feed(frame(OP_PING, b"x" * 200))
    assert info.value.code == CLOSE_PROTOCOL_ERROR and "125" in info.value.reason
    assert not parser.has_pings, "an illegal ping must not be queued for a pong"


def test_oversized_control_frame_is_refused_before_its_payload_arrives() -> None:
    parser = FrameParser()
    with pytest.raises(FrameError):
        parser.feed(frame(OP_PING, b"x" * 200)[:10])


def test_fragmented_control_frame_is_a_protocol_error() -> None:
    with pytest.raises(FrameError) as info:
        FrameParser().feed(frame(OP_PING, b"abc", fin=False))
    assert info.value.code == CLOSE_PROTOCOL_ERROR and "fragmented" in info.value.reason


@pytest.mark.parametrize("data", [
    frame(OP_TEXT, b"x", rsv=0x40),                                  # RSV1 without an extension
    frame(0x3, b"x"),                                                # reserved data opcode
    frame(0xB, b"x"),                                                # reserved control opcode
    frame(OP_CONT, b"x"),                                            # nothing to continue
    frame(OP_TEXT, b"a", fin=False) + frame(OP_TEXT, b"b"),          # new message inside a fragmented one
    frame(OP_TEXT, b"a", fin=False) + frame(OP_BINARY, b"b", fin=False),
])
def test_protocol_violations(data: bytes) -> None:
    with pytest.raises(FrameError) as info:
        FrameParser().feed(data)
    assert info.value.code == CLOSE_PROTOCOL_ERROR


def test_new_message_inside_a_fragmented_one_across_feeds() -> None:
    parser = FrameParser()
    assert parser.feed(frame(OP_TEXT, b"a", fin=False)) == []
    with pytest.raises(FrameError, match="inside a fragmented"):
        parser.feed(frame(OP_TEXT, b"b"))


def test_a_failed_parser_stays_failed() -> None:
    parser = FrameParser()
    with pytest.raises(FrameError):
        parser.feed(frame(0x3, b""))
    with pytest.raises(FrameError):
        parser.feed(frame(OP_TEXT, b"fine"))


def test_oversized_frame_is_refused_from_its_header() -> None:
    with pytest.raises(FrameError, match="exceeds") as info:
        FrameParser().feed(struct.pack("!BBQ", 0x81, 127, MAX_FRAME + 1))
    assert info.value.code == CLOSE_TOO_BIG


def test_size_cap_is_configurable() -> None:
    parser = FrameParser(max_size=1000)
    assert parser.feed(frame(OP_TEXT, b"a" * 1000)) == [(OP_TEXT, b"a" * 1000)]
    with pytest.raises(FrameError, match="exceeds"):
        parser.feed(frame(OP_TEXT, b"a" * 1001))
    with pytest.raises(ValueError):
        FrameParser(max_size=10)


def test_endless_fragments_are_refused() -> None:
    parser = FrameParser(max_size=1000)
    data = frame(OP_TEXT, b"z" * 600, fin=False) + frame(OP_CONT, b"z" * 600, fin=False)
    with pytest.raises(FrameError, match="fragmented") as info:
        parser.feed(data)
    assert info.value.code == CLOSE_TOO_BIG


def test_endless_fragments_at_the_default_cap() -> None:
    chunk = b"z" * 1_000_000
    data = frame(OP_TEXT, chunk, fin=False) + b"".join(frame(OP_CONT, chunk, fin=False) for _ in range(17))
    with pytest.raises(FrameError, match="fragmented"):
        FrameParser().feed(data)


def test_frames_before_a_violation_are_returned_first() -> None:
    parser = FrameParser()
    got = parser.feed(frame(OP_TEXT, b"ok") + frame(OP_PING, b"p") + frame(OP_PING, b"x" * 200))
    assert got == [(OP_TEXT, b"ok"), (OP_PING, b"p")]
    assert parser.ended and parser.error is not None and parser.error.code == CLOSE_PROTOCOL_ERROR
    assert parser.take_pings() == [b"p"], "legal pings before it are still answered"
    with pytest.raises(FrameError):
        parser.feed(b"")


def test_ended_after_close() -> None:
    parser = FrameParser()
    assert not parser.ended
    parser.feed(close_frame(1000))
    assert parser.ended and parser.error is None
