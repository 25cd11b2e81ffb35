"""The fake's order books: true book, diff streams (immediate and batched) that replay onto the REST
snapshot to exactly the fake's book, partial depth, snapshot limits and weights, and the book faults."""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal
from typing import Any, Dict, Iterator

import pytest
import requests
from _helpers import wait_until
from fakecollect import Collector, as_side, replay
from fakehelpers import scaled, signed

from binance_conn.testing import FakeBinance

DEPTH = "/api/v3/depth"


def snapshot(fake: FakeBinance, symbol: str = "BTCUSDT", limit: int = 5000) -> Dict[str, Any]:
    r = requests.get(fake.rest_url + DEPTH, params={"symbol": symbol, "limit": limit}, timeout=scaled(5))
    assert r.status_code == 200, r.text
    out: Dict[str, Any] = r.json()
    return out


def weight_of(fake: FakeBinance, limit: int) -> int:
    fake.reset_limits()
    r = requests.get(fake.rest_url + DEPTH, params={"symbol": "BTCUSDT", "limit": limit}, timeout=scaled(5))
    return int(r.headers["X-MBX-USED-WEIGHT-1M"])


@pytest.fixture
def deep() -> Iterator[FakeBinance]:
    with FakeBinance(["BTCUSDT", "ETHUSDT"], book_depth=1500, seed=11) as f:
        yield f


def test_seeded_depth_and_snapshot_limits_with_their_weights(deep: FakeBinance) -> None:
    book = deep.book("BTCUSDT")
    assert len(book["bids"]) == len(book["asks"]) == 1500
    assert book["bids"][0][0] < book["asks"][0][0]
    assert [p for p, _ in book["bids"]] == sorted((p for p, _ in book["bids"]), reverse=True)
    for limit in (1, 5, 10, 20, 50, 100, 500, 1000, 5000):
        snap = snapshot(deep, limit=limit)
        assert len(snap["bids"]) == len(snap["asks"]) == min(limit, 1500)
        assert snap["lastUpdateId"] == book["lastUpdateId"]
        assert as_side([(Decimal(p), Decimal(q)) for p, q in snap["bids"]]) == as_side(deep.book("BTCUSDT",
                                                                                                 limit)["bids"])
    assert len(snapshot(deep, limit=6000)["asks"]) == 1500  # over 5000: truncated to 5000
    assert [weight_of(deep, n) for n in (1, 100, 101, 500, 501, 1000, 1001, 5000)] == [5, 5, 25, 25, 50, 50, 250, 250]


def test_book_update_ids_removals_and_partial_depth(fake: FakeBinance) -> None:
    col = Collector(fake, ["btcusdt@depth", "btcusdt@depth5", "btcusdt@depth@100ms"])
    try:
        bid = fake.book("BTCUSDT", 1)["bids"][0][0]
        before = fake.book("BTCUSDT")["lastUpdateId"]
        u1 = fake.book_update("BTCUSDT", bids=[(bid, 0), (bid - Decimal("0.01"), "2.5")])
        assert u1 == (before + 1, before + 2)
        u2 = fake.book_update("BTCUSDT", asks=[("61000.00", "1")], ids=5)
        assert u2 == (before + 3, before + 7)
        assert wait_until(lambda: len(col.get("btcusdt@depth")) == 2 and len(col.get("btcusdt@depth5")) == 2)
        d1, d2 = col.get("btcusdt@depth")
        assert (d1["U"], d1["u"], d2["U"], d2["u"]) == (*u1, *u2)
        assert d1["e"] == "depthUpdate" and d1["s"] == "BTCUSDT" and isinstance(d1["E"], int)
        assert [bid, Decimal(0)] in [[Decimal(p), Decimal(q)] for p, q in d1["b"]]  # removal: quantity "0"
        assert col.get("btcusdt@depth@100ms") == col.get("btcusdt@depth")  # immediate mode: same diffs
        part = col.get("btcusdt@depth5")[-1]
        top = fake.book("BTCUSDT", 5)
        assert part["lastUpdateId"] == top["lastUpdateId"] == u2[1]
        assert [[Decimal(p), Decimal(q)] for p, q in part["bids"]] == [list(x) for x in top["bids"]]
        assert [[Decimal(p), Decimal(q)] for p, q in part["asks"]] == [list(x) for x in top["asks"]]
    finally:
        col.close()


def _drive(fake: FakeBinance, seconds: float) -> None:
    """Book activity + explicit updates + market steps (regen) for ``seconds``."""
    fake.start_book_activity("BTCUSDT", rate=300, seed=5)
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        i += 1
        ask = fake.book("BTCUSDT", 1)["asks"][0][0]
        fake.book_update("BTCUSDT", asks=[(ask + Decimal("0.01") * (i % 7 + 1), str(i))])
        if i % 5 == 0:
            fake.step_market("BTCUSDT")
        time.sleep(0.01)
    fake.stop_book_activity("BTCUSDT")


