"""Shared fixtures and helpers for the Connector integration tests (against FakeBinance).

Import the fixtures explicitly in a test module (``from _connector_helpers import fake, ...``).
Short timings everywhere: the whole Connector suite must stay fast.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterator, List, Optional

import pytest
from _helpers import scaled, wait_until

import binance_conn as bc
from binance_conn.testing import FakeBinance

__all__ = [
    "FakeBinance",
    "Recorder",
    "conn_threads",
    "fake",
    "fast_builder",
    "no_conn_threads",
    "scaled",
    "stream_conns",
    "wait_until",
]


def conn_threads() -> List[threading.Thread]:
    """Live threads started by binance_conn (all are named ``binance_conn-...``)."""
    return [t for t in threading.enumerate() if t.name.startswith("binance_conn") and t.is_alive()]


@pytest.fixture
def no_conn_threads() -> Iterator[None]:
    """Fails the test if binance_conn threads it started are still alive at its end."""
    before = set(conn_threads())
    yield None
    assert wait_until(lambda: not (set(conn_threads()) - before), timeout=5.0), \
        f"leaked threads: {set(conn_threads()) - before}"


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=7) as f:
        yield f


def fast_builder(fake: FakeBinance, **ws: Any) -> Any:
    """A config builder with short timings: reconnects in ~50 ms, zombies found in ~1 s."""
    opts = dict(ping_interval=0.5, pong_timeout=0.5, silence_timeout=1.0, handshake_timeout=2.0)
    opts.update(ws)
    return (fake.config_builder()
            .with_backoff(base=0.05, max=0.5, jitter=0.0)
            .with_health_check(1.0)
            .with_debounce(0.0)
            .with_websocket(**opts))


def stream_conns(fake: FakeBinance) -> List[dict]:
    """The fake's log records of stream connections (not the WebSocket API), oldest first."""
    return sorted((r for r in fake.connection_log if r["kind"] == "stream"), key=lambda r: r["id"])


def open_stream_conns(fake: FakeBinance) -> List[dict]:
    return [r for r in stream_conns(fake) if r["closed_at"] is None]


class Recorder:
    """A thread-safe callback that records every event it receives."""

    def __init__(self, on_event: Optional[Callable[[Any], Any]] = None) -> None:
        self.items: List[Any] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._on_event = on_event

    def __call__(self, event: Any) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()
        if self._on_event is not None:
            self._on_event(event)

    def __len__(self) -> int:
        with self._lock:
            return len(self.items)

    def snapshot(self) -> List[Any]:
        with self._lock:
            return list(self.items)

    def wait_for(self, pred: Callable[[List[Any]], bool], timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: pred(self.items), scaled(timeout))

    def wait_count(self, n: int, timeout: float = 5.0) -> bool:
        return self.wait_for(lambda items: len(items) >= n, timeout)

    def states(self) -> List[bc.ConnectionState]:
        return [e.state for e in self.snapshot()]


__all__ += ["open_stream_conns"]


class RefusingServer:
    """A TCP listener that logs the time of every connection attempt and answers HTTP 503."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.times: List[float] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="test-refuser")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        import time

        while not self._done.is_set():
            try:
                s, _ = self.sock.accept()
            except OSError:
                continue
            self.times.append(time.monotonic())
            try:
                s.settimeout(1.0)
                s.recv(4096)
                s.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            s.close()

    def __enter__(self) -> "RefusingServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        self._thread.join(2)
        self.sock.close()


__all__ += ["RefusingServer"]


def wait_live(conn: Any, fake: FakeBinance, timeout: float = 5.0) -> None:
    """Ready, and every stream of ``conn`` subscribed on the fake's side too (the fake registers a
    connection's URL streams a moment after the client saw the handshake complete)."""
    assert conn.wait_ready(scaled(timeout)), conn.stats()
    want = list(conn.stats()["streams"])
    assert fake.wait_for_subscriptions(want, scaled(timeout)), (want, fake.subscribed_streams())


__all__ += ["wait_live"]


@pytest.fixture
def started() -> Iterator[List[bc.Connector]]:
    """Connectors a test starts; all stopped at its end."""
    conns: List[bc.Connector] = []
    yield conns
    for c in conns:
        c.stop(timeout=2.0)
