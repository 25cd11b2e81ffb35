"""Issue 14 "Done when", end to end as a user would: a futures Connector against FakeBinance.

Streams on both USD-M routes at once, user data surviving a listenKey expiry and a dropped link
(with REST reconciliation), a conditional order placed via ``conn.rest.new_order`` landing on
``algoOrder`` and triggering on the mark price, a position update after a fill, positions and
leverage over REST; a smaller COIN-M case.
"""

from __future__ import annotations

import queue
from decimal import Decimal
from typing import Any, Callable, List

from _helpers import scaled, wait_until

import binance_conn as bc
from binance_conn.testing import FakeBinance


def _conn(fake: FakeBinance) -> bc.Connector:
    cfg = (fake.config_builder().with_backoff(base=0.05, max=0.5, jitter=0.0).with_health_check(1.0)
           .with_debounce(0.0).with_websocket(ping_interval=0.5, pong_timeout=0.5, handshake_timeout=2.0).build())
    return bc.Connector(cfg)


def _drain(q: "queue.Queue[Any]") -> List[Any]:
    out = []
    while not q.empty():
        out.append(q.get())
    return out


def _until(q: "queue.Queue[Any]", pred: Callable[[Any], bool], timeout: float = 10.0) -> Any:
    """The first item of ``q`` matching ``pred`` within ``timeout`` seconds (others are dropped)."""
    deadline = scaled(timeout)
    while True:
        item = q.get(timeout=deadline)
        if pred(item):
            return item


def _publish_until(q: "queue.Queue[Any]", publish: Callable[[], Any]) -> Any:
    got: List[Any] = []

    def step() -> bool:
        if q.empty():
            publish()
        if not q.empty():
            got.append(q.get())
        return bool(got)
    assert wait_until(step, scaled(5))
    return got[0]


def test_usdm_connector_end_to_end() -> None:
    with FakeBinance(seed=11, product="usdm", market_rate=0) as fake:
        marks: "queue.Queue[Any]" = queue.Queue()
        books: "queue.Queue[Any]" = queue.Queue()
        aggs: "queue.Queue[Any]" = queue.Queue()
        orders: "queue.Queue[Any]" = queue.Queue()
        positions: "queue.Queue[Any]" = queue.Queue()
        algos: "queue.Queue[Any]" = queue.Queue()
        conn = _conn(fake)
        conn.on_mark_price("BTCUSDT", queue=marks)       # /market
        conn.on_agg_trade("BTCUSDT", queue=aggs)         # /market
        conn.on_book_ticker("BTCUSDT", queue=books)      # /public
        conn.on_order(queue=orders)
        conn.on_position(queue=positions)
        conn.on_algo_order(queue=algos)
        with conn:
            assert conn.wait_ready(scaled(10)), conn.stats()
            # -- streams on both routes, delivering at once
            m = _publish_until(marks, lambda: fake.publish_mark_price("BTCUSDT", "50000.5", "50001",
                                                                      funding_rate="0.0001"))
            assert isinstance(m, bc.MarkPrice) and m.mark_price == Decimal("50000.5")
            assert m.funding_rate == Decimal("0.0001")
            assert isinstance(_publish_until(books, lambda: fake.publish_book_ticker("BTCUSDT")), bc.BookTicker)
            assert isinstance(_publish_until(aggs, lambda: fake.publish_trade("BTCUSDT", "50000", "1")), bc.AggTrade)
            routes = sorted(c["route"] for c in conn.stats()["market"]["connections"])
            assert routes == ["market", "public"]
            assert wait_until(lambda: conn.stats()["user_data"]["reconciliations"] >= 1, scaled(5))  # seeded

            # -- REST: leverage, a fill, the position update after it
            lev = conn.rest.set_leverage("BTCUSDT", 20)
            assert lev["leverage"] == 20 and lev["symbol"] == "BTCUSDT"
            fake.set_mark_price("BTCUSDT", "50000")
            filled = conn.rest.new_order("BTCUSDT", "BUY", "MARKET", quantity="0.010")
            assert filled["status"] == "FILLED"
            u = _until(orders, lambda x: x.status == "FILLED")
            assert (u.order_id, u.is_reconciled, u.position_side) == (filled["orderId"], False, "BOTH")
            p = _until(positions, lambda x: x.symbol == "BTCUSDT")
            assert (p.amount, p.is_reconciled) == (Decimal("0.01"), False)
            rows = [r for r in conn.rest.positions("BTCUSDT") if r["positionAmt"] != 0]
            assert rows and rows[0]["positionAmt"] == Decimal("0.01") and str(rows[0]["leverage"]) == "20"
            assert [x.amount for x in conn.positions()] == [Decimal("0.01")]

            # -- a conditional order via new_order lands on algoOrder, triggers on the mark price
            stop = conn.rest.new_order("BTCUSDT", "SELL", "STOP_MARKET", stop_price="49000", close_position=True,
                                       client_order_id="acc-stop")
            assert stop["algoId"] and stop["algoStatus"] == "NEW"
            posts = [r["path"] for r in fake.request_log if r["method"] == "POST"]
            assert posts[-1] == "/fapi/v1/algoOrder"
            a = _until(algos, lambda x: x.status == "NEW")
            assert isinstance(a, bc.AlgoOrderUpdate) and a.algo_id == stop["algoId"]
            fake.set_mark_price("BTCUSDT", "48900")
            _until(algos, lambda x: x.status == "FINISHED")
            closing = _until(orders, lambda x: x.client_order_id == "acc-stop" and x.status == "FILLED")
            assert closing.side == "SELL"
            assert _until(positions, lambda x: x.amount == 0).symbol == "BTCUSDT"

            # -- a listenKey expiry: a new key, a new stream, events flow again
            [old] = fake.listen_keys()
            assert fake.expire_listen_keys() == 1
            assert wait_until(lambda: bool(fake.listen_keys()) and fake.listen_keys() != [old], scaled(5))
            assert wait_until(lambda: conn.stats()["user_data"]["keys_expired"] == 1, scaled(5))
            assert wait_until(lambda: conn.ready.is_set() and fake.open_connections("private") == 1, scaled(5))
            _drain(orders)
            again = conn.rest.new_order("BTCUSDT", "BUY", "MARKET", quantity="0.005")
            assert _until(orders, lambda x: x.order_id == again["orderId"] and x.status == "FILLED")

            # -- a dropped link: an order that fills meanwhile comes back reconciled, positions too
            placed = conn.rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="0.020", price="48000",
                                         time_in_force="GTC")
            assert _until(orders, lambda x: x.order_id == placed["orderId"])
            fake.freeze("/private")
            fake.set_mark_price("BTCUSDT", "47900")  # crosses: fills while the link is frozen
            assert fake.drop_connections("/private") >= 1
            rec = _until(orders, lambda x: x.order_id == placed["orderId"] and x.is_reconciled)
            assert rec.status == "FILLED"
            pos = _until(positions, lambda x: x.is_reconciled)
            assert pos.amount == Decimal("0.025")
            assert conn.stats()["user_data"]["reconnects"] >= 1

            # -- clean up: cancel all, close the position
            conn.rest.cancel_all_orders("BTCUSDT")
            conn.rest.new_order("BTCUSDT", "SELL", "MARKET", quantity="0.025", reduce_only=True)
            assert wait_until(lambda: [x.amount for x in conn.positions()] in ([], [Decimal(0)]), scaled(5))
        assert fake.listen_key_deletes == 0  # never deleted


