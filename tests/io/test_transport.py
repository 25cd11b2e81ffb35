"""_io.transport: the read-ahead frame reader, close handling, and the websocket-client surface it relies on.

The reader is fed crafted RFC 6455 frames through a socketpair (the frame grammar itself,
split at every byte, is tested purely in tests/core/test_frames.py), then against a real
loopback WebSocket server; the websocket-client checks fail loudly when a new release
changes what we use, so the version range in setup.cfg is widened only after a look.
"""

from __future__ import annotations

import configparser
import inspect
import pathlib
import socket
import struct
import threading
import time
from typing import Iterator, List, Tuple

import pytest
import websocket
from _helpers import scaled
from _loopback import WsConn, WsServer, server_frame

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
        self.close_codes: List[int] = []

    def pong(self, payload: bytes) -> None:
        self.pongs.append(payload)

    def send_close(self, status: int = 1000, reason: bytes = b"") -> None:
        self.closes += 1
        self.close_codes.append(status)


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
    assert info.value.reason == "closed by server (1001 going away)"
    assert stub.close_codes == [1001], "the close frame echoes the server's code"


def test_oversized_ping_gets_close_1002_not_a_pong(pair: Tuple[WsTransport, socket.socket, StubWs]) -> None:
    t, peer, stub = pair
    peer.sendall(frame(OP_PING, b"x" * 200))
    with pytest.raises(TransportClosed) as info:
        t.read_frames()
    assert info.value.code == 1002 and "125" in info.value.reason
    assert stub.pongs == [] and stub.close_codes == [1002]


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
    with pytest.raises(TransportClosed, match="exceeds") as info:
        t.read_frames()
    assert info.value.code == 1009


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
    # options.pop("socket") since 1.6 (spelt with single quotes before 1.7)
    assert '"socket"' in source or "'socket'" in source, "connect() no longer takes a pre-made socket= option"
    assert list(inspect.signature(ws.send_close).parameters)[:2] == ["status", "reason"]
    assert "sslopt" in inspect.signature(websocket.WebSocket).parameters
    assert {"status_code", "status_message", "resp_headers"} <= set(
        inspect.signature(websocket.WebSocketBadStatusException).parameters)
    assert hasattr(websocket, "WebSocketBadStatusException")
    assert issubclass(websocket.WebSocketBadStatusException, websocket.WebSocketException)


# ---------------------------------------------------------------- against a loopback server


def _connected(server: WsServer) -> Tuple[WsTransport, WsConn]:
    t = WsTransport(server.url, handshake_timeout=scaled(5))
    t.connect()
    return t, server.wait_conn(scaled(5))


def _read_until_closed(t: WsTransport) -> Tuple[List[Tuple[int, bytes]], TransportClosed]:
    got: List[Tuple[int, bytes]] = []
    while True:
        try:
            got.extend(t.read_frames())
        except TransportClosed as exc:
            return got, exc


def test_server_ping_is_answered_with_its_payload() -> None:
    def script(conn: WsConn) -> None:
        conn.send(server_frame(OP_PING, b"abc") + server_frame(OP_TEXT, b"data"))
        conn.read_until_eof()

    with WsServer(script) as server:
        t, conn = _connected(server)
        assert read_all(t, 2) == [(OP_PING, b"abc"), (OP_TEXT, b"data")]
        assert conn.wait_frame(OP_PONG, scaled(5)) == b"abc"
        t.close()
        t.release()


def test_oversized_ping_from_a_server_ends_in_our_close_1002() -> None:
    def script(conn: WsConn) -> None:
        conn.send(server_frame(OP_TEXT, b"before") + server_frame(OP_PING, b"x" * 200))
        conn.read_until_eof()

    with WsServer(script) as server:
        t, conn = _connected(server)
        got, closed = _read_until_closed(t)
        assert got == [(OP_TEXT, b"before")]
        assert closed.code == 1002 and not closed.clean
        assert conn.wait_frame(0x8, scaled(5)) is not None
        with conn.cond:
            assert conn.cond.wait_for(lambda: conn.eof, scaled(5)), "we cut the connection"
        close_payloads = [p for op, p in conn.frames if op == 0x8]
        assert close_payloads and int.from_bytes(close_payloads[0][:2], "big") == 1002
        assert not [p for op, p in conn.frames if op == OP_PONG], "an illegal ping is never echoed"


def test_server_close_is_echoed_and_reported_cleanly() -> None:
    def script(conn: WsConn) -> None:
        conn.send(server_frame(OP_TEXT, b"last") + server_frame(0x8, struct.pack("!H", 1001) + b"restart"))
        conn.read_until_eof()

    with WsServer(script) as server:
        t, conn = _connected(server)
        got, closed = _read_until_closed(t)
        assert got == [(OP_TEXT, b"last")]
        assert closed.clean and closed.code == 1001 and closed.reason == "closed by server (1001 restart)"
        assert conn.wait_frame(0x8, scaled(5)) == struct.pack("!H", 1001)


def test_close_sends_1000_and_returns_at_once() -> None:
    with WsServer() as server:
        t, conn = _connected(server)
        started = time.monotonic()
        t.close()
        assert time.monotonic() - started < scaled(0.5)
        assert t.aborted
        assert conn.wait_frame(0x8, scaled(5)) == (1000).to_bytes(2, "big")
        with pytest.raises(TransportClosed):
            t.read_frames()
        with pytest.raises(TransportClosed):
            t.send_text("after close")


def _never_read(conn: WsConn) -> None:
    with conn.cond:
        conn.cond.wait_for(lambda: conn.eof, scaled(10))


def test_close_is_bounded_when_the_peer_reads_nothing_and_a_send_is_stuck() -> None:
    """A sender blocked on a full socket holds the send lock: close() gives up the close frame
    after a short wait and cuts the socket, which also frees the stuck sender."""
    with WsServer(_never_read) as server:
        t, conn = _connected(server)
        stuck = threading.Event()
        ended: List[BaseException] = []

        def sender() -> None:
            try:
                while True:
                    stuck.set()
                    t.send_text("x" * 65536)
            except TransportClosed as exc:
                ended.append(exc)

        th = threading.Thread(target=sender)
        th.start()
        stuck.wait(scaled(5))
        time.sleep(0.3)  # let the sender fill both socket buffers and block inside send
        started = time.monotonic()
        t.close()
        elapsed = time.monotonic() - started
        th.join(scaled(5))
        with conn.cond:
            conn.eof = True
            conn.cond.notify_all()
    assert elapsed < scaled(0.5)
    assert not th.is_alive() and ended


def test_close_is_bounded_when_the_send_buffer_is_full() -> None:
    """No sender holds the lock but the buffers are full: the close frame's send times out (~0.15 s)."""
    with WsServer(_never_read) as server:
        t, conn = _connected(server)
        sock = t._sock
        assert sock is not None
        sock.setblocking(False)
        try:
            while True:
                sock.send(b"\x00" * 65536)
        except BlockingIOError:
            pass
        sock.setblocking(True)
        started = time.monotonic()
        t.close()
        elapsed = time.monotonic() - started
        t.release()
        with conn.cond:
            conn.eof = True
            conn.cond.notify_all()
    assert elapsed < scaled(0.5)
