"""The gap guard (_market/gaps.py) with a fake REST history: detection, causes, backfill, trimming, errors."""

from __future__ import annotations

import queue
import threading
from decimal import Decimal
from typing import Any, Dict, List, Optional, Tuple

import pytest
from _market_helpers import wait_until

import binance_conn as bc
from binance_conn._io.dispatch import Dispatcher, Subscription
from binance_conn._io.topics import GAP_TOPIC
from binance_conn._market.gaps import GapGuard, GapMonitor, tracked_kind
from binance_conn.errors import RateLimitError, ValidationError

MIN = 60_000


def trade(i: int, backfilled: bool = False) -> bc.Trade:
    return bc.Trade("binance", "BTCUSDT", i, Decimal("1"), Decimal("2"), 1000 + i, False, 1000 + i, backfilled)


def agg(i: int) -> bc.AggTrade:
    return bc.AggTrade("binance", "BTCUSDT", i, Decimal("1"), Decimal("2"), i * 2, i * 2 + 1, 1000 + i, False,
                       1000 + i)


def kline(open_time: int, closed: bool = True) -> bc.Kline:
    return bc.Kline("binance", "BTCUSDT", "1m", open_time, open_time + MIN - 1, Decimal("1"), Decimal("1"),
                    Decimal("1"), Decimal("1"), Decimal("1"), closed)


def depth(first: int, final: int) -> bc.DepthUpdate:
    return bc.DepthUpdate("binance", "BTCUSDT", first, final, (), ())


class FakeHistory:
    """historicalTrades / aggTrades / klines over ids 1..last, with failure switches."""

    def __init__(self, last: int = 10_000, oldest: int = 1) -> None:
        self.last, self.oldest = last, oldest
        self.calls: List[Tuple[str, Dict[str, Any]]] = []
        self.fail: Optional[Exception] = None
        self.fail_after: Optional[int] = None  # fail from this call number on (1-based)
        self.extra_rows = 0  # rows past the asked limit (a page overlapping live events)
        self.block: Optional[threading.Event] = None
        self.holes: set = set()
        self.raw: List[Dict[str, Any]] = []

    def __call__(self, path: str, params: Dict[str, Any], timeout: float) -> Any:
        """The GET the monitor uses: Binance's parameter names, raw JSON answers."""
        p = dict(params)
        self.raw.append(p)
        if path == "/api/v3/historicalTrades":
            return self.historical_trades(p["symbol"], from_id=p["fromId"], limit=p["limit"])
        if path == "/api/v3/aggTrades":
            return self.agg_trades(p["symbol"], from_id=p["fromId"], limit=p["limit"])
        assert path == "/api/v3/klines"
        return self.klines(p["symbol"], p["interval"], start_time=p["startTime"], end_time=p["endTime"],
                           limit=p["limit"])

    def _maybe_fail(self) -> None:
        if self.block is not None:
            self.block.wait(5)
        if self.fail is not None and (self.fail_after is None or len(self.calls) >= self.fail_after):
            raise self.fail

    def _ids(self, from_id: int, limit: int) -> List[int]:
        ids = [i for i in range(max(from_id, self.oldest), self.last + 1) if i not in self.holes]
        return ids[:limit + self.extra_rows]

    def historical_trades(self, symbol: str, *, from_id: Optional[int] = None, limit: Optional[int] = None,
                          timeout: Any = None, **extra: Any) -> List[Any]:
        self.calls.append(("historical_trades", {"from_id": from_id, "limit": limit}))
        self._maybe_fail()
        return [{"id": i, "price": Decimal("1"), "qty": Decimal("2"), "quoteQty": Decimal("2"), "time": 1000 + i,
                 "isBuyerMaker": False, "isBestMatch": True} for i in self._ids(from_id or 1, limit or 500)]

    def agg_trades(self, symbol: str, *, from_id: Optional[int] = None, start_time: Optional[int] = None,
                   end_time: Optional[int] = None, limit: Optional[int] = None, timeout: Any = None,
                   **extra: Any) -> List[Any]:
        self.calls.append(("agg_trades", {"from_id": from_id, "limit": limit}))
        self._maybe_fail()
        return [{"a": i, "p": Decimal("1"), "q": Decimal("2"), "f": i * 2, "l": i * 2 + 1, "T": 1000 + i,
                 "m": False, "M": True} for i in self._ids(from_id or 1, limit or 500)]

    def klines(self, symbol: str, interval: str, *, start_time: Optional[int] = None,
               end_time: Optional[int] = None, time_zone: Any = None, limit: Optional[int] = None,
               timeout: Any = None, **extra: Any) -> List[Any]:
        self.calls.append(("klines", {"start_time": start_time, "end_time": end_time, "limit": limit}))
        self._maybe_fail()
        out = []
        t = start_time or 0
        while t <= (end_time or 0) + self.extra_rows * MIN and len(out) < (limit or 500) + self.extra_rows:
            out.append([t, Decimal("1"), Decimal("1"), Decimal("1"), Decimal("1"), Decimal("1"), t + MIN - 1,
                        Decimal("1"), 3, Decimal("0"), Decimal("0"), "0"])
            t += MIN
        return out


