"""WebSocket API (sections 8 and 10): envelope, logon, user-data subscriptions and events, order methods."""

from __future__ import annotations

import base64
import time
from typing import Any, Iterator

import pytest
import websocket
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from fakehelpers import api_call, connect, recv_until, scaled, signed, wait_close, ws_sign_hmac

from binance_conn.testing import FakeBinance

DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
W1_SIG = "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
EXECUTION_REPORT_FIELDS = {"e", "E", "s", "c", "S", "o", "f", "q", "p", "P", "F", "g", "C", "x", "X", "r", "i", "l",
                           "z", "L", "n", "N", "T", "t", "I", "w", "m", "M", "O", "Z", "Y", "Q", "V"}


def ws_payload(params: dict[str, Any]) -> bytes:
    return "&".join(f"{k}={v}" for k, v in sorted(params.items())).encode()


@pytest.fixture
def ed_key(fake: FakeBinance) -> ed25519.Ed25519PrivateKey:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    fake.register_key("ed-key", pem)
    return key


@pytest.fixture
def api(fake: FakeBinance) -> Iterator[websocket.WebSocket]:
    ws = connect(fake.ws_api_url + "/ws-api/v3")
    yield ws
    ws.close()


def logon(fake: FakeBinance, ws: websocket.WebSocket, key: ed25519.Ed25519PrivateKey, api_key: str = "ed-key",
          timestamp: int | None = None) -> Any:
    params: dict[str, Any] = {"apiKey": api_key, "timestamp": timestamp or fake.now_ms()}
    params["signature"] = base64.b64encode(key.sign(ws_payload(params))).decode()
    return api_call(ws, "session.logon", params, req_id="logon")


def subscribe_signature(fake: FakeBinance, ws: websocket.WebSocket) -> Any:
    params: dict[str, Any] = {"apiKey": fake.api_key, "timestamp": fake.now_ms()}
    params["signature"] = ws_sign_hmac(fake.api_secret, params)
    return api_call(ws, "userDataStream.subscribe.signature", params, req_id="sub")


