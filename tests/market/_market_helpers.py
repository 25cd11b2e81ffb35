"""A MarketSession on the in-memory transport (no sockets): fixtures and helpers."""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any, Callable, List, Optional

from binance_conn._core.pacing import ConnectionBudget
from binance_conn._io.dispatch import Dispatcher
from binance_conn._io.memory import MemoryNetwork, MemoryTransport
from binance_conn._io.topics import CONNECTION_TOPIC, ERROR_TOPIC
from binance_conn._market.session import MarketSession
from binance_conn.config import ConfigBuilder
from binance_conn.errors import ConnectionError

TIME_FACTOR = 1.0


def scaled(seconds: float) -> float:
    import os

    return seconds * float(os.environ.get("BINANCE_CONN_TEST_TIME_FACTOR", TIME_FACTOR))


def wait_until(pred: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + scaled(timeout)
    cond = threading.Condition()
    with cond:
        while not pred():
            if time.monotonic() >= deadline:
                return bool(pred())
            cond.wait(0.01)
    return True


def trade(trade_id: int, symbol: str = "BTCUSDT") -> str:
    data = {"e": "trade", "E": 1672515782136 + trade_id, "s": symbol, "t": trade_id, "p": "1.0", "q": "2.0",
            "T": 1672515782136 + trade_id, "m": True, "M": True}
    return json.dumps({"stream": f"{symbol.lower()}@trade", "data": data})


def refused(reason: str = "refused", text: str = "connection refused") -> BaseException:
    return ConnectionError(text, details={"reason": reason})


class Market:
    """A started MarketSession, its memory network and what it published."""

    def __init__(self, net: MemoryNetwork, session: MarketSession, dispatcher: Dispatcher) -> None:
        self.net = net
        self.session = session
        self.dispatcher = dispatcher
        self.events: "queue.Queue[Any]" = queue.Queue()
        self.errors: "queue.Queue[Any]" = queue.Queue()
        self.connection: "queue.Queue[Any]" = queue.Queue()
        dispatcher.subscribe(ERROR_TOPIC, queue=self.errors)
        dispatcher.subscribe(CONNECTION_TOPIC, queue=self.connection)

    def subscribe(self, stream: str = "btcusdt@trade") -> None:
        self.dispatcher.subscribe(stream, queue=self.events)
        self.session.add_stream(stream)

    def link(self, timeout: float = 10.0) -> MemoryTransport:
        return self.net.wait_for_connection(scaled(timeout))

    def next_event(self, timeout: float = 10.0) -> Any:
        return self.events.get(timeout=scaled(timeout))

    def drain(self, q: "queue.Queue[Any]") -> List[Any]:
        out = []
        while True:
            try:
                out.append(q.get_nowait())
            except queue.Empty:
                return out

    def wait_error(self, pred: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            try:
                err = self.errors.get(timeout=0.05)
            except queue.Empty:
                continue
            if pred(err):
                return err
        raise AssertionError("no matching error on the error topic")

    def flows(self, link: MemoryTransport, trade_id: int) -> bool:
        """A trade fed on ``link`` reaches the subscriber."""
        link.feed_text(trade(trade_id))
        deadline = time.monotonic() + scaled(3.0)
        while time.monotonic() < deadline:
            try:
                ev = self.events.get(timeout=0.05)
            except queue.Empty:
                continue
            if ev.trade_id == trade_id:
                return True
        return False


def make_market(net: Optional[MemoryNetwork] = None, *, health: float = 1.0, debounce: float = 0.0,
                rest_ping: Optional[Callable[[float], None]] = None, **ws: Any) -> Market:
    net = net or MemoryNetwork()
    opts = dict(ping_interval=0.5, pong_timeout=0.5, silence_timeout=1.0, handshake_timeout=1.0)
    opts.update(ws)
    config = (ConfigBuilder().with_rest_url("http://memory.invalid").with_ws_url("wss://memory.invalid")
              .with_backoff(base=0.02, max=0.2, jitter=0.0).with_health_check(health).with_debounce(debounce)
              .with_websocket(**opts).build())
    dispatcher = Dispatcher(error_topic=ERROR_TOPIC, name="test-market")
    session = MarketSession(config, dispatcher, rest_ping or (lambda timeout: None), ConnectionBudget(10_000, 1.0),
                            transport_factory=net)
    return Market(net, session, dispatcher)


def start(m: Market) -> None:
    m.dispatcher.start()
    m.session.start()


def stop(m: Market, timeout: float = 5.0) -> bool:
    m.session.begin_stop()
    deadline = time.monotonic() + timeout
    ok = True
    for t in m.session.threads():
        t.join(max(0.0, deadline - time.monotonic()))
        ok = ok and not t.is_alive()
    m.session.finish_stop("stopped")
    m.dispatcher.stop(time.monotonic() + 1.0)
    return ok