def test_coinm_connector_smaller_case() -> None:
    with FakeBinance(seed=11, product="coinm", market_rate=0, symbols=["BTCUSD_PERP"]) as fake:
        marks: "queue.Queue[Any]" = queue.Queue()
        orders: "queue.Queue[Any]" = queue.Queue()
        positions: "queue.Queue[Any]" = queue.Queue()
        conn = _conn(fake)
        conn.on_mark_price("BTCUSD_PERP", queue=marks)
        conn.on_order(queue=orders)
        conn.on_position(queue=positions)
        with conn:
            assert conn.wait_ready(scaled(10)), conn.stats()
            m = _publish_until(marks, lambda: fake.publish_mark_price("BTCUSD_PERP", "50000", "50001"))
            assert m.symbol == "BTCUSD_PERP"
            fake.set_mark_price("BTCUSD_PERP", "50000")
            done = conn.rest.new_order("BTCUSD_PERP", "BUY", "MARKET", quantity="2")
            assert _until(orders, lambda x: x.order_id == done["orderId"] and x.status == "FILLED")
            assert _until(positions, lambda x: x.symbol == "BTCUSD_PERP").amount == Decimal("2")
            stop = conn.rest.new_order("BTCUSD_PERP", "SELL", "STOP_MARKET", stop_price="49000", quantity="2")
            assert stop["algoId"]
            assert [r["path"] for r in fake.request_log if r["method"] == "POST"][-1] == "/dapi/v1/algoOrder"
            [old] = fake.listen_keys()
            fake.expire_listen_keys()
            assert wait_until(lambda: bool(fake.listen_keys()) and fake.listen_keys() != [old], scaled(5))
            assert wait_until(lambda: conn.ready.is_set(), scaled(5))
            fake.set_mark_price("BTCUSD_PERP", "48900")
            assert _until(positions, lambda x: x.amount == 0).symbol == "BTCUSD_PERP"


def test_usdm_agg_trade_gap_is_backfilled_over_fapi() -> None:
    """A dropped /market link leaves a hole in @aggTrade ids; it is filled from /fapi/v1/aggTrades?fromId=
    (the fake once served only the latest trades there: the gap stayed UNFILLED)."""
    with FakeBinance(["BTCUSDT"], seed=3, product="usdm", market_rate=0) as fake:
        aggs: "queue.Queue[Any]" = queue.Queue()
        gaps: "queue.Queue[Any]" = queue.Queue()
        conn = _conn(fake)
        conn.on_agg_trade("BTCUSDT", aggs.put, backfill=True)
        conn.on_gap(queue=gaps)
        with conn:
            assert conn.wait_ready(scaled(10))
            _publish_until(aggs, lambda: fake.publish_trade("BTCUSDT", "50000", "1"))
            fake.refuse_handshakes(0.5)
            fake.drop_connections("/market")
            for _ in range(5):
                fake.publish_trade("BTCUSDT", "50001", "1")  # missed while down
            assert wait_until(lambda: conn.ready.is_set(), scaled(5))
            _publish_until(gaps, lambda: fake.publish_trade("BTCUSDT", "50002", "1"))
            done = _until(gaps, lambda g: g.state != bc.GapState.OPEN)
            assert done.state == bc.GapState.FILLED and done.filled >= 1, done
            assert any(r["path"] == "/fapi/v1/aggTrades" for r in fake.request_log)
