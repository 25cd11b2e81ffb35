"""The typed account methods over REST (``responses``): Python names -> Binance names, signing,
weights booked from the endpoint table, argument validation, and the methods moved out of
``_rest/endpoints.py`` (``reconcile_order`` still finds an order through ``get_order``)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Dict, List, Tuple
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from binance_conn._api.account import AccountApi
from binance_conn._core import catalog, spec_account
from binance_conn._core.ratelimit import endpoint_weight
from binance_conn._rest.endpoints import RestEndpoints
from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn.config import Config
from binance_conn.errors import UnknownStatusError, ValidationError
from binance_conn.rest import RestClient

BASE = "https://api.test.invalid"

# method name -> (args, kwargs, expected Binance params besides recvWindow/timestamp/signature, answer)
MAPPING: Dict[str, Tuple[Tuple[Any, ...], Dict[str, Any], Dict[str, str], Any]] = {
    "account": ((), {"omit_zero_balances": True}, {"omitZeroBalances": "true"}, {"balances": []}),
    "get_order": (("btcusdt",), {"order_id": 7, "client_order_id": "c-1"},
                  {"symbol": "BTCUSDT", "orderId": "7", "origClientOrderId": "c-1"}, {"price": "1.0"}),
    "open_orders": ((), {}, {}, []),
    "all_orders": (("ethbtc",), {"order_id": 3, "start_time": 10, "end_time": 20, "limit": 5},
                   {"symbol": "ETHBTC", "orderId": "3", "startTime": "10", "endTime": "20", "limit": "5"}, []),
    "get_order_list": ((), {"list_client_order_id": "list-1"}, {"origClientOrderId": "list-1"}, {}),
    "all_order_lists": ((), {"from_id": 4, "limit": 9}, {"fromId": "4", "limit": "9"}, []),
    "open_order_lists": ((), {}, {}, []),
    "my_trades": (("bnbbtc", 12), {"from_id": 100, "limit": 3},
                  {"symbol": "BNBBTC", "orderId": "12", "fromId": "100", "limit": "3"}, []),
    "order_rate_limit": ((), {}, {}, []),
    "my_prevented_matches": (("btcusdt",), {"order_id": 5, "from_prevented_match_id": 2, "limit": 7},
                             {"symbol": "BTCUSDT", "orderId": "5", "fromPreventedMatchId": "2", "limit": "7"}, []),
    "my_allocations": (("btcusdt",), {"start_time": 1, "end_time": 2, "from_allocation_id": 3, "limit": 4,
                                      "order_id": 5},
                       {"symbol": "BTCUSDT", "startTime": "1", "endTime": "2", "fromAllocationId": "3",
                        "limit": "4", "orderId": "5"}, []),
    "commission_rates": (("btcusdt",), {}, {"symbol": "BTCUSDT"}, {}),
    "order_amendments": (("btcusdt", 9), {"from_execution_id": 22, "limit": 2},
                         {"symbol": "BTCUSDT", "orderId": "9", "fromExecutionId": "22", "limit": "2"}, []),
    "my_filters": (("btcusdt",), {}, {"symbol": "BTCUSDT"}, {}),
}


def make_client(**kw: Any) -> RestClient:
    b = (Config.builder().with_rest_url(BASE).with_api_key("k").with_api_secret("s")
         .with_backoff(base=0.01, max=0.02, jitter=0.0))
    for name, args in kw.items():
        getattr(b, name)(*args) if isinstance(args, tuple) else getattr(b, name)(args)
    return RestClient(b.build(), limiter_registry=WeightLimiterRegistry())


def add_time(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, f"{BASE}/api/v3/time", json={"serverTime": int(time.time() * 1000)})


def calls_to(rsps: responses.RequestsMock, path: str) -> List[Any]:
    return [c for c in rsps.calls if urlsplit(c.request.url).path == path]


def query_of(call: Any) -> Dict[str, str]:
    return dict(parse_qsl(urlsplit(call.request.url).query))


def test_every_account_endpoint_is_mapped() -> None:
    assert set(MAPPING) == {ep.name for ep in spec_account.ENDPOINTS}


@pytest.mark.parametrize("name", sorted(MAPPING))
@responses.activate
def test_python_names_become_binance_names(name: str) -> None:
    args, kw, expected, answer = MAPPING[name]
    ep = catalog.by_name(name)
    add_time(responses.mock)
    responses.add(ep.http or "", f"{BASE}{ep.path}", json=answer)
    client = make_client()
    getattr(client, name)(*args, **kw)
    (sent,) = calls_to(responses.mock, ep.path or "")
    q = query_of(sent)
    assert q.pop("signature") and q.pop("timestamp") and q.pop("recvWindow") == "5000"
    assert q == expected
    assert set(q) <= set(ep.params)
    assert sent.request.headers["X-MBX-APIKEY"] == "k"
    # the weight booked for this call is the table's (the REST client reserves endpoint_weight)
    assert endpoint_weight(ep.http or "", ep.path or "", q) == ep.weight_of(q)


@responses.activate
def test_extra_params_and_timeout_pass_through() -> None:
    add_time(responses.mock)
    responses.add(responses.GET, f"{BASE}/api/v3/myFilters", json={"symbolFilters": []})
    make_client().my_filters("btcusdt", recvWindow=7000, timeout=3.0)
    q = query_of(calls_to(responses.mock, "/api/v3/myFilters")[0])
    assert q["recvWindow"] == "7000" and q["symbol"] == "BTCUSDT"


@pytest.mark.parametrize("name, args, kw, field", [
    ("get_order", ("BTCUSDT",), {}, "order_id"),
    ("get_order_list", (), {}, "order_list_id"),
    ("my_prevented_matches", ("BTCUSDT",), {}, "prevented_match_id"),
    ("my_trades", ("BTCUSDT",), {"recvWindow": 5000.5}, "recvWindow"),
    ("all_orders", ("BTCUSDT",), {"limit": 1.0}, "limit"),
])
@responses.activate
def test_bad_arguments_raise_before_sending(name: str, args: Tuple[Any, ...], kw: Dict[str, Any],
                                            field: str) -> None:
    add_time(responses.mock)
    with pytest.raises(ValidationError) as info:
        getattr(make_client(), name)(*args, **kw)
    assert info.value.field == field
    assert not [c for c in responses.mock.calls if not c.request.url.endswith("/api/v3/time")]


@responses.activate
def test_float_allowed_with_the_opt_in() -> None:
    add_time(responses.mock)
    responses.add(responses.GET, f"{BASE}/api/v3/myTrades", json=[])
    # (recvWindow itself never takes a float: tests/test_config_presets.py)
    make_client(with_float_conversion=True).my_trades("BTCUSDT", someAmount=0.25)
    assert query_of(calls_to(responses.mock, "/api/v3/myTrades")[0])["someAmount"] == "0.25"


@responses.activate
def test_open_orders_without_symbol_weighs_80() -> None:
    add_time(responses.mock)
    responses.add(responses.GET, f"{BASE}/api/v3/openOrders", json=[{"symbol": "A", "price": "1.50"}])
    orders = make_client().open_orders()
    assert orders[0]["price"] == Decimal("1.50")
    q = query_of(calls_to(responses.mock, "/api/v3/openOrders")[0])
    assert "symbol" not in q and endpoint_weight("GET", "/api/v3/openOrders", q) == 80
    assert endpoint_weight("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}) == 6


def test_moved_methods_come_from_the_mixin() -> None:
    for name in MAPPING:
        assert name not in RestEndpoints.__dict__, name
        assert getattr(RestClient, name) is getattr(AccountApi, name), name


@responses.activate
def test_reconcile_order_still_queries_get_order() -> None:
    add_time(responses.mock)
    responses.add(responses.GET, f"{BASE}/api/v3/order", json={"symbol": "BTCUSDT", "clientOrderId": "bc-1",
                                                             "status": "NEW", "origQty": "1.00"})
    responses.add(responses.GET, f"{BASE}/api/v3/order", status=400,
                  json={"code": -2013, "msg": "Order does not exist."})
    client = make_client()
    err = UnknownStatusError("outcome unknown")
    err.client_order_id, err.symbol = "bc-1", "BTCUSDT"
    found = client.reconcile_order(err)
    assert found is not None and found["origQty"] == Decimal("1.00")
    q = query_of(calls_to(responses.mock, "/api/v3/order")[0])
    assert q["origClientOrderId"] == "bc-1" and q["symbol"] == "BTCUSDT" and "orderId" not in q
    assert client.reconcile_order(err) is None  # -2013: never placed


@responses.activate
def test_decimal_keys_of_account_answers() -> None:
    add_time(responses.mock)
    responses.add(responses.GET, f"{BASE}/api/v3/account/commission", json={
        "symbol": "BTCUSDT", "standardCommission": {"maker": "0.001", "taker": "0.002", "buyer": "0",
                                                    "seller": "0"},
        "discount": {"enabledForAccount": True, "discountAsset": "BNB", "discount": "0.75000000"}})
    responses.add(responses.GET, f"{BASE}/api/v3/myFilters", json={
        "exchangeFilters": [{"filterType": "EXCHANGE_MAX_NUM_ORDERS", "maxNumOrders": 1000}],
        "symbolFilters": [{"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000", "tickSize": "0.01"}],
        "assetFilters": [{"filterType": "MAX_ASSET", "asset": "JPY", "limit": "1000000.00000000"}]})
    client = make_client()
    rates = client.commission_rates("BTCUSDT")
    assert rates["standardCommission"]["taker"] == Decimal("0.002")
    assert rates["discount"]["discount"] == Decimal("0.75") and rates["discount"]["discountAsset"] == "BNB"
    filters = client.my_filters("BTCUSDT")
    assert filters["assetFilters"][0]["limit"] == Decimal(1000000) and filters["assetFilters"][0]["asset"] == "JPY"
    assert filters["symbolFilters"][0]["tickSize"] == Decimal("0.01")
    assert filters["exchangeFilters"][0]["maxNumOrders"] == 1000
