"""A websocket-client reader thread that keeps every frame of a fake's stream connection (book and
history self-tests of the fake), and the documented local-book replay used to check the fake's books."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from typing import Any, Dict, List, Tuple

import websocket
from fakehelpers import connect, scaled

from binance_conn.testing import FakeBinance

Side = Dict[Decimal, Decimal]


class Collector:
    """Connects to ``/stream?streams=...`` and appends every ``data`` payload to ``self.by_stream``."""

    def __init__(self, fake: FakeBinance, streams: List[str]) -> None:
        self.fake = fake
        self.ws = connect(fake.ws_url + "/stream?streams=" + "/".join(streams))
        assert fake.wait_for_subscriptions(streams, scaled(5))
        self.lock = threading.Lock()
        self.by_stream: Dict[str, List[Any]] = {s: [] for s in streams}
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.ws.settimeout(None)
        while True:
            try:
                msg = json.loads(self.ws.recv())
            except (websocket.WebSocketException, OSError, ValueError):
                return
            if isinstance(msg, dict) and "stream" in msg:
                with self.lock:
                    self.by_stream.setdefault(msg["stream"], []).append(msg["data"])

    def get(self, stream: str) -> List[Any]:
        with self.lock:
            return list(self.by_stream.get(stream, []))

    def close(self) -> None:
        try:
            self.ws.close(timeout=1)
        except (websocket.WebSocketException, OSError):
            pass
        self.ws.shutdown()
        self.thread.join(scaled(5))


def side(levels: List[Any]) -> Side:
    return {Decimal(p): Decimal(q) for p, q in levels}


def apply_levels(book: Side, levels: List[Any]) -> None:
    for p, q in levels:
        if Decimal(q) == 0:
            book.pop(Decimal(p), None)
        else:
            book[Decimal(p)] = Decimal(q)


def replay(snapshot: Dict[str, Any], diffs: List[Dict[str, Any]], strict: bool = True) -> Tuple[int, Side, Side]:
    """Binance's documented procedure: drop diffs with ``u`` <= lastUpdateId, the first kept one must
    straddle ``lastUpdateId + 1``, every later ``U`` must be the previous ``u + 1`` (``strict``)."""
    last = int(snapshot["lastUpdateId"])
    bids, asks = side(snapshot["bids"]), side(snapshot["asks"])
    started = False
    for d in diffs:
        if d["u"] <= last:
            continue
        if strict:
            if not started:
                assert d["U"] <= last + 1 <= d["u"], (d["U"], d["u"], last)
            else:
                assert d["U"] == last + 1, (d["U"], last)
        started = True
        apply_levels(bids, d["b"])
        apply_levels(asks, d["a"])
        last = d["u"]
    return last, bids, asks


def as_side(levels: List[Tuple[Decimal, Decimal]]) -> Side:
    return dict(levels)
