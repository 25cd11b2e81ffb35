"""The fake's order lists and trading endpoints on the wire (raw signed REST, no library code):
listStatus / executionReport events shaped like user-data-stream.md, errors, weights, refunds."""

from __future__ import annotations

import json
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any, Dict, List

from fakehelpers import signed

from binance_conn.testing import FakeBinance

EXAMPLES = json.loads((Path(__file__).parents[1] / "fixtures" / "spot_docs" / "examples.json").read_text())
DOC_LIST_STATUS = next(r["json"]["event"] for r in EXAMPLES
                       if r["doc"] == "user-data-stream.md" and r["json"].get("event", {}).get("e") == "listStatus")


def capture(fake: FakeBinance) -> List[Dict[str, Any]]:
    events: List[Dict[str, Any]] = []
    inner = fake.engine.emit_user

    def emit(ev: Dict[str, Any]) -> None:
        events.append(ev)
        inner(ev)

    fake.engine.emit_user = emit
    return events


def oco_params(fake: FakeBinance) -> List[Any]:
    bid, ask = fake.best_prices("BTCUSDT")
    low = (bid * Decimal("0.9")).quantize(Decimal("0.01"), ROUND_DOWN)
    high = (ask * Decimal("1.1")).quantize(Decimal("0.01"), ROUND_DOWN)
    return [("symbol", "BTCUSDT"), ("side", "SELL"), ("quantity", "0.01"), ("aboveType", "LIMIT_MAKER"),
            ("abovePrice", str(high)), ("belowType", "STOP_LOSS"), ("belowStopPrice", str(low)),
            ("listClientOrderId", "L-1")]


def test_oco_events_look_like_the_docs(fake: FakeBinance) -> None:
    events = capture(fake)
    r = signed(fake, "POST", "/api/v3/orderList/oco", oco_params(fake))
    assert r.status_code == 200, r.text
    body = r.json()
    lid = body["orderListId"]
    status = [e for e in events if e["e"] == "listStatus"]
    assert len(status) == 1 and set(status[0]) == set(DOC_LIST_STATUS)
    assert (status[0]["c"], status[0]["l"], status[0]["L"], status[0]["C"]) == ("OCO", "EXEC_STARTED", "EXECUTING",
                                                                                "L-1")
    assert [o["i"] for o in status[0]["O"]] == [o["orderId"] for o in body["orders"]]
    reports = [e for e in events if e["e"] == "executionReport"]
    assert len(reports) == 2 and all(e["g"] == lid and e["X"] == "NEW" for e in reports)
    events.clear()
    r = signed(fake, "DELETE", "/api/v3/orderList", [("symbol", "BTCUSDT"), ("listClientOrderId", "L-1")])
    assert r.status_code == 200 and r.json()["listStatusType"] == "ALL_DONE"
    assert [e["X"] for e in events if e["e"] == "executionReport"] == ["CANCELED", "CANCELED"]
    assert [(e["l"], e["L"]) for e in events if e["e"] == "listStatus"] == [("ALL_DONE", "ALL_DONE")]


def test_oco_trigger_expires_with_reason(fake: FakeBinance) -> None:
    body = signed(fake, "POST", "/api/v3/orderList/oco", oco_params(fake)).json()
    events = capture(fake)
    stop, maker = body["orderReports"]
    fake.fill_order("BTCUSDT", maker["orderId"], "0.004")
    expired = [e for e in events if e["e"] == "executionReport" and e["x"] == "EXPIRED"]
    assert len(expired) == 1 and expired[0]["i"] == stop["orderId"] and expired[0]["eR"] == "OCO_TRIGGER"
    assert not [e for e in events if e["e"] == "listStatus"]  # the maker leg still works
    fake.fill_order("BTCUSDT", maker["orderId"])
    assert [(e["l"], e["L"]) for e in events if e["e"] == "listStatus"] == [("ALL_DONE", "ALL_DONE")]


