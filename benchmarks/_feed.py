"""A loopback Binance combined-stream feed for ``ws_bench.py`` (runs as its own process).

    python benchmarks/_feed.py --count 200000 [--rate 0] [--symbol btcusdt]

Prints ``PORT <n>`` on stdout once listening on 127.0.0.1, then serves:

- WebSocket upgrades on any path (``/stream?streams=...`` included).  The *first*
  WebSocket connection gets the feed: ``--count`` combined-stream ``<symbol>@trade``
  frames, pre-built and written in frame-aligned 64 KiB chunks as fast as the socket
  takes them (``--rate 0``), or paced at ``--rate`` frames per second with the send
  time (``time.monotonic_ns()``, a system-wide clock) in the ``E`` field so the client
  can measure latency.  Later connections (a reconnect) get nothing but answers.
- Client frames: SUBSCRIBE/UNSUBSCRIBE/LIST get ``{"result":null,"id":..}``, pings a
  pong, a close frame an echoed close.
- Plain HTTP requests (the Connector's REST health probe): ``200 {}`` with keep-alive
  (``/api/v3/time`` answers ``{"serverTime":..}``).

Deliberately not asyncio and not websocket-client: raw sockets and one thread per
connection, so the feed is cheap and is not the thing being measured.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import socket
import struct
import sys
import threading
import time
from typing import List, Optional

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CHUNK = 65536


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """An unmasked server frame (RFC 6455 5.2)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def trade_payload(symbol: str, i: int, event_time: int) -> bytes:
    price = f"{60000 + (i % 997) / 100:.8f}"
    qty = f"{0.001 + (i % 89) / 1000:.8f}"
    return (
        f'{{"stream":"{symbol}@trade","data":{{"e":"trade","E":{event_time},"s":"{symbol.upper()}",'
        f'"t":{i},"p":"{price}","q":"{qty}","T":{event_time},"m":{"true" if i & 1 else "false"},"M":true}}}}'
    ).encode()


def build_chunks(symbol: str, count: int) -> List[bytes]:
    """``count`` trade frames, joined into frame-aligned chunks of about 64 KiB."""
    now = time.time_ns() // 1_000_000
    chunks: List[bytes] = []
    cur: List[bytes] = []
    size = 0
    for i in range(1, count + 1):
        f = frame(trade_payload(symbol, i, now))
        cur.append(f)
        size += len(f)
        if size >= _CHUNK:
            chunks.append(b"".join(cur))
            cur, size = [], 0
    if cur:
        chunks.append(b"".join(cur))
    return chunks


class Feed:
    def __init__(self, count: int, rate: float, symbol: str) -> None:
        self.count = count
        self.rate = rate
        self.symbol = symbol
        self.chunks = build_chunks(symbol, count) if rate <= 0 else []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.fed = False
        self.lock = threading.Lock()

    def serve_forever(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    # -- one connection ---------------------------------------------------------------------------
    def handle(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
                path = lines[0].split(" ")[1] if " " in lines[0] else "/"
                if headers.get("upgrade", "").lower() == "websocket":
                    self.websocket(conn, headers, buf)
                    return
                length = int(headers.get("content-length", "0") or 0)
                while len(buf) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                buf = buf[length:]
                body = b"{}"
                if path.startswith("/api/v3/time"):
                    body = json.dumps({"serverTime": int(time.time() * 1000)}).encode()
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
        except OSError:
            return
        finally:
            conn.close()

    def websocket(self, conn: socket.socket, headers: dict, rest: bytes) -> None:  # type: ignore[type-arg]
        key = headers.get("sec-websocket-key", "").encode()
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        send_lock = threading.Lock()
        with self.lock:
            first = not self.fed
            self.fed = True
        if first:
            threading.Thread(target=self.feed, args=(conn, send_lock), daemon=True).start()
        self.read_client(conn, send_lock, rest)

    def feed(self, conn: socket.socket, send_lock: threading.Lock) -> None:
        try:
            if self.rate <= 0:
                for chunk in self.chunks:
                    with send_lock:
                        conn.sendall(chunk)
                return
            period_ns = int(1e9 / self.rate)
            start = time.monotonic_ns() + 50_000_000
            sym = self.symbol
            for i in range(1, self.count + 1):
                target = start + i * period_ns
                delay = target - time.monotonic_ns()
                if delay > 0:
                    time.sleep(delay / 1e9)
                data = frame(trade_payload(sym, i, time.monotonic_ns()))
                with send_lock:
                    conn.sendall(data)
        except OSError:
            return

    def read_client(self, conn: socket.socket, send_lock: threading.Lock, buf: bytes) -> None:
        while True:
            parsed = _client_frame(buf)
            if parsed is None:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                continue
            opcode, payload, buf = parsed
            reply: Optional[bytes] = None
            if opcode == 0x1:
                try:
                    msg = json.loads(payload)
                    reply = frame(json.dumps({"result": None, "id": msg.get("id")}).encode())
                except (ValueError, AttributeError):
                    reply = None
            elif opcode == 0x9:
                reply = frame(payload, 0xA)
            elif opcode == 0x8:
                with send_lock:
                    conn.sendall(frame(payload[:2], 0x8))
                return
            if reply is not None:
                with send_lock:
                    conn.sendall(reply)


def _client_frame(buf: bytes) -> Optional[tuple]:  # type: ignore[type-arg]
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    n = b1 & 0x7F
    pos = 2
    if n == 126:
        if len(buf) < 4:
            return None
        n = struct.unpack("!H", buf[2:4])[0]
        pos = 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n = struct.unpack("!Q", buf[2:10])[0]
        pos = 10
    masked = b1 & 0x80
    mask = b""
    if masked:
        if len(buf) < pos + 4:
            return None
        mask = buf[pos : pos + 4]
        pos += 4
    if len(buf) < pos + n:
        return None
    payload = buf[pos : pos + n]
    if masked:
        payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
    return b0 & 0x0F, payload, buf[pos + n :]


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=200_000)
    p.add_argument("--rate", type=float, default=0.0, help="frames/s; 0 = as fast as possible")
    p.add_argument("--symbol", default="btcusdt")
    args = p.parse_args(argv)
    feed = Feed(args.count, args.rate, args.symbol.lower())
    sys.stdout.write(f"PORT {feed.port}\n")
    sys.stdout.flush()
    feed.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
