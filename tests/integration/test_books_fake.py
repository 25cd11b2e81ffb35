"""Local order books against FakeBinance: sync, gaps, reconnects, stop (conn.on_book / conn.book)."""

from __future__ import annotations

from typing import Any, List, Optional

import pytest
from _connector_helpers import FakeBinance, Recorder, fast_builder, scaled, wait_until

import binance_conn as bc

S = bc.BookState


def _same_as_fake(conn: bc.Connector, fake: FakeBinance, symbol: str = "BTCUSDT") -> bool:
    """The local book equals the fake's (REST, 1000 levels) at the same update id."""
    snap = fake_depth(conn, symbol)
    book = conn.book(symbol)
    if book is None or not book.is_synced or book.last_update_id != snap["lastUpdateId"]:
        return False
    bids = tuple((p, q) for p, q in snap["bids"])
    asks = tuple((p, q) for p, q in snap["asks"])
    return book.bids == bids[:len(book.bids)] and book.asks == asks[:len(book.asks)] and len(book.bids) > 0


def fake_depth(conn: bc.Connector, symbol: str) -> Any:
    return conn.rest.depth(symbol, limit=1000)


def _conn(fake: FakeBinance, **book: Any) -> bc.Connector:
    return bc.Connector(fast_builder(fake).with_order_book(**book).build())


def test_book_syncs_and_follows_the_exchange(fake: FakeBinance, no_conn_threads: None) -> None:
    conn = _conn(fake)
    rec = Recorder()
    assert conn.book("BTCUSDT") is None
    sub = conn.on_book("btcusdt", rec, depth=5)
    try:
        conn.start()
        assert wait_until(lambda: conn.book("BTCUSDT") is not None and conn.book("BTCUSDT").is_synced
                          or bool(fake.publish_depth("BTCUSDT") and False), 10)
        for i in range(5):
            fake.publish_depth("BTCUSDT", bids=[("1", str(i + 1))], asks=[])
        assert wait_until(lambda: _same_as_fake(conn, fake), 10)
        views = list(rec.items)
        assert views and all(len(v.bids) <= 5 for v in views)
        assert views[-1].state is S.SYNCED and views[-1].best_bid is not None
        assert not any(v.best_bid and v.best_ask and v.best_bid[0] >= v.best_ask[0] for v in views)
        stats = conn.stats()["books"]
        assert stats["books"]["BTCUSDT"]["state"] == "SYNCED" and stats["weight_used"] >= 5
    finally:
        sub()
        assert conn.stop()
    assert conn.book("BTCUSDT") is None


def test_skipped_ids_report_a_depth_gap_and_resync(fake: FakeBinance, no_conn_threads: None) -> None:
    conn = _conn(fake)
    gaps: List[Any] = []
    conn.on_gap(gaps.append)
    states: List[Any] = []
    conn.on_book("BTCUSDT", lambda b: states.append(b.state), depth=10)
    conn.start()
    try:
        assert wait_until(lambda: conn.book("BTCUSDT").is_synced or bool(fake.publish_depth("BTCUSDT") and False),
                          10)  # type: ignore[union-attr]
        first, _ = fake.publish_depth("BTCUSDT", bids=[("2", "1")], skip_ids=3)
        assert wait_until(lambda: any(g.kind == "depth" and g.state == "OPEN" for g in gaps), 5)
        gap = next(g for g in gaps if g.kind == "depth")
        assert (gap.first_missing, gap.last_missing) == (first - 3, first - 1) and gap.symbol == "BTCUSDT"
        fake.publish_depth("BTCUSDT", bids=[("2", "2")])
        assert wait_until(lambda: _same_as_fake(conn, fake) or bool(fake.publish_depth("BTCUSDT") and False), 10)
        assert wait_until(lambda: any(g.gap_id == gap.gap_id and g.state == "UNFILLED" for g in gaps), 5)
        assert wait_until(lambda: S.OUT_OF_SYNC in states and states[-1] is S.SYNCED, 5)  # delivered on a worker
        assert conn.stats()["books"]["resyncs"] == 1
    finally:
        assert conn.stop()


def test_reconnect_never_serves_a_stale_book(fake: FakeBinance, no_conn_threads: None) -> None:
    conn = _conn(fake)
    seen: List[Optional[bc.OrderBook]] = []
    conn.on_book("BTCUSDT", seen.append)
    conn.start()
    try:
        assert wait_until(lambda: conn.book("BTCUSDT").is_synced or bool(fake.publish_depth("BTCUSDT") and False),
                          10)  # type: ignore[union-attr]
        fake.drop_connections()
        assert wait_until(lambda: not conn.book("BTCUSDT").is_synced, 5)  # type: ignore[union-attr]
        fake.publish_depth("BTCUSDT", bids=[("3", "1")])  # while down: missed
        assert wait_until(lambda: _same_as_fake(conn, fake) or bool(fake.publish_depth("BTCUSDT") and False), 10)
        assert conn.stats()["books"]["books"]["BTCUSDT"]["resyncs"] >= 1
    finally:
        assert conn.stop()
    assert conn.book("BTCUSDT").state is S.OUT_OF_SYNC  # type: ignore[union-attr]