@pytest.mark.parametrize("batching", [False, True])
def test_diff_stream_replayed_onto_snapshot_is_the_true_book(batching: bool) -> None:
    with FakeBinance(["BTCUSDT"], book_depth=800, depth_batching=batching, seed=2) as fake:
        streams = ["btcusdt@depth", "btcusdt@depth@100ms"]
        col = Collector(fake, streams)
        try:
            worker = threading.Thread(target=_drive, args=(fake, 0.8))
            worker.start()
            time.sleep(0.3)  # diffs buffered before the snapshot, as a client does it
            snap = snapshot(fake)
            worker.join()
            fake.flush_depth()
            true = fake.book("BTCUSDT")
            want = true["lastUpdateId"]
            for stream in streams:
                assert wait_until(lambda s=stream: bool(col.get(s)) and col.get(s)[-1]["u"] == want)
                diffs = col.get(stream)
                last, bids, asks = replay(snap, diffs)
                assert last == true["lastUpdateId"]
                assert bids == as_side(true["bids"]) and asks == as_side(true["asks"])
                assert all(b["U"] == a["u"] + 1 for a, b in zip(diffs, diffs[1:]))  # U/u continuity
                assert max(bids) < min(asks)  # never crossed
            updates = true["lastUpdateId"] - col.get(streams[0])[0]["U"]
            if batching:  # merged batches: far fewer frames than updates, slower stream fewer still
                assert len(col.get("btcusdt@depth")) < len(col.get("btcusdt@depth@100ms")) < updates
        finally:
            col.close()


def test_batched_cadence_of_100ms_and_1000ms_and_partials() -> None:
    with FakeBinance(["BTCUSDT"], depth_batching=True, seed=4) as fake:
        col = Collector(fake, ["btcusdt@depth", "btcusdt@depth@100ms", "btcusdt@depth10@100ms"])
        try:
            fake.start_book_activity("BTCUSDT", rate=200, seed=1)
            assert wait_until(lambda: len(col.get("btcusdt@depth")) >= 2, timeout=5)
            fake.stop_book_activity()
            fast, slow = col.get("btcusdt@depth@100ms"), col.get("btcusdt@depth")
            assert len(fast) >= 5 * len(slow) - 5
            assert all(b["E"] - a["E"] >= 80 for a, b in zip(fast, fast[1:]))
            assert all(b["E"] - a["E"] >= 900 for a, b in zip(slow, slow[1:]))
            assert len(col.get("btcusdt@depth10@100ms")[-1]["bids"]) == 10
        finally:
            col.close()


def test_skipped_update_ids_leave_a_visible_jump_and_a_real_hole(fake: FakeBinance) -> None:
    col = Collector(fake, ["btcusdt@depth"])
    try:
        snap = snapshot(fake)
        fake.book_update("BTCUSDT", asks=[("60100.00", "1")])
        hidden = fake.skip_depth_updates("BTCUSDT", count=3)
        after = fake.book_update("BTCUSDT", asks=[("60100.00", "2")])
        assert hidden[1] - hidden[0] == 2 and after[0] == hidden[1] + 1
        assert wait_until(lambda: len(col.get("btcusdt@depth")) == 2)
        d1, d2 = col.get("btcusdt@depth")
        assert d2["U"] == d1["u"] + 4  # the jump a client must see
        with pytest.raises(AssertionError):
            replay(snap, [d1, d2])
        _, bids, _ = replay(snap, [d1, d2], strict=False)
        assert bids != as_side(fake.book("BTCUSDT")["bids"])  # ignoring the jump gives a wrong book
    finally:
        col.close()


def test_skip_inside_a_batch_flushes_first() -> None:
    with FakeBinance(["BTCUSDT"], depth_batching=True, seed=4) as fake:
        col = Collector(fake, ["btcusdt@depth"])
        try:
            first = fake.book_update("BTCUSDT", asks=[("60100.00", "1")])
            hidden = fake.skip_depth_updates("BTCUSDT")
            fake.book_update("BTCUSDT", asks=[("60100.00", "2")])
            assert wait_until(lambda: len(col.get("btcusdt@depth")) >= 2, timeout=5)
            d1, d2 = col.get("btcusdt@depth")[:2]
            assert (d1["U"], d1["u"]) == first and d2["U"] == hidden[1] + 1
        finally:
            col.close()


def test_stale_snapshot_is_older_than_the_diffs_then_fresh_again(fake: FakeBinance) -> None:
    col = Collector(fake, ["btcusdt@depth"])
    try:
        stale_id = fake.serve_stale_snapshot("BTCUSDT", count=2, advance=3)
        assert wait_until(lambda: len(col.get("btcusdt@depth")) == 3)
        first_diff = col.get("btcusdt@depth")[0]
        for _ in range(2):
            snap = snapshot(fake)
            assert snap["lastUpdateId"] == stale_id < first_diff["U"]  # older than diffs already sent
        fresh = snapshot(fake)
        assert fresh["lastUpdateId"] == fake.book("BTCUSDT")["lastUpdateId"] > stale_id
    finally:
        col.close()


