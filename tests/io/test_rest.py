"""RestClient request shapes with ``responses``: signing, encoding, headers, clock, errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import time
from decimal import Decimal
from typing import Any, Dict, List, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import binance_conn
from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn.config import Config
from binance_conn.errors import (
    AuthenticationError,
    BinanceError,
    NotFoundError,
    TimestampError,
    ValidationError,
)
from binance_conn.rest import RestClient

BASE = "https://api.test.invalid"
KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def make_config(**kw: Any) -> Config:
    b = Config.builder().with_rest_url(kw.pop("url", BASE)).with_backoff(base=0.01, max=0.02, jitter=0.0)
    if kw.pop("signed", True):
        b = b.with_api_key(KEY).with_api_secret(SECRET)
    for name, args in kw.items():
        getattr(b, name)(*args) if isinstance(args, tuple) else getattr(b, name)(args)
    return b.build()


def make_client(**kw: Any) -> RestClient:
    return RestClient(make_config(**kw), limiter_registry=WeightLimiterRegistry())


def time_callback(offset_ms: int = 0) -> Any:
    def cb(_req: Any) -> Tuple[int, Dict[str, str], str]:
        return 200, {}, '{"serverTime": %d}' % (int(time.time() * 1000) + offset_ms)

    return cb


def add_time(rsps: responses.RequestsMock, offset_ms: int = 0) -> None:
    rsps.add_callback(responses.GET, f"{BASE}/api/v3/time", callback=time_callback(offset_ms))


def split_signed(url: str) -> Tuple[str, str]:
    query = urlsplit(url).query
    payload, sep, sig = query.rpartition("&signature=")
    assert sep, "signature missing or not last"
    return payload, sig


def hmac_hex(payload: str) -> str:
    return hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()


def calls_to(rsps: responses.RequestsMock, path: str, method: str = "") -> List[Any]:
    return [c for c in rsps.calls
            if urlsplit(c.request.url).path == path and (not method or c.request.method == method)]


@responses.activate
def test_signed_get_shape() -> None:
    add_time(responses.mock)
    responses.add(responses.GET, f"{BASE}/api/v3/account", json={"balances": [{"asset": "BTC", "free": "1.50000000",
                                                                           "locked": "0.00000000"}]})
    client = make_client()
    acct = client.account()
    assert acct["balances"][0]["free"] == Decimal("1.5") and isinstance(acct["balances"][0]["free"], Decimal)
    req = calls_to(responses.mock, "/api/v3/account")[0].request
    payload, sig = split_signed(req.url)
    assert sig == hmac_hex(payload)
    names = [k for k, _ in parse_qsl(payload)]
    assert names == ["recvWindow", "timestamp"]
    assert req.headers["X-MBX-APIKEY"] == KEY
    assert req.headers["User-Agent"] == f"binance_conn/{binance_conn.__version__}"
    assert abs(int(dict(parse_qsl(payload))["timestamp"]) - time.time() * 1000) < 5000


@responses.activate
def test_non_ascii_is_percent_encoded_and_signed_as_sent() -> None:
    add_time(responses.mock)
    responses.add(responses.GET, f"{BASE}/api/v3/order", json={"symbol": "x", "price": "0.1"})
    client = make_client()
    client.get_order("１２３４５６", client_order_id="a b")
    req = calls_to(responses.mock, "/api/v3/order")[0].request
    payload, sig = split_signed(req.url)
    assert payload.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&origClientOrderId=a%20b")
    assert sig == hmac_hex(payload)


@responses.activate
def test_ed25519_signature_base64_percent_encoded() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    cfg = Config.builder().with_rest_url(BASE).with_api_key(KEY).with_private_key(pem).build()
    add_time(responses.mock)
    responses.add(responses.GET, f"{BASE}/api/v3/openOrders", json=[])
    client = RestClient(cfg, limiter_registry=WeightLimiterRegistry())
    assert client.open_orders("BTCUSDT") == []
    payload, sig = split_signed(calls_to(responses.mock, "/api/v3/openOrders")[0].request.url)
    assert "+" not in sig and "/" not in sig and "=" not in sig  # percent-encoded on the wire
    key.public_key().verify(base64.b64decode(unquote(sig)), payload.encode())


@responses.activate
def test_decimal_params_and_float_rejected() -> None:
    add_time(responses.mock)
    responses.add(responses.POST, f"{BASE}/api/v3/order", json={"orderId": 1, "price": "0.00000001",
                                                                "origQty": "100"})
    client = make_client()
    with pytest.raises(ValidationError) as info:
        client.new_order("BTCUSDT", "BUY", "LIMIT", quantity=0.1, price=Decimal("1"), time_in_force="GTC")
    assert info.value.field == "quantity"
    assert not calls_to(responses.mock, "/api/v3/order")
    out = client.new_order("BTCUSDT", "BUY", "LIMIT", quantity=Decimal("1E+2"), price=Decimal("1E-8"),
                           time_in_force="GTC")
    assert out["price"] == Decimal("0.00000001") and out["origQty"] == Decimal(100)
    req = calls_to(responses.mock, "/api/v3/order", "POST")[0].request
    payload, sig = split_signed(req.url)
    q = dict(parse_qsl(payload))
    assert q["price"] == "0.00000001" and q["quantity"] == "100"
    assert re.match(r"^[a-zA-Z0-9-_]{1,36}$", q["newClientOrderId"])
    assert sig == hmac_hex(payload)


@responses.activate
def test_float_opt_in() -> None:
    add_time(responses.mock)
    responses.add(responses.POST, f"{BASE}/api/v3/order", json={"orderId": 1})
    client = make_client(with_float_conversion=True)
    client.new_order("BTCUSDT", "BUY", "LIMIT", quantity=1e-05, price=0.1, time_in_force="GTC",
                     client_order_id="mine-1")
    q = dict(parse_qsl(split_signed(calls_to(responses.mock, "/api/v3/order")[0].request.url)[0]))
    assert q["quantity"] == "0.00001" and q["price"] == "0.1" and q["newClientOrderId"] == "mine-1"


def test_bad_client_order_id() -> None:
    client = make_client()
    with pytest.raises(ValidationError):
        client.new_order("BTCUSDT", "BUY", "MARKET", quantity="1", client_order_id="has space")


@responses.activate
def test_json_numbers_parsed_as_decimal() -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/x", body='{"a": 0.1, "b": 12}')
    out = make_client().request("GET", "/api/v3/x")
    assert out == {"a": Decimal("0.1"), "b": 12} and isinstance(out["a"], Decimal)


@responses.activate
def test_ticker_and_depth_decimal() -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/ticker/price", json={"symbol": "BTCUSDT", "price": "4.00000200"})
    responses.add(responses.GET, f"{BASE}/api/v3/depth",
                  json={"lastUpdateId": 1, "bids": [["4.0", "431.0"]], "asks": [["4.2", "12"]]})
    client = make_client(signed=False)
    assert client.ticker_price("btcusdt") == Decimal("4.000002")
    assert "symbol=BTCUSDT" in responses.calls[0].request.url
    book = client.depth("BTCUSDT", limit=5)
    assert book["bids"][0] == [Decimal("4.0"), Decimal("431.0")]


@responses.activate
def test_clock_offset_applied_and_minus_1021_resyncs_once() -> None:
    state = {"offset": 0}

    def server_time(_req: Any) -> Tuple[int, Dict[str, str], str]:
        return 200, {}, '{"serverTime": %d}' % (int(time.time() * 1000) + state["offset"])

    responses.add_callback(responses.GET, f"{BASE}/api/v3/time", callback=server_time)
    seen: List[int] = []

    def account(req: Any) -> Tuple[int, Dict[str, str], str]:
        ts = int(dict(parse_qsl(urlsplit(req.url).query))["timestamp"])
        seen.append(ts)
        server_now = int(time.time() * 1000) + state["offset"]
        if ts > server_now + 1000 or server_now - ts > 5000:
            return 400, {}, '{"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}'
        return 200, {}, '{"balances": []}'

    responses.add_callback(responses.GET, f"{BASE}/api/v3/account", callback=account)
    client = make_client()
    client.account()
    assert len(calls_to(responses.mock, "/api/v3/time")) == 1
    state["offset"] = 30_000  # the server clock jumps ahead 30 s
    client.account()  # -1021, resync, re-signed with a new timestamp, retried once
    assert len(calls_to(responses.mock, "/api/v3/time")) == 2
    assert seen[-1] - seen[-2] > 25_000
    assert abs(client.clock_offset_ms - 30_000) < 2_000
    # a server that keeps refusing: one resync, then TimestampError
    responses.replace(responses.GET, f"{BASE}/api/v3/account", status=400,
                      json={"code": -1021, "msg": "Timestamp for this request was 1000ms ahead of the server's time."})
    before = len(calls_to(responses.mock, "/api/v3/account"))
    with pytest.raises(TimestampError) as info:
        client.account()
    assert len(calls_to(responses.mock, "/api/v3/account")) - before == 2
    assert info.value.binance_code == -1021 and info.value.request_id


@responses.activate
def test_periodic_resync() -> None:
    add_time(responses.mock)
    responses.add(responses.GET, f"{BASE}/api/v3/account", json={})
    client = make_client(with_time_sync=0.05)
    client.account()
    client.account()
    assert len(calls_to(responses.mock, "/api/v3/time")) == 1
    deadline = time.monotonic() + 2
    while len(calls_to(responses.mock, "/api/v3/time")) < 2 and time.monotonic() < deadline:
        client.account()
    assert len(calls_to(responses.mock, "/api/v3/time")) == 2


def test_signed_without_credentials() -> None:
    client = make_client(signed=False)
    with pytest.raises(ValidationError):
        client.account()


@responses.activate
def test_error_mapping_and_details() -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/ticker/price", status=400,
                  json={"code": -1121, "msg": "Invalid symbol."})
    responses.add(responses.GET, f"{BASE}/api/v3/ping", status=401, json={"code": -2015, "msg": "Invalid API-key"})
    client = make_client(signed=False)
    with pytest.raises(NotFoundError) as info:
        client.ticker_price("NOPE")
    d = info.value.details
    assert d["exchange"] == "binance" and d["http_status"] == 400 and d["binance_code"] == -1121
    assert isinstance(d["timestamp"], int) and d["request_id"]
    with pytest.raises(AuthenticationError):
        client.ping()


@responses.activate
def test_malformed_body() -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/ping", body="<html>bad gateway</html>", status=200)
    client = make_client(signed=False, with_retry=1)
    with pytest.raises(BinanceError) as info:
        client.ping()
    assert info.value.code == "malformed_response"
    responses.replace(responses.GET, f"{BASE}/api/v3/ping", body="not json", status=400)
    with pytest.raises(BinanceError) as info2:
        client.ping()
    assert info2.value.code == "malformed_response" and info2.value.http_status == 400


@responses.activate
def test_used_weight_and_order_count_from_headers() -> None:
    add_time(responses.mock)
    responses.add(responses.GET, f"{BASE}/api/v3/ping", json={}, headers={"x-mbx-used-weight-1m": "42"})
    responses.add(responses.POST, f"{BASE}/api/v3/order", json={"orderId": 1},
                  headers={"X-MBX-USED-WEIGHT-1M": "43", "X-MBX-ORDER-COUNT-10S": "1", "X-MBX-ORDER-COUNT-1D": "7"})
    client = make_client()
    client.ping()
    assert client.used_weight.get("1M", 0) >= 42
    client.new_order("BTCUSDT", "BUY", "MARKET", quantity="1")
    assert client.used_weight["1M"] >= 43
    assert client.order_count == {"10S": 1, "1D": 7}


@responses.activate
def test_secrets_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    add_time(responses.mock)
    responses.add(responses.GET, f"{BASE}/api/v3/account", status=400, json={"code": -1022, "msg": "Signature bad"})
    client = make_client()
    caplog.set_level(logging.DEBUG, logger="binance_conn")
    with pytest.raises(AuthenticationError) as info:
        client.account()
    sig = split_signed(calls_to(responses.mock, "/api/v3/account")[0].request.url)[1]
    texts = [r.getMessage() + repr(r.__dict__) for r in caplog.records]
    assert texts, "expected debug records"
    for text in texts + [str(info.value), repr(info.value), repr(info.value.details), repr(client)]:
        assert SECRET not in text and sig not in text


def test_session_injection_and_per_call_timeout() -> None:
    class Adapter(requests.adapters.BaseAdapter):
        def __init__(self) -> None:
            super().__init__()
            self.seen: List[Tuple[str, Any, Any]] = []

        def send(self, request: Any, **kw: Any) -> requests.Response:  # type: ignore[override]
            self.seen.append((request.url, kw.get("timeout"), request.headers.get("X-Test")))
            r = requests.Response()
            r.status_code = 200
            r._content = b"{}"
            r.request = request
            r.headers = requests.structures.CaseInsensitiveDict({"X-MBX-USED-WEIGHT-1M": "3"})
            return r

        def close(self) -> None:
            pass

    adapter = Adapter()
    session = requests.Session()
    session.headers["X-Test"] = "yes"
    session.mount(BASE, adapter)
    client = RestClient(make_config(signed=False, with_timeout=(7.0, 2.0)), session,
                        limiter_registry=WeightLimiterRegistry())
    client.ping()
    client.request("GET", "/api/v3/ping", timeout=0.5)
    client.request("GET", "/api/v3/ping", timeout=(0.1, 9.0))
    # Each socket timeout is the configured one capped by what is left of the call's
    # total deadline (rounded up to 10 ms): equal to it unless the machine paused the
    # test for more than 10 ms before the send, so allow a loaded machine 0.3 s.
    expected = [(2.0, 7.0), (0.5, 0.5), (0.1, 9.0)]
    sent = [s[1] for s in adapter.seen]
    assert len(sent) == len(expected)
    for (connect, read), (want_connect, want_read) in zip(sent, expected):
        assert connect == pytest.approx(want_connect, abs=0.3) and connect <= want_connect
        assert read == pytest.approx(want_read, abs=0.3) and read <= want_read
    assert adapter.seen[0][2] == "yes"
    client.close()  # does not close an injected session
    client.ping()


def test_proxies_merged_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://envproxy:3128")
    monkeypatch.setenv("NO_PROXY", "")
    client = make_client(signed=False)
    assert client._send_kw["proxies"].get("https") == "http://envproxy:3128"
    client2 = make_client(signed=False, with_proxy="http://cfgproxy:8080")
    assert client2._send_kw["proxies"]["https"] == "http://cfgproxy:8080"
    monkeypatch.setenv("NO_PROXY", "api.test.invalid")
    assert "https" not in make_client(signed=False)._send_kw["proxies"]

    calls = []
    real = requests.utils.get_environ_proxies
    monkeypatch.setattr(requests.sessions, "get_environ_proxies",
                        lambda *a, **k: calls.append(1) or real(*a, **k), raising=False)
    monkeypatch.setattr(requests.utils, "get_environ_proxies", lambda *a, **k: calls.append(1) or real(*a, **k))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{BASE}/api/v3/ping", json={})
        c = make_client(signed=False)
        n = len(calls)
        for _ in range(5):
            c.ping()
        assert len(calls) == n  # no environment scan per call


@responses.activate
def test_exchange_info_cached_and_filters() -> None:
    info = {"rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                            "limit": 1200}],
            "symbols": [{"symbol": "BTCUSDT", "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "100000", "tickSize": "0.01"},
                {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "100", "stepSize": "0.001"},
                {"filterType": "NOTIONAL", "minNotional": "5", "maxNotional": "0", "applyMinToMarket": True}]}]}
    responses.add(responses.GET, f"{BASE}/api/v3/exchangeInfo", json=info)
    client = make_client(signed=False)
    assert client.exchange_info("BTCUSDT")["symbols"][0]["symbol"] == "BTCUSDT"
    first, second = client.exchange_info("BTCUSDT"), client.exchange_info("BTCUSDT")
    assert first == second and first is not second  # served from the cache, each caller its own copy
    assert len(responses.calls) == 1
    assert client._limiter.limits == {"1M": 1200}
    assert client.round_price("BTCUSDT", "100.006") == Decimal("100.01")
    assert client.round_quantity("BTCUSDT", "1.23456") == Decimal("1.234")
    client.validate_order("BTCUSDT", "LIMIT", quantity="1.234", price="100.01")
    with pytest.raises(ValidationError):
        client.validate_order("BTCUSDT", "LIMIT", quantity="0.01", price="100.01")  # notional 1 < 5
    with pytest.raises(ValidationError):
        client.validate_order("BTCUSDT", "LIMIT", quantity="1.2345", price="100.01")
    assert len(responses.calls) == 1
    with pytest.raises(NotFoundError):
        client.symbol_filters("ETHBTC")


@responses.activate
def test_exchange_info_hands_out_a_copy_not_its_cache() -> None:
    info = {"rateLimits": [], "symbols": [{"symbol": "BTCUSDT", "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "100000", "tickSize": "0.01"},
        {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "100", "stepSize": "0.001"}]}]}
    responses.add(responses.GET, f"{BASE}/api/v3/exchangeInfo", json=info)
    client = make_client(signed=False)
    mine = client.exchange_info()
    mine["symbols"][0]["filters"][0]["tickSize"] = "1000"  # a caller mangles its answer...
    mine["symbols"].append({"symbol": "FAKE"})
    mine.clear()
    again = client.exchange_info()  # ...the cache (and the next caller) are unaffected
    assert len(responses.calls) == 1
    assert [s["symbol"] for s in again["symbols"]] == ["BTCUSDT"]
    assert again["symbols"][0]["filters"][0]["tickSize"] == "0.01"
    assert client.round_price("BTCUSDT", "100.006") == Decimal("100.01")


@responses.activate
def test_exchange_info_ttl_expires() -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/exchangeInfo", json={"symbols": []})
    client = make_client(signed=False, with_exchange_info_ttl=0.01)
    client.exchange_info()
    deadline = time.monotonic() + 2
    while len(responses.calls) < 2 and time.monotonic() < deadline:
        client.exchange_info()
    assert len(responses.calls) == 2


@responses.activate
def test_signature_scrubbed_from_network_errors(caplog: pytest.LogCaptureFixture) -> None:
    add_time(responses.mock)  # /api/v3/account is not registered: responses refuses with the full URL
    client = make_client(with_retry=1)
    caplog.set_level(logging.DEBUG, logger="binance_conn")
    with pytest.raises(BinanceError) as info:
        client.account()
    err = info.value
    assert err.__cause__ is not None and "signature=***" in str(err.__cause__)
    chain = f"{err} {err!r} {err.__cause__!r} {err.details!r}"
    assert re.search(r"signature=(?!\*\*\*)", chain) is None
    assert SECRET not in chain
    for r in caplog.records:
        assert "signature=" not in r.getMessage() + repr(r.__dict__)
