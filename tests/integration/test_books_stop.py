"""A clean stop is no outage for the order books: no gap opens, nothing warns; every OPEN depth gap
gets its end (UNFILLED at a stop, or when a restart has resynced the book)."""

from __future__ import annotations

import logging
from typing import Any, List, Tuple

import pytest
from _connector_helpers import FakeBinance, fast_builder, wait_until

import binance_conn as bc

S = bc.BookState


def _synced(conn: bc.Connector, fake: FakeBinance) -> bool:
    return wait_until(lambda: (conn.book("BTCUSDT") is not None and conn.book("BTCUSDT").is_synced)  # type: ignore[union-attr]
                      or bool(fake.publish_depth("BTCUSDT") and False), 10)


def _started_with_a_book(fake: FakeBinance) -> Tuple[bc.Connector, List[Any]]:
    conn = bc.Connector(fast_builder(fake).build())
    gaps: List[Any] = []
    conn.on_gap(gaps.append)
    conn.on_book("BTCUSDT", lambda b: None)
    conn.start()
    return conn, gaps


def _depth_gaps(gaps: List[Any]) -> List[Any]:
    return [g for g in list(gaps) if g.kind == "depth"]


def test_a_clean_stop_opens_no_gap_and_warns_nothing(fake: FakeBinance, no_conn_threads: None,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    conn, gaps = _started_with_a_book(fake)
    try:
        assert _synced(conn, fake)
        with caplog.at_level(logging.WARNING, logger="binance_conn"):
            assert conn.stop()
        assert not [r for r in caplog.records if r.name == "binance_conn.books"], caplog.text
        assert _depth_gaps(gaps) == []
        assert conn.book("BTCUSDT").state is S.OUT_OF_SYNC  # type: ignore[union-attr]
        # a restart resyncs, and the diffs missed while stopped are one gap that ends
        fake.publish_depth("BTCUSDT", bids=[("5", "1")])
        conn.start()
        assert _synced(conn, fake)
        assert wait_until(lambda: [g.state for g in _depth_gaps(gaps)] == [bc.GapState.OPEN, bc.GapState.UNFILLED])
    finally:
        assert conn.stop()


def test_a_gap_open_at_the_stop_ends_unfilled(fake: FakeBinance, no_conn_threads: None) -> None:
    conn, gaps = _started_with_a_book(fake)
    try:
        assert _synced(conn, fake)
        fake.delay_snapshots(1.0)  # the resync's snapshot is still on its way when the stop comes
        fake.publish_depth("BTCUSDT", bids=[("6", "1")], skip_ids=3)
        assert wait_until(lambda: [g.state for g in _depth_gaps(gaps)] == [bc.GapState.OPEN])
    finally:
        assert conn.stop()
    ends = _depth_gaps(gaps)
    assert [(g.state, g.cause) for g in ends] == [(bc.GapState.OPEN, "server_skip"), (bc.GapState.UNFILLED, "stopped")]
    assert ends[0].gap_id == ends[1].gap_id and "stopped" in (ends[1].reason or "")
