"""Trading typed methods over REST (``responses``) and the WebSocket API (a stub link): parameter
mapping, FULL answers by default, client ids always sent, unknown outcomes carrying the id,
validation, weights."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

import binance_conn as bc
from binance_conn._core.ratelimit import endpoint_weight
from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn._userdata.client import WsApiClient
from binance_conn.errors import UnknownStatusError, ValidationError
from binance_conn.rest import RestClient

BASE = "https://api.test.invalid"
CID = r"^[a-zA-Z0-9\-_]{1,36}$"


def client(**kw: Any) -> RestClient:
    b = (bc.Config.builder().with_rest_url(BASE).with_api_key("k" * 64).with_api_secret("s" * 64)
         .with_backoff(base=0.01, max=0.02, jitter=0.0))
    if kw.get("allow_float"):
        b = b.with_float_conversion(True)
    return RestClient(b.build(), limiter_registry=WeightLimiterRegistry())


_MOCK: List[Any] = []


def sent(path: str, method: str = "") -> List[Dict[str, str]]:
    out = []
    for c in _MOCK[-1].calls:
        parts = urlsplit(c.request.url)
        if parts.path == path and (not method or c.request.method == method):
            out.append(dict(parse_qsl(parts.query)))
    return out


@pytest.fixture
def rsps() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, f"{BASE}/api/v3/time", json={"serverTime": 1})
        _MOCK.append(mock)
        yield mock
        _MOCK.clear()


PLACEMENTS: Dict[str, Callable[[Any], Any]] = {
    "/api/v3/order": lambda c: c.new_order("BTCUSDT", "BUY", "LIMIT_MAKER", quantity="1", price="10"),
    "/api/v3/order/cancelReplace": lambda c: c.cancel_replace("btcusdt", "BUY", "STOP_LOSS_LIMIT", "ALLOW_FAILURE",
                                                              cancel_order_id=1, quantity="1", price="9",
                                                              stop_price="9.5", time_in_force="GTC"),
    "/api/v3/order/oco": lambda c: c.new_oco("BTCUSDT", "SELL", "1", "12", "9", stop_limit_price="8.9",
                                             stop_limit_time_in_force="GTC"),
    "/api/v3/orderList/oco": lambda c: c.new_order_list_oco("BTCUSDT", "SELL", "1", "LIMIT_MAKER", "STOP_LOSS",
                                                            above_price="12", below_stop_price="9"),
    "/api/v3/orderList/oto": lambda c: c.new_order_list_oto("BTCUSDT", "LIMIT", "BUY", "10", "1", "LIMIT_MAKER",
                                                            "SELL", "1", working_time_in_force="GTC",
                                                            pending_price="12"),
    "/api/v3/orderList/otoco": lambda c: c.new_order_list_otoco("BTCUSDT", "LIMIT", "BUY", "10", "1", "SELL", "1",
                                                                "LIMIT_MAKER", pending_below_type="STOP_LOSS",
                                                                working_time_in_force="GTC",
                                                                pending_above_price="12",
                                                                pendingBelowStopPrice="9"),
    "/api/v3/orderList/opo": lambda c: c.new_order_list_opo("BTCUSDT", "LIMIT", "BUY", "10", "1", "LIMIT_MAKER",
                                                            "SELL", working_time_in_force="GTC", pending_price="12"),
    "/api/v3/orderList/opoco": lambda c: c.new_order_list_opoco("BTCUSDT", "LIMIT", "BUY", "10", "1", "SELL",
                                                                "LIMIT_MAKER", pending_below_type="STOP_LOSS",
                                                                working_time_in_force="GTC",
                                                                pending_above_price="12",
                                                                pending_below_stop_price="9"),
    "/api/v3/sor/order": lambda c: c.new_sor_order("BTCUSDT", "BUY", "LIMIT", "1", price="10", time_in_force="GTC"),
}
ID_PARAM = {p: ("listClientOrderId" if "oco" in p or "orderList" in p else "newClientOrderId") for p in PLACEMENTS}


@pytest.mark.parametrize("path", list(PLACEMENTS))
def test_placement_sends_full_and_a_client_id(rsps: Any, path: str) -> None:
    rsps.add(responses.POST, f"{BASE}{path}", json={"orderListId": 1, "orderId": 1})
    PLACEMENTS[path](client())
    q = sent(path)[0]
    assert q["newOrderRespType"] == "FULL"
    assert q["symbol"] == "BTCUSDT"
    assert re.match(CID, q[ID_PARAM[path]])
    if ID_PARAM[path] == "listClientOrderId":
        assert "newClientOrderId" not in q


def test_list_legs_by_python_and_binance_name(rsps: Any) -> None:
    rsps.add(responses.POST, f"{BASE}/api/v3/orderList/otoco", json={})
    PLACEMENTS["/api/v3/orderList/otoco"](client())
    q = sent("/api/v3/orderList/otoco")[0]
    assert q["pendingAbovePrice"] == "12" and q["pendingBelowStopPrice"] == "9"
    assert q["workingTimeInForce"] == "GTC" and q["pendingBelowType"] == "STOP_LOSS"
    assert q["pendingAboveType"] == "LIMIT_MAKER" and q["pendingQuantity"] == "1"
    rsps.add(responses.POST, f"{BASE}/api/v3/orderList/oco", json={})
    client().new_order_list_oco("BTCUSDT", "SELL", "1", "LIMIT_MAKER", "STOP_LOSS_LIMIT", above_price="12",
                                below_stop_price="9", below_price=Decimal("8.9"), below_time_in_force="GTC",
                                above_iceberg_qty=Decimal("0.1"), belowStrategyId=7, list_client_order_id="mine-1")
    q = sent("/api/v3/orderList/oco")[0]
    assert (q["aboveIcebergQty"], q["belowStrategyId"], q["belowPrice"]) == ("0.1", "7", "8.9")
    assert q["listClientOrderId"] == "mine-1"


def test_new_order_keyword_mapping_and_overrides(rsps: Any) -> None:
    rsps.add(responses.POST, f"{BASE}/api/v3/order", json={"orderId": 1, "price": "1.5"})
    c = client()
    out = c.new_order("btcusdt", "SELL", "STOP_LOSS_LIMIT", quantity=Decimal("1.0"), price="1.5",
                      time_in_force="GTC", client_order_id="abc", stop_price=2, trailing_delta=100,
                      iceberg_qty="0.1", new_order_resp_type="ACK", self_trade_prevention_mode="EXPIRE_TAKER",
                      strategy_id=5, strategy_type=1000000, peg_price_type="PRIMARY_PEG", peg_offset_value=3,
                      peg_offset_type="PRICE_LEVEL", quote_order_qty=None, recv_window=3000)
    assert out["price"] == Decimal("1.5")
    q = sent("/api/v3/order")[0]
    assert q == {**q, "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_LOSS_LIMIT", "quantity": "1.0",
                 "price": "1.5", "timeInForce": "GTC", "newClientOrderId": "abc", "stopPrice": "2",
                 "trailingDelta": "100", "icebergQty": "0.1", "newOrderRespType": "ACK",
                 "selfTradePreventionMode": "EXPIRE_TAKER", "strategyId": "5", "strategyType": "1000000",
                 "pegPriceType": "PRIMARY_PEG", "pegOffsetValue": "3", "pegOffsetType": "PRICE_LEVEL",
                 "recvWindow": "3000"}
    assert "quoteOrderQty" not in q
    c.new_order("BTCUSDT", "BUY", "MARKET", quote_order_qty="10", newOrderRespType="RESULT")
    q = sent("/api/v3/order")[1]
    assert q["newOrderRespType"] == "RESULT" and q["quoteOrderQty"] == "10"


def test_raw_request_of_an_order_list_gets_a_list_client_id(rsps: Any) -> None:
    rsps.add(responses.POST, f"{BASE}/api/v3/orderList/oco", json={})
    client().request("POST", "/api/v3/orderList/oco", {"symbol": "BTCUSDT"}, signed=True)
    q = sent("/api/v3/orderList/oco")[0]
    assert q["listClientOrderId"].startswith("bc-") and "newClientOrderId" not in q


def test_bad_arguments_raise_validation_errors_naming_the_field(rsps: Any) -> None:
    c = client()
    cases = [
        (lambda: c.new_order("BTCUSDT", "BUY", "LIMIT", quantity=0.1, price="1", time_in_force="GTC"), "quantity"),
        (lambda: c.new_order_list_oco("BTCUSDT", "SELL", "1", "LIMIT_MAKER", "STOP_LOSS", above_prize="1"),
         "above_prize"),
        (lambda: c.new_order_list_oco("BTCUSDT", "SELL", "1", "LIMIT_MAKER", "STOP_LOSS",
                                      list_client_order_id="bad id"), "list_client_order_id"),
        (lambda: c.new_order("BTCUSDT", "BUY", "MARKET", quantity="1", client_order_id="x" * 37), "client_order_id"),
        (lambda: c.cancel_order("BTCUSDT"), "order_id/client_order_id"),
        (lambda: c.cancel_order_list("BTCUSDT"), "order_list_id/list_client_order_id"),
        (lambda: c.amend_order("BTCUSDT", "1"), "order_id/orig_client_order_id"),
        (lambda: c.cancel_replace("BTCUSDT", "BUY", "LIMIT", "STOP_ON_FAILURE"),
         "cancel_order_id/cancel_orig_client_order_id"),
        (lambda: c.test_order("BTCUSDT", "BUY", "LIMIT", price=1.5), "price"),
    ]
    for call, field in cases:
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.field == field
    assert len(rsps.calls) == 0


def test_float_allowed_by_config(rsps: Any) -> None:
    rsps.add(responses.POST, f"{BASE}/api/v3/orderList/oto", json={})
    client(allow_float=True).new_order_list_oto("BTCUSDT", "LIMIT", "BUY", 10.5, 0.1, "MARKET", "SELL", 0.1,
                                                working_time_in_force="GTC")
    q = sent("/api/v3/orderList/oto")[0]
    assert (q["workingPrice"], q["workingQuantity"], q["pendingQuantity"]) == ("10.5", "0.1", "0.1")


def test_test_orders_weights_and_flag(rsps: Any) -> None:
    for path in ("/api/v3/order/test", "/api/v3/sor/order/test"):
        rsps.add(responses.POST, f"{BASE}{path}", json={})
    c = client()
    c.test_order("BTCUSDT", "BUY", "MARKET", quantity="1")
    c.test_order("BTCUSDT", "BUY", "MARKET", quantity="1", compute_commission_rates=True)
    c.test_sor_order("BTCUSDT", "BUY", "MARKET", "1", compute_commission_rates=True)
    a, b = sent("/api/v3/order/test")
    assert "computeCommissionRates" not in a and b["computeCommissionRates"] == "true"
    assert "newOrderRespType" not in a and "newClientOrderId" not in a
    assert sent("/api/v3/sor/order/test")[0]["computeCommissionRates"] == "true"
    assert endpoint_weight("POST", "/api/v3/order/test", b) == 20
    assert endpoint_weight("POST", "/api/v3/order/test", a) == 1
    assert endpoint_weight("PUT", "/api/v3/order/amend/keepPriority", {}) == 4
    assert endpoint_weight("DELETE", "/api/v3/openOrders", {"symbol": "X"}) == 1


def test_cancel_and_amend_params(rsps: Any) -> None:
    rsps.add(responses.DELETE, f"{BASE}/api/v3/openOrders", json=[])
    rsps.add(responses.DELETE, f"{BASE}/api/v3/orderList", json={})
    rsps.add(responses.PUT, f"{BASE}/api/v3/order/amend/keepPriority", json={"amendedOrder": {"qty": "0.5"}})
    rsps.add(responses.DELETE, f"{BASE}/api/v3/order", json={"orderId": 3})
    c = client()
    assert c.cancel_open_orders("btcusdt") == []
    c.cancel_order_list("BTCUSDT", list_client_order_id="L1", new_client_order_id="C1")
    out = c.amend_order("BTCUSDT", Decimal("0.5"), orig_client_order_id="O1", new_client_order_id="N1")
    assert out["amendedOrder"]["qty"] == Decimal("0.5")
    c.cancel_order("BTCUSDT", client_order_id="O2", cancel_restrictions="ONLY_NEW")
    assert sent("/api/v3/openOrders", "DELETE")[0]["symbol"] == "BTCUSDT"
    assert sent("/api/v3/orderList")[0] == {**sent("/api/v3/orderList")[0], "listClientOrderId": "L1",
                                            "newClientOrderId": "C1"}
    q = sent("/api/v3/order/amend/keepPriority")[0]
    assert (q["newQty"], q["origClientOrderId"], q["newClientOrderId"]) == ("0.5", "O1", "N1")
    q = sent("/api/v3/order", "DELETE")[0]
    assert (q["origClientOrderId"], q["cancelRestrictions"]) == ("O2", "ONLY_NEW") and "newClientOrderId" not in q


# ---------------------------------------------------------------- unknown outcomes


def test_order_list_unknown_outcome_carries_the_list_client_id(rsps: Any) -> None:
    rsps.add(responses.POST, f"{BASE}/api/v3/orderList/oco", body=requests.exceptions.ReadTimeout("slow"))
    c = client()
    with pytest.raises(UnknownStatusError) as info:
        PLACEMENTS["/api/v3/orderList/oco"](c)
    err = info.value
    lid = sent("/api/v3/orderList/oco")[0]["listClientOrderId"]
    assert err.client_order_id == lid and err.symbol == "BTCUSDT"
    assert err.details["list_client_order_id"] == lid and err.details["client_order_id"] == lid
    assert len(sent("/api/v3/orderList/oco")) == 1  # never re-sent
    rsps.add(responses.GET, f"{BASE}/api/v3/orderList", json={"orderListId": 5, "listClientOrderId": lid})
    assert c.reconcile_order(err) == {"orderListId": 5, "listClientOrderId": lid}
    assert sent("/api/v3/orderList", "GET")[0]["origClientOrderId"] == lid
    rsps.replace(responses.GET, f"{BASE}/api/v3/orderList", status=400,
                 json={"code": -2013, "msg": "Order list does not exist."})
    assert c.reconcile_order(err) is None


@pytest.mark.parametrize("path", ["/api/v3/order/cancelReplace", "/api/v3/sor/order", "/api/v3/orderList/otoco"])
def test_placement_5xx_is_unknown_with_its_id(rsps: Any, path: str) -> None:
    rsps.add(responses.POST, f"{BASE}{path}", status=503, body="busy")
    with pytest.raises(UnknownStatusError) as info:
        PLACEMENTS[path](client())
    assert info.value.client_order_id == sent(path)[0][ID_PARAM[path]]
    assert info.value.symbol == "BTCUSDT" and len(sent(path)) == 1


def test_cancel_order_list_is_retried_but_never_turned_into_an_order_query(rsps: Any) -> None:
    rsps.add(responses.DELETE, f"{BASE}/api/v3/orderList", body=requests.exceptions.ReadTimeout("slow"))
    rsps.add(responses.DELETE, f"{BASE}/api/v3/orderList", status=400,
             json={"code": -2011, "msg": "Unknown order list sent."})
    with pytest.raises(bc.NotFoundError):
        client().cancel_order_list("BTCUSDT", order_list_id=3)
    assert len(sent("/api/v3/orderList", "DELETE")) == 2 and not sent("/api/v3/order", "GET")


# ---------------------------------------------------------------- WebSocket API


class StubLink:
    def __init__(self, answer: Any = None, error: Optional[BaseException] = None) -> None:
        self.answer, self.error = answer, error
        self.calls: List[Dict[str, Any]] = []
        self.tracked: List[Any] = []

    def request(self, method: str, params: Any = None, **kw: Any) -> Any:
        self.calls.append(dict(kw, method=method, params=dict(params or {})))
        if self.error is not None:
            raise self.error
        return json.loads(json.dumps(self.answer))

    def track_placed(self, response: Any) -> None:
        self.tracked.append(response)


def test_ws_api_place_order_is_new_order_and_tracks_it() -> None:
    assert WsApiClient.place_order is WsApiClient.new_order
    link = StubLink({"symbol": "BTCUSDT", "orderId": 7, "price": "1.00", "status": "NEW"})
    out = WsApiClient(lambda: link).place_order("btcusdt", "BUY", "LIMIT_MAKER", quantity="1", price="1")
    call = link.calls[0]
    assert call["method"] == "order.place" and call["params"]["newOrderRespType"] == "FULL"
    assert call["client_order_id"] == call["params"]["newClientOrderId"] and call["symbol"] == "BTCUSDT"
    assert call["signed"] is True
    assert out["price"] == Decimal("1.00") and link.tracked == [out]


def test_ws_api_order_list_tracks_every_report_and_sor_every_entry() -> None:
    reports = [{"symbol": "BTCUSDT", "orderId": i, "status": "NEW"} for i in (1, 2)]
    link = StubLink({"orderListId": 1, "orders": [], "orderReports": reports})
    api = WsApiClient(lambda: link)
    api.new_order_list_oco("BTCUSDT", "SELL", "1", "LIMIT_MAKER", "STOP_LOSS", above_price="2", below_stop_price="1")
    assert link.calls[0]["method"] == "orderList.place.oco" and link.tracked == reports
    assert link.calls[0]["client_order_id"] == link.calls[0]["params"]["listClientOrderId"]
    link.answer, link.tracked = [{"symbol": "BTCUSDT", "orderId": 9}], []
    api.new_sor_order("BTCUSDT", "BUY", "MARKET", "1")
    assert link.calls[1]["method"] == "sor.order.place" and link.tracked == [{"symbol": "BTCUSDT", "orderId": 9}]
    link.answer, link.tracked = {"cancelResult": "SUCCESS", "cancelResponse": {"orderId": 1},
                                 "newOrderResponse": {"symbol": "BTCUSDT", "orderId": 2}}, []
    api.cancel_replace("BTCUSDT", "BUY", "MARKET", "STOP_ON_FAILURE", cancel_order_id=1, quantity="1")
    assert link.tracked == [{"symbol": "BTCUSDT", "orderId": 2}]
    link.answer, link.tracked = [], []
    api.cancel_open_orders("BTCUSDT")
    assert link.calls[-1]["method"] == "openOrders.cancelAll" and link.tracked == []


def test_ws_api_cancel_order_keeps_its_name_and_identifies_the_order() -> None:
    link = StubLink({"orderId": 1})
    WsApiClient(lambda: link).cancel_order("btcusdt", client_order_id="mine")
    call = link.calls[0]
    assert call["method"] == "order.cancel" and call["params"] == {"symbol": "BTCUSDT", "origClientOrderId": "mine"}
    assert call["client_order_id"] == "mine" and call["symbol"] == "BTCUSDT" and not link.tracked


def test_ws_api_unknown_order_list_outcome_carries_the_list_client_id() -> None:
    link = StubLink(error=UnknownStatusError("no answer", method="orderList.place.oto"))
    with pytest.raises(UnknownStatusError) as info:
        WsApiClient(lambda: link).new_order_list_oto("BTCUSDT", "LIMIT", "BUY", "1", "1", "MARKET", "SELL", "1",
                                                     working_time_in_force="GTC", list_client_order_id="L-1")
    assert info.value.client_order_id == "L-1" and info.value.symbol == "BTCUSDT"
    assert info.value.details["list_client_order_id"] == "L-1" and link.calls[0]["client_order_id"] == "L-1"


def test_ws_api_order_methods_unknown_on_connection_loss() -> None:
    from binance_conn._userdata.conn import _ORDER_METHODS

    for method in ("order.place", "order.cancel", "order.cancelReplace", "orderList.place", "orderList.place.oco",
                   "orderList.place.oto", "orderList.place.otoco", "orderList.place.opo", "orderList.place.opoco",
                   "orderList.cancel", "openOrders.cancelAll", "order.amend.keepPriority", "sor.order.place"):
        assert method in _ORDER_METHODS
    assert "order.test" not in _ORDER_METHODS and "sor.order.test" not in _ORDER_METHODS


def test_ws_api_cancel_replace_failure_with_a_placed_order_tracks_it() -> None:
    class PartialFailure(bc.APIError):  # the shape of errors.CancelReplaceError (errors branch)
        new_order_response = {"symbol": "BTCUSDT", "orderId": 11, "clientOrderId": "x"}

    link = StubLink(error=PartialFailure("Order cancel-replace partially failed.", binance_code=-2021))
    with pytest.raises(PartialFailure):
        WsApiClient(lambda: link).cancel_replace("BTCUSDT", "BUY", "MARKET", "ALLOW_FAILURE", cancel_order_id=1,
                                                 quantity="1")
    assert link.tracked == [PartialFailure.new_order_response]
    link.error = bc.APIError("Order cancel-replace failed.", binance_code=-2022)  # nothing placed
    link.tracked = []
    with pytest.raises(bc.APIError):
        WsApiClient(lambda: link).cancel_replace("BTCUSDT", "BUY", "MARKET", "ALLOW_FAILURE", cancel_order_id=1,
                                                 quantity="1")
    assert link.tracked == []
