"""A user-data session on the in-memory transport: a scripted WebSocket API server, no sockets.

:class:`ScriptedApi` answers what the session sends (``session.logon``,
``userDataStream.subscribe(.signature)``, ``userDataStream.unsubscribe``, ``time``) on each
``MemoryTransport``; a test can hold the unsubscribe answer back (``answer_unsubscribe=False``)
and feed events, ``serverShutdown`` or faults itself.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from _helpers import scaled, wait_until

from binance_conn._io.dispatch import Dispatcher
from binance_conn._io.memory import MemoryNetwork, MemoryTransport
from binance_conn._io.topics import CONNECTION_TOPIC, ERROR_TOPIC
from binance_conn._userdata.delivery import BALANCE_TOPIC
from binance_conn._userdata.session import UserDataLink
from binance_conn.config import Config

__all__ = ["ScriptedApi", "Harness", "balance_event", "make_harness"]


def balance_event(n: int, sub_id: int = 1) -> str:
    """A ``balanceUpdate`` (natural key: asset, delta, T, E) numbered ``n``."""
    ev = {"e": "balanceUpdate", "E": 1_700_000_000_000 + n, "a": "BTC", "d": f"{n}.00000000",
          "T": 1_700_000_000_000 + n}
    return json.dumps({"subscriptionId": sub_id, "event": ev})


class ScriptedApi:
    """The server side: answers requests as Binance's WebSocket API does (section 8 frames)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answer_unsubscribe = True
        self.answer_subscribe = True
        self.next_sub = 1
        self.subs: Dict[int, int] = {}  # id(transport) -> subscription id
        self.unanswered: List[Tuple[MemoryTransport, str]] = []  # (transport, request id) held back
        self.hold_methods: set = set()  # other methods whose answers are held back (release())

    def __call__(self, transport: MemoryTransport, text: str) -> None:
        req = json.loads(text)
        method, rid = req["method"], req["id"]
        with self.lock:
            if method in ("userDataStream.subscribe", "userDataStream.subscribe.signature"):
                if not self.answer_subscribe:
                    self.unanswered.append((transport, rid))
                    return
                sub = self.next_sub
                self.next_sub += 1
                self.subs[id(transport)] = sub
                result: Any = {"subscriptionId": sub}
            elif method == "userDataStream.unsubscribe":
                if not self.answer_unsubscribe:
                    self.unanswered.append((transport, rid))
                    return
                self.subs.pop(id(transport), None)
                result = {}
            elif method in self.hold_methods:
                self.unanswered.append((transport, rid))
                return
            elif method == "session.logon":
                result = {"apiKey": "k"}
            elif method == "time":
                result = {"serverTime": 1_700_000_000_000}
            else:
                result = {}
        transport.feed_text(json.dumps({"id": rid, "status": 200, "result": result}))

    def sub_id(self, transport: MemoryTransport) -> int:
        with self.lock:
            return self.subs.get(id(transport), 0)

    def release(self, transport: MemoryTransport, before: Optional[List[str]] = None) -> None:
        """Answer the held-back requests of ``transport`` (after feeding ``before``)."""
        with self.lock:
            mine = [(t, rid) for t, rid in self.unanswered if t is transport]
            self.unanswered = [(t, rid) for t, rid in self.unanswered if t is not transport]
        for text in before or []:
            transport.feed_text(text)
        for _, rid in mine:
            transport.feed_text(json.dumps({"id": rid, "status": 200, "result": {}}))


class _Rest:
    clock_offset_ms = 0

    def sync_clock(self, force: bool = False) -> int:
        return 0

    def request(self, method: str, path: str, params: Any = None, signed: bool = False, timeout: Any = None) -> Any:
        if path.endswith("openOrders"):
            return []
        raise AssertionError(f"unexpected REST call {method} {path}")


class Harness:
    """One ``UserDataLink`` on a :class:`MemoryNetwork`, with recorded events, errors, connection events."""

    def __init__(self, *, max_lifetime: float = 3600.0, overlap: Optional[float] = None,
                 acquire_slot: Optional[Callable[[], None]] = None, ping_interval: float = 5.0,
                 pong_timeout: float = 5.0) -> None:
        self.expected_crashes = 0  # stop() fails the test if the guard saw any other crash
        self.api = ScriptedApi()
        self.net = MemoryNetwork(on_send=self.api)
        cfg = (Config.builder().with_api_key("k").with_api_secret("s").with_ws_api_url("wss://api.test")
               .with_backoff(base=0.05, max=0.2, jitter=0.0).with_debounce(0.0)
               .with_websocket(ping_interval=ping_interval, pong_timeout=pong_timeout, handshake_timeout=1.0,
                               max_lifetime=max_lifetime).build())
        self.dispatcher = Dispatcher(error_topic=ERROR_TOPIC)
        self.balances: "queue.Queue[Any]" = queue.Queue()
        self.errors: "queue.Queue[Any]" = queue.Queue()
        self.conn_events: "queue.Queue[Any]" = queue.Queue()
        self.dispatcher.subscribe(BALANCE_TOPIC, queue=self.balances)
        self.dispatcher.subscribe(ERROR_TOPIC, queue=self.errors)
        self.dispatcher.subscribe(CONNECTION_TOPIC, queue=self.conn_events)
        kw: Dict[str, Any] = {"transport_factory": self.net, "acquire_slot": acquire_slot}
        if overlap is not None:
            kw["rollover_overlap"] = overlap
        self.link = UserDataLink(cfg, self.dispatcher, lambda: _Rest(), **kw)
        self._seen_conn: List[Any] = []

    def start(self) -> MemoryTransport:
        """Start with user data wanted; returns the first (subscribed) transport."""
        self.dispatcher.start()
        self.link.topic_changed(BALANCE_TOPIC, True)
        self.link.start()
        t = self.net.wait_for_connection(scaled(10))
        assert self.link.ready.wait(scaled(10)), self.link.stats()
        return t

    def stop(self) -> None:
        self.link.begin_stop()
        for th in self.link.threads():
            th.join(scaled(10))
        self.link.finish_stop("stopped")
        self.dispatcher.stop(deadline=__import__("time").monotonic() + 2)
        assert self.link.guard.crashes == self.expected_crashes, self.link.guard.last_crash

    def wait_deltas(self, n: int, timeout: float = 10.0) -> List[int]:
        """Read balance events until ``n`` arrived; their deltas as ints, in delivery order."""
        out: List[int] = []
        for _ in range(n):
            ev = self.balances.get(timeout=scaled(timeout))
            out.append(int(ev.delta))
        return out

    def drain_balances(self) -> List[int]:
        out: List[int] = []
        while True:
            try:
                out.append(int(self.balances.get_nowait().delta))
            except queue.Empty:
                return out

    def error(self, timeout: float = 10.0) -> Any:
        return self.errors.get(timeout=scaled(timeout))

    def conn_event(self, predicate: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        """The first connection event (seen or new) matching ``predicate``."""
        for ev in self._seen_conn:
            if predicate(ev):
                return ev
        deadline = __import__("time").monotonic() + scaled(timeout)
        while True:
            left = deadline - __import__("time").monotonic()
            if left <= 0:
                raise AssertionError(f"no matching connection event; saw {self._seen_conn}")
            try:
                ev = self.conn_events.get(timeout=left)
            except queue.Empty:
                continue
            self._seen_conn.append(ev)
            if predicate(ev):
                return ev


def make_harness(**kw: Any) -> Iterator[Harness]:
    h = Harness(**kw)
    try:
        yield h
    finally:
        h.stop()


__all__ += ["wait_until"]
