"""RestClient with ``responses``: the X-MBX-TIME-UNIT header, recvWindow decimals on the wire
(signature over the exact text), the clock sync with a microsecond serverTime, and the
binance-data preset refusing signed / API-key calls before anything is sent."""

from __future__ import annotations

import hashlib
import hmac
import time
from decimal import Decimal
from typing import Any, Dict, List, Tuple
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from binance_conn._core.endpoints import MARKET_DATA, NONE, USER_DATA, USER_STREAM, Endpoint
from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn.config import Config
from binance_conn.errors import ValidationError
from binance_conn.rest import RestClient

BASE = "https://api.timeunit.invalid"
KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def _client(*, unit: str = "", recv: Any = None, exchange: str = "binance", signed: bool = True) -> RestClient:
    b = Config.builder().with_exchange(exchange).with_rest_url(BASE).with_backoff(base=0.01, max=0.02, jitter=0.0)
    if signed:
        b = b.with_api_key(KEY).with_api_secret(SECRET)
    if unit:
        b = b.with_time_unit(unit)
    if recv is not None:
        b = b.with_recv_window(recv)
    return RestClient(b.build(), limiter_registry=WeightLimiterRegistry())


def _time_cb(unit: str = "ms", offset_ms: int = 0) -> Any:
    def cb(_req: Any) -> Tuple[int, Dict[str, str], str]:
        now = time.time() * 1000 + offset_ms
        value = int(now * 1000) if unit == "us" else int(now)
        return 200, {}, '{"serverTime": %d}' % value

    return cb


def _split(url: str) -> Tuple[str, str]:
    payload, sep, sig = urlsplit(url).query.rpartition("&signature=")
    assert sep
    return payload, sig


# ------------------------------------------------------------------------------- X-MBX-TIME-UNIT

@pytest.mark.parametrize("unit", ["MICROSECOND", "microsecond"])
def test_time_unit_header_on_every_request(unit: str) -> None:
    client = _client(unit=unit)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{BASE}/api/v3/ping", json={})
        rsps.add_callback(responses.GET, f"{BASE}/api/v3/time", callback=_time_cb("us"))
        rsps.add(responses.GET, f"{BASE}/api/v3/account", json={"balances": []})
        client.ping()
        client.account()
        sent = [c.request for c in rsps.calls]
    assert [urlsplit(r.url).path for r in sent] == ["/api/v3/ping", "/api/v3/time", "/api/v3/account"]
    for req in sent:
        assert req.headers["X-MBX-TIME-UNIT"] == "MICROSECOND"
    assert sent[-1].headers["X-MBX-APIKEY"] == KEY


def test_no_time_unit_header_by_default() -> None:
    client = _client()
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{BASE}/api/v3/ping", json={})
        rsps.add_callback(responses.GET, f"{BASE}/api/v3/time", callback=_time_cb())
        rsps.add(responses.GET, f"{BASE}/api/v3/account", json={"balances": []})
        client.ping()
        client.account()
        for call in rsps.calls:
            assert "X-MBX-TIME-UNIT" not in call.request.headers


@pytest.mark.parametrize("server_unit", ["us", "ms"])
@pytest.mark.parametrize("skew_ms", [0, 7_500, -3_250])
def test_clock_offset_right_with_microsecond_server_time(server_unit: str, skew_ms: int) -> None:
    client = _client(unit="MICROSECOND")
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, f"{BASE}/api/v3/time", callback=_time_cb(server_unit, skew_ms))
        offset = client.sync_clock(force=True)
    assert abs(offset - skew_ms) < 250, offset  # in ms, whatever unit the server answered in
    assert client.clock_offset_ms == offset


def test_signed_timestamp_stays_milliseconds_in_microsecond_mode() -> None:
    client = _client(unit="MICROSECOND")
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, f"{BASE}/api/v3/time", callback=_time_cb("us", 2_000))
        rsps.add(responses.GET, f"{BASE}/api/v3/account", json={"balances": []})
        client.account()
        payload, _ = _split(rsps.calls[-1].request.url)
    ts = int(dict(parse_qsl(payload))["timestamp"])
    assert abs(ts - (time.time() * 1000 + 2_000)) < 1_000  # ms, offset applied


def test_server_time_returns_the_wire_value() -> None:
    client = _client(unit="MICROSECOND", signed=False)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{BASE}/api/v3/time", json={"serverTime": 1_700_000_000_123_456})
        assert client.server_time() == 1_700_000_000_123_456


