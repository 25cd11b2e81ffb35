"""RestClient retries, unknown-status orders, ban gate, weight limiter, in-flight tracking, threads."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from typing import Any, Dict, List, Tuple
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses
from _helpers import scaled, wait_until
from test_rest import BASE, SECRET, add_time, calls_to, make_client, make_config, split_signed

from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn.errors import (
    ConnectionError,
    IPBannedError,
    NotFoundError,
    RateLimitError,
    UnknownStatusError,
)
from binance_conn.rest import RestClient


@responses.activate
def test_get_retried_on_503_then_succeeds() -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/ping", status=503, body="Service Unavailable.")
    responses.add(responses.GET, f"{BASE}/api/v3/ping", json={})
    client = make_client(signed=False)
    client.ping()
    assert len(responses.calls) == 2


@responses.activate
def test_get_retry_budget_exhausted() -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/ping", status=502, body="bad gateway")
    client = make_client(signed=False, with_retry=3)
    with pytest.raises(UnknownStatusError) as info:
        client.ping()
    assert len(responses.calls) == 3
    assert info.value.http_status == 502


@responses.activate
@pytest.mark.parametrize("code", [-1001, -1008])
def test_get_retried_on_busy_codes(code: int) -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/ping", status=400, json={"code": code, "msg": "busy"})
    responses.add(responses.GET, f"{BASE}/api/v3/ping", json={})
    make_client(signed=False).ping()
    assert len(responses.calls) == 2


@responses.activate
def test_get_not_retried_on_client_errors() -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/ticker/price", status=400, json={"code": -1121, "msg": "Invalid"})
    with pytest.raises(NotFoundError):
        make_client(signed=False).ticker_price("X")
    assert len(responses.calls) == 1


@responses.activate
def test_get_read_timeout_is_temporary_connection_error() -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/ping", body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(ConnectionError) as info:
        make_client(signed=False, with_retry=2).ping()
    assert info.value.is_temporary()
    assert isinstance(info.value.__cause__, requests.exceptions.ReadTimeout)
    assert "read timed out" in str(info.value)
    assert len(responses.calls) == 2


@responses.activate
def test_post_order_503_unknown_status_exactly_one_post_then_reconciled() -> None:
    add_time(responses.mock)
    responses.add(responses.POST, f"{BASE}/api/v3/order", status=503,
                  body="Unknown error, please check your request or try again later.")
    client = make_client()
    with pytest.raises(UnknownStatusError) as info:
        client.new_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="10", time_in_force="GTC")
    err = info.value
    assert len(calls_to(responses.mock, "/api/v3/order", "POST")) == 1
    sent = dict(parse_qsl(split_signed(calls_to(responses.mock, "/api/v3/order", "POST")[0].request.url)[0]))
    assert err.client_order_id == sent["newClientOrderId"] and err.symbol == "BTCUSDT"
    assert re.match(r"^[a-zA-Z0-9-_]{1,36}$", err.client_order_id or "")
    assert err.details["client_order_id"] == err.client_order_id

    responses.add(responses.GET, f"{BASE}/api/v3/order",
                  json={"symbol": "BTCUSDT", "clientOrderId": err.client_order_id, "status": "NEW",
                        "price": "10.00", "origQty": "1"})
    state = client.reconcile_order(err)
    assert state is not None and state["status"] == "NEW"
    q = dict(parse_qsl(urlsplit(calls_to(responses.mock, "/api/v3/order", "GET")[0].request.url).query))
    assert q["origClientOrderId"] == err.client_order_id

    responses.replace(responses.GET, f"{BASE}/api/v3/order", status=400,
                      json={"code": -2013, "msg": "Order does not exist."})
    assert client.reconcile_order(err) is None


@responses.activate
@pytest.mark.parametrize("code", [-1000, -1006, -1007])
def test_post_order_unknown_codes(code: int) -> None:
    add_time(responses.mock)
    responses.add(responses.POST, f"{BASE}/api/v3/order", status=400, json={"code": code, "msg": "unknown"})
    with pytest.raises(UnknownStatusError) as info:
        make_client().new_order("BTCUSDT", "BUY", "MARKET", quantity="1", client_order_id="abc")
    assert info.value.client_order_id == "abc" and info.value.binance_code == code
    assert len(calls_to(responses.mock, "/api/v3/order")) == 1


@responses.activate
def test_post_order_read_timeout_unknown_connect_timeout_connection_error() -> None:
    add_time(responses.mock)
    responses.add(responses.POST, f"{BASE}/api/v3/order", body=requests.exceptions.ReadTimeout("slow"))
    client = make_client()
    with pytest.raises(UnknownStatusError) as info:
        client.new_order("BTCUSDT", "SELL", "MARKET", quantity="1")
    assert info.value.client_order_id and isinstance(info.value.__cause__, requests.exceptions.ReadTimeout)
    responses.replace(responses.POST, f"{BASE}/api/v3/order", body=requests.exceptions.ConnectTimeout("no route"))
    with pytest.raises(ConnectionError) as info2:
        client.new_order("BTCUSDT", "SELL", "MARKET", quantity="1")
    assert info2.value.is_temporary()
    assert len(calls_to(responses.mock, "/api/v3/order")) == 2  # one per call, never re-sent


@responses.activate
def test_post_order_rejection_is_not_unknown() -> None:
    add_time(responses.mock)
    responses.add(responses.POST, f"{BASE}/api/v3/order", status=400,
                  json={"code": -2010, "msg": "Account has insufficient balance for requested action."})
    from binance_conn.errors import OrderRejectedError

    with pytest.raises(OrderRejectedError):
        make_client().new_order("BTCUSDT", "BUY", "MARKET", quantity="1")


@responses.activate
def test_retried_cancel_unknown_order_returns_real_state() -> None:
    add_time(responses.mock)
    responses.add(responses.DELETE, f"{BASE}/api/v3/order", body=requests.exceptions.ReadTimeout("slow"))
    responses.add(responses.DELETE, f"{BASE}/api/v3/order", status=400,
                  json={"code": -2011, "msg": "Unknown order sent."})
    responses.add(responses.GET, f"{BASE}/api/v3/order",
                  json={"symbol": "BTCUSDT", "orderId": 5, "status": "CANCELED", "price": "1"})
    out = make_client().cancel_order("BTCUSDT", order_id=5)
    assert out["status"] == "CANCELED" and out["orderId"] == 5
    assert len(calls_to(responses.mock, "/api/v3/order", "DELETE")) == 2


@responses.activate
def test_cancel_unknown_order_without_prior_attempt_raises() -> None:
    add_time(responses.mock)
    responses.add(responses.DELETE, f"{BASE}/api/v3/order", status=400,
                  json={"code": -2011, "msg": "Unknown order sent."})
    with pytest.raises(NotFoundError):
        make_client().cancel_order("BTCUSDT", order_id=5)


@responses.activate
def test_429_fail_fast_then_recovery() -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/ping", status=429, headers={"Retry-After": "1"},
                  json={"code": -1003, "msg": "Too much request weight used."})
    client = make_client(signed=False)
    with pytest.raises(RateLimitError) as info:
        client.ping()
    assert info.value.retry_after == 1.0 and not isinstance(info.value, IPBannedError)
    assert len(responses.calls) == 1
    with pytest.raises(RateLimitError) as info2:
        client.ping()
    assert len(responses.calls) == 1  # failed fast, server not touched
    assert 0 < (info2.value.retry_after or 0) <= 1.0 and info2.value.details["fail_fast"]
    responses.replace(responses.GET, f"{BASE}/api/v3/ping", json={})

    def recovered() -> bool:
        try:
            client.ping()
            return True
        except RateLimitError:
            return False

    assert wait_until(recovered, timeout=3.0, interval=0.05)
    assert len(responses.calls) == 2


@responses.activate
def test_418_ip_banned_gate_shared_by_clients_of_same_host() -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/ping", status=418, headers={"Retry-After": "120"},
                  json={"code": -1003, "msg": "Way too much request weight used; IP banned until 1."})
    registry = WeightLimiterRegistry()
    a = RestClient(make_config(signed=False), limiter_registry=registry)
    b = RestClient(make_config(signed=False), limiter_registry=registry)
    with pytest.raises(IPBannedError):
        a.ping()
    with pytest.raises(IPBannedError) as info:
        b.ping()
    assert 100 < (info.value.retry_after or 0) <= 120
    assert len(responses.calls) == 1
    # another registry (another process, in effect) is not affected
    c = make_client(signed=False)
    with pytest.raises(IPBannedError):
        c.ping()
    assert len(responses.calls) == 2


def _fresh_window() -> None:
    # the 1-minute window is aligned: keep the test away from a boundary
    sec = time.time() % 60
    if sec > 55:
        time.sleep(60.5 - sec)


@responses.activate
def test_client_side_weight_limit_waits_then_raises() -> None:
    _fresh_window()
    responses.add(responses.GET, f"{BASE}/api/v3/ping", json={})
    client = make_client(signed=False, with_rate_limit=(0.05, 5))
    for _ in range(5):
        client.ping()
    t0 = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        client.ping()
    assert time.monotonic() - t0 < scaled(0.5)
    assert info.value.details["client_side"] and (info.value.retry_after or 0) > 0
    assert len(responses.calls) == 5
    assert client.used_weight["1M"] == 5


def test_weight_header_from_other_processes_counts() -> None:
    _fresh_window()
    served = [97]  # other processes on this IP already spent 97 of 100

    def ping(_req: Any) -> Tuple[int, Dict[str, str], str]:
        served[0] += 1
        return 200, {"X-MBX-USED-WEIGHT-1M": str(served[0])}, "{}"

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, f"{BASE}/api/v3/ping", callback=ping)
        client = make_client(signed=False, with_rate_limit=(0.0, 100))
        client.ping()
        client.ping()
        client.ping()
        assert client.used_weight["1M"] == 100
        with pytest.raises(RateLimitError):
            client.ping()
        assert len(rsps.calls) == 3


def test_stop_event_interrupts_backoff() -> None:
    stop = threading.Event()
    cfg = make_config(signed=False, with_backoff=(5.0, 5.0, 0.0), with_retry=3)
    client = RestClient(cfg, limiter_registry=WeightLimiterRegistry(), stop_event=stop)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{BASE}/api/v3/ping", status=503, body="x")
        errors: List[BaseException] = []

        def run() -> None:
            try:
                client.ping()
            except BaseException as exc:  # noqa: B902
                errors.append(exc)

        t = threading.Thread(target=run)
        t0 = time.monotonic()
        t.start()
        assert wait_until(lambda: client.inflight == 1 and len(rsps.calls) == 1, timeout=2.0)
        stop.set()
        t.join(scaled(2.0))
        assert not t.is_alive()
        assert time.monotonic() - t0 < scaled(2.0)
        assert isinstance(errors[0], UnknownStatusError)
        assert len(rsps.calls) == 1


def test_inflight_and_wait_idle() -> None:
    release = threading.Event()
    with responses.RequestsMock() as rsps:
        def slow(_req: Any) -> Tuple[int, Dict[str, str], str]:
            release.wait(scaled(5.0))
            return 200, {}, "{}"

        rsps.add_callback(responses.GET, f"{BASE}/api/v3/ping", callback=slow)
        client = make_client(signed=False)
        assert client.wait_idle(0) is True
        t = threading.Thread(target=client.ping)
        t.start()
        assert wait_until(lambda: client.inflight == 1)
        assert client.wait_idle(0.05) is False
        release.set()
        assert client.wait_idle(scaled(5.0)) is True
        assert client.inflight == 0
        t.join(scaled(2.0))


def test_concurrent_signed_calls_all_valid() -> None:
    bad: List[str] = []
    timestamps: List[int] = []
    lock = threading.Lock()
    with responses.RequestsMock() as rsps:
        add_time(rsps)

        def check(req: Any) -> Tuple[int, Dict[str, str], str]:
            payload, sig = split_signed(req.url)
            ok = sig == hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
            q = dict(parse_qsl(payload))
            with lock:
                timestamps.append(int(q["timestamp"]))
                if not ok:
                    bad.append(payload)
            return 200, {"X-MBX-USED-WEIGHT-1M": str(len(timestamps))}, '{"n": %s}' % q["n"]

        rsps.add_callback(responses.GET, f"{BASE}/api/v3/myTrades", callback=check)
        client = make_client()
        results: Dict[int, Any] = {}

        def worker(i: int) -> None:
            for j in range(10):
                n = i * 100 + j
                results[n] = client.request("GET", "/api/v3/myTrades", {"n": n}, signed=True)["n"]

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(20.0))
        assert not bad
        assert len(results) == 160 and all(results[n] == n for n in results)  # nothing crossed between threads
        assert len(calls_to(rsps, "/api/v3/time")) == 1  # one clock sync shared by all threads
        assert client.inflight == 0


class _RecordingEvent(threading.Event):
    """A stop event whose wait() records the requested delay and returns at once."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: List[float] = []

    def wait(self, timeout: Any = None) -> bool:
        self.waits.append(timeout)
        return False