class Rig:
    def __init__(self, stream: str = "btcusdt@trade", backfill: bool = True, callback: Any = None) -> None:
        self.dispatcher = Dispatcher(exchange="binance")
        self.dispatcher.start()
        self.gaps: "queue.Queue[bc.GapEvent]" = queue.Queue()
        self.dispatcher.subscribe(GAP_TOPIC, queue=self.gaps)
        self.history = FakeHistory()
        self.stop = threading.Event()
        self.epoch: Tuple[int, int, Optional[str]] = (0, 0, None)
        self.monitor = GapMonitor(self.dispatcher, "binance", self.history, self.stop.is_set,
                                  lambda s: self.epoch)
        self.got: List[Any] = []
        guard = self.monitor.wrap(stream, callback or self.got.append, backfill)
        assert guard is not None
        self.guard: GapGuard = guard
        self.sub = Subscription(stream, 1, self.dispatcher)
        self.monitor.attach(guard, self.sub)

    def feed(self, *events: Any) -> None:
        for e in events:
            self.guard.deliver(e)

    def gap_events(self) -> List[bc.GapEvent]:
        out = []
        while not self.gaps.empty():
            out.append(self.gaps.get_nowait())
        return out

    def ids(self) -> List[int]:
        return [e.trade_id for e in self.got]


def test_tracked_kinds() -> None:
    assert tracked_kind("btcusdt@trade") == "trade"
    assert tracked_kind("btcusdt@aggTrade") == "agg_trade"
    assert tracked_kind("btcusdt@kline_1m@+08:00") == "kline"
    assert tracked_kind("btcusdt@depth@100ms") == "depth"
    assert tracked_kind("btcusdt@depth5") is None
    assert tracked_kind("btcusdt@ticker") is None
    assert tracked_kind("__gap__") is None


def test_backfill_refused_for_untracked_or_depth() -> None:
    r = Rig()
    with pytest.raises(ValidationError):
        r.monitor.wrap("btcusdt@depth@100ms", print, True)
    with pytest.raises(ValidationError):
        r.monitor.wrap("btcusdt@ticker", print, True)
    assert r.monitor.wrap("btcusdt@ticker", print, False) is None


def test_in_order_and_duplicates_never_delivered_twice() -> None:
    r = Rig()
    r.feed(trade(1), trade(2), trade(2), trade(1), trade(3))
    assert r.ids() == [1, 2, 3]
    assert r.guard.duplicates == 2 and r.gap_events() == []


def test_gap_without_backfill_reports_exact_range_open_then_unfilled() -> None:
    r = Rig(backfill=False)
    r.feed(trade(1), trade(2), trade(7), trade(8))
    assert r.ids() == [1, 2, 7, 8]
    ev = r.gap_events()
    assert [e.state for e in ev] == [bc.GapState.OPEN, bc.GapState.UNFILLED]
    assert {(e.first_missing, e.last_missing, e.kind, e.stream, e.symbol, e.cause) for e in ev} == {
        (3, 6, "trade", "btcusdt@trade", "BTCUSDT", "server_skip")}
    assert ev[0].gap_id == ev[1].gap_id and ev[0].missing == 4
    assert r.monitor.stats()["missing"] == 4 and r.monitor.stats()["unfilled"] == 1


