"""Public REST endpoints: shapes (section 6), weights and headers (4.2), limits (429 / 418), REST faults."""

from __future__ import annotations

import json
import time

import pytest
import requests
from fakehelpers import scaled, signed

from binance_conn.testing import FakeBinance


def get(fake: FakeBinance, path: str, **params: str) -> requests.Response:
    return requests.get(fake.rest_url + path, params=params, timeout=scaled(5))


def test_exchange_info_filters_and_rate_limits(fake: FakeBinance) -> None:
    r = get(fake, "/api/v3/exchangeInfo")
    assert r.headers["X-MBX-USED-WEIGHT-1M"] == "20"
    info = r.json()
    assert {s["symbol"] for s in info["symbols"]} == {"BTCUSDT", "ETHUSDT", "BNBUSDT"}
    assert {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000} \
        in info["rateLimits"]
    btc = get(fake, "/api/v3/exchangeInfo", symbol="BTCUSDT").json()["symbols"][0]
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    two = get(fake, "/api/v3/exchangeInfo", symbols=json.dumps(["BTCUSDT", "ETHUSDT"])).json()
    assert [s["symbol"] for s in two["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    assert get(fake, "/api/v3/exchangeInfo", symbol="NOPE").json() == {"code": -1121, "msg": "Invalid symbol."}


@pytest.mark.parametrize("limit,weight", [("5", 5), ("100", 5), ("500", 25), ("1000", 50), ("5000", 250)])
def test_depth_weights_and_shape(fake: FakeBinance, limit: str, weight: int) -> None:
    fake.reset_limits()
    r = get(fake, "/api/v3/depth", symbol="BTCUSDT", limit=limit)
    assert int(r.headers["X-MBX-USED-WEIGHT-1M"]) == weight
    book = r.json()
    assert set(book) == {"lastUpdateId", "bids", "asks"}
    assert isinstance(book["lastUpdateId"], int)
    bids = [tuple(map(float, lv)) for lv in book["bids"]]
    asks = [tuple(map(float, lv)) for lv in book["asks"]]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0][0] < asks[0][0]
    assert all(isinstance(p, str) and isinstance(q, str) for p, q in book["bids"])


def test_trades_agg_trades_klines_tickers(fake: FakeBinance) -> None:
    t1 = fake.publish_trade("BTCUSDT", "60000.10", "0.5")
    t2 = fake.publish_trade("BTCUSDT", "60001.00", "0.25", buyer_maker=True)
    assert t2 == t1 + 1
    trades = get(fake, "/api/v3/trades", symbol="BTCUSDT").json()
    assert trades[-1] == {"id": t2, "price": "60001.00000000", "qty": "0.25000000", "quoteQty": "15000.25000000",
                          "time": trades[-1]["time"], "isBuyerMaker": True, "isBestMatch": True}
    agg = get(fake, "/api/v3/aggTrades", symbol="BTCUSDT")
    assert agg.headers["X-MBX-USED-WEIGHT-1M"] == str(25 + 4)
    assert set(agg.json()[-1]) == {"a", "p", "q", "f", "l", "T", "m", "M"}
    kl = get(fake, "/api/v3/klines", symbol="BTCUSDT", interval="1m", limit="3").json()
    assert len(kl) == 3 and len(kl[0]) == 12 and kl[1][0] - kl[0][0] == 60_000 and kl[0][6] == kl[0][0] + 59_999
    assert get(fake, "/api/v3/klines", symbol="BTCUSDT", interval="1x").json()["code"] == -1120
    t24 = get(fake, "/api/v3/ticker/24hr", symbol="BTCUSDT").json()
    assert t24["lastPrice"] == "60001.00000000" and t24["lastId"] == t2 and "priceChangePercent" in t24
    mini = get(fake, "/api/v3/ticker/24hr", symbol="BTCUSDT", type="MINI").json()
    assert "bidPrice" not in mini and mini["lastPrice"] == "60001.00000000"
    every = get(fake, "/api/v3/ticker/24hr")
    assert len(every.json()) == 3
    price = get(fake, "/api/v3/ticker/price", symbol="BTCUSDT").json()
    assert price == {"symbol": "BTCUSDT", "price": "60001.00000000"}
    book = get(fake, "/api/v3/ticker/bookTicker", symbol="ETHUSDT").json()
    assert set(book) == {"symbol", "bidPrice", "bidQty", "askPrice", "askQty"}
    assert get(fake, "/api/v3/avgPrice", symbol="BTCUSDT").json()["mins"] == 5


def test_errors_for_bad_parameters_and_unknown_paths(fake: FakeBinance) -> None:
    r = get(fake, "/api/v3/depth")
    assert r.status_code == 400 and r.json()["code"] == -1102
    r = get(fake, "/api/v3/depth", symbol="XYZ")
    assert r.status_code == 400 and r.json()["code"] == -1121
    assert get(fake, "/api/v3/nothing").status_code == 404


def test_weight_limit_429_with_retry_after_then_418_ban() -> None:
    with FakeBinance(weight_limit=3, ban_after=2, ban_seconds=60) as fake:
        for used in (1, 2, 3):
            r = get(fake, "/api/v3/ping")
            assert r.status_code == 200 and r.headers["X-MBX-USED-WEIGHT-1M"] == str(used)
        r = get(fake, "/api/v3/ping")
        assert r.status_code == 429 and r.json()["code"] == -1003
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert get(fake, "/api/v3/ping").status_code == 429  # strike 1
        r = get(fake, "/api/v3/ping")  # strike 2: banned
        assert r.status_code == 418 and r.json()["code"] == -1003 and "banned until" in r.json()["msg"]
        assert 55 <= int(r.headers["Retry-After"]) <= 60
        assert get(fake, "/api/v3/time").status_code == 418
        fake.reset_limits()
        assert get(fake, "/api/v3/ping").status_code == 200


def test_order_count_limit_1015() -> None:
    with FakeBinance(order_limit_10s=2) as fake:
        params = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
                  ("quantity", "0.001"), ("price", "50000")]
        counts = [signed(fake, "POST", "/api/v3/order", params).headers["X-MBX-ORDER-COUNT-10S"] for _ in range(2)]
        r = signed(fake, "POST", "/api/v3/order", params)
        if counts != ["1", "2"]:  # the 10 s window rolled over between requests: one retry is enough
            counts = [signed(fake, "POST", "/api/v3/order", params).headers["X-MBX-ORDER-COUNT-10S"]
                      for _ in range(2)]
            r = signed(fake, "POST", "/api/v3/order", params)
        assert r.status_code == 429 and r.json()["code"] == -1015 and "Retry-After" in r.headers