def test_ping_time_envelope_and_rate_limits(fake: FakeBinance, api: websocket.WebSocket) -> None:
    r = api_call(api, "ping", req_id=1)
    assert r["id"] == 1 and r["status"] == 200 and r["result"] == {}
    assert r["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT" and r["rateLimits"][0]["count"] >= 3
    t = api_call(api, "v3/time", req_id="t")
    assert abs(t["result"]["serverTime"] - fake.now_ms()) < 5000
    quiet = api_call(api, "ping", {"returnRateLimits": False}, req_id=None)
    assert "rateLimits" not in quiet and quiet["id"] is None
    bad = api_call(api, "no.such.method", req_id=2)
    assert bad["status"] == 400 and bad["error"]["code"] == -1020
    api.send("{oops")
    assert recv_until(api, lambda m: "status" in m) == {"id": None, "status": 400,
                                                         "error": {"code": -1135, "msg": "Invalid JSON request."}}


def test_logon_subscribe_and_user_events_from_rest_orders(fake: FakeBinance, api: websocket.WebSocket,
                                                          ed_key: ed25519.Ed25519PrivateKey) -> None:
    r = logon(fake, api, ed_key)
    assert r["status"] == 200, r
    assert set(r["result"]) == {"apiKey", "authorizedSince", "connectedSince", "returnRateLimits", "serverTime",
                                "userDataStream"}
    assert r["result"]["apiKey"] == "ed-key" and r["result"]["userDataStream"] is False
    sub = api_call(api, "userDataStream.subscribe", req_id="s1")
    assert sub["result"] == {"subscriptionId": 0}
    again = api_call(api, "userDataStream.subscribe", req_id="s2")
    assert again["status"] == 400 and again["error"]["code"] == -2035
    assert api_call(api, "session.subscriptions", req_id="l")["result"] == [{"subscriptionId": 0}]
    assert fake.wait_for_user_subscriptions(1, scaled(5))

    bid = fake.market.get("BTCUSDT").best_bid()[0]
    placed = signed(fake, "POST", "/api/v3/order", [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"),
                                                     ("timeInForce", "GTC"), ("quantity", "0.01"),
                                                     ("price", str(bid - 100)), ("newClientOrderId", "u1")]).json()
    new = recv_until(api, lambda m: m.get("event", {}).get("e") == "executionReport")
    assert new["subscriptionId"] == 0 and set(new) == {"subscriptionId", "event"}
    ev = new["event"]
    assert EXECUTION_REPORT_FIELDS <= set(ev)
    assert ev["x"] == "NEW" and ev["X"] == "NEW" and ev["c"] == "u1" and ev["i"] == placed["orderId"]
    assert ev["w"] is True and ev["W"] == ev["O"] and ev["C"] == "" and ev["t"] == -1 and ev["N"] is None
    pos = recv_until(api, lambda m: m["event"]["e"] == "outboundAccountPosition")["event"]
    assert {b["a"] for b in pos["B"]} == {"BTC", "USDT"} and set(pos["B"][0]) == {"a", "f", "l"}

    fake.fill_order("BTCUSDT", "u1", "0.004")
    trade = recv_until(api, lambda m: m["event"]["e"] == "executionReport")["event"]
    assert trade["x"] == "TRADE" and trade["X"] == "PARTIALLY_FILLED" and trade["l"] == "0.00400000"
    assert trade["z"] == "0.00400000" and trade["m"] is True and trade["t"] > 0 and trade["N"] == "BTC"
    assert trade["I"] > ev["I"]
    recv_until(api, lambda m: m["event"]["e"] == "outboundAccountPosition")
    fake.fill_order("BTCUSDT", "u1")
    assert recv_until(api, lambda m: m["event"]["e"] == "executionReport")["event"]["X"] == "FILLED"

    signed(fake, "POST", "/api/v3/order", [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"),
                                           ("timeInForce", "GTC"), ("quantity", "0.01"), ("price", str(bid - 100)),
                                           ("newClientOrderId", "u2")])
    signed(fake, "DELETE", "/api/v3/order", [("symbol", "BTCUSDT"), ("origClientOrderId", "u2"),
                                             ("newClientOrderId", "x2")])
    cancel = recv_until(api, lambda m: m["event"].get("x") == "CANCELED")["event"]
    assert cancel["c"] == "x2" and cancel["C"] == "u2" and cancel["X"] == "CANCELED"

    fake.set_balance("ETH", "7")
    eth = recv_until(api, lambda m: m["event"]["e"] == "outboundAccountPosition" and
                     m["event"]["B"][0]["a"] == "ETH")["event"]
    assert eth["B"] == [{"a": "ETH", "f": "7.00000000", "l": "0.00000000"}]
    fake.deposit("USDT", "25.5")
    bu = recv_until(api, lambda m: m["event"]["e"] == "balanceUpdate")["event"]
    assert bu["a"] == "USDT" and bu["d"] == "25.50000000" and set(bu) == {"e", "E", "a", "d", "T"}

    status = api_call(api, "session.status", req_id="st")["result"]
    assert status["userDataStream"] is True
    out = api_call(api, "session.logout", req_id="lo")
    assert out["result"]["apiKey"] is None
    assert fake.user_subscription_count() == 0


def test_logon_errors(fake: FakeBinance, api: websocket.WebSocket, ed_key: ed25519.Ed25519PrivateKey) -> None:
    params: dict[str, Any] = {"apiKey": fake.api_key, "timestamp": fake.now_ms()}
    params["signature"] = ws_sign_hmac(fake.api_secret, params)
    hmac_logon = api_call(api, "session.logon", params, req_id=1)
    assert hmac_logon["status"] == 400 and "not supported" in hmac_logon["error"]["msg"]
    other = ed25519.Ed25519PrivateKey.generate()
    bad = logon(fake, api, other)
    assert bad["status"] == 400 and bad["error"]["code"] == -1022
    unknown = logon(fake, api, ed_key, api_key="who")
    assert unknown["status"] == 401 and unknown["error"]["code"] == -2015
    fake.skew_clock(60_000)
    late = logon(fake, api, ed_key, timestamp=int(time.time() * 1000))
    fake.skew_clock(0)
    assert late["error"]["code"] == -1021
    nolog = api_call(api, "userDataStream.subscribe", req_id=2)
    assert nolog["status"] == 401 and nolog["error"]["code"] == -1002


def test_subscribe_signature_unsubscribe_and_terminate(fake: FakeBinance, api: websocket.WebSocket) -> None:
    r = subscribe_signature(fake, api)
    assert r["status"] == 200 and r["result"] == {"subscriptionId": 0}
    api.send('{"id":"u","method":"userDataStream.unsubscribe","params":{"subscriptionId":0}}')
    ended = recv_until(api, lambda m: "event" in m)
    assert ended["subscriptionId"] == 0 and ended["event"]["e"] == "eventStreamTerminated"
    assert recv_until(api, lambda m: m.get("id") == "u")["result"] == {}
    again = api_call(api, "userDataStream.unsubscribe", {"subscriptionId": 0}, req_id="u2")
    assert again["error"]["code"] == -2036
    assert subscribe_signature(fake, api)["result"] == {"subscriptionId": 1}
    assert fake.wait_for_user_subscriptions(1, scaled(5))
    assert fake.terminate_user_streams() == 1
    ev = recv_until(api, lambda m: "event" in m)
    assert ev == {"subscriptionId": 1, "event": {"e": "eventStreamTerminated", "E": ev["event"]["E"]}}
    assert api_call(api, "session.subscriptions", req_id="l")["result"] == []


def test_subscribe_signature_with_rsa_key_and_bad_signature(fake: FakeBinance, api: websocket.WebSocket) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fake.register_key("rsa-key", key.public_key().public_bytes(serialization.Encoding.PEM,
                                                               serialization.PublicFormat.SubjectPublicKeyInfo))
    params: dict[str, Any] = {"apiKey": "rsa-key", "timestamp": fake.now_ms(), "recvWindow": 5000}
    sig = base64.b64encode(key.sign(ws_payload(params), padding.PKCS1v15(), hashes.SHA256())).decode()
    bad = api_call(api, "userDataStream.subscribe.signature", {**params, "signature": sig[::-1]}, req_id=1)
    assert bad["status"] == 400 and bad["error"]["code"] == -1022
    ok = api_call(api, "userDataStream.subscribe.signature", {**params, "signature": sig}, req_id=2)
    assert ok["result"] == {"subscriptionId": 0}
    fake.revoke_key("rsa-key")
    revoked = recv_until(api, lambda m: m.get("status") == 401)
    assert revoked["id"] is None and revoked["error"]["code"] == -2015
    assert fake.user_subscription_count() == 0


def test_order_place_with_official_w1_vector(fake: FakeBinance, api: websocket.WebSocket) -> None:
    fake.register_key(DOC_KEY, secret=DOC_SECRET)
    fake.set_clock(1645423376532)
    params = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01000000",
              "price": "52000.00", "recvWindow": 100, "timestamp": 1645423376532, "apiKey": DOC_KEY,
              "signature": W1_SIG}
    r = api_call(api, "order.place", params, req_id="w1")
    assert r["status"] == 200, r
    assert r["result"]["symbol"] == "BTCUSDT" and r["result"]["status"] == "FILLED"  # 52000 crosses the bids
    kinds = {(x["rateLimitType"], x["interval"]) for x in r["rateLimits"]}
    assert ("ORDERS", "SECOND") in kinds and ("ORDERS", "DAY") in kinds
    wrong = api_call(api, "order.place", {**params, "price": "52000.01"}, req_id="w2")
    assert wrong["error"]["code"] == -1022


