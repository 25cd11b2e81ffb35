"""Chaos test of the local order books (issue 13, "Done when"): random book activity on the fake on
several symbols while faults hit it (dropped links, freezes, skipped update ids, rollovers, a stale
snapshot, a reset book, delayed snapshots).

A checker sees every view delivered to ``on_book`` (depth 20) and a poller reads ``conn.book()`` (every
level) all the time.  Each view reporting SYNCED must equal the fake's book *at that view's update id*
(the fake records its true book at every id: ``record_book_history`` / ``book_at``), down to the view's
depth, and never be crossed.  After each fault, activity pauses and every book must be SYNCED at the
fake's current update id within a bound, equal to the fake's whole book.

The fast subset runs in the normal suite; the long randomized run is ``@pytest.mark.soak``.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest
from _connector_helpers import FakeBinance, fast_builder, scaled, wait_until

import binance_conn as bc

S = bc.BookState
DEPTH = 20
RECOVERY = 15.0  # seconds (scaled) within which every book is SYNCED again after a fault


class BookChecker:
    """Checks every SYNCED view against the fake's book at the view's update id."""

    def __init__(self, fake: FakeBinance, depth: int = DEPTH) -> None:
        self.fake = fake
        self.depth = depth  # of the on_book subscriptions; also the least a full book() read must show
        self.lock = threading.Lock()
        self.errors: List[str] = []
        self.views = 0
        self.synced = 0
        self.states: Dict[str, List[S]] = {}

    def check(self, view: bc.OrderBook, depth: Optional[int], where: str) -> None:
        with self.lock:
            self.views += 1
            seq = self.states.setdefault(view.symbol, [])
            if not seq or seq[-1] is not view.state:
                seq.append(view.state)
        if view.state is not S.SYNCED:
            if view.bids or view.asks:
                self._fail(f"{where}: {view.symbol} {view.state.value} with levels")
            return
        with self.lock:
            self.synced += 1
        if view.best_bid is not None and view.best_ask is not None and view.best_bid[0] >= view.best_ask[0]:
            self._fail(f"{where}: {view.symbol} crossed at {view.last_update_id}: {view.best_bid} {view.best_ask}")
            return
        books = self.fake.book_at(view.symbol, view.last_update_id)
        if not books:
            self._fail(f"{where}: {view.symbol} SYNCED at {view.last_update_id}, an id the fake never stood at")
            return
        for true in books:
            if _equal(view, true, depth, self.depth):
                return
        true = books[-1]
        self._fail(f"{where}: {view.symbol} SYNCED but wrong at {view.last_update_id} (depth {depth}): "
                   f"local {view.bids[:3]}/{view.asks[:3]} ({len(view.bids)}/{len(view.asks)} levels), "
                   f"fake {true['bids'][:3]}/{true['asks'][:3]} ({len(true['bids'])}/{len(true['asks'])})")

    def _fail(self, msg: str) -> None:
        with self.lock:
            if len(self.errors) < 50:
                self.errors.append(msg)

    def on_book(self, view: bc.OrderBook) -> None:
        self.check(view, self.depth, "on_book")


class Poller:
    """Reads ``conn.book(symbol)`` (every level) in a loop and checks each read."""

    def __init__(self, conn: bc.Connector, symbols: Sequence[str], checker: BookChecker) -> None:
        self.conn, self.symbols, self.checker = conn, list(symbols), checker
        self.reads = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="test-book-poller", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            for s in self.symbols:
                view = self.conn.book(s)
                if view is not None:
                    self.reads += 1
                    self.checker.check(view, None, "book()")

    def __enter__(self) -> "Poller":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self.thread.join(5)


def _side_ok(local: Tuple[Any, ...], true: List[Any], depth: Optional[int], least: int) -> bool:
    """``depth`` given: exactly the true top ``depth``.  None (every level the book holds): a true prefix, at
    least ``least`` deep (the book holds the complete band down to its snapshot's depth, module docstring
    of ``_core/book.py``: with a truncated snapshot, deeper levels are unknown)."""
    if depth is not None:
        return local == tuple(true[:depth])
    return local == tuple(true[:len(local)]) and len(local) >= min(least, len(true))


def _equal(view: bc.OrderBook, true: Dict[str, Any], depth: Optional[int], least: int) -> bool:
    return _side_ok(view.bids, true["bids"], depth, least) and _side_ok(view.asks, true["asks"], depth, least)


def _converged(conn: bc.Connector, fake: FakeBinance, symbol: str, least: int) -> bool:
    """SYNCED at the fake's current update id with exactly the fake's whole book (activity paused)."""
    view = conn.book(symbol)
    true = fake.book(symbol)
    return (view is not None and view.is_synced and view.last_update_id == true["lastUpdateId"]
            and _equal(view, true, None, least))


def settle(conn: bc.Connector, fake: FakeBinance, symbols: Sequence[str], least: int = DEPTH,
           timeout: float = RECOVERY) -> float:
    """Pause activity; nudge each book with an empty diff now and then until every one converged.
    Returns the seconds it took; fails past ``timeout``."""
    t0 = time.monotonic()
    fake.stop_book_activity()
    last_nudge = [0.0]

    def done() -> bool:
        pending = [s for s in symbols if not _converged(conn, fake, s, least)]
        now = time.monotonic()
        if pending and now - last_nudge[0] > 0.25:
            last_nudge[0] = now
            for s in pending:
                fake.publish_depth(s)  # an empty diff: one more update id (a syncing book needs a diff)
        return not pending

    ok = wait_until(done, timeout, interval=0.02)
    took = time.monotonic() - t0
    assert ok, ("not SYNCED/equal within bound", {s: conn.stats()["books"]["books"][s] for s in symbols},
                {s: fake.book(s, 1)["lastUpdateId"] for s in symbols})
    return took


# -- faults ------------------------------------------------------------------------------------------------
Fault = Callable[[bc.Connector, FakeBinance, str], None]


def f_drop(conn: bc.Connector, fake: FakeBinance, sym: str) -> None:
    fake.drop_connections()


def f_freeze(conn: bc.Connector, fake: FakeBinance, sym: str) -> None:
    before = conn.stats()["books"]["resyncs"]
    fake.freeze()  # half-open: the zombie check (short health-check interval) replaces the link
    assert wait_until(lambda: conn.stats()["books"]["resyncs"] > before, scaled(10)), "freeze not detected"
    fake.resume()


def f_skip(conn: bc.Connector, fake: FakeBinance, sym: str) -> None:
    fake.skip_depth_updates(sym, random.randint(1, 4))


def f_shutdown(conn: bc.Connector, fake: FakeBinance, sym: str) -> None:
    before = conn.stats()["market"]["rollovers"]
    fake.send_server_shutdown()
    assert wait_until(lambda: conn.stats()["market"]["rollovers"] > before, scaled(10)), "no rollover"


def f_lifetime(conn: bc.Connector, fake: FakeBinance, sym: str) -> None:
    before = conn.stats()["market"]["rollovers"]
    fake.set_max_lifetime(0.6)
    try:
        assert wait_until(lambda: conn.stats()["market"]["rollovers"] >= before + 2, scaled(15)), "no rollovers"
    finally:
        fake.set_max_lifetime(24 * 3600.0)


def f_stale(conn: bc.Connector, fake: FakeBinance, sym: str) -> None:
    before = conn.stats()["books"]["books"][sym]["stale_snapshots"]
    fake.serve_stale_snapshot(sym, count=1, advance=3)
    fake.skip_depth_updates(sym, 1)  # the resync's snapshot is the stale one: older than the buffered diffs
    assert wait_until(lambda: conn.stats()["books"]["books"][sym]["stale_snapshots"] > before
                      or bool(fake.publish_depth(sym) and False), scaled(10)), "stale snapshot not rejected"


def f_reset(conn: bc.Connector, fake: FakeBinance, sym: str) -> None:
    fake.reset_book(sym)


def f_delay(conn: bc.Connector, fake: FakeBinance, sym: str) -> None:
    fake.delay_snapshots(0.7, count=2)
    fake.skip_depth_updates(sym, 2)


def f_double_skip(conn: bc.Connector, fake: FakeBinance, sym: str) -> None:
    """A second hole while the book resyncs from the first: the snapshot (taken at the request, answered late)
    is followed by buffered diffs with a hole among them."""
    fake.delay_snapshots(0.5, count=1)
    fake.skip_depth_updates(sym, 2)
    time.sleep(0.25)
    fake.skip_depth_updates(sym, 1)


FAULTS: Dict[str, Fault] = {"double_skip": f_double_skip, "drop": f_drop, "freeze": f_freeze, "skip": f_skip,
                            "shutdown": f_shutdown, "lifetime": f_lifetime, "stale": f_stale, "reset": f_reset,
                            "delay": f_delay}


# -- the harness -------------------------------------------------------------------------------------------
@pytest.fixture
def chaos_fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=5, book_depth=40) as f:
        yield f


def run_chaos(fake: FakeBinance, plan: Sequence[Tuple[str, str]], seed: int, rate: float,
              dwell: float, depth: int = DEPTH, levels: int = 3, **book: Any) -> Dict[str, Any]:
    """Run ``plan`` ((fault, symbol) pairs) under random activity; returns figures for the report."""
    random.seed(seed)
    symbols = sorted({s for _, s in plan} | {"BTCUSDT", "ETHUSDT", "BNBUSDT"})
    for s in symbols:
        fake.record_book_history(s, limit=5000)
    conn = bc.Connector(fast_builder(fake, max_lifetime=24 * 3600.0).with_health_check(0.5)
                        .with_order_book(fetchers=2, **book).build())
    checker = BookChecker(fake, depth)
    subs = [conn.on_book(s, checker.on_book, depth=depth) for s in symbols]
    recoveries: List[Tuple[str, float]] = []
    conn.start()
    try:
        with Poller(conn, symbols, checker) as poller:
            settle(conn, fake, symbols, depth)
            for i, (name, sym) in enumerate(plan):
                for j, s in enumerate(symbols):
                    fake.start_book_activity(s, rate=rate, seed=seed * 1000 + i * 10 + j, levels=levels)
                time.sleep(dwell * random.random())  # faults land at random points of the activity
                FAULTS[name](conn, fake, sym)
                t_fault = time.monotonic()
                time.sleep(dwell * random.random())
                try:
                    settle(conn, fake, symbols, depth)
                except AssertionError:
                    assert not checker.errors, checker.errors  # the first wrong view says more
                    raise
                recoveries.append((name, round(time.monotonic() - t_fault, 3)))  # fault -> all SYNCED and equal
                assert not checker.errors, checker.errors
            st = conn.stats()["books"]
    finally:
        for sub in subs:
            sub()
        fake.stop_book_activity()
        assert conn.stop()
    assert not checker.errors, checker.errors
    assert st["internal_errors"] == 0 and st["audit_mismatches"] == 0, st
    assert not [r for r in fake.request_log if r["status"] == 429]
    return {"views": checker.views, "synced_views": checker.synced, "book_reads": poller.reads,
            "recoveries": recoveries, "resyncs": st["resyncs"], "snapshots": st["snapshots"],
            "stale": sum(b["stale_snapshots"] for b in st["books"].values()),
            "refreshes": sum(b["refreshes"] for b in st["books"].values()), "states": checker.states}


def test_book_chaos_fast(chaos_fake: FakeBinance, no_conn_threads: None) -> None:
    plan = [("skip", "BTCUSDT"), ("drop", "BTCUSDT"), ("stale", "ETHUSDT"), ("reset", "BNBUSDT"),
            ("delay", "BTCUSDT"), ("shutdown", "ETHUSDT"), ("freeze", "BTCUSDT"), ("double_skip", "ETHUSDT")]
    out = run_chaos(chaos_fake, plan, seed=1, rate=60.0, dwell=0.3)
    print("book chaos (fast):", {k: v for k, v in out.items() if k != "states"})
    assert out["synced_views"] > 100 and out["book_reads"] > 100
    assert out["resyncs"] >= 5 and out["stale"] >= 1
    for sym in ("BTCUSDT", "ETHUSDT", "BNBUSDT"):
        assert S.OUT_OF_SYNC in out["states"][sym] and S.SYNCED in out["states"][sym]


def test_book_chaos_rollover_by_lifetime(chaos_fake: FakeBinance, no_conn_threads: None) -> None:
    out = run_chaos(chaos_fake, [("lifetime", "BTCUSDT")], seed=2, rate=80.0, dwell=0.2)
    assert out["synced_views"] > 50


def test_checker_catches_a_wrong_book(chaos_fake: FakeBinance) -> None:
    """The checker itself: a view one quantity off, a crossed view, an unknown id are all reported."""
    fake = chaos_fake
    fake.record_book_history("BTCUSDT")
    true = fake.book("BTCUSDT", DEPTH)
    ok = bc.OrderBook("binance", "BTCUSDT", S.SYNCED, true["lastUpdateId"], None, tuple(true["bids"]),
                      tuple(true["asks"]))
    checker = BookChecker(fake)
    checker.check(ok, DEPTH, "t")
    assert not checker.errors
    (p, q), rest = true["bids"][0], true["bids"][1:]
    wrong = ok.__class__("binance", "BTCUSDT", S.SYNCED, true["lastUpdateId"], None, ((p, q + 1), *rest),
                         tuple(true["asks"]))
    for bad in (wrong, ok.__class__("binance", "BTCUSDT", S.SYNCED, true["lastUpdateId"], None,
                                    ((true["asks"][0][0], q),), tuple(true["asks"])),
                ok.__class__("binance", "BTCUSDT", S.SYNCED, 10 ** 9, None, ok.bids, ok.asks)):
        checker = BookChecker(fake)
        checker.check(bad, DEPTH, "t")
        assert checker.errors


def test_book_chaos_truncated_snapshots() -> None:
    """Snapshots shorter than the fake's book (20 of 150 levels): the band rules (levels beyond the snapshot's
    depth never inserted, refresh when a side gets thin) are exercised by activity reaching past the band."""
    with FakeBinance(seed=9, book_depth=150) as fake:
        out = run_chaos(fake, [("skip", "BTCUSDT"), ("reset", "ETHUSDT"), ("drop", "BNBUSDT")], seed=3, rate=150.0,
                        dwell=0.8, depth=5, levels=6, snapshot_limit=20)
    print("book chaos (truncated):", {k: v for k, v in out.items() if k != "states"})
    assert out["refreshes"] >= 1 and out["synced_views"] > 100


@pytest.mark.soak
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_book_chaos_soak(seed: int, no_conn_threads: None) -> None:
    rng = random.Random(seed)
    symbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT"]
    names = [n for n in FAULTS if n != "lifetime"]
    plan = [(rng.choice(names), rng.choice(symbols)) for _ in range(40)] + [("lifetime", rng.choice(symbols))]
    book_depth = rng.choice([20, 60, 150])
    with FakeBinance(symbols, seed=seed, book_depth=book_depth) as fake:
        out = run_chaos(fake, plan, seed=seed, rate=150.0, dwell=1.0)
    took = [t for _, t in out["recoveries"]]
    print(f"book chaos soak seed {seed} (fake depth {book_depth}): views {out['views']} "
          f"synced {out['synced_views']} reads {out['book_reads']} "
          f"resyncs {out['resyncs']} snapshots {out['snapshots']} stale {out['stale']} "
          f"recovery max {max(took):.2f}s mean {sum(took) / len(took):.2f}s")
