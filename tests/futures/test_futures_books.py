"""Local order books on futures (issue 14; binance-futures-reference.md section 6): the ``pu`` rule,
the straddle ``U <= lastUpdateId <= u``, ``/fapi/v1/depth`` snapshots with futures limits and
weights, and a futures ``on_book`` against ``FakeBinance(product="usdm")``."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, List

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from _connector_helpers import FakeBinance, Recorder, fast_builder, no_conn_threads, wait_until  # noqa: E402

import binance_conn as bc  # noqa: E402
from binance_conn._core.book import (  # noqa: E402
    APPLIED,
    CHANGED,
    FUTURES_RULE,
    SPOT_RULE,
    BookSync,
    depth_rule,
    futures_snapshot_limit,
    snapshot_limit_for,
    snapshot_weight,
)
from binance_conn._core.protocol import StreamProtocol  # noqa: E402
from binance_conn._market.books import RestSnapshots  # noqa: E402

__all__ = ["no_conn_threads"]

S = bc.BookState
D = Decimal


def lv(p: str, q: str) -> List[Any]:
    return [(D(p), D(q))]


# ---------------------------------------------------------------- rule tables
def test_rule_by_product() -> None:
    assert depth_rule("spot") is SPOT_RULE
    assert depth_rule("usdm") is FUTURES_RULE and depth_rule("coinm") is FUTURES_RULE


@pytest.mark.parametrize("limit, weight", [(5, 2), (10, 2), (20, 2), (50, 2), (100, 5), (500, 10), (1000, 20)])
def test_futures_snapshot_weights(limit: int, weight: int) -> None:
    assert snapshot_weight(limit, futures=True) == weight


def test_futures_snapshot_limits() -> None:
    assert [futures_snapshot_limit(n) for n in (1, 5, 6, 50, 51, 100, 101, 501, 1000, 5000)] == \
        [5, 5, 10, 50, 100, 100, 500, 1000, 1000, 1000]
    assert snapshot_limit_for(5, futures=True) == 50
    assert snapshot_limit_for(50, futures=True) == 100
    assert snapshot_limit_for(400, futures=True) == 1000
    assert snapshot_limit_for(2000, futures=True) == 1000  # never above 1000 (spot: 5000)
    assert snapshot_limit_for(2000) == 5000


def test_pu_is_parsed() -> None:
    raw = {"e": "depthUpdate", "E": 123456789, "T": 123456788, "s": "BNBUSDT", "U": 157, "u": 160, "pu": 149,
           "b": [["0.0024", "10"]], "a": [["0.0026", "100"]], "ps": "BTCUSDT", "st": 1}
    def parse(payload: Any) -> Any:
        proto = StreamProtocol("binance-usdm")
        proto.on_connected(0.0, ["bnbusdt@depth@100ms"])
        out = proto.receive_text(json.dumps({"stream": "bnbusdt@depth@100ms", "data": payload}), 1.0)
        return out[0][1] if out else None

    ev = parse(raw)
    assert (ev.first_update_id, ev.final_update_id, ev.previous_update_id) == (157, 160, 149)
    spot = dict(raw)
    del spot["pu"]
    assert parse(spot).previous_update_id is None
    assert parse(dict(raw, pu="149")) is None  # a non-int pu is refused (a bad frame), never taken as an id


# ---------------------------------------------------------------- sync machine with pu
def _synced(sync: BookSync) -> BookSync:
    """Snapshot 100; buffered diffs 90..95 (dropped: u < 100) and 96..102 (straddles 100)."""
    sync.on_diff(90, 95, lv("10", "1"), (), None, 89)
    sync.on_diff(96, 102, lv("11", "1"), (), None, 95)
    assert sync.on_snapshot(100, [(D("9"), D("1"))], [(D("20"), D("1"))], 1000) is CHANGED
    assert sync.state is S.SYNCED and sync.last_update_id == 102
    return sync


def test_in_order_with_pu_and_non_contiguous_U() -> None:
    sync = _synced(BookSync(FUTURES_RULE))
    assert D("11") in sync.book.bids and D("10") not in sync.book.bids  # 90..95 dropped  # type: ignore[union-attr]
    # U jumps (105 > 103): fine on futures, pu says what came before
    assert sync.on_diff(105, 110, lv("12", "2"), (), None, 102) is APPLIED
    assert sync.on_diff(111, 111, lv("12", "0"), (), None, 110) is APPLIED
    assert sync.state is S.SYNCED and sync.last_update_id == 111
    assert D("12") not in sync.book.bids  # type: ignore[union-attr]


def test_spot_rule_would_call_the_same_stream_a_gap() -> None:
    spot = BookSync(SPOT_RULE)
    spot.on_diff(96, 102, lv("11", "1"), (), None, 95)
    spot.on_snapshot(100, [(D("9"), D("1"))], [(D("20"), D("1"))], 1000)
    assert spot.on_diff(105, 110, lv("12", "2"), (), None, 102) is CHANGED and spot.state is S.OUT_OF_SYNC


def test_pu_break_goes_out_of_sync_then_resyncs() -> None:
    sync = _synced(BookSync(FUTURES_RULE))
    assert sync.on_diff(111, 115, lv("13", "1"), (), None, 108) is CHANGED  # pu 108 != previous u 102
    assert sync.state is S.OUT_OF_SYNC and sync.break_cause == "gap"
    sync.restart()
    assert sync.state is S.SYNCING
    sync.on_diff(116, 120, lv("14", "1"), (), None, 115)
    assert sync.wants_snapshot
    sync.snapshot_requested()
    assert sync.on_snapshot(118, [(D("9"), D("1"))], [(D("20"), D("1"))], 1000) is CHANGED
    assert sync.state is S.SYNCED and sync.last_update_id == 120
    assert sync.on_diff(121, 125, (), lv("19", "3"), None, 120) is APPLIED


def test_stale_snapshot_is_dropped_and_another_wanted() -> None:
    sync = BookSync(FUTURES_RULE)
    sync.on_diff(120, 130, lv("10", "1"), (), None, 119)
    sync.snapshot_requested()
    sync.on_snapshot(100, [(D("9"), D("1"))], [(D("20"), D("1"))], 1000)  # older than every diff (U 120 > 100)
    assert sync.state is S.SYNCING and sync.stale_snapshots == 1 and sync.wants_snapshot
    sync.snapshot_requested()
    assert sync.on_snapshot(125, [(D("9"), D("1"))], [(D("20"), D("1"))], 1000) is CHANGED
    assert sync.last_update_id == 130


def test_straddle_keeps_the_diff_ending_at_last_update_id() -> None:
    """Futures drop only ``u < lastUpdateId``: the diff with ``u == lastUpdateId`` is the first applied
    (``U <= 100 <= u``); spot would drop it (``u <= lastUpdateId``)."""
    sync = BookSync(FUTURES_RULE)
    sync.on_diff(95, 100, lv("11", "5"), (), None, 94)
    assert sync.on_snapshot(100, [(D("9"), D("1"))], [(D("20"), D("1"))], 1000) is CHANGED
    assert sync.book.bids.get(D("11")) == D("5")  # type: ignore[union-attr]
    spot = BookSync(SPOT_RULE)
    spot.on_diff(95, 100, lv("11", "5"), (), None, 94)
    spot.on_snapshot(100, [(D("9"), D("1"))], [(D("20"), D("1"))], 1000)
    assert spot.state is S.SYNCING  # waits for a diff starting at 101


def test_straddle_is_required() -> None:
    sync = BookSync(FUTURES_RULE)
    sync.on_diff(101, 105, lv("11", "5"), (), None, 100)  # U 101 > lastUpdateId 100: no straddle
    sync.on_snapshot(100, [(D("9"), D("1"))], [(D("20"), D("1"))], 1000)
    assert sync.state is S.SYNCING and sync.stale_snapshots == 1


# ---------------------------------------------------------------- snapshot source
class _Rest:
    def __init__(self) -> None:
        self.calls: List[Any] = []

    def request(self, method: str, path: str, params: Any = None, signed: bool = False, timeout: Any = None) -> Any:
        self.calls.append((method, path, dict(params)))
        return {"lastUpdateId": 7, "E": 1, "T": 1, "bids": [["1.5", "2"]], "asks": [["1.6", "3"]]}

    def depth(self, symbol: str, limit: int) -> Any:
        self.calls.append(("depth", symbol, limit))
        return {"lastUpdateId": 7, "bids": [], "asks": []}


@pytest.mark.parametrize("product, path", [("usdm", "/fapi/v1/depth"), ("coinm", "/dapi/v1/depth")])
def test_snapshot_path_by_product(product: str, path: str) -> None:
    rest = _Rest()
    answer = RestSnapshots(lambda: rest, lambda: product).depth("btcusdt", 1000)
    assert rest.calls == [("GET", path, {"symbol": "BTCUSDT", "limit": 1000})]
    assert answer["bids"] == [[D("1.5"), D("2")]]
    RestSnapshots(lambda: rest, lambda: "spot").depth("BTCUSDT", 100)
    assert rest.calls[-1] == ("depth", "BTCUSDT", 100)


# ---------------------------------------------------------------- against the fake
@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=7, product="usdm") as f:
        yield f


def _same_as_fake(conn: bc.Connector, fake: FakeBinance, symbol: str = "BTCUSDT") -> bool:
    truth = fake.book(symbol, 1000)
    book = conn.book(symbol)
    if book is None or not book.is_synced or book.last_update_id != truth["lastUpdateId"]:
        return False
    return (len(book.bids) > 0 and book.bids == tuple(truth["bids"])[:len(book.bids)]
            and book.asks == tuple(truth["asks"])[:len(book.asks)])


def test_fake_futures_diffs_carry_pu(fake: FakeBinance) -> None:
    got: List[Any] = []
    fake.publish = lambda stream, payload: got.append(payload) or 1  # type: ignore[method-assign]
    fake._subscribed = lambda: {"btcusdt@depth@100ms"}  # type: ignore[method-assign]
    u1 = fake.publish_depth("BTCUSDT", bids=[("1", "1")])
    u2 = fake.publish_depth("BTCUSDT", bids=[("1", "2")], skip_ids=2)
    diffs = [p for p in got if isinstance(p, dict) and p.get("e") == "depthUpdate"]
    assert diffs[0]["pu"] == u1[0] - 1 and diffs[1]["pu"] == u2[0] - 1 == u1[1] + 2 and "T" in diffs[1]


def test_fake_futures_depth_route(fake: FakeBinance, no_conn_threads: None) -> None:
    with bc.Connector(fast_builder(fake).build()) as conn:
        snap = conn.rest.request("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 50})
        assert {"lastUpdateId", "E", "T", "bids", "asks"} <= set(snap) and len(snap["bids"]) <= 50
        with pytest.raises(bc.BinanceError):
            conn.rest.request("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 7})


def test_futures_on_book_syncs_follows_and_resyncs(fake: FakeBinance, no_conn_threads: None) -> None:
    conn = bc.Connector(fast_builder(fake).build())
    rec = Recorder()
    gaps: List[Any] = []
    conn.on_gap(gaps.append)
    conn.on_book("btcusdt", rec, depth=10)
    try:
        conn.start()
        assert wait_until(lambda: (conn.book("BTCUSDT") is not None and conn.book("BTCUSDT").is_synced)
                          or bool(fake.publish_depth("BTCUSDT") and False), 10)
        for i in range(5):
            fake.publish_depth("BTCUSDT", bids=[("1", str(i + 1))], asks=[])
        assert wait_until(lambda: _same_as_fake(conn, fake), 10)
        paths = {r["path"] for r in fake.request_log if "depth" in r.get("path", "")}
        assert paths == {"/fapi/v1/depth"}
        stats = conn.stats()["books"]
        assert stats["books"]["BTCUSDT"]["snapshot_limit"] == 50 and stats["weight_used"] % 2 == 0
        # a hidden update: the next diff's pu names it -> OUT_OF_SYNC -> resync
        fake.publish_depth("BTCUSDT", bids=[("2", "1")], skip_ids=3)
        assert wait_until(lambda: any(g.kind == "depth" for g in gaps), 5)
        fake.publish_depth("BTCUSDT", bids=[("2", "2")])
        assert wait_until(lambda: _same_as_fake(conn, fake) or bool(fake.publish_depth("BTCUSDT") and False), 10)
        assert wait_until(lambda: any(v.state is S.OUT_OF_SYNC for v in rec.snapshot())
                          and rec.snapshot()[-1].state is S.SYNCED, 5)
        assert conn.stats()["books"]["resyncs"] >= 1
    finally:
        assert conn.stop()


@pytest.mark.parametrize("asked, used", [(5000, 1000), (200, 500)])
def test_configured_snapshot_limit_is_fitted_to_futures(fake: FakeBinance, no_conn_threads: None, asked: int,
                                                       used: int) -> None:
    """A configured limit futures do not accept (5000, 200) becomes the next one they do (at most 1000)."""
    conn = bc.Connector(fast_builder(fake).with_order_book(snapshot_limit=asked).build())
    conn.on_book("BTCUSDT", lambda b: None)
    try:
        conn.start()
        assert wait_until(lambda: (conn.book("BTCUSDT") is not None and conn.book("BTCUSDT").is_synced)
                          or bool(fake.publish_depth("BTCUSDT") and False), 10)
        assert conn.stats()["books"]["books"]["BTCUSDT"]["snapshot_limit"] == used
    finally:
        assert conn.stop()


def test_coinm_book_uses_dapi_depth(no_conn_threads: None) -> None:
    with FakeBinance(seed=9, product="coinm") as fake:
        conn = bc.Connector(fast_builder(fake).build())
        conn.on_book("BTCUSDT", lambda b: None, depth=5)
        try:
            conn.start()
            assert wait_until(lambda: _same_as_fake(conn, fake) or bool(fake.publish_depth("BTCUSDT") and False), 10)
            assert {r["path"] for r in fake.request_log if "depth" in r.get("path", "")} == {"/dapi/v1/depth"}
        finally:
            assert conn.stop()
