"""FakeBinance's account queries (testing/_account.py), spoken to raw: the REST routes and the
WebSocket API methods answer the documented shapes, charge the documented weights and reject
what Binance rejects."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional

import pytest
import websocket
from fakehelpers import api_call, connect, signed, ws_sign_hmac

from binance_conn.testing import FakeBinance

METHODS = ["account.status", "order.status", "openOrders.status", "allOrders", "orderList.status", "allOrderLists",
           "openOrderLists.status", "myTrades", "account.rateLimits.orders", "myPreventedMatches", "myAllocations",
           "account.commission", "order.amendments", "myFilters"]


@pytest.fixture
def api(fake: FakeBinance) -> Iterator[websocket.WebSocket]:
    ws = connect(fake.ws_api_url + "/ws-api/v3")
    yield ws
    ws.close()


def ws_signed(fake: FakeBinance, ws: websocket.WebSocket, method: str, params: Optional[Dict[str, Any]] = None,
              req_id: str = "r") -> Any:
    p: Dict[str, Any] = dict(params or {}, apiKey=fake.api_key, timestamp=fake.now_ms())
    p["signature"] = ws_sign_hmac(fake.api_secret, p)
    return api_call(ws, method, p, req_id=req_id)


def _count(resp: Any) -> int:
    return int(resp["rateLimits"][0]["count"])


def _place(fake: FakeBinance) -> int:
    r = signed(fake, "POST", "/api/v3/order", [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"),
                                               ("timeInForce", "GTC"), ("quantity", "1"), ("price", "100")])
    assert r.status_code == 200, r.text
    return int(r.json()["orderId"])


def test_every_account_method_is_served(fake: FakeBinance, api: websocket.WebSocket) -> None:
    oid = _place(fake)
    params = {"order.status": {"symbol": "BTCUSDT", "orderId": oid}, "allOrders": {"symbol": "BTCUSDT"},
              "orderList.status": {"orderListId": 1}, "myTrades": {"symbol": "BTCUSDT"},
              "myPreventedMatches": {"symbol": "BTCUSDT", "orderId": oid}, "myAllocations": {"symbol": "BTCUSDT"},
              "account.commission": {"symbol": "BTCUSDT"}, "order.amendments": {"symbol": "BTCUSDT", "orderId": oid},
              "myFilters": {"symbol": "BTCUSDT"}}
    for method in METHODS:
        r = ws_signed(fake, api, method, params.get(method), req_id=method)
        if method == "orderList.status":  # no order lists in the engine: the documented "does not exist"
            assert r["status"] == 400 and r["error"]["code"] == -2013
            continue
        assert r["status"] == 200, (method, r)
    assert ws_signed(fake, api, "allOrders", {"symbol": "BTCUSDT"})["result"][0]["orderId"] == oid
    commission = ws_signed(fake, api, "account.commission", {"symbol": "BTCUSDT"})["result"]
    assert set(commission) == {"symbol", "standardCommission", "specialCommission", "taxCommission", "discount"}
    assert set(commission["standardCommission"]) == {"maker", "taker", "buyer", "seller"}


@pytest.mark.parametrize("method, params, weight", [
    ("openOrders.status", {"symbol": "BTCUSDT"}, 6),
    ("openOrders.status", {}, 80),
    ("myTrades", {"symbol": "BTCUSDT"}, 20),
    ("myTrades", {"symbol": "BTCUSDT", "orderId": 1}, 5),
    ("myPreventedMatches", {"symbol": "BTCUSDT", "preventedMatchId": 1}, 2),
    ("myPreventedMatches", {"symbol": "BTCUSDT", "orderId": 1}, 20),
    ("account.rateLimits.orders", {}, 40),
    ("myFilters", {"symbol": "BTCUSDT"}, 40),
    ("order.amendments", {"symbol": "BTCUSDT", "orderId": 1}, 4),
])
def test_ws_weights(fake: FakeBinance, api: websocket.WebSocket, method: str, params: Dict[str, Any],
                    weight: int) -> None:
    for _ in range(2):  # a second try when the minute window rolled in between
        before = _count(api_call(api, "ping", req_id="p"))
        delta = _count(ws_signed(fake, api, method, params)) - before
        if delta >= 0:
            break
    assert delta == weight


@pytest.mark.parametrize("path, params, weight", [
    ("/api/v3/openOrders", [], 80),
    ("/api/v3/myPreventedMatches", [("symbol", "BTCUSDT"), ("preventedMatchId", "1")], 2),
    ("/api/v3/account/commission", [("symbol", "BTCUSDT")], 20),
    ("/api/v3/myFilters", [("symbol", "BTCUSDT")], 40),
    ("/api/v3/openOrderList", [], 6),
    ("/api/v3/allOrderList", [], 20),
    ("/api/v3/myAllocations", [("symbol", "BTCUSDT")], 20),
])
def test_rest_routes_and_weights(fake: FakeBinance, path: str, params: Any, weight: int) -> None:
    for _ in range(2):  # a second try when the minute window rolled in between
        before = int(signed(fake, "GET", "/api/v3/rateLimit/order").headers["X-MBX-USED-WEIGHT-1M"])
        r = signed(fake, "GET", path, params)
        assert r.status_code == 200, r.text
        delta = int(r.headers["X-MBX-USED-WEIGHT-1M"]) - before
        if delta >= 0:
            break
    assert delta == weight


@pytest.mark.parametrize("method, params, code", [
    ("myPreventedMatches", {"symbol": "BTCUSDT"}, -1102),  # neither preventedMatchId nor orderId
    ("order.amendments", {"symbol": "BTCUSDT"}, -1102),
    ("order.amendments", {"symbol": "BTCUSDT", "orderId": 424242}, -2013),
    ("myFilters", {"symbol": "NOPE"}, -1121),
    ("account.commission", {}, -1102),
    ("allOrders", {"symbol": "BTCUSDT", "startTime": 0, "endTime": 90_000_000}, -1127),
    ("orderList.status", {}, -1102),
])
def test_rejections(fake: FakeBinance, api: websocket.WebSocket, method: str, params: Dict[str, Any],
                    code: int) -> None:
    r = ws_signed(fake, api, method, params)
    assert r["status"] == 400 and r["error"]["code"] == code, r


def test_unsigned_account_query_refused(fake: FakeBinance, api: websocket.WebSocket) -> None:
    r = api_call(api, "myFilters", {"symbol": "BTCUSDT"})
    assert r["status"] != 200