def test_errors_and_weights(fake: FakeBinance) -> None:
    p = [x for x in oco_params(fake) if x[0] != "belowType"]
    r = signed(fake, "POST", "/api/v3/orderList/oco", p)
    assert r.status_code == 400 and r.json()["code"] == -1102
    r = signed(fake, "POST", "/api/v3/order/cancelReplace",
               [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "0.001"),
                ("cancelReplaceMode", "STOP_ON_FAILURE"), ("cancelOrderId", "424242")])
    assert r.status_code == 400
    assert r.json() == {"code": -2022, "msg": "Order cancel-replace failed.",
                        "data": {"cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
                                 "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
                                 "newOrderResponse": None}}
    before = int(signed(fake, "GET", "/api/v3/orderList", [("orderListId", "1")]).headers["X-MBX-USED-WEIGHT-1M"])
    r = signed(fake, "POST", "/api/v3/sor/order/test", [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"),
                                                       ("quantity", "0.001"), ("computeCommissionRates", "true")])
    assert r.status_code == 200 and "specialCommissionForOrder" not in r.json()
    assert int(r.headers["X-MBX-USED-WEIGHT-1M"]) == before + 20
    r = signed(fake, "POST", "/api/v3/sor/order", [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"),
                                                  ("quantity", "0.001")])
    assert r.status_code == 200 and r.json()["usedSor"] is True and r.json()["fills"][0]["allocId"] == 0
    assert int(r.headers["X-MBX-USED-WEIGHT-1M"]) == before + 20  # a successful placement costs 0
    r = signed(fake, "POST", "/api/v3/sor/order", [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "STOP_LOSS"),
                                                  ("quantity", "0.001")])
    assert r.status_code == 400 and r.json()["code"] == -1116


def test_a_rejected_list_leaves_no_orphan_leg(fake: FakeBinance) -> None:
    bid, ask = fake.best_prices("BTCUSDT")
    low = (bid * Decimal("0.9")).quantize(Decimal("0.01"), ROUND_DOWN)
    # the LIMIT_MAKER leg would take liquidity at once: the whole OCO is rejected
    p = [("symbol", "BTCUSDT"), ("side", "BUY"), ("quantity", "0.01"), ("aboveType", "STOP_LOSS"),
         ("aboveStopPrice", str((ask * Decimal("1.2")).quantize(Decimal("0.01")))), ("belowType", "LIMIT_MAKER"),
         ("belowPrice", str(low))]
    fake.set_balance("USDT", "1")  # not enough for the LIMIT_MAKER leg
    r = signed(fake, "POST", "/api/v3/orderList/oco", p)
    assert r.status_code == 400 and r.json()["code"] == -2010
    fake.set_balance("USDT", "100000")
    r = signed(fake, "POST", "/api/v3/orderList/oto", [
        ("symbol", "BTCUSDT"), ("workingType", "LIMIT"), ("workingSide", "BUY"), ("workingPrice", str(low)),
        ("workingQuantity", "0.01"), ("workingTimeInForce", "GTC"), ("pendingType", "LIMIT_MAKER"),
        ("pendingSide", "SELL"), ("pendingQuantity", "0.000001"), ("pendingPrice", str(low * 2))])
    assert r.status_code == 400 and r.json()["code"] == -1013  # the pending leg's LOT_SIZE
    assert fake.orders("BTCUSDT") == []


def test_order_list_and_amendment_queries(fake: FakeBinance) -> None:
    body = signed(fake, "POST", "/api/v3/orderList/oco", oco_params(fake)).json()
    lid = body["orderListId"]
    r = signed(fake, "GET", "/api/v3/orderList", [("origClientOrderId", "L-1")])
    assert r.status_code == 200 and r.json()["orderListId"] == lid and "orderReports" not in r.json()
    assert [x["orderListId"] for x in signed(fake, "GET", "/api/v3/openOrderList").json()] == [lid]
    assert [x["orderListId"] for x in signed(fake, "GET", "/api/v3/allOrderList").json()] == [lid]
    maker = body["orderReports"][1]
    r = signed(fake, "PUT", "/api/v3/order/amend/keepPriority", [("symbol", "BTCUSDT"), ("orderId", maker["orderId"]),
                                                                ("newQty", "0.005"), ("newClientOrderId", "am-1")])
    assert r.status_code == 200 and r.json()["listStatus"]["orderListId"] == lid
    rows = signed(fake, "GET", "/api/v3/order/amendments",
                  [("symbol", "BTCUSDT"), ("orderId", maker["orderId"])]).json()
    assert [(x["origQty"], x["newQty"], x["newClientOrderId"]) for x in rows] == [("0.01000000", "0.00500000", "am-1")]
    signed(fake, "DELETE", "/api/v3/orderList", [("symbol", "BTCUSDT"), ("orderListId", lid)])
    assert signed(fake, "GET", "/api/v3/openOrderList").json() == []
