"""Misbehaving HTTP servers on 127.0.0.1 port 0 for deadline tests (context managers that join
their threads): one that never answers, one that trickles its answer a byte at a time."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, List, Optional

__all__ = ["SlowServer"]


class SlowServer:
    """Accepts connections, reads each request, then answers per ``mode``:

    * ``"silent"``: never sends a byte (the connection stays open);
    * ``"trickle_headers"``: a valid response whose header bytes come one per ``byte_delay``;
    * ``"trickle_body"``: headers at once (``Content-Length: 1000``), then the body a byte at a time.

    ``requests`` counts the requests it read; ``wait_requests(n)`` waits for them.
    """

    def __init__(self, mode: str = "silent", byte_delay: float = 0.2) -> None:
        assert mode in ("silent", "trickle_headers", "trickle_body")
        self.mode = mode
        self.byte_delay = byte_delay
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.requests = 0
        self.closed_by_client = 0
        self._cond = threading.Condition()
        self._done = threading.Event()
        self._threads: List[threading.Thread] = []
        self._conns: List[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def wait_requests(self, n: int, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.requests >= n, timeout)

    def _accept(self) -> None:
        while not self._done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True, name="test-slow-server-conn")
            self._threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.05)
        buf = b""
        try:
            while not self._done.is_set():
                while b"\r\n\r\n" not in buf:
                    try:
                        chunk = conn.recv(4096)
                    except socket.timeout:
                        if self._done.is_set():
                            return
                        continue
                    if not chunk:
                        with self._cond:
                            self.closed_by_client += 1
                        return
                    buf += chunk
                buf = buf.split(b"\r\n\r\n", 1)[1]
                with self._cond:
                    self.requests += 1
                    self._cond.notify_all()
                if self.mode == "silent":
                    self._done.wait()
                    return
                body = b'{"x":' + b"1" * 993 + b"}"
                head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(body))
                if self.mode == "trickle_headers":
                    slow, fast = head, body
                else:
                    conn.sendall(head)
                    slow, fast = body, b""
                for i in range(len(slow)):
                    if self._done.wait(self.byte_delay):
                        return
                    conn.sendall(slow[i:i + 1])
                conn.sendall(fast)
        except OSError:
            with self._cond:
                self.closed_by_client += 1
        finally:
            conn.close()

    def __enter__(self) -> "SlowServer":
        t = threading.Thread(target=self._accept, daemon=True, name="test-slow-server")
        self._threads.append(t)
        t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        deadline: Optional[float] = time.monotonic() + 3.0
        for t in list(self._threads):
            t.join(max(0.0, (deadline or 0) - time.monotonic()))
        self.sock.close()
