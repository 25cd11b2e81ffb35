"""``conn.ws_api`` under the REST float rule: a ``float`` parameter raises ``ValidationError``
naming it (and no frame is sent) unless the config allows floats; Decimal/str/int go out as plain
decimal text, and the signature covers exactly the text sent.  Also the WebSocket-API-only
``session_status`` / ``session_subscriptions``."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any, Dict, Iterator

import pytest
from _account_docs import WsRig

from binance_conn._core.wsapi import WsApiProtocol, encode_params, ws_api_payload
from binance_conn.enums import OrderSide as Side
from binance_conn.enums import OrderType, TimeInForce
from binance_conn.errors import ValidationError


@pytest.fixture
def rig() -> Iterator[WsRig]:
    with WsRig(results={"order.place": {"symbol": "BTCUSDT", "orderId": 1, "clientOrderId": "c",
                                        "origQty": "0.02000000", "price": "100.00"}}) as r:
        yield r


@pytest.fixture
def float_rig() -> Iterator[WsRig]:
    with WsRig(allow_float=True, results={"order.place": {"orderId": 1}}) as r:
        yield r


def _sig_ok(params: Dict[str, Any]) -> bool:
    want = hmac.new(b"s", ws_api_payload(params).encode(), hashlib.sha256).hexdigest()
    return bool(params["signature"] == want)


def test_float_quantity_refused_and_nothing_sent(rig: WsRig) -> None:
    rig.client.request("time")  # the link is up
    with pytest.raises(ValidationError) as info:
        rig.client.place_order("BTCUSDT", "BUY", "LIMIT", quantity=0.02, price="100", time_in_force="GTC")
    assert info.value.field == "quantity" and info.value.value == 0.02
    assert rig.requests("order.place") == []


def test_float_refused_by_every_path(rig: WsRig) -> None:
    with pytest.raises(ValidationError) as a:
        rig.client.request("order.test", {"symbol": "BTCUSDT", "price": 1.5}, signed=True)
    with pytest.raises(ValidationError) as b:
        rig.client.my_trades("BTCUSDT", recvWindow=5000.5)  # a typed method, through _call
    with pytest.raises(ValidationError) as c:
        rig.client.cancel_order("BTCUSDT", order_id=1, newClientOrderId="x", cancelRestrictions=0.5)
    assert (a.value.field, b.value.field, c.value.field) == ("price", "recvWindow", "cancelRestrictions")
    assert all(f["method"] in ("time",) for f in rig.frames)  # nothing else went out


def test_float_refused_before_waiting_for_a_link() -> None:
    rig = WsRig()  # never started: a float is still named at once, not NotConnectedError
    with pytest.raises(ValidationError):
        rig.client.place_order("BTCUSDT", "BUY", "MARKET", quantity=1e-3)


def test_float_allowed_with_the_opt_in(float_rig: WsRig) -> None:
    float_rig.client.place_order("BTCUSDT", "BUY", "LIMIT", quantity=0.02, price=100.5, time_in_force="GTC")
    (frame,) = float_rig.requests("order.place")
    params = frame["params"]
    assert params["quantity"] == "0.02" and params["price"] == "100.5"
    assert _sig_ok(params)


def test_decimal_str_int_sent_as_plain_text(rig: WsRig) -> None:
    rig.client.place_order("btcusdt", Side.BUY, OrderType.LIMIT, quantity=Decimal("1E-7"),
                           price=Decimal("1E+3"), time_in_force=TimeInForce.GTC, client_order_id="c-1",
                           icebergQty="0.50", strategyId=12)
    (frame,) = rig.requests("order.place")
    text = next(t for t in rig.texts if '"order.place"' in t)
    params = frame["params"]
    assert params["quantity"] == "0.0000001" and '"quantity":"0.0000001"' in text
    assert params["price"] == "1000" and "E" not in params["price"]
    assert params["icebergQty"] == "0.50" and params["strategyId"] == 12
    assert (params["side"], params["type"], params["timeInForce"]) == ("BUY", "LIMIT", "GTC")  # enum values
    assert _sig_ok(params)  # the signature covers exactly the text sent


def test_nan_decimal_refused(rig: WsRig) -> None:
    with pytest.raises(ValidationError) as info:
        rig.client.place_order("BTCUSDT", "BUY", "MARKET", quantity=Decimal("NaN"))
    assert info.value.field == "quantity"


def test_encode_params_rules() -> None:
    with pytest.raises(ValidationError) as info:
        encode_params({"stopPrice": 0.1})
    assert info.value.field == "stopPrice"
    assert encode_params({"stopPrice": 0.1}, allow_float=True) == {"stopPrice": "0.1"}
    wire = encode_params({"a": Decimal("-0E-8"), "b": True, "c": 5, "d": None, "e": [1, "x"], "f": (1, 2),
                          "g": Side.SELL, "h": "1E-7"})
    assert wire == {"a": "0.00000000", "b": True, "c": 5, "e": [1, "x"], "f": [1, 2], "g": "SELL", "h": "1E-7"}
    assert type(wire["g"]) is str
    assert encode_params(wire) == wire  # idempotent: the session pre-encodes, the protocol again
    assert json.loads(json.dumps(wire)) == wire


def test_session_status_and_subscriptions() -> None:
    status = {"apiKey": None, "authorizedSince": None, "connectedSince": 1649729873021, "returnRateLimits": False,
              "serverTime": 1649730611671, "userDataStream": False}
    subs = [{"subscriptionId": 0}, {"subscriptionId": 1}]
    with WsRig(results={"session.status": status, "session.subscriptions": subs}) as rig:
        assert rig.client.session_status() == status
        assert rig.client.session_subscriptions() == subs
        frames = [f for f in rig.frames if f["method"].startswith("session.")]
        assert [f["method"] for f in frames] == ["session.status", "session.subscriptions"]
        assert all("signature" not in f.get("params", {}) for f in frames)  # not signed


def test_protocol_applies_the_rule_itself() -> None:
    strict = WsApiProtocol(api_key="k", sign=lambda payload: "sig")
    with pytest.raises(ValidationError) as info:
        strict.request("order.test", {"price": 0.5}, signed=True, now=0.0)
    assert info.value.field == "price" and strict.pending_count == 0  # nothing registered, nothing to send
    lenient = WsApiProtocol(api_key="k", sign=lambda payload: "sig", allow_float=True)
    _rid, frame = lenient.request("order.test", {"price": 0.5}, signed=True, now=0.0)
    assert json.loads(frame)["params"]["price"] == "0.5"
