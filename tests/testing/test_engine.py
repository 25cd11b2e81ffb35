"""The matching engine through REST: resting and crossing orders, partial fills, cancels, balances, errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fakehelpers import signed

from binance_conn.testing import FakeBinance

Params = list[tuple[str, str]]


def limit(side: str, qty: str, price: str, cid: str | None = None, tif: str = "GTC") -> Params:
    p = [("symbol", "BTCUSDT"), ("side", side), ("type", "LIMIT"), ("timeInForce", tif), ("quantity", qty),
         ("price", price)]
    return p + ([("newClientOrderId", cid)] if cid else [])


def order(fake: FakeBinance, params: Params) -> Any:
    r = signed(fake, "POST", "/api/v3/order", params)
    return r.status_code, r.json()


def best(fake: FakeBinance) -> tuple[Decimal, Decimal]:
    bid, ask = fake.best_prices("BTCUSDT")
    assert 0 < bid < ask
    return bid, ask


def test_unknown_symbol_in_test_controls_is_a_clear_error(fake: FakeBinance) -> None:
    with pytest.raises(ValueError, match="does not list"):
        fake.publish_trade("DOGEUSDT", "1", "1")


def test_resting_limit_stays_new_then_partial_then_full_fill(fake: FakeBinance) -> None:
    bid, _ = best(fake)
    price = str(bid - 100)
    usdt0, _ = fake.balance("USDT")
    status, body = order(fake, limit("BUY", "0.01000", price, "rest1"))
    assert status == 200 and body["status"] == "NEW" and body["fills"] == [] and body["executedQty"] == "0.00000000"
    assert fake.balance("USDT") == (usdt0 - Decimal(price) * Decimal("0.01"), Decimal(price) * Decimal("0.01"))
    q = signed(fake, "GET", "/api/v3/order", [("symbol", "BTCUSDT"), ("orderId", str(body["orderId"]))]).json()
    assert q["status"] == "NEW" and q["isWorking"] is True and q["clientOrderId"] == "rest1"

    part = fake.fill_order("BTCUSDT", "rest1", "0.004")
    assert part["status"] == "PARTIALLY_FILLED" and part["executedQty"] == "0.00400000"
    full = fake.fill_order("BTCUSDT", body["orderId"])
    assert full["status"] == "FILLED" and full["executedQty"] == "0.01000000"
    btc_free, _ = fake.balance("BTC")
    assert btc_free == Decimal("10") + Decimal("0.01") * Decimal("0.999")
    assert fake.balance("USDT")[1] == 0
    trades = signed(fake, "GET", "/api/v3/myTrades", [("symbol", "BTCUSDT"), ("orderId", str(body["orderId"]))])
    assert trades.headers["X-MBX-USED-WEIGHT-1M"] == str(1 - 1 + 4 + 5)  # order free on success, GET 4, myTrades 5
    assert [t["qty"] for t in trades.json()] == ["0.00400000", "0.00600000"]
    assert all(t["isMaker"] and t["isBuyer"] for t in trades.json())


def test_crossing_limit_and_market_orders_fill_against_the_book(fake: FakeBinance) -> None:
    _, ask = best(fake)
    status, body = order(fake, limit("BUY", "0.00100", str(ask + 50)))
    assert status == 200 and body["status"] == "FILLED" and body["fills"]
    assert all(Decimal(f["price"]) <= ask + 50 for f in body["fills"])
    assert body["fills"][0]["commissionAsset"] == "BTC"
    status, body = order(fake, [("symbol", "BTCUSDT"), ("side", "SELL"), ("type", "MARKET"), ("quantity", "0.002")])
    assert status == 200 and body["status"] == "FILLED" and body["type"] == "MARKET"
    assert body["fills"][0]["commissionAsset"] == "USDT"
    status, body = order(fake, [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"),
                                ("quoteOrderQty", "100"), ("newOrderRespType", "RESULT")])
    assert status == 200 and Decimal(body["cummulativeQuoteQty"]) <= 100 and "fills" not in body
    status, body = order(fake, [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "0.001"),
                                ("newOrderRespType", "ACK")])
    assert set(body) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}


def test_ioc_remainder_expires_and_limit_maker_rejects_taking(fake: FakeBinance) -> None:
    bid, ask = best(fake)
    status, body = order(fake, limit("BUY", "0.00100", str(bid - 10), tif="IOC"))
    assert body["status"] == "EXPIRED"
    status, body = order(fake, [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT_MAKER"), ("quantity", "0.001"),
                                ("price", str(ask))])
    assert status == 400 and body == {"code": -2010, "msg": "Order would immediately match and take."}


def test_duplicate_client_order_id_among_open_orders(fake: FakeBinance) -> None:
    bid, _ = best(fake)
    assert order(fake, limit("BUY", "0.001", str(bid - 100), "dup"))[0] == 200
    status, body = order(fake, limit("BUY", "0.001", str(bid - 100), "dup"))
    assert status == 400 and body == {"code": -2010, "msg": "Duplicate order sent."}
    fake.fill_order("BTCUSDT", "dup")
    assert order(fake, limit("BUY", "0.001", str(bid - 100), "dup"))[0] == 200  # reusable once filled


@pytest.mark.parametrize("qty,price,msg", [
    ("0.001", "50000.001", "Filter failure: PRICE_FILTER"),
    ("0.0000101", "50000", "Filter failure: LOT_SIZE"),
    ("100000", "50000", "Filter failure: LOT_SIZE"),
    ("0.00001", "50000", "Filter failure: NOTIONAL"),
])
def test_filter_failures(fake: FakeBinance, qty: str, price: str, msg: str) -> None:
    status, body = order(fake, limit("BUY", qty, price))
    assert status == 400 and body == {"code": -1013, "msg": msg}


@pytest.mark.parametrize("params,code", [
    ([("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("quantity", "1"), ("price", "1")], -1102),
    ([("symbol", "BTCUSDT"), ("side", "UP"), ("type", "MARKET"), ("quantity", "1")], -1117),
    ([("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "ODD"), ("quantity", "1")], -1116),
    ([("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "1"), ("price", "5")], -1106),
    ([("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "1e3")], -1100),
    ([("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "0.000000001")], -1111),
    ([("symbol", "NOPE"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "1")], -1121),
])
def test_order_parameter_errors(fake: FakeBinance, params: Params, code: int) -> None:
    status, body = order(fake, params)
    assert status == 400 and body["code"] == code


def test_insufficient_balance(fake: FakeBinance) -> None:
    fake.set_balance("USDT", "10")
    status, body = order(fake, [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "0.001")])
    assert status == 400 and body == {"code": -2010, "msg": "Account has insufficient balance for requested action."}
    status, body = order(fake, limit("SELL", "11", "70000"))
    assert status == 400 and body["code"] == -2010


def test_unknown_order_query_and_cancel(fake: FakeBinance) -> None:
    r = signed(fake, "GET", "/api/v3/order", [("symbol", "BTCUSDT"), ("orderId", "999")])
    assert r.status_code == 400 and r.json() == {"code": -2013, "msg": "Order does not exist."}
    r = signed(fake, "DELETE", "/api/v3/order", [("symbol", "BTCUSDT"), ("origClientOrderId", "ghost")])
    assert r.status_code == 400 and r.json() == {"code": -2011, "msg": "Unknown order sent."}
    r = signed(fake, "DELETE", "/api/v3/order", [("symbol", "BTCUSDT")])
    assert r.json()["code"] == -1102


def test_cancel_releases_balance_and_order_is_final(fake: FakeBinance) -> None:
    bid, _ = best(fake)
    _, body = order(fake, limit("BUY", "0.01", str(bid - 100), "c1"))
    assert fake.balance("USDT")[1] > 0
    r = signed(fake, "DELETE", "/api/v3/order", [("symbol", "BTCUSDT"), ("orderId", str(body["orderId"])),
                                                   ("newClientOrderId", "cancel-c1")])
    assert r.status_code == 200 and r.headers["X-MBX-USED-WEIGHT-1M"] == "0"
    c = r.json()
    assert c["status"] == "CANCELED" and c["origClientOrderId"] == "c1" and c["clientOrderId"] == "cancel-c1"
    assert fake.balance("USDT") == (Decimal("100000"), Decimal(0))
    r = signed(fake, "DELETE", "/api/v3/order", [("symbol", "BTCUSDT"), ("orderId", str(body["orderId"]))])
    assert r.json()["code"] == -2011
    q = signed(fake, "GET", "/api/v3/order", [("symbol", "BTCUSDT"), ("origClientOrderId", "c1")]).json()
    assert q["status"] == "CANCELED"
    mismatch = signed(fake, "GET", "/api/v3/order", [("symbol", "BTCUSDT"), ("orderId", str(body["orderId"])),
                                                     ("origClientOrderId", "other")])
    assert mismatch.json()["code"] == -2039


def test_open_orders_account_and_cancel_all(fake: FakeBinance) -> None:
    bid, _ = best(fake)
    for i in range(3):
        order(fake, limit("BUY", "0.001", str(bid - 100 - i), f"o{i}"))
    r = signed(fake, "GET", "/api/v3/openOrders", [("symbol", "BTCUSDT")])
    assert r.headers["X-MBX-USED-WEIGHT-1M"] == "6" and len(r.json()) == 3
    assert signed(fake, "GET", "/api/v3/openOrders").headers["X-MBX-USED-WEIGHT-1M"] == "86"
    acct = signed(fake, "GET", "/api/v3/account", [("omitZeroBalances", "true")]).json()
    usdt = next(b for b in acct["balances"] if b["asset"] == "USDT")
    assert Decimal(usdt["locked"]) > 0 and acct["canTrade"] is True and acct["commissionRates"]["maker"]
    canceled = signed(fake, "DELETE", "/api/v3/openOrders", [("symbol", "BTCUSDT")]).json()
    assert [c["status"] for c in canceled] == ["CANCELED"] * 3
    assert signed(fake, "GET", "/api/v3/openOrders", [("symbol", "BTCUSDT")]).json() == []
    assert len(signed(fake, "GET", "/api/v3/allOrders", [("symbol", "BTCUSDT")]).json()) == 3


def test_order_test_endpoint_validates_without_executing(fake: FakeBinance) -> None:
    r = signed(fake, "POST", "/api/v3/order/test", limit("BUY", "0.001", "50000"))
    assert r.status_code == 200 and r.json() == {}
    r = signed(fake, "POST", "/api/v3/order/test", limit("BUY", "0.001", "50000.001"))
    assert r.json()["code"] == -1013
    assert fake.orders() == []
