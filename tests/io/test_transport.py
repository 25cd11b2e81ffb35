"""_transport: the read-ahead frame reader, and the websocket-client surface it relies on.

The reader is fed crafted RFC 6455 frames through a socketpair, split at every possible
byte boundary; the websocket-client checks fail loudly when a new release changes
what we use, so the version range in setup.cfg is widened only after a look.
"""

from __future__ import annotations

import configparser
import inspect
import pathlib
import socket
import struct
from typing import Iterator, List, Tuple

import pytest
import websocket

from binance_conn._io.transport import (
    MAX_FRAME,
    OP_BINARY,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    TransportClosed,
    WsTransport,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bytes = b"") -> bytes:
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, n | (0x80 if mask else 0))
    elif n < 65536:
        head = struct.pack("!BBH", b0, 126 | (0x80 if mask else 0), n)
    else:
        head = struct.pack("!BBQ", b0, 127 | (0x80 if mask else 0), n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return head + mask + payload
    return head + payload


class StubWs:
    """Stands in for websocket.WebSocket on the send side."""

    def __init__(self) -> None:
        self.pongs: List[bytes] = []
        self.closes = 0

    def pong(self, payload: bytes) -> None:
        self.pongs.append(payload)

    def send_close(self) -> None:
        self.closes += 1


@pytest.fixture
def pair() -> Iterator[Tuple[WsTransport, socket.socket, StubWs]]:
    ours, theirs = socket.socketpair()
    t = WsTransport("ws://127.0.0.1:1/stream")
    stub = StubWs()
    t._sock = ours
    t._ws = stub  # type: ignore[assignment]
    yield t, theirs, stub
    theirs.close()
    t.abort()


def read_all(t: WsTransport, want: int) -> List[Tuple[int, bytes]]:
    got: List[Tuple[int, bytes]] = []
    while len(got) < want:
        got.extend(t.read_frames())
    return got


def test_many_frames_in_one_read(pair: Tuple[WsTransport, socket.socket, StubWs]) -> None:
    t, peer, _ = pair
    payloads = [f'{{"n":{i}}}'.encode() for i in range(500)]
    peer.sendall(b"".join(frame(OP_TEXT, p) for p in payloads))
    got = read_all(t, 500)
    assert [p for _, p in got] == payloads
    assert all(op == OP_TEXT for op, _ in got)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_length_encodings(pair: Tuple[WsTransport, socket.socket, StubWs], size: int) -> None:
    t, peer, _ = pair
    payload = bytes(i % 251 for i in range(size))
    peer.sendall(frame(OP_BINARY, payload) + frame(OP_TEXT, b"after"))
    got = read_all(t, 2)
    assert got == [(OP_BINARY, payload), (OP_TEXT, b"after")]


def test_frames_split_at_every_byte_boundary(pair: Tuple[WsTransport, socket.socket, StubWs]) -> None:
    t, _, _ = pair
    data = frame(OP_TEXT, b"x" * 300) + frame(OP_TEXT, b"hello") + frame(OP_TEXT, b"y" * 70000)
    for cut in range(0, len(data), 97):
        out: List[Tuple[int, bytes]] = []
        pos = t._parse(data[:cut], out)
        rest = data[:cut][pos:] + data[cut:]
        t._parse(rest, out)
        assert [len(p) for _, p in out] == [300, 5, 70000], cut


def test_fragmented_message_is_reassembled_around_a_ping(pair: Tuple[WsTransport, socket.socket, StubWs]) -> None:
    t, peer, stub = pair
    peer.sendall(frame(OP_TEXT, b"hel", fin=False) + frame(OP_PING, b"p1") + frame(0x0, b"lo", fin=True))
    got = read_all(t, 2)
    assert got == [(OP_PING, b"p1"), (OP_TEXT, b"hello")]
    assert stub.pongs == [b"p1"], "a server ping is answered with its payload"


def test_pong_is_reported(pair: Tuple[WsTransport, socket.socket, StubWs]) -> None:
    t, peer, _ = pair
    peer.sendall(frame(OP_PONG, b""))
    assert read_all(t, 1) == [(OP_PONG, b"")]


def test_masked_server_frame_is_tolerated(pair: Tuple[WsTransport, socket.socket, StubWs]) -> None:
    t, peer, _ = pair
    peer.sendall(frame(OP_TEXT, b'{"a":1}', mask=b"\x01\x02\x03\x04"))
    assert read_all(t, 1) == [(OP_TEXT, b'{"a":1}')]


def test_close_frame_answers_and_reports_code(pair: Tuple[WsTransport, socket.socket, StubWs]) -> None:
    t, peer, stub = pair
    peer.sendall(frame(OP_TEXT, b"last") + frame(0x8, struct.pack("!H", 1001) + b"going away"))
    assert read_all(t, 1) == [(OP_TEXT, b"last")], "frames before the close frame are delivered"
    with pytest.raises(TransportClosed) as info:
        t.read_frames()
    assert info.value.clean and info.value.code == 1001
    assert "going away" in info.value.reason
    assert stub.closes == 1


def test_eof_without_close_frame(pair: Tuple[WsTransport, socket.socket, StubWs]) -> None:
    t, peer, _ = pair
    peer.close()
    with pytest.raises(TransportClosed) as info:
        t.read_frames()
    assert not info.value.clean
    assert "without a close frame" in info.value.reason


def test_oversized_frame_is_refused(pair: Tuple[WsTransport, socket.socket, StubWs]) -> None:
    t, peer, _ = pair
    peer.sendall(struct.pack("!BBQ", 0x81, 127, MAX_FRAME + 1))
    with pytest.raises(TransportClosed, match="exceeds"):
        t.read_frames()


def test_abort_wakes_a_blocked_reader(pair: Tuple[WsTransport, socket.socket, StubWs]) -> None:
    import threading

    t, _, _ = pair
    result: List[BaseException] = []

    def reader() -> None:
        try:
            t.read_frames()
        except TransportClosed as exc:
            result.append(exc)

    th = threading.Thread(target=reader)
    th.start()
    t.abort()
    th.join(5)
    assert not th.is_alive() and result and "locally" in str(result[0])


# ---------------------------------------------------------------- websocket-client surface


def _pinned_range() -> str:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    reqs = cfg["options"]["install_requires"].split("\n")
    return next(r.strip() for r in reqs if r.strip().startswith("websocket-client"))


def _version_tuple(text: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2])