# ------------------------------------------------------------------------------- recvWindow on the wire

@pytest.mark.parametrize("configured,text", [
    ("5000.123", "5000.123"), (Decimal("5000.500"), "5000.5"), ("6000.346", "6000.346"), (5000, "5000"),
    (Decimal("2E+3"), "2000"), ("0.5", "0.5"),
])
def test_configured_recv_window_sent_exactly_and_signed(configured: Any, text: str) -> None:
    client = _client(recv=configured)
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, f"{BASE}/api/v3/time", callback=_time_cb())
        rsps.add(responses.GET, f"{BASE}/api/v3/account", json={"balances": []})
        client.account()
        url = rsps.calls[-1].request.url
    payload, sig = _split(url)
    assert f"recvWindow={text}&timestamp=" in payload
    assert sig == hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("per_call,text", [
    (Decimal("1500.250"), "1500.25"), ("999.999", "999.999"), (700, "700"),
])
def test_per_call_recv_window(per_call: Any, text: str) -> None:
    client = _client(recv=5000)
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, f"{BASE}/api/v3/time", callback=_time_cb())
        rsps.add(responses.GET, f"{BASE}/api/v3/account", json={"balances": []})
        client.request("GET", "/api/v3/account", {"recvWindow": per_call}, signed=True)
        payload, sig = _split(rsps.calls[-1].request.url)
    pairs: List[Tuple[str, str]] = parse_qsl(payload)
    assert [v for k, v in pairs if k == "recvWindow"] == [text]  # once: the configured one is not added
    assert sig == hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("bad", [5000.5, "1.0001", 0, 60001, Decimal("-1")])
def test_per_call_recv_window_invalid_sends_nothing(bad: Any) -> None:
    client = _client()
    with responses.RequestsMock() as rsps:
        with pytest.raises(ValidationError) as info:
            client.request("GET", "/api/v3/account", {"recvWindow": bad}, signed=True)
        assert len(rsps.calls) == 0
    assert info.value.field == "recvWindow"


# ------------------------------------------------------------------------------- binance-data

def _data_client(**kw: Any) -> RestClient:
    return _client(exchange="binance-data", **kw)


def test_data_preset_refuses_signed_requests_without_sending() -> None:
    client = _data_client()
    with responses.RequestsMock() as rsps:
        for call in (client.account, lambda: client.open_orders("BTCUSDT"),
                     lambda: client.request("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"}, signed=True),
                     lambda: client.new_order("BTCUSDT", "BUY", "MARKET", quantity="1")):
            with pytest.raises(ValidationError) as info:
                call()
            assert info.value.field == "exchange"
            assert info.value.value == "binance-data"
            assert info.value.constraint.startswith("binance-data serves public market data only")
        assert len(rsps.calls) == 0  # not even the clock sync
    assert client.inflight == 0


@pytest.mark.parametrize("security", [MARKET_DATA, USER_STREAM, USER_DATA])
def test_data_preset_refuses_api_key_endpoints_of_the_table(security: str) -> None:
    client = _data_client()
    ep = Endpoint("historical_trades", "GET", "/api/v3/historicalTrades", security)
    with responses.RequestsMock() as rsps:
        with pytest.raises(ValidationError) as info:
            client._call(ep, {"symbol": "BTCUSDT"})
        assert len(rsps.calls) == 0
    assert info.value.field == "exchange" and "historical_trades" in info.value.constraint


def test_data_preset_serves_public_market_data() -> None:
    client = _data_client(signed=False)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{BASE}/api/v3/ping", json={})
        rsps.add(responses.GET, f"{BASE}/api/v3/trades", json=[])
        rsps.add(responses.GET, f"{BASE}/api/v3/klines", json=[])
        client.ping()
        client.request("GET", "/api/v3/trades", {"symbol": "BTCUSDT"})
        client._call(Endpoint("klines", "GET", "/api/v3/klines", NONE), {"symbol": "BTCUSDT", "interval": "1m"})
        assert len(rsps.calls) == 3


def test_data_preset_default_url() -> None:
    client = RestClient(Config.builder().with_exchange("binance-data").build(),
                        limiter_registry=WeightLimiterRegistry())
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, "https://data-api.binance.vision/api/v3/ping", json={})
        client.ping()
        assert rsps.calls[0].request.url == "https://data-api.binance.vision/api/v3/ping"