def test_backfill_fills_in_order_before_the_live_event() -> None:
    r = Rig()
    r.feed(trade(1), trade(2), trade(7), trade(8))
    assert r.ids() == list(range(1, 9))
    assert [e.is_backfilled for e in r.got] == [False, False, True, True, True, True, False, False]
    ev = r.gap_events()
    assert [e.state for e in ev] == [bc.GapState.OPEN, bc.GapState.FILLED]
    assert ev[1].filled == 4 and ev[1].reason is None
    assert r.history.calls == [("historical_trades", {"from_id": 3, "limit": 4})]
    stats = r.monitor.stats()
    assert (stats["gaps"], stats["missing"], stats["backfilled"], stats["unfilled"]) == (1, 4, 4, 0)
    assert stats["streams"]["btcusdt@trade"]["backfilled"] == 4
    assert stats["subscribers"][1]["gaps"] == 1


def test_backfill_pages_of_1000() -> None:
    r = Rig()
    r.feed(trade(1), trade(2502))
    assert r.ids() == list(range(1, 2503))
    assert [c[1] for c in r.history.calls] == [{"from_id": 2, "limit": 1000}, {"from_id": 1002, "limit": 1000},
                                                {"from_id": 2002, "limit": 500}]


def test_backfill_page_overlapping_live_events_is_trimmed() -> None:
    r = Rig()
    r.history.extra_rows = 50  # the server returns rows past the hole: already delivered live
    r.feed(trade(1), trade(5), trade(6))
    assert r.ids() == [1, 2, 3, 4, 5, 6]
    assert len(set(r.ids())) == len(r.ids())


def test_rest_error_ends_unfilled_with_reason() -> None:
    r = Rig()
    r.history.fail = bc.ConnectionError("REST down")
    r.feed(trade(1), trade(5))
    assert r.ids() == [1, 5]
    ev = r.gap_events()
    assert ev[-1].state == bc.GapState.UNFILLED and "REST down" in (ev[-1].reason or "")
    assert r.monitor.stats()["unfilled"] == 1


def test_budget_exhausted_after_first_page_is_partial_unfilled() -> None:
    r = Rig()
    r.history.fail = RateLimitError("weight 25 would fit in 30s, more than max_wait 1.0s")
    r.history.fail_after = 2
    r.feed(trade(1), trade(1600))
    assert r.ids() == list(range(1, 1002)) + [1600]
    ev = r.gap_events()[-1]
    assert ev.state == bc.GapState.UNFILLED and ev.filled == 1000 and "RateLimitError" in (ev.reason or "")


def test_history_gone_is_unfilled() -> None:
    r = Rig()
    r.history.oldest = 4  # ids 2..3 are no longer served
    r.feed(trade(1), trade(6))
    assert r.ids() == [1, 6]
    ev = r.gap_events()[-1]
    assert ev.state == bc.GapState.UNFILLED and "no trade at 2" in (ev.reason or "")


def test_history_with_a_hole_delivers_up_to_it() -> None:
    r = Rig()
    r.history.holes = {4}
    r.feed(trade(1), trade(7))
    assert r.ids() == [1, 2, 3, 7]
    assert r.gap_events()[-1].state == bc.GapState.UNFILLED


def test_stop_interrupts_a_backfill() -> None:
    r = Rig()
    r.history.block = threading.Event()
    t = threading.Thread(target=r.feed, args=(trade(1), trade(5000)))
    t.start()
    assert wait_until(lambda: len(r.history.calls) == 1, 2.0)  # inside the first page
    r.stop.set()
    r.history.block.set()
    t.join(2)
    assert not t.is_alive()
    assert r.gap_events()[-1].reason == "stopped"
    assert len(r.history.calls) == 1


def test_backfill_bounded_in_time() -> None:
    r = Rig()
    r.monitor.timeout = 0.0
    r.feed(trade(1), trade(5))
    assert "longer than" in (r.gap_events()[-1].reason or "")


def test_callback_error_in_backfill_is_reported_and_delivery_goes_on() -> None:
    seen: List[int] = []

    def cb(e: Any) -> None:
        seen.append(e.trade_id)
        if e.trade_id == 3:
            raise RuntimeError("boom")

    r = Rig(callback=cb)
    errors: List[Any] = []
    r.dispatcher._on_error = errors.append
    r.feed(trade(1), trade(5))
    assert seen == [1, 2, 3, 4, 5] and len(errors) == 1


