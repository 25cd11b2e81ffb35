"""The sans-I/O order book: level store, pruning band, sync rules (web-socket-streams.md)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import List, Tuple

from binance_conn._core.book import (
    APPLIED,
    CHANGED,
    FUTURES_RULE,
    IGNORED,
    SPOT_RULE,
    BookSync,
    LevelBook,
    snapshot_limit_for,
    snapshot_weight,
)
from binance_conn.enums import BookState

S = BookState


def lv(*pairs: Tuple[str, str]) -> List[Tuple[D, D]]:
    return [(D(p), D(q)) for p, q in pairs]


BIDS = lv(("100", "1"), ("99", "2"), ("98", "3"))
ASKS = lv(("101", "1"), ("102", "2"), ("103", "3"))


def synced(limit: int = 0, **kw: int) -> BookSync:
    s = BookSync(**kw)
    assert s.on_diff(10, 12, lv(("100", "5")), ()) is IGNORED
    assert s.wants_snapshot
    s.snapshot_requested()
    assert not s.wants_snapshot
    assert s.on_snapshot(11, BIDS, ASKS, limit) is CHANGED
    assert s.state is S.SYNCED
    return s


def test_weights_and_limit_choice() -> None:
    assert [snapshot_weight(n) for n in (1, 100, 101, 500, 1000, 5000)] == [5, 5, 25, 25, 50, 250]
    assert snapshot_limit_for(20) == 100 and snapshot_limit_for(50) == 100
    assert snapshot_limit_for(51) == 500 and snapshot_limit_for(400) == 1000 and snapshot_limit_for(4000) == 5000


def test_straddle_applies_first_diff_and_discards_covered() -> None:
    s = BookSync()
    s.on_diff(5, 8, lv(("100", "7")), ())   # covered by the snapshot (u <= 9): discarded
    s.on_diff(9, 11, lv(("100", "5")), ())  # straddles lastUpdateId + 1 = 10
    s.snapshot_requested()
    assert s.on_snapshot(9, BIDS, ASKS, 0) is CHANGED
    assert s.state is S.SYNCED and s.last_update_id == 11
    assert s.view(1) == ((lv(("100", "5"))[0],), (lv(("101", "1"))[0],))


def test_snapshot_newer_than_buffer_waits_for_diffs() -> None:
    s = BookSync()
    s.on_diff(1, 2, (), ())
    s.snapshot_requested()
    assert s.on_snapshot(20, BIDS, ASKS, 0) is IGNORED
    assert s.state is S.SYNCING and not s.wants_snapshot
    assert s.on_diff(3, 20, (), ()) is IGNORED  # still covered
    assert s.on_diff(21, 22, lv(("99", "0")), ()) is CHANGED
    assert s.state is S.SYNCED and s.view(None)[0] == tuple(lv(("100", "1"), ("98", "3")))


def test_stale_snapshot_older_than_buffered_diffs_retries() -> None:
    s = BookSync()
    s.on_diff(50, 52, (), ())
    s.snapshot_requested()
    assert s.on_snapshot(40, BIDS, ASKS, 0) is IGNORED  # 40 + 1 < 50: stale
    assert s.state is S.SYNCING and s.stale_snapshots == 1 and s.wants_snapshot
    s.snapshot_requested()
    assert s.on_snapshot(51, BIDS, ASKS, 0) is CHANGED


def test_exact_continuation_is_accepted() -> None:
    s = BookSync()
    s.on_diff(12, 13, (), ())
    s.snapshot_requested()
    assert s.on_snapshot(11, BIDS, ASKS, 0) is CHANGED  # U == lastUpdateId + 1


def test_gap_goes_out_of_sync_and_keeps_the_breaking_diff() -> None:
    s = synced()
    assert s.on_diff(13, 14, lv(("100", "2")), ()) is APPLIED
    assert s.on_diff(16, 17, (), ()) is CHANGED
    assert s.state is S.OUT_OF_SYNC and s.break_cause == "gap" and s.gap == (15, 15)
    assert s.view(5) == ((), ())
    s.restart()
    assert s.state is S.SYNCING and s.wants_snapshot and s.buffer[0].first == 16


def test_duplicate_is_ignored_but_backwards_ids_are_a_reset() -> None:
    s = synced()
    s.on_diff(13, 14, (), ())
    assert s.on_diff(13, 14, (), ()) is IGNORED  # rollover overlap duplicate
    assert s.state is S.SYNCED
    assert s.on_diff(1, 3, (), ()) is CHANGED
    assert s.state is S.OUT_OF_SYNC and s.break_cause == "reset"


def test_overlapping_diff_is_applied() -> None:
    s = synced()
    assert s.on_diff(12, 15, lv(("97", "1")), ()) is APPLIED  # U <= id + 1 < u: documented procedure
    assert s.last_update_id == 15


def test_zero_quantity_removes_levels() -> None:
    s = synced()
    s.on_diff(13, 13, lv(("100", "0"), ("95", "0")), lv(("101", "0")))
    bids, asks = s.view(None)
    assert [p for p, _ in bids] == [D(99), D(98)] and [p for p, _ in asks] == [D(102), D(103)]
    assert D(100) not in s.book.bids and D(100) not in s.book.bid_keys  # type: ignore[union-attr]


def test_crossed_book_is_never_synced() -> None:
    s = synced()
    assert s.on_diff(13, 13, lv(("101.5", "1")), ()) is CHANGED
    assert s.state is S.OUT_OF_SYNC and s.break_cause == "crossed"
    s2 = BookSync()
    s2.on_diff(12, 12, (), ())
    s2.snapshot_requested()
    assert s2.on_snapshot(11, lv(("105", "1")), ASKS, 0) is CHANGED
    assert s2.state is S.OUT_OF_SYNC and s2.break_cause == "crossed"


def test_levels_beyond_the_snapshot_band_are_pruned() -> None:
    s = synced(limit=3)  # both sides truncated: bids >= 98, asks <= 103
    s.on_diff(13, 13, lv(("97", "9"), ("98.5", "1")), lv(("104", "9"), ("102.5", "1")))
    bids, asks = s.view(None)
    assert [p for p, _ in bids] == [D(100), D(99), D("98.5"), D(98)]
    assert [p for p, _ in asks] == [D(101), D(102), D("102.5"), D(103)]
    # a side the snapshot returned whole has no bound
    s2 = synced(limit=10)
    s2.on_diff(13, 13, lv(("50", "1")), ())
    assert s2.view(None)[0][-1] == (D(50), D(1))


def test_thin_band_asks_for_a_refresh_rebased_on_recorded_diffs() -> None:
    s = synced(limit=3, refresh_below=3)
    s.on_diff(13, 13, lv(("100", "0")), ())
    assert s.refresh_wanted and s.wants_snapshot and s.state is S.SYNCED
    s.snapshot_requested()
    s.on_diff(14, 14, lv(("99", "4")), ())
    s.on_diff(15, 15, lv(("98", "0")), ())
    # snapshot taken at 14: the recorded diff 15 is replayed on it
    assert s.on_snapshot(14, lv(("99", "4"), ("98", "3"), ("97", "1")), ASKS, 3) is APPLIED
    assert s.state is S.SYNCED and s.refreshes == 1 and not s.recording
    assert [p for p, _ in s.view(None)[0]] == [D(99), D(97)]
    assert s.book.bid_floor == D(97)  # type: ignore[union-attr]


def test_audit_counts_mismatches() -> None:
    s = synced()
    s.request_audit()
    s.snapshot_requested()
    assert s.on_snapshot(12, lv(("100", "5"), ("99", "2"), ("98", "3")), ASKS, 0) is APPLIED
    assert s.audits == 1 and s.audit_mismatches == 0
    s.request_audit()
    s.snapshot_requested()
    assert s.on_snapshot(12, lv(("100", "9")), ASKS, 0) is APPLIED
    assert s.audits == 2 and s.audit_mismatches == 1
    assert s.view(1)[0] == ((D(100), D(9)),)  # the verified book replaced the drifted one


def test_gap_inside_the_buffer_refetches() -> None:
    s = BookSync()
    for first in (10, 11, 13):
        s.on_diff(first, first, (), ())
    s.snapshot_requested()
    assert s.on_snapshot(10, BIDS, ASKS, 0) is IGNORED
    assert s.state is S.SYNCING and s.wants_snapshot and s.buffer[0].first == 13
    s.snapshot_requested()
    assert s.on_snapshot(12, BIDS, ASKS, 0) is CHANGED


def test_reset_and_snapshot_failure() -> None:
    s = synced()
    assert s.reset("reconnect") is CHANGED and s.state is S.OUT_OF_SYNC and not s.buffer
    assert s.gap == (13, None) and s.break_cause == "reconnect"  # first id missed; the last is not known
    s.restart()
    assert s.reset("reconnect") is IGNORED  # nothing to drop yet
    s.on_diff(40, 41, (), ())
    s.snapshot_requested()
    assert s.snapshot_failed() is CHANGED and s.state is S.OUT_OF_SYNC and s.break_cause == "snapshot failed"


def test_buffer_is_bounded() -> None:
    s = BookSync(max_buffer=3)
    for first in range(10):
        s.on_diff(first, first, (), ())
    assert [d.first for d in s.buffer] == [7, 8, 9]


def test_futures_rule_uses_pu() -> None:
    s = BookSync(FUTURES_RULE)
    s.on_diff(5, 9, (), (), pu=4)     # u < 10: discarded
    s.on_diff(8, 12, lv(("100", "5")), (), pu=9)   # U <= 10 <= u
    s.snapshot_requested()
    assert s.on_snapshot(10, BIDS, ASKS, 0) is CHANGED
    assert s.on_diff(20, 25, (), (), pu=12) is APPLIED  # U not contiguous: pu decides
    assert s.on_diff(30, 31, (), (), pu=26) is CHANGED and s.break_cause == "gap"
    assert SPOT_RULE.first(10, 11, 12) and not FUTURES_RULE.first(10, 11, 12)


def test_level_book_view_and_crossing() -> None:
    b = LevelBook(BIDS, ASKS)
    assert b.top(2) == (tuple(BIDS[:2]), tuple(ASKS[:2]))
    assert b.top(0) == ((), ())
    assert len(b) == 6 and not b.is_crossed()
    b.apply(lv(("101", "1")), ())
    assert b.is_crossed()
