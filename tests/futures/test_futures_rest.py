"""Futures REST (USD-M /fapi, COIN-M /dapi) with ``responses``: every typed method's request shape
and weight, algo routing of conditional types, client ids, the futures error table, the client picked
by ``RestClient(cfg)``, and spot left as it was."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Callable, Dict, List, Tuple
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

import binance_conn as bc
from binance_conn._core import catalog
from binance_conn._core.ratelimit import endpoint_weight
from binance_conn._core.spec_futures import futures_depth_weight, futures_klines_weight
from binance_conn._rest.futures import FuturesRestClient
from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn._rest.tracking import TrackingRestClient
from binance_conn.errors import (
    FilterFailureError,
    InsufficientBalanceError,
    NotFoundError,
    UnknownStatusError,
    UnsupportedOrderError,
    ValidationError,
    WouldMatchImmediatelyError,
    WouldTriggerImmediatelyError,
    error_for_code,
    error_from_response,
)
from binance_conn.rest import RestClient

BASE = "https://fapi.test.invalid"
DBASE = "https://dapi.test.invalid"


def config(product: str = "usdm", base: str = BASE, **kw: Any) -> Any:
    preset = {"usdm": "binance-usdm", "coinm": "binance-coinm", "spot": "binance"}[product]
    b = (bc.Config.builder().with_exchange(preset).with_rest_url(base).with_api_key("k" * 64)
         .with_api_secret("s" * 64).with_backoff(base=0.01, max=0.02, jitter=0.0))
    return b.build()


def client(product: str = "usdm", base: str = BASE) -> Any:
    return RestClient(config(product, base), limiter_registry=WeightLimiterRegistry())


ORDER = {"orderId": 7, "clientOrderId": "x", "symbol": "BTCUSDT", "price": "100.5", "origQty": "0.010",
         "executedQty": "0", "avgPrice": "0.00", "cumQuote": "0", "status": "NEW", "positionSide": "BOTH"}
ALGO = {"algoId": 9, "clientAlgoId": "y", "algoType": "CONDITIONAL", "orderType": "STOP_MARKET",
        "triggerPrice": "90.0", "quantity": "0.010", "algoStatus": "NEW", "activatePrice": ""}
NO_ORDER = {"code": -2013, "msg": "Order does not exist."}
POSITION = {"symbol": "BTCUSDT", "positionSide": "BOTH", "positionAmt": "-0.010", "entryPrice": "100.0",
            "markPrice": "101.0", "unRealizedProfit": "-0.01", "notional": "-1.01"}


def answer(method: str, path: str) -> Any:
    tail = path.split("/", 3)[-1]
    if tail.endswith("exchangeInfo"):
        return {"rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                                "limit": 2400},
                               {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
                               {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200}],
                "symbols": [{"symbol": "BTCUSDT", "pricePrecision": 2, "quantityPrecision": 3}]}
    table: Dict[str, Any] = {
        "time": {"serverTime": 1}, "ping": {}, "depth": {"lastUpdateId": 5, "bids": [["1.5", "2"]], "asks": []},
        "trades": [{"id": 1, "price": "1.5", "qty": "2"}], "aggTrades": [{"a": 1, "p": "1.5", "q": "2"}],
        "klines": [[0, "1", "2", "0.5", "1.5", "10", 59999, "15", 3, "5", "7", "0"]],
        "markPriceKlines": [[0, "1", "2", "0.5", "1.5", "0", 59999, "0", 3, "0", "0", "0"]],
        "ticker/price": {"symbol": "BTCUSDT", "price": "101.5"}, "ticker/bookTicker": {"bidPrice": "1"},
        "ticker/24hr": {"lastPrice": "1.25"},
        "premiumIndex": {"symbol": "BTCUSDT", "markPrice": "101.25", "lastFundingRate": "0.0001"},
        "fundingRate": [{"fundingRate": "0.0001", "markPrice": "1"}], "openInterest": {"openInterest": "12.5"},
        "order": ORDER, "algoOrder": ALGO,
        "batchOrders": [ORDER, {"code": -2022, "msg": "ReduceOnly Order is rejected."}],
        "allOpenOrders": {"code": 200, "msg": "ok"}, "algoOpenOrders": {"code": 200, "msg": "ok"},
        "countdownCancelAll": {"symbol": "BTCUSDT", "countdownTime": "100000"},
        "openOrders": [ORDER], "openAlgoOrders": [ALGO], "allOrders": [ORDER],
        "userTrades": [{"price": "1", "qty": "2", "realizedPnl": "0.5", "commission": "0.01"}],
        "positionRisk": [POSITION], "account": {"totalWalletBalance": "100.5", "assets": [], "positions": []},
        "balance": [{"asset": "USDT", "balance": "100.5", "availableBalance": "99"}],
        "leverage": {"leverage": 20, "maxNotionalValue": "1000000", "symbol": "BTCUSDT"},
        "marginType": {"code": 200, "msg": "success"},
        "positionSide/dual": {"dualSidePosition": True} if method == "GET" else {"code": 200, "msg": "success"},
        "income": [{"income": "-0.375", "asset": "USDT"}],
        "commissionRate": {"makerCommissionRate": "0.0002", "takerCommissionRate": "0.0004"},
        "rateLimit/order": [], "listenKey": {"listenKey": "abc"},
    }
    return table[tail]


@pytest.fixture
def rsps() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in ("GET", "POST", "PUT", "DELETE"):
            for base in (BASE, DBASE):
                mock.add_callback(method, __import__("re").compile(base + r"/[fd]api/.*"),
                                  callback=lambda req: (200, {}, json.dumps(
                                      answer(req.method, urlsplit(req.url).path))))
        yield mock


def sent(mock: Any, keep_time: bool = False) -> List[Tuple[str, str, Dict[str, str]]]:
    out = []
    for c in mock.calls:
        parts = urlsplit(c.request.url)
        if keep_time or not parts.path.endswith("/time"):
            out.append((c.request.method, parts.path, dict(parse_qsl(parts.query))))
    return out


# (call, method, path, params that must be sent, weight)
CASES: List[Tuple[str, Callable[[Any], Any], str, str, Dict[str, str], int]] = [
    ("ping", lambda c: c.ping(), "GET", "/fapi/v1/ping", {}, 1),
    ("server_time", lambda c: c.server_time(), "GET", "/fapi/v1/time", {}, 1),
    ("exchange_info", lambda c: c.exchange_info(), "GET", "/fapi/v1/exchangeInfo", {}, 1),
    ("depth", lambda c: c.depth("btcusdt", 1000), "GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": "1000"},
     20),
    ("trades", lambda c: c.trades("BTCUSDT", limit=10), "GET", "/fapi/v1/trades", {"limit": "10"}, 5),
    ("agg_trades", lambda c: c.agg_trades("BTCUSDT", from_id=3), "GET", "/fapi/v1/aggTrades", {"fromId": "3"}, 20),
    ("klines", lambda c: c.klines("BTCUSDT", "1m", limit=1500), "GET", "/fapi/v1/klines",
     {"interval": "1m", "limit": "1500"}, 10),
    ("mark_price_klines", lambda c: c.mark_price_klines("BTCUSDT", "1h", limit=99), "GET",
     "/fapi/v1/markPriceKlines", {"limit": "99"}, 1),
    ("ticker_price", lambda c: c.ticker_price("BTCUSDT"), "GET", "/fapi/v2/ticker/price", {"symbol": "BTCUSDT"}, 1),
    ("book_ticker", lambda c: c.book_ticker(), "GET", "/fapi/v1/ticker/bookTicker", {}, 5),
    ("ticker_24hr", lambda c: c.ticker_24hr("BTCUSDT"), "GET", "/fapi/v1/ticker/24hr", {"symbol": "BTCUSDT"}, 1),
    ("premium_index", lambda c: c.premium_index(), "GET", "/fapi/v1/premiumIndex", {}, 10),
    ("mark_price", lambda c: c.mark_price("BTCUSDT"), "GET", "/fapi/v1/premiumIndex", {"symbol": "BTCUSDT"}, 1),
    ("funding_rate_history", lambda c: c.funding_rate_history("BTCUSDT", limit=5), "GET", "/fapi/v1/fundingRate",
     {"limit": "5"}, 1),
    ("open_interest", lambda c: c.open_interest("BTCUSDT"), "GET", "/fapi/v1/openInterest", {"symbol": "BTCUSDT"}, 1),
    ("new_order", lambda c: c.new_order("BTCUSDT", "BUY", "LIMIT", quantity="0.010", price=Decimal("100.5"),
                                        time_in_force="GTX", position_side="LONG", self_trade_prevention_mode=
                                        "EXPIRE_MAKER", price_match=None),
     "POST", "/fapi/v1/order", {"type": "LIMIT", "timeInForce": "GTX", "positionSide": "LONG", "price": "100.5",
                                "quantity": "0.010", "selfTradePreventionMode": "EXPIRE_MAKER"}, 1),
    ("new_order GTD", lambda c: c.new_order("BTCUSDT", "SELL", "LIMIT", quantity="1", price="2", time_in_force="GTD",
                                            good_till_date=1_900_000_000_000, reduce_only=True),
     "POST", "/fapi/v1/order", {"goodTillDate": "1900000000000", "reduceOnly": "true"}, 1),
    ("new_order STOP_MARKET -> algo", lambda c: c.new_order("BTCUSDT", "SELL", "STOP_MARKET", stop_price="90",
                                                            close_position=True, working_type="MARK_PRICE"),
     "POST", "/fapi/v1/algoOrder", {"algoType": "CONDITIONAL", "type": "STOP_MARKET", "triggerPrice": "90",
                                    "closePosition": "true", "workingType": "MARK_PRICE"}, 1),
    ("new_order TRAILING -> algo", lambda c: c.new_order("BTCUSDT", "SELL", "TRAILING_STOP_MARKET", quantity="1",
                                                         activation_price="110", callback_rate="1.5"),
     "POST", "/fapi/v1/algoOrder", {"activatePrice": "110", "callbackRate": "1.5"}, 1),
    ("new_batch_orders", lambda c: c.new_batch_orders([{"symbol": "btcusdt", "side": "BUY", "type": "LIMIT",
                                                        "quantity": "1", "price": "2", "timeInForce": "GTC"}]),
     "POST", "/fapi/v1/batchOrders", {}, 5),
    ("cancel_order", lambda c: c.cancel_order("BTCUSDT", 7), "DELETE", "/fapi/v1/order", {"orderId": "7"}, 1),
    ("cancel_order algo", lambda c: c.cancel_order("BTCUSDT", algo_id=9), "DELETE", "/fapi/v1/algoOrder",
     {"algoId": "9"}, 1),
    ("cancel_all_orders", lambda c: c.cancel_all_orders("BTCUSDT", algo=False), "DELETE", "/fapi/v1/allOpenOrders",
     {"symbol": "BTCUSDT"}, 1),
    ("countdown_cancel_all", lambda c: c.countdown_cancel_all("BTCUSDT", 120000), "POST",
     "/fapi/v1/countdownCancelAll", {"countdownTime": "120000"}, 10),
    ("modify_order", lambda c: c.modify_order("BTCUSDT", "BUY", order_id=7, quantity="1", price="3"), "PUT",
     "/fapi/v1/order", {"orderId": "7", "quantity": "1", "price": "3", "side": "BUY"}, 1),
    ("get_order", lambda c: c.get_order("BTCUSDT", client_order_id="abc"), "GET", "/fapi/v1/order",
     {"origClientOrderId": "abc"}, 1),
    ("get_order algo", lambda c: c.get_order("BTCUSDT", client_algo_id="abc"), "GET", "/fapi/v1/algoOrder",
     {"clientAlgoId": "abc"}, 1),
    ("open_orders", lambda c: c.open_orders(), "GET", "/fapi/v1/openOrders", {}, 40),
    ("open_algo_orders", lambda c: c.open_algo_orders("BTCUSDT"), "GET", "/fapi/v1/openAlgoOrders",
     {"symbol": "BTCUSDT"}, 1),
    ("all_orders", lambda c: c.all_orders("BTCUSDT", limit=10), "GET", "/fapi/v1/allOrders", {"limit": "10"}, 5),
    ("my_trades", lambda c: c.my_trades("BTCUSDT", from_id=2), "GET", "/fapi/v1/userTrades", {"fromId": "2"}, 5),
    ("positions", lambda c: c.positions("BTCUSDT"), "GET", "/fapi/v3/positionRisk", {"symbol": "BTCUSDT"}, 5),
    ("account", lambda c: c.account(), "GET", "/fapi/v3/account", {}, 5),
    ("balance", lambda c: c.balance(), "GET", "/fapi/v3/balance", {}, 5),
    ("set_leverage", lambda c: c.set_leverage("BTCUSDT", 20), "POST", "/fapi/v1/leverage", {"leverage": "20"}, 1),
    ("set_margin_type", lambda c: c.set_margin_type("BTCUSDT", "isolated"), "POST", "/fapi/v1/marginType",
     {"marginType": "ISOLATED"}, 1),
    ("set_position_mode", lambda c: c.set_position_mode(True), "POST", "/fapi/v1/positionSide/dual",
     {"dualSidePosition": "true"}, 1),
    ("position_mode", lambda c: c.position_mode(), "GET", "/fapi/v1/positionSide/dual", {}, 30),
    ("income", lambda c: c.income(income_type="FUNDING_FEE"), "GET", "/fapi/v1/income", {"incomeType": "FUNDING_FEE"},
     30),
    ("commission_rate", lambda c: c.commission_rate("BTCUSDT"), "GET", "/fapi/v1/commissionRate", {}, 20),
    ("order_rate_limit", lambda c: c.order_rate_limit(), "GET", "/fapi/v1/rateLimit/order", {}, 1),
    ("new_listen_key", lambda c: c.new_listen_key(), "POST", "/fapi/v1/listenKey", {}, 1),
    ("keepalive_listen_key", lambda c: c.keepalive_listen_key("abc"), "PUT", "/fapi/v1/listenKey",
     {"listenKey": "abc"}, 1),
    ("close_listen_key", lambda c: c.close_listen_key("abc"), "DELETE", "/fapi/v1/listenKey", {"listenKey": "abc"}, 1),
]


@pytest.mark.parametrize("name,call,method,path,params,weight", CASES, ids=[c[0] for c in CASES])
def test_request_shape_and_weight(rsps: Any, name: str, call: Callable[[Any], Any], method: str, path: str,
                                  params: Dict[str, str], weight: int) -> None:
    c = client()
    call(c)
    calls = [s for s in sent(rsps, path.endswith("/time"))
             if s[1] != "/fapi/v1/exchangeInfo" or path.endswith("exchangeInfo")]
    assert calls, name
    m, p, q = calls[0]
    assert (m, p) == (method, path)
    for k, v in params.items():
        assert q.get(k) == v, (k, q)
    ep = catalog.lookup(method, path)
    assert ep is not None
    assert endpoint_weight(method, path, q) == weight
    signed = ep.signed
    assert ("signature" in q) is signed
    if ep.places_order:
        assert q.get(ep.order_id_param or "")


def test_placements_always_carry_a_client_id(rsps: Any) -> None:
    c = client()
    c.new_order("BTCUSDT", "BUY", "MARKET", quantity="1")
    c.new_order("BTCUSDT", "BUY", "STOP", quantity="1", price="2", stop_price="3", client_order_id="mine-1")
    c.new_batch_orders([{"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}])
    (_, _, q1), (_, p2, q2), (_, _, q3) = sent(rsps)
    assert q1["newClientOrderId"].startswith("bc-")
    assert p2 == "/fapi/v1/algoOrder" and q2["clientAlgoId"] == "mine-1" and "newClientOrderId" not in q2
    items = json.loads(q3["batchOrders"])
    assert items[0]["newClientOrderId"].startswith("bc-") and items[0]["quantity"] == "1"


def test_answers_are_decimal(rsps: Any) -> None:
    c = client()
    assert c.positions()[0]["positionAmt"] == Decimal("-0.010")
    assert c.new_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="2", time_in_force="GTC")["price"] == \
        Decimal("100.5")
    algo = c.new_order("BTCUSDT", "SELL", "STOP_MARKET", stop_price="90", quantity="1")
    assert algo["triggerPrice"] == Decimal("90.0") and algo["activatePrice"] == ""
    assert c.klines("BTCUSDT", "1m")[0][4] == Decimal("1.5")
    assert c.mark_price("BTCUSDT") == Decimal("101.25")
    assert c.depth("BTCUSDT")["bids"] == [[Decimal("1.5"), Decimal("2")]]
    assert c.balance()[0]["balance"] == Decimal("100.5")
    assert c.income()[0]["income"] == Decimal("-0.375")
    batch = c.new_batch_orders([{"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}])
    assert batch[1] == {"code": -2022, "msg": "ReduceOnly Order is rejected."}
    assert c.position_mode() is True


def test_validation_before_sending(rsps: Any) -> None:
    c = client()
    bad: List[Tuple[str, Callable[[], Any]]] = [
        ("quantity", lambda: c.new_order("BTCUSDT", "BUY", "LIMIT", quantity=1.5, price="1")),
        ("stop_price", lambda: c.new_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="1", stop_price="2")),
        ("stop_price", lambda: c.new_order("BTCUSDT", "BUY", "STOP_MARKET", quantity="1")),
        ("time_in_force", lambda: c.new_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="1",
                                              time_in_force="DAY")),
        ("good_till_date", lambda: c.new_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="1",
                                               time_in_force="GTC", good_till_date=1)),
        ("quantity", lambda: c.new_algo_order("BTCUSDT", "SELL", "STOP_MARKET", quantity="1", trigger_price="1",
                                              close_position=True)),
        ("orders", lambda: c.new_batch_orders([{"symbol": "X"}] * 6)),
        ("orders[0].type", lambda: c.new_batch_orders([{"symbol": "X", "type": "STOP"}])),
        ("leverage", lambda: c.set_leverage("BTCUSDT", 0)),
        ("margin_type", lambda: c.set_margin_type("BTCUSDT", "CROSS")),
        ("limit", lambda: c.depth("BTCUSDT", 5000)),
        ("limit", lambda: c.klines("BTCUSDT", "1m", limit=1501)),
        ("dual", lambda: c.set_position_mode("true")),  # type: ignore[arg-type]
        ("countdown_time", lambda: c.countdown_cancel_all("BTCUSDT", -1)),
        ("method", lambda: c.new_oco("BTCUSDT", "SELL", "1", "12", "9")),
        ("method", lambda: c.avg_price("BTCUSDT")),
    ]
    for field, call in bad:
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.field == field
    assert sent(rsps) == []


def test_coinm_paths_and_weights(rsps: Any) -> None:
    c = client("coinm", DBASE)
    c.positions()
    c.balance()
    c.account()
    c.ticker_price("BTCUSD_PERP")
    c.new_order("BTCUSD_PERP", "SELL", "TAKE_PROFIT_MARKET", quantity="1", stop_price="1")
    paths = [(m, p) for m, p, _ in sent(rsps)]
    assert paths == [("GET", "/dapi/v1/positionRisk"), ("GET", "/dapi/v1/balance"), ("GET", "/dapi/v1/account"),
                     ("GET", "/dapi/v1/ticker/price"), ("POST", "/dapi/v1/algoOrder")]
    assert endpoint_weight("GET", "/dapi/v1/positionRisk") == 1
    assert endpoint_weight("GET", "/dapi/v1/premiumIndex", {"symbol": "X"}) == 10
    assert endpoint_weight("GET", "/dapi/v1/allOrders", {"symbol": "X"}) == 20


def test_weight_rules() -> None:
    assert [futures_depth_weight({"limit": n}) for n in (5, 10, 20, 50, 100, 500, 1000)] == [2, 2, 2, 2, 5, 10, 20]
    assert futures_depth_weight({}) == 10
    assert [futures_klines_weight({"limit": n}) for n in (1, 99, 100, 499, 500, 1000, 1001, 1500)] == \
        [1, 1, 2, 2, 5, 5, 10, 10]
    assert futures_klines_weight({}) == 5
    assert endpoint_weight("GET", "/fapi/v1/openOrders", {"symbol": "X"}) == 1
    assert endpoint_weight("GET", "/fapi/v2/ticker/price", {}) == 2
    # spot unchanged
    assert endpoint_weight("GET", "/api/v3/depth", {"limit": 1000}) == 50
    assert endpoint_weight("GET", "/api/v3/openOrders", {}) == 80


def test_futures_client_is_picked_by_config(rsps: Any) -> None:
    usdm = RestClient(config(), limiter_registry=WeightLimiterRegistry())
    assert isinstance(usdm, FuturesRestClient) and usdm.weight_limits == {"1M": 2400}
    tracking = TrackingRestClient(config(), limiter_registry=WeightLimiterRegistry())
    assert isinstance(tracking, FuturesRestClient) and isinstance(tracking, TrackingRestClient)
    assert type(TrackingRestClient(config(), limiter_registry=WeightLimiterRegistry())) is type(tracking)
    spot = RestClient(config("spot", "https://api.test.invalid"), limiter_registry=WeightLimiterRegistry())
    assert type(spot) is RestClient and spot.weight_limits == {"1M": 6000}
    assert bc.RestClient is RestClient


def test_exchange_info_seeds_limits(rsps: Any) -> None:
    c = client()
    info = c.exchange_info()
    assert info["symbols"][0]["pricePrecision"] == 2
    assert c.weight_limits == {"1M": 2400}
    assert c.order_limits == {"10S": 300, "1M": 1200}
    c.exchange_info()
    assert len([s for s in sent(rsps) if s[1].endswith("exchangeInfo")]) == 1  # cached


def test_unknown_outcome_carries_the_client_id() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, f"{BASE}/fapi/v1/time", json={"serverTime": 1})
        mock.add(responses.POST, f"{BASE}/fapi/v1/algoOrder", status=503,
                 json={"code": -1000, "msg": "Unknown error, please check your request or try again later."})
        mock.add(responses.GET, f"{BASE}/fapi/v1/order", status=400, json=NO_ORDER)
        mock.add(responses.GET, f"{BASE}/fapi/v1/algoOrder", json=ALGO)
        c = client()
        with pytest.raises(UnknownStatusError) as info:
            c.new_order("BTCUSDT", "SELL", "STOP_MARKET", quantity="1", stop_price="90", client_order_id="algo-1")
        err = info.value
        assert err.client_order_id == "algo-1" and err.symbol == "BTCUSDT"
        assert err.details["client_algo_id"] == "algo-1"
        assert len([c_ for c_ in mock.calls if c_.request.method == "POST"]) == 1  # never re-sent
        found = c.reconcile_order(err)  # /order does not know it: the algo order of that client id
        assert found["algoId"] == 9


def test_get_order_unknown_everywhere_is_not_found() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, f"{BASE}/fapi/v1/time", json={"serverTime": 1})
        mock.add(responses.GET, f"{BASE}/fapi/v1/order", status=400, json=NO_ORDER)
        mock.add(responses.GET, f"{BASE}/fapi/v1/algoOrder", status=400,
                 json={"code": -2013, "msg": "Order does not exist."})
        c = client()
        with pytest.raises(NotFoundError):
            c.get_order("BTCUSDT", client_order_id="nope")
        with pytest.raises(NotFoundError):
            c.get_order("BTCUSDT", order_id=5)  # by id: no algo fallback
        assert len([x for x in mock.calls if x.request.url.split("?")[0].endswith("algoOrder")]) == 1


@pytest.mark.parametrize("code,cls,slug", [
    (-4120, UnsupportedOrderError, "use_algo_order"),
    (-2019, InsufficientBalanceError, "margin_insufficient"),
    (-2021, WouldTriggerImmediatelyError, "would_trigger_immediately"),
    (-5022, WouldMatchImmediatelyError, None),
    (-4164, FilterFailureError, None),
    (-4014, FilterFailureError, None),
])
def test_futures_error_codes(code: int, cls: type, slug: Any) -> None:
    body = json.dumps({"code": code, "msg": "m"}).encode()
    err = error_from_response(400, {}, body, product="usdm")
    assert type(err) is cls
    if slug:
        assert err.code == slug
    assert err.details["binance_name"]
    assert error_for_code(code, "m", "coinm") is cls


def test_colliding_codes_depend_on_the_product() -> None:
    body = json.dumps({"code": -2021, "msg": "Order would immediately trigger."}).encode()
    assert type(error_from_response(400, {}, body)).__name__ == "CancelReplaceError"  # spot unchanged
    assert type(error_from_response(400, {}, body, product="usdm")) is WouldTriggerImmediatelyError
    assert type(error_from_response(400, {}, json.dumps({"code": -2026, "msg": "x"}).encode())).__name__ == \
        "OrderArchivedError"
    assert type(error_from_response(400, {}, json.dumps({"code": -2026, "msg": "x"}).encode(), product="usdm")) is \
        UnsupportedOrderError
    assert error_from_response(400, {}, json.dumps({"code": -4164, "msg": "x"}).encode(),
                               product="usdm").filter == "MIN_NOTIONAL"  # type: ignore[attr-defined]
    assert error_for_code(-4120) is bc.APIError  # not a spot code


def test_client_maps_with_the_futures_table() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, f"{BASE}/fapi/v1/time", json={"serverTime": 1})
        mock.add(responses.POST, f"{BASE}/fapi/v1/order", status=400,
                 json={"code": -4120, "msg": "Order type not supported for this endpoint. Please use the Algo Order "
                                             "API endpoints instead."})
        c = client()
        with pytest.raises(UnsupportedOrderError) as info:
            c.request("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "STOP_MARKET"},
                      signed=True)
        assert info.value.code == "use_algo_order" and info.value.binance_code == -4120