def test_reset_book_starts_a_new_lower_sequence(fake: FakeBinance) -> None:
    col = Collector(fake, ["btcusdt@depth"])
    try:
        fake.book_update("BTCUSDT", asks=[("60100.00", "1")])
        old = fake.book("BTCUSDT")["lastUpdateId"]
        new = fake.reset_book("BTCUSDT", update_id=77)
        assert new == 77 and fake.book("BTCUSDT")["lastUpdateId"] == 77
        assert fake.reset_book("BTCUSDT") < 77
        fake.reset_book("BTCUSDT", update_id=77)
        fake.book_update("BTCUSDT", asks=[("60100.00", "2")])
        assert wait_until(lambda: len(col.get("btcusdt@depth")) == 2)
        assert col.get("btcusdt@depth")[1]["U"] == 78 < old
        assert snapshot(fake)["lastUpdateId"] == 78
    finally:
        col.close()


def test_delayed_snapshot_arrives_old(fake: FakeBinance) -> None:
    fake.delay_snapshots(0.3)
    out: Dict[str, Any] = {}
    t = threading.Thread(target=lambda: out.update(snapshot(fake)))
    started = time.monotonic()
    t.start()
    assert fake.wait_for_requests(DEPTH, 1, scaled(5))
    fake.book_update("BTCUSDT", asks=[("60100.00", "2")])
    t.join()
    assert time.monotonic() - started >= 0.3
    assert out["lastUpdateId"] < fake.book("BTCUSDT")["lastUpdateId"]


def test_book_activity_never_crosses_and_is_reproducible() -> None:
    books = []
    for _ in range(2):
        with FakeBinance(["ETHUSDT"], book_depth=50, seed=9) as fake:
            rng = random.Random(3)
            for _ in range(300):
                fake._random_update("ETHUSDT", rng, 4)
                top = fake.book("ETHUSDT", 1)
                assert top["bids"][0][0] < top["asks"][0][0]
            books.append(fake.book("ETHUSDT"))
    assert books[0] == books[1]


def test_generators_stop_with_the_fake() -> None:
    fake = FakeBinance(["BTCUSDT"], depth_batching=True).start()
    fake.start_book_activity("BTCUSDT", rate=100)
    fake.start_trades("BTCUSDT", rate=100)
    assert wait_until(lambda: fake.trades_generated("BTCUSDT") > 5)
    fake.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("fake-binance")]


def test_unknown_symbol_is_refused(fake: FakeBinance) -> None:
    with pytest.raises(ValueError):
        fake.book("NOPEUSDT")


def test_engine_orders_change_the_book_through_the_diff_stream(fake: FakeBinance) -> None:
    col = Collector(fake, ["btcusdt@depth"])
    try:
        snap = snapshot(fake)
        bid, ask = fake.best_prices("BTCUSDT")
        price = bid - Decimal("0.05")
        before = dict(fake.book("BTCUSDT")["bids"]).get(price, Decimal(0))
        r = signed(fake, "POST", "/api/v3/order", [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"),
                                                   ("timeInForce", "GTC"), ("quantity", "0.5"), ("price", str(price))])
        assert r.status_code == 200, r.text
        assert dict(fake.book("BTCUSDT")["bids"])[price] == before + Decimal("0.5")  # the resting order shows
        fake.fill_order("BTCUSDT", r.json()["orderId"], qty="0.2")
        assert dict(fake.book("BTCUSDT")["bids"])[price] == before + Decimal("0.3")
        r2 = signed(fake, "DELETE", "/api/v3/order", [("symbol", "BTCUSDT"), ("orderId", r.json()["orderId"])])
        assert r2.status_code == 200, r2.text
        assert dict(fake.book("BTCUSDT")["bids"]).get(price, Decimal(0)) == before
        ask_qty = dict(fake.book("BTCUSDT")["asks"])[ask]
        r3 = signed(fake, "POST", "/api/v3/order", [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"),
                                                    ("quantity", str(ask_qty))])
        assert r3.status_code == 200, r3.text
        assert ask not in dict(fake.book("BTCUSDT")["asks"])  # the taker consumed the level
        true = fake.book("BTCUSDT")
        assert wait_until(lambda: bool(col.get("btcusdt@depth"))
                          and col.get("btcusdt@depth")[-1]["u"] == true["lastUpdateId"])
        last, bids, asks = replay(snap, col.get("btcusdt@depth"))
        assert (last, bids, asks) == (true["lastUpdateId"], as_side(true["bids"]), as_side(true["asks"]))
    finally:
        col.close()
