"""Futures REST against the fake exchange (``FakeBinance(product="usdm"|"coinm")``): fills and
positions (one-way and hedge), algo routing and triggering on the mark price, -4120 on the wrong
path, leverage/margin type/position mode, countdown cancel, weights, the futures user-data events."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterator, List

import pytest

from binance_conn._rest.futures import FuturesRestClient
from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn.errors import (
    OrderRejectedError,
    ParameterError,
    UnsupportedOrderError,
    WouldMatchImmediatelyError,
    WouldTriggerImmediatelyError,
)
from binance_conn.rest import RestClient
from binance_conn.testing import FakeBinance


@pytest.fixture(params=["usdm", "coinm"])
def product(request: Any) -> str:
    return str(request.param)


@pytest.fixture
def fake(product: str) -> Iterator[FakeBinance]:
    symbols = ["BTCUSDT", "ETHUSDT"] if product == "usdm" else ["BTCUSD_PERP", "ETHUSD_PERP"]
    with FakeBinance(symbols, product=product, seed=1) as f:
        yield f


@pytest.fixture
def rest(fake: FakeBinance) -> Iterator[Any]:
    c = RestClient(fake.config_builder().build(), limiter_registry=WeightLimiterRegistry())
    yield c
    c.close()


def sym(fake: FakeBinance) -> str:
    return "BTCUSDT" if fake.product == "usdm" else "BTCUSD_PERP"


def test_market_fill_makes_a_position(fake: FakeBinance, rest: Any) -> None:
    assert isinstance(rest, FuturesRestClient)
    s = sym(fake)
    fake.set_mark_price(s, "50000")
    events: List[Any] = []
    fake.futures_events.append(events.append)
    order = rest.new_order(s, "BUY", "MARKET", quantity="2", new_order_resp_type="RESULT")
    assert order["status"] == "FILLED" and order["avgPrice"] == Decimal("50000")
    pos = rest.positions(s)
    assert pos[0]["positionAmt"] == Decimal("2") and pos[0]["entryPrice"] == Decimal("50000")
    assert fake.positions(s)[0]["positionAmt"] == "2.000"
    kinds = [e["e"] for e in events]
    assert kinds == ["ORDER_TRADE_UPDATE", "TRADE_LITE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"]
    assert events[-1]["a"]["P"][0]["pa"] == "2.000"
    fake.set_mark_price(s, "51000")
    closed = rest.new_order(s, "SELL", "MARKET", quantity="2", reduce_only=True)
    assert closed["status"] == "FILLED"
    assert rest.positions(s)[0]["positionAmt"] == 0
    pnl = [t["realizedPnl"] for t in rest.my_trades(s)]
    assert pnl[0] == 0 and pnl[1] > 0
    assert any(i["incomeType"] == "REALIZED_PNL" for i in rest.income())


def test_conditional_order_goes_to_algo_and_triggers(fake: FakeBinance, rest: Any) -> None:
    s = sym(fake)
    fake.set_mark_price(s, "50000")
    rest.new_order(s, "BUY", "MARKET", quantity="1")
    events: List[Any] = []
    fake.futures_events.append(events.append)
    algo = rest.new_order(s, "SELL", "STOP_MARKET", stop_price="49000", close_position=True,
                          client_order_id="stop-1")
    assert algo["algoId"] and algo["algoStatus"] == "NEW" and algo["clientAlgoId"] == "stop-1"
    paths = [r["path"] for r in fake.request_log if r["method"] == "POST"]
    assert paths[-1].endswith("/v1/algoOrder")
    assert [a["algoId"] for a in rest.open_algo_orders(s)] == [algo["algoId"]]
    assert rest.get_order(s, client_order_id="stop-1")["algoId"] == algo["algoId"]  # algo fallback
    fake.set_mark_price(s, "48900")
    assert rest.get_order(s, algo_id=algo["algoId"])["algoStatus"] == "FINISHED"
    assert rest.positions(s)[0]["positionAmt"] == 0
    assert "ALGO_UPDATE" in [e["e"] for e in events] and "ACCOUNT_UPDATE" in [e["e"] for e in events]
    with pytest.raises(WouldTriggerImmediatelyError):
        rest.new_order(s, "SELL", "STOP_MARKET", stop_price="49000", quantity="1")
    cancelled = rest.new_order(s, "BUY", "TAKE_PROFIT_MARKET", stop_price="40000", quantity="1")
    rest.cancel_order(s, algo_id=cancelled["algoId"])
    assert rest.open_algo_orders() == []


def test_conditional_type_on_order_path_is_minus_4120(fake: FakeBinance, rest: Any) -> None:
    p = "/dapi" if fake.product == "coinm" else "/fapi"
    with pytest.raises(UnsupportedOrderError) as info:
        rest.request("POST", f"{p}/v1/order", {"symbol": sym(fake), "side": "SELL", "type": "STOP_MARKET",
                                               "quantity": "1", "stopPrice": "1"}, signed=True)
    assert info.value.binance_code == -4120 and info.value.code == "use_algo_order"


def test_limit_rests_then_fills_on_the_mark(fake: FakeBinance, rest: Any) -> None:
    s = sym(fake)
    fake.set_mark_price(s, "50000")
    o = rest.new_order(s, "BUY", "LIMIT", quantity="1", price="49500", time_in_force="GTC")
    assert o["status"] == "NEW" and [x["orderId"] for x in rest.open_orders(s)] == [o["orderId"]]
    rest.modify_order(s, "BUY", order_id=o["orderId"], quantity="2", price="49600")
    fake.set_mark_price(s, "49550")
    got = rest.get_order(s, o["orderId"])
    assert got["status"] == "FILLED" and got["executedQty"] == Decimal("2")
    assert rest.positions(s)[0]["entryPrice"] == Decimal("49600")
    with pytest.raises(WouldMatchImmediatelyError):
        rest.new_order(s, "BUY", "LIMIT", quantity="1", price="60000", time_in_force="GTX")


def test_hedge_mode_leverage_margin_type(fake: FakeBinance, rest: Any) -> None:
    s = sym(fake)
    assert rest.position_mode() is False
    rest.set_position_mode(True)
    with pytest.raises(OrderRejectedError) as info:
        rest.set_position_mode(True)
    assert info.value.binance_code == -4059 and info.value.code == "no_change"
    with pytest.raises(ParameterError):  # -4061: BOTH in hedge mode
        rest.new_order(s, "BUY", "MARKET", quantity="1")
    fake.set_mark_price(s, "50000")
    rest.new_order(s, "BUY", "MARKET", quantity="1", position_side="LONG")
    rest.new_order(s, "SELL", "MARKET", quantity="3", position_side="SHORT")
    rows = {r["positionSide"]: r["positionAmt"] for r in rest.positions(s)}
    assert rows == {"LONG": Decimal("1"), "SHORT": Decimal("-3")}
    assert rest.set_leverage(s, 25)["leverage"] == 25
    rest.set_margin_type("ETHUSDT" if fake.product == "usdm" else "ETHUSD_PERP", "ISOLATED")
    with pytest.raises(OrderRejectedError) as info:
        rest.set_margin_type(s, "ISOLATED")  # a position exists
    assert info.value.binance_code == -4048


def test_cancel_all_countdown_and_batch(fake: FakeBinance, rest: Any) -> None:
    s = sym(fake)
    fake.set_mark_price(s, "50000")
    out = rest.new_batch_orders([{"symbol": s, "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "40000",
                                  "timeInForce": "GTC"},
                                 {"symbol": s, "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "60000",
                                  "timeInForce": "GTX"}])
    assert out[0]["status"] == "NEW" and out[1]["code"] == -5022
    rest.cancel_all_orders(s)
    assert rest.open_orders(s) == []
    rest.new_order(s, "BUY", "LIMIT", quantity="1", price="40000", time_in_force="GTC")
    assert rest.countdown_cancel_all(s, 1000)["countdownTime"] == "1000"
    now = fake.now_ms()
    fake.set_clock(now + 2000)
    fake.set_mark_price(s, "50001")  # any engine activity runs the countdown check
    fake.set_clock(None)
    assert rest.open_orders(s) == []


def test_weights_and_limits(fake: FakeBinance, rest: Any) -> None:
    info = rest.exchange_info()
    assert info["symbols"][0]["pricePrecision"] == 2
    assert rest.weight_limits == {"1M": 2400}
    assert rest.order_limits["1M"] == 1200
    rest.depth(sym(fake), 1000)
    log = fake.request_log
    assert log[-1]["headers"] is not None
    assert fake.weights.limit == 2400
    rest.sync_clock()
    used_before = fake.weights.used()
    rest.new_order(sym(fake), "BUY", "MARKET", quantity="1")
    assert fake.weights.used() == used_before  # a successful placement costs no IP weight


def test_listen_key_and_account(fake: FakeBinance, rest: Any) -> None:
    key = rest.new_listen_key()
    assert rest.new_listen_key() == key
    assert rest.keepalive_listen_key(key)["listenKey"] == key
    rest.close_listen_key(key)
    assert rest.balance()[0]["balance"] == Decimal("100000")
    assert rest.account()["totalWalletBalance"] >= Decimal("100000")
    assert rest.commission_rate(sym(fake))["takerCommissionRate"] == Decimal("0.0004")


def test_connector_rest_is_the_futures_client(fake: FakeBinance) -> None:
    import binance_conn as bc

    conn = bc.Connector(fake.config_builder().build())
    try:
        assert isinstance(conn.rest, FuturesRestClient)
        seen: List[Any] = []
        conn.rest.order_observer = seen.append  # the connector's placement tracking, as for spot
        fake.set_mark_price(sym(fake), "50000")
        conn.rest.new_order(sym(fake), "BUY", "MARKET", quantity="1")
        assert seen and seen[0]["symbol"] == sym(fake)
        assert conn.rest.probe(2.0) == {}  # the liveness probe hits the futures ping
    finally:
        conn.rest.close()