@responses.activate
def test_backoff_delays_follow_config_and_sleep_on_stop_event() -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/ping", status=503, body="x")
    stop = _RecordingEvent()
    cfg = make_config(signed=False, with_backoff=(0.5, 1.5, 0.0), with_retry=4)
    client = RestClient(cfg, limiter_registry=WeightLimiterRegistry(), stop_event=stop)
    with pytest.raises(UnknownStatusError):
        client.ping()
    assert len(responses.calls) == 4
    assert stop.waits == [0.5, 1.0, 1.5]  # base * 2**n capped at max, jitter 0


@responses.activate
def test_jitter_only_shortens() -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/ping", status=503, body="x")
    stop = _RecordingEvent()
    cfg = make_config(signed=False, with_backoff=(1.0, 8.0, 0.5), with_retry=4)
    client = RestClient(cfg, limiter_registry=WeightLimiterRegistry(), stop_event=stop)
    with pytest.raises(UnknownStatusError):
        client.ping()
    for n, waited in enumerate(stop.waits):
        nominal = min(8.0, 2.0**n)
        assert nominal * 0.5 <= waited <= nominal


@responses.activate
def test_rate_limiting_disabled_still_reports_weight() -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/ping", json={}, headers={"X-MBX-USED-WEIGHT-1M": "5"})
    client = make_client(signed=False, with_rate_limit=(0.0, 1, False))
    for _ in range(3):
        client.ping()  # a limit of 1 would bite if the limiter were on
    assert len(responses.calls) == 3
    assert client.used_weight["1M"] == 5