def test_websocket_client_version_is_inside_the_tested_range() -> None:
    spec = _pinned_range()  # e.g. "websocket-client>=1.6,<1.10"
    low = spec.split(">=")[1].split(",")[0]
    high = spec.split("<")[1]
    installed = _version_tuple(websocket.__version__)
    assert _version_tuple(low) <= installed < _version_tuple(high), (
        f"websocket-client {websocket.__version__} is outside the tested range {spec}: "
        "re-run tests/io/test_transport.py and the integration suite before widening it"
    )


def test_websocket_client_surface_we_use_exists() -> None:
    ws = websocket.WebSocket(skip_utf8_validation=True, enable_multithread=True)
    for name in ("connect", "send", "ping", "pong", "send_close", "sock"):
        assert hasattr(ws, name), name
    source = inspect.getsource(websocket.WebSocket.connect)
    assert '"socket"' in source, "connect() no longer takes a pre-made socket= option"
    assert hasattr(websocket, "WebSocketBadStatusException")
    assert issubclass(websocket.WebSocketBadStatusException, websocket.WebSocketException)


def test_endless_fragments_are_refused(pair: Tuple[WsTransport, socket.socket, StubWs]) -> None:
    t, _, _ = pair
    chunk = b"z" * 1_000_000
    data = frame(OP_TEXT, chunk, fin=False) + b"".join(frame(0x0, chunk, fin=False) for _ in range(17))
    with pytest.raises(TransportClosed, match="fragmented"):
        t._parse(data, [])