@pytest.mark.parametrize("epoch,cause", [((1, 0, "closed by peer"), "reconnect"),
                                         ((1, 0, "zombie: no pong"), "zombie"),
                                         ((0, 1, None), "rollover"),
                                         ((0, 0, None), "server_skip")])
def test_cause_from_connection_epoch(epoch: Tuple[int, int, Optional[str]], cause: str) -> None:
    r = Rig(backfill=False)
    r.feed(trade(1))
    r.epoch = epoch
    r.feed(trade(3))
    assert r.gap_events()[0].cause == cause
    r.feed(trade(5))  # the epoch is re-based after each gap
    assert r.gap_events()[0].cause == "server_skip"


def test_cause_overflow_when_the_subscriber_dropped() -> None:
    r = Rig(backfill=False)
    r.feed(trade(1))
    r.sub._count_drop(3)
    r.epoch = (1, 0, "closed")  # an overflow wins: it is this subscriber's own
    r.feed(trade(5))
    assert r.gap_events()[0].cause == "overflow"


def test_agg_trade_backfill() -> None:
    r = Rig("btcusdt@aggTrade")
    r.feed(agg(10), agg(14))
    assert [e.agg_trade_id for e in r.got] == [10, 11, 12, 13, 14]
    assert [e.is_backfilled for e in r.got] == [False, True, True, True, False]
    assert r.got[1].first_trade_id == 22
    assert r.history.calls[0] == ("agg_trades", {"from_id": 11, "limit": 3})


def test_kline_backfill_only_closed_klines_tracked() -> None:
    r = Rig("btcusdt@kline_1m")
    base = 1_700_000_040_000
    r.feed(kline(base), kline(base + MIN, closed=False), kline(base + 4 * MIN, closed=False), kline(base + 4 * MIN))
    closed = [(k.open_time - base) // MIN for k in r.got if k.is_closed]
    assert closed == [0, 1, 2, 3, 4]
    assert r.history.calls[0] == ("klines", {"start_time": base + MIN, "end_time": base + 3 * MIN, "limit": 1000})
    ev = r.gap_events()
    assert (ev[0].first_missing, ev[0].last_missing, ev[0].missing) == (base + MIN, base + 3 * MIN, None)
    assert ev[1].state == bc.GapState.FILLED and ev[1].filled == 3
    assert r.monitor.stats()["missing"] == 3


def test_kline_backfill_overlap_trimmed() -> None:
    r = Rig("btcusdt@kline_1m")
    r.history.extra_rows = 5
    base = 1_700_000_040_000
    r.feed(kline(base), kline(base + 3 * MIN), kline(base + 4 * MIN))
    assert [(k.open_time - base) // MIN for k in r.got] == [0, 1, 2, 3, 4]


def test_depth_report_only() -> None:
    r = Rig("btcusdt@depth@100ms", backfill=False)
    r.feed(depth(1, 10), depth(11, 20), depth(15, 20), depth(31, 40))
    assert [d.final_update_id for d in r.got] == [10, 20, 40]
    ev = r.gap_events()
    assert (ev[0].kind, ev[0].first_missing, ev[0].last_missing) == ("depth", 21, 30)
    assert ev[1].state == bc.GapState.UNFILLED


def test_kline_backfill_sends_the_timezone() -> None:
    r = Rig("btcusdt@kline_1h@+08:00")
    base = 1_700_002_800_000 - 3_600_000 * 8  # any hour boundary
    r.feed(kline(base), kline(base + 3 * 3_600_000))
    assert r.history.raw[0]["timeZone"] == "08:00" and r.history.raw[0]["interval"] == "1h"
    assert r.history.raw[0]["startTime"] == base + 3_600_000
    assert r.got[1].timezone == "+08:00" and r.got[1].interval == "1h"


def test_backfill_bounded_in_pages() -> None:
    r = Rig()
    r.monitor.max_pages = 2
    r.feed(trade(1), trade(3000))
    assert r.ids() == list(range(1, 2002)) + [3000]
    ev = r.gap_events()[-1]
    assert ev.state == bc.GapState.UNFILLED and "more than 2 pages" in (ev.reason or "") and ev.filled == 2000
