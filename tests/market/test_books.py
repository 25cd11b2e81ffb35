"""The book manager on the in-memory transport with a scripted snapshot source (no sockets, no REST)."""

from __future__ import annotations

import json
import queue
import threading
import time
from decimal import Decimal as D
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import pytest
from _market_helpers import scaled, wait_until

from binance_conn._core.book import BookSync
from binance_conn._core.pacing import ConnectionBudget
from binance_conn._io.dispatch import Dispatcher
from binance_conn._io.memory import MemoryNetwork, MemoryTransport
from binance_conn._io.topics import ERROR_TOPIC, GAP_TOPIC
from binance_conn._market.books import BookManager, book_topic, snapshot_delay
from binance_conn._market.session import MarketSession
from binance_conn.config import ConfigBuilder, OrderBookConfig
from binance_conn.enums import BookState, GapState
from binance_conn.errors import APIError, InternalError, RateLimitError

S = BookState
STREAM = "btcusdt@depth@100ms"


def diff(first: int, last: int, bids: Any = (), asks: Any = (), symbol: str = "BTCUSDT") -> str:
    data = {"e": "depthUpdate", "E": 1700000000000 + last, "s": symbol, "U": first, "u": last,
            "b": [[p, q] for p, q in bids], "a": [[p, q] for p, q in asks]}
    return json.dumps({"stream": f"{symbol.lower()}@depth@100ms", "data": data})


def snap(last_id: int, bids: Any = (("100", "1"), ("99", "2")), asks: Any = (("101", "1"), ("102", "2"))
         ) -> Dict[str, Any]:
    return {"lastUpdateId": last_id, "bids": [[D(p), D(q)] for p, q in bids],
            "asks": [[D(p), D(q)] for p, q in asks]}