def test_fail_next_status_code_retry_after_path_method(fake: FakeBinance) -> None:
    fake.fail_next(2, status=503, code=-1008, msg="Service Unavailable.", retry_after=7, path="/api/v3/time")
    assert get(fake, "/api/v3/ping").status_code == 200  # other paths unaffected
    for _ in range(2):
        r = get(fake, "/api/v3/time")
        assert r.status_code == 503 and r.json() == {"code": -1008, "msg": "Service Unavailable."}
        assert r.headers["Retry-After"] == "7" and r.headers["X-MBX-USED-WEIGHT-1M"] == "1"
    assert get(fake, "/api/v3/time").status_code == 200
    fake.fail_next(1, status=429, code=-1003, retry_after=3, method="POST")
    assert get(fake, "/api/v3/time").status_code == 200
    r = signed(fake, "POST", "/api/v3/order", [("symbol", "BTCUSDT")])
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert fake.orders() == []  # a failed request is not executed


def test_fail_next_raw_body_and_drop(fake: FakeBinance) -> None:
    fake.fail_next(1, status=502, raw_body="<html>bad gateway</html>")
    r = get(fake, "/api/v3/ping")
    assert r.status_code == 502 and r.text == "<html>bad gateway</html>"
    with pytest.raises(ValueError):
        r.json()
    fake.fail_next(1, drop=True)
    with pytest.raises(requests.ConnectionError):
        get(fake, "/api/v3/ping")
    assert get(fake, "/api/v3/ping").status_code == 200
    log = fake.request_log
    assert [rec["status"] for rec in log[-3:]] == [502, 0, 200] and log[-2]["dropped"] is True


def test_delay_responses_past_client_timeout_order_still_executes(fake: FakeBinance) -> None:
    fake.delay_responses(scaled(1.0), count=1, path="/api/v3/order", method="POST")
    params = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
              ("quantity", "0.001"), ("price", "50000"), ("newClientOrderId", "slow1")]
    t0 = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        requests.post(signed_url(fake, params), headers={"X-MBX-APIKEY": fake.api_key}, timeout=scaled(0.3))
    assert time.monotonic() - t0 < scaled(0.9)
    r = signed(fake, "GET", "/api/v3/order", [("symbol", "BTCUSDT"), ("origClientOrderId", "slow1")])
    assert r.status_code == 200 and r.json()["status"] == "NEW"


def signed_url(fake: FakeBinance, params: list[tuple[str, str]]) -> str:
    from urllib.parse import urlencode

    from fakehelpers import hmac_hex

    q = urlencode(params + [("timestamp", str(fake.now_ms()))])
    return f"{fake.rest_url}/api/v3/order?{q}&signature={hmac_hex(fake.api_secret, q)}"


def test_request_log_records(fake: FakeBinance) -> None:
    get(fake, "/api/v3/depth", symbol="BTCUSDT", limit="5")
    rec = fake.request_log[-1]
    assert rec["method"] == "GET" and rec["path"] == "/api/v3/depth" and rec["status"] == 200
    assert rec["params"] == {"symbol": "BTCUSDT", "limit": "5"} and b"lastUpdateId" in rec["body"]
    assert "user-agent" in rec["headers"] and isinstance(rec["time"], float)
    rec["path"] = "changed"
    assert fake.request_log[-1]["path"] == "/api/v3/depth"  # a copy
    assert fake.wait_for_requests("/api/v3/depth", 1, timeout=scaled(1))