def test_on_book_validation(fake: FakeBinance) -> None:
    conn = _conn(fake)
    with pytest.raises(bc.ValidationError):
        conn.on_book("BTCUSDT", print, depth=0)
    with pytest.raises(bc.ValidationError):
        conn.on_book("bad symbol!", print)
    with pytest.raises(bc.ValidationError):
        bc.Config.builder().with_order_book(weight_share=0).build()
    with pytest.raises(bc.ValidationError):
        bc.Config.builder().with_order_book(snapshot_limit=6000).build()
    assert conn.on_book("BTCUSDT", None).active is False


def test_many_books_start_without_a_429(fake: FakeBinance, no_conn_threads: None) -> None:
    symbols = list(fake.market.state)[:6]
    conn = _conn(fake, fetchers=3)
    for s in symbols:
        conn.on_book(s, lambda b: None, depth=5)
    conn.start()
    try:
        assert wait_until(lambda: all((b := conn.book(s)) is not None and b.is_synced for s in symbols)
                          or bool([fake.publish_depth(s) for s in symbols] and False), scaled(20))
        st = conn.stats()["books"]
        assert st["synced"] == len(symbols) and st["weight_used"] == 5 * st["snapshots"]
    finally:
        assert conn.stop()


def test_audit_compares_with_rest_and_counts_no_mismatch(fake: FakeBinance, no_conn_threads: None) -> None:
    conn = _conn(fake, audit_interval=0.2, audit_depth=5)
    conn.on_book("BTCUSDT", lambda b: None)
    conn.start()
    try:
        assert wait_until(lambda: conn.stats()["books"]["books"]["BTCUSDT"]["audits"] >= 2
                          or bool(fake.publish_depth("BTCUSDT") and False), 15)
        st = conn.stats()["books"]
        assert st["audit_mismatches"] == 0 and st["books"]["BTCUSDT"]["state"] == "SYNCED"
    finally:
        assert conn.stop()


def test_stop_then_start_resyncs(fake: FakeBinance, no_conn_threads: None) -> None:
    conn = _conn(fake)
    conn.on_book("BTCUSDT", lambda b: None)
    conn.start()
    try:
        assert wait_until(lambda: conn.book("BTCUSDT").is_synced or bool(fake.publish_depth("BTCUSDT") and False),
                          10)  # type: ignore[union-attr]
        assert conn.stop()
        assert conn.book("BTCUSDT").state is S.OUT_OF_SYNC  # type: ignore[union-attr]
        fake.publish_depth("BTCUSDT", bids=[("4", "1")])  # missed while stopped
        conn.start()
        assert wait_until(lambda: _same_as_fake(conn, fake) or bool(fake.publish_depth("BTCUSDT") and False), 10)
    finally:
        assert conn.stop()


def test_on_book_takes_a_list_and_shares_one_book(fake: FakeBinance, no_conn_threads: None) -> None:
    conn = _conn(fake)
    group = conn.on_book(["BTCUSDT", "ETHUSDT"], lambda b: None, depth=3)
    extra = conn.on_book("BTCUSDT", lambda b: None, depth=7)
    assert len(group.members) == 2
    conn.start()
    try:
        assert wait_until(lambda: all(conn.book(s).is_synced for s in ("BTCUSDT", "ETHUSDT"))  # type: ignore
                          or bool([fake.publish_depth(s) for s in ("BTCUSDT", "ETHUSDT")] and False), 10)
        st = conn.stats()["books"]["books"]
        assert st["BTCUSDT"]["depths"] == [3, 7] and st["BTCUSDT"]["snapshots"] == 1
        assert len(conn.book("BTCUSDT", 3).bids) <= 3  # type: ignore[union-attr]
    finally:
        group()
        extra()
        assert conn.book("BTCUSDT") is None
        assert conn.stop()


def test_rollover_keeps_the_book_synced_and_right(fake: FakeBinance, no_conn_threads: None) -> None:
    """A make-before-break rollover loses nothing: continuity (checked on every diff) holds, so the
    book stays SYNCED without a new snapshot; duplicates of the overlap are ignored."""
    conn = bc.Connector(fast_builder(fake, max_lifetime=0.7).build())
    conn.on_book("BTCUSDT", lambda b: None)
    conn.start()
    try:
        assert wait_until(lambda: conn.book("BTCUSDT").is_synced or bool(fake.publish_depth("BTCUSDT") and False),
                          10)  # type: ignore[union-attr]
        assert wait_until(lambda: conn.stats()["market"]["rollovers"] >= 2
                          or bool(fake.publish_depth("BTCUSDT") and False), 15)
        assert wait_until(lambda: _same_as_fake(conn, fake) or bool(fake.publish_depth("BTCUSDT") and False), 10)
        st = conn.stats()["books"]["books"]["BTCUSDT"]
        assert st["state"] == "SYNCED", st
        # a rollover may still lose an event at the switch (then: a detected gap and a resync, never a wrong book)
        assert st["resyncs"] == st["snapshots"] - 1
    finally:
        assert conn.stop()