def test_order_methods_on_logged_on_session(fake: FakeBinance, api: websocket.WebSocket,
                                            ed_key: ed25519.Ed25519PrivateKey) -> None:
    assert logon(fake, api, ed_key)["status"] == 200
    bid = fake.market.get("BTCUSDT").best_bid()[0]
    placed = api_call(api, "order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                           "timeInForce": "GTC", "quantity": "0.001", "price": str(bid - 50),
                                           "newClientOrderId": "ws1", "timestamp": fake.now_ms()}, req_id=1)
    assert placed["result"]["status"] == "NEW"
    st = api_call(api, "order.status", {"symbol": "BTCUSDT", "origClientOrderId": "ws1",
                                        "timestamp": fake.now_ms()}, req_id=2)
    assert st["result"]["clientOrderId"] == "ws1"
    nots = api_call(api, "order.status", {"symbol": "BTCUSDT", "orderId": 999, "timestamp": fake.now_ms()}, req_id=3)
    assert nots["error"]["code"] == -2013
    c = api_call(api, "order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "ws1", "timestamp": fake.now_ms()},
                 req_id=4)
    assert c["result"]["status"] == "CANCELED"
    c = api_call(api, "order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "ws1", "timestamp": fake.now_ms()},
                 req_id=5)
    assert c["error"] == {"code": -2011, "msg": "Unknown order sent."}
    no_ts = api_call(api, "account.status", {}, req_id=6)
    assert no_ts["error"]["code"] == -1102


def test_ws_api_weight_limit_429_carries_retry_after() -> None:
    with FakeBinance(weight_limit=4) as fake:
        api = connect(fake.ws_api_url + "/ws-api/v3")  # connecting costs 2
        assert api_call(api, "ping", req_id=1)["status"] == 200
        assert api_call(api, "ping", req_id=2)["status"] == 200
        r = api_call(api, "ping", req_id=3)
        assert r["status"] == 429 and r["error"]["code"] == -1003
        assert r["error"]["data"]["retryAfter"] > r["error"]["data"]["serverTime"]
        api.close()


def test_fail_next_ws_api_error_and_drop(fake: FakeBinance, api: websocket.WebSocket) -> None:
    fake.fail_next_ws_api(1, status=503, code=-1008, msg="Server is currently overloaded.", method="time")
    assert api_call(api, "ping", req_id=1)["status"] == 200  # other methods unaffected
    r = api_call(api, "time", req_id=2)
    assert r["status"] == 503 and r["error"] == {"code": -1008, "msg": "Server is currently overloaded."}
    assert api_call(api, "time", req_id=3)["status"] == 200
    fake.fail_next_ws_api(drop=True)
    api.send('{"id":4,"method":"ping"}')
    assert wait_close(api) is None
    assert fake.wait_until(lambda: fake.connection_log[-1]["closed_at"] is not None, scaled(5))
    assert "ws-api fault" in fake.connection_log[-1]["close_reason"]