class Source:
    """Scripted snapshots: answers (dict or exception) per symbol, taken in order; a weight window."""

    def __init__(self, limit: int = 6000, window: float = 60.0) -> None:
        self.answers: Dict[str, "queue.Queue[Any]"] = {}
        self.calls: List[Tuple[str, int, float]] = []
        self.limit = limit
        self.window = window
        self.t0 = time.monotonic()
        self.spent: Dict[int, int] = {}
        self.lock = threading.Lock()

    def script(self, symbol: str, *answers: Any) -> None:
        q = self.answers.setdefault(symbol, queue.Queue())
        for a in answers:
            q.put(a)

    def _index(self) -> int:
        return int((time.monotonic() - self.t0) // self.window)

    def weight_room(self) -> Tuple[int, int, float]:
        with self.lock:
            elapsed = time.monotonic() - self.t0
            return self.spent.get(self._index(), 0), self.limit, self.window - elapsed % self.window

    def depth(self, symbol: str, limit: int) -> Mapping[str, Any]:
        answer = self.answers.setdefault(symbol, queue.Queue()).get(timeout=scaled(10))
        with self.lock:
            idx = self._index()
            self.spent[idx] = self.spent.get(idx, 0) + 5
            self.calls.append((symbol, limit, time.monotonic()))
            if self.spent[idx] > self.limit:
                raise AssertionError("over the weight limit: a 429")
        if isinstance(answer, BaseException):
            raise answer
        return answer  # type: ignore[no-any-return]


class Harness:
    def __init__(self, cfg: OrderBookConfig, source: Source) -> None:
        self.net = MemoryNetwork()
        config = (ConfigBuilder().with_rest_url("http://memory.invalid").with_ws_url("wss://memory.invalid")
                  .with_backoff(base=0.02, max=0.2, jitter=0.0).with_health_check(1.0).with_debounce(0.0)
                  .with_websocket(ping_interval=0.5, pong_timeout=0.5, silence_timeout=5.0, handshake_timeout=1.0)
                  .build())
        self.dispatcher = Dispatcher(error_topic=ERROR_TOPIC, name="test-books", on_topics_changed=self._topics)
        self.session = MarketSession(config, self.dispatcher, lambda timeout: None, ConnectionBudget(10_000, 1.0),
                                     transport_factory=self.net)
        self.source = source
        self.books = BookManager(lambda: "binance", self.dispatcher, source, lambda: cfg)
        self.session.on_streams_lost = self.books.streams_lost
        self.errors: "queue.Queue[Any]" = queue.Queue()
        self.gaps: "queue.Queue[Any]" = queue.Queue()
        self.dispatcher.subscribe(ERROR_TOPIC, queue=self.errors)
        self.dispatcher.subscribe(GAP_TOPIC, queue=self.gaps)

    def _topics(self, topic: str, added: bool) -> None:
        if topic.startswith("__book__"):
            self.books.topic_changed(topic, added)
        elif not topic.startswith("__"):
            (self.session.add_stream if added else self.session.remove_stream)(topic)

    def views(self, symbol: str = "BTCUSDT", depth: Optional[int] = 20) -> "queue.Queue[Any]":
        q: "queue.Queue[Any]" = queue.Queue()
        self.dispatcher.subscribe(book_topic(symbol, depth), queue=q)
        return q

    def start(self) -> MemoryTransport:
        self.dispatcher.start()
        self.session.start()
        self.books.start()
        return self.net.wait_for_connection(scaled(5))

    def stop(self) -> bool:
        self.session.begin_stop()
        self.books.begin_stop()
        deadline = time.monotonic() + 5
        threads = self.session.threads() + self.books.threads()
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.session.finish_stop("stopped")
        self.dispatcher.stop(time.monotonic() + 1)
        return not any(t.is_alive() for t in threads)

    def state(self, symbol: str = "BTCUSDT") -> Any:
        b = self.books.book(symbol)
        return None if b is None else b.state


@pytest.fixture
def source() -> Source:
    return Source()


@pytest.fixture
def h(source: Source) -> Iterator[Harness]:
    harness = Harness(OrderBookConfig(), source)
    yield harness
    assert harness.stop()


def states(q: "queue.Queue[Any]") -> List[Any]:
    out = []
    while True:
        try:
            out.append(q.get_nowait().state)
        except queue.Empty:
            return out


def test_sync_delivers_states_and_views_one_book_per_symbol(h: Harness, source: Source) -> None:
    v20 = h.views(depth=20)
    v1 = h.views(depth=1)
    assert h.books.book("BTCUSDT").state is S.SYNCING  # type: ignore[union-attr]
    assert h.books.book("ETHUSDT") is None
    source.script("BTCUSDT", snap(10))
    link = h.start()
    link.feed_text(diff(9, 11, bids=[("100", "5")]))
    assert wait_until(lambda: h.state() is S.SYNCED)
    link.feed_text(diff(12, 12, asks=[("101", "0")]))
    assert wait_until(lambda: h.books.book("BTCUSDT").last_update_id == 12)  # type: ignore[union-attr]
    book = h.books.book("BTCUSDT", 1)
    assert book.bids == ((D(100), D(5)),) and book.asks == ((D(102), D(2)),)  # type: ignore[union-attr]
    assert wait_until(lambda: v1.qsize() >= 3)
    assert states(v1)[:3] == [S.SYNCING, S.SYNCED, S.SYNCED]
    last = None
    while True:
        try:
            last = v20.get(timeout=0.2)
        except queue.Empty:
            break
    assert last is not None and len(last.bids) == 2 and last.last_update_id == 12
    assert len(source.calls) == 1 and source.calls[0][:2] == ("BTCUSDT", 100)
    assert h.books.stats()["books"]["BTCUSDT"]["snapshots"] == 1


def test_gap_goes_out_of_sync_publishes_gap_and_resyncs(h: Harness, source: Source) -> None:
    v = h.views()
    source.script("BTCUSDT", snap(10), snap(20))
    link = h.start()
    link.feed_text(diff(11, 11))
    assert wait_until(lambda: h.state() is S.SYNCED)
    link.feed_text(diff(15, 16))  # 12..14 missing
    gap = h.gaps.get(timeout=scaled(5))
    assert (gap.kind, gap.first_missing, gap.last_missing, gap.state) == ("depth", 12, 14, GapState.OPEN)
    assert gap.stream == STREAM and gap.symbol == "BTCUSDT"
    link.feed_text(diff(17, 21))
    assert wait_until(lambda: h.state() is S.SYNCED and h.books.book("BTCUSDT").last_update_id == 21)  # type: ignore
    final = h.gaps.get(timeout=scaled(5))
    assert final.gap_id == gap.gap_id and final.state is GapState.UNFILLED
    seen = states(v)
    assert S.OUT_OF_SYNC in seen and seen[-1] is S.SYNCED
    assert seen.index(S.OUT_OF_SYNC) < len(seen) - 1
    assert h.books.stats()["books"]["BTCUSDT"]["resyncs"] == 1


def test_link_loss_is_out_of_sync_at_once_and_never_stale(h: Harness, source: Source) -> None:
    h.views()
    source.script("BTCUSDT", snap(10))
    link = h.start()
    link.feed_text(diff(11, 11))
    assert wait_until(lambda: h.state() is S.SYNCED)
    hold = threading.Event()
    original = h.books._on_control

    def slow(*args: Any) -> None:  # keep the worker from handling the loss: book() must not wait for it
        hold.wait(scaled(5))
        original(*args)

    h.books._on_control = slow  # type: ignore[method-assign]
    link.drop()
    assert wait_until(lambda: h.state() is S.OUT_OF_SYNC)
    assert h.books.book("BTCUSDT", 5).bids == ()  # type: ignore[union-attr]
    hold.set()
    gap = h.gaps.get(timeout=scaled(5))
    assert (gap.cause, gap.first_missing, gap.last_missing, gap.state) == ("reconnect", 12, None, GapState.OPEN)
    fresh = h.net.wait_for_connection(scaled(5))
    source.script("BTCUSDT", snap(30))
    fresh.feed_text(diff(25, 31))
    assert wait_until(lambda: h.state() is S.SYNCED and h.books.book("BTCUSDT").last_update_id == 31)  # type: ignore


def test_stale_snapshot_is_retried(h: Harness, source: Source) -> None:
    h.views()
    source.script("BTCUSDT", snap(5), snap(50))
    link = h.start()
    link.feed_text(diff(40, 45))
    assert wait_until(lambda: len(source.calls) == 2)
    link.feed_text(diff(46, 51))
    assert wait_until(lambda: h.state() is S.SYNCED)
    st = h.books.stats()["books"]["BTCUSDT"]
    assert st["stale_snapshots"] == 1 and st["snapshots"] == 2


def test_rest_failure_is_out_of_sync_then_retried(h: Harness, source: Source) -> None:
    v = h.views()
    source.script("BTCUSDT", APIError("boom", binance_code=-1000), snap(10))
    link = h.start()
    link.feed_text(diff(11, 11))
    assert wait_until(lambda: h.state() is S.SYNCED, 8)
    assert S.OUT_OF_SYNC in states(v)
    assert h.books.stats()["books"]["BTCUSDT"]["snapshot_errors"] == 1


def test_rate_limit_error_waits_and_is_no_failure(h: Harness, source: Source) -> None:
    h.views()
    source.script("BTCUSDT", RateLimitError("slow down", retry_after=0.1), snap(10))
    link = h.start()
    link.feed_text(diff(11, 11))
    assert wait_until(lambda: h.state() is S.SYNCED)
    st = h.books.stats()
    assert st["rate_limited"] >= 1 and st["books"]["BTCUSDT"]["snapshot_errors"] == 0


def test_crossed_book_resyncs(h: Harness, source: Source) -> None:
    h.views()
    source.script("BTCUSDT", snap(10), snap(20))
    link = h.start()
    link.feed_text(diff(11, 11))
    assert wait_until(lambda: h.state() is S.SYNCED)
    link.feed_text(diff(12, 12, bids=[("101.5", "1")]))
    assert wait_until(lambda: h.books.stats()["books"]["BTCUSDT"]["resyncs"] == 1)
    link.feed_text(diff(13, 21))
    assert wait_until(lambda: h.state() is S.SYNCED)


def test_worker_crash_is_reported_and_the_book_resyncs(h: Harness, source: Source,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    h.views()
    source.script("BTCUSDT", snap(10), snap(20))
    link = h.start()
    link.feed_text(diff(11, 11))
    assert wait_until(lambda: h.state() is S.SYNCED)
    original = BookSync.on_diff
    calls = []

    def boom(self: BookSync, *a: Any, **kw: Any) -> int:
        if not calls:
            calls.append(1)
            raise RuntimeError("injected")
        return original(self, *a, **kw)

    monkeypatch.setattr(BookSync, "on_diff", boom)
    link.feed_text(diff(12, 12))
    err = h.errors.get(timeout=scaled(5))
    assert isinstance(err, InternalError) and "order book worker" in str(err)
    assert wait_until(lambda: h.books.stats()["books"]["BTCUSDT"]["resyncs"] == 1)
    link.feed_text(diff(13, 21))
    assert wait_until(lambda: h.state() is S.SYNCED)
    assert h.books.stats()["internal_errors"] == 1


def test_unsubscribe_last_view_drops_the_book(h: Harness, source: Source) -> None:
    sub = h.dispatcher.subscribe(book_topic("BTCUSDT", 5), lambda ev: None)
    assert h.books.book("BTCUSDT") is not None and STREAM in h.dispatcher.topics()
    sub()
    assert h.books.book("BTCUSDT") is None and STREAM not in h.dispatcher.topics()


def test_snapshot_delay_rule() -> None:
    assert snapshot_delay(0, 6000, 5, 0.5, 30.0) == 0.0
    assert snapshot_delay(2995, 6000, 5, 0.5, 30.0) == 0.0
    assert snapshot_delay(2996, 6000, 5, 0.5, 30.0) == pytest.approx(30.05)
    assert snapshot_delay(0, 100, 250, 0.5, 10.0) > 0  # never past the limit itself
    assert snapshot_delay(0, 400, 250, 0.5, 10.0) == 0.0  # bigger than the share: may use the whole budget


def test_many_books_start_inside_the_weight_budget() -> None:
    source = Source(limit=20, window=0.4)  # share 0.5: two snapshots (weight 5) per window
    h = Harness(OrderBookConfig(fetchers=3), source)
    try:
        symbols = [f"S{i}USDT" for i in range(8)]
        for s in symbols:
            h.views(s)
            source.script(s, snap(10))
        link = h.start()
        for s in symbols:
            link.feed_text(diff(11, 11, symbol=s))
        assert wait_until(lambda: all(h.state(s) is S.SYNCED for s in symbols), 15)
        # a reconnect: every book resyncs, paced by the same budget (no storm)
        for s in symbols:
            source.script(s, snap(20))
        link.drop()
        assert wait_until(lambda: all(h.state(s) is not S.SYNCED for s in symbols), 5)
        fresh = h.net.wait_for_connection(scaled(5))
        for s in symbols:
            fresh.feed_text(diff(21, 21, symbol=s))
        assert wait_until(lambda: all(h.state(s) is S.SYNCED for s in symbols), 15)
        assert len(source.calls) == 16
        per_window: Dict[int, int] = {}
        for _, _, at in source.calls:
            idx = int((at - source.t0) // source.window)
            per_window[idx] = per_window.get(idx, 0) + 5
        assert max(per_window.values()) <= 10, per_window
        assert h.books.stats()["weight_used"] == 80 and h.books.stats()["rate_limited"] > 0
    finally:
        assert h.stop()
