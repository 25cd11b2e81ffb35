"""A REST call's ``timeout`` is a TOTAL deadline (issues 9 and 10): connect, headers, body, every
retry and the backoff between them end within it, against loopback servers that never answer or
that trickle their answer a byte at a time. Also: one retry budget (``with_retry(attempts=N)``)."""

from __future__ import annotations

import threading
import time
from typing import Iterator, List

import pytest
import responses
from _helpers import scaled
from _rest_loopback import SlowServer
from test_rest import BASE, make_client, make_config

from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn.errors import ConnectionError, UnknownStatusError
from binance_conn.rest import RestClient

SLACK = 0.35  # watchdog poll (50 ms) + thread wake-ups on a loaded 2-core machine


@pytest.fixture
def clients() -> Iterator[List[RestClient]]:
    made: List[RestClient] = []
    yield made
    for c in made:
        c.close()


def client_for(server: SlowServer, made: List[RestClient], timeout: float, attempts: int = 3) -> RestClient:
    cfg = make_config(url=server.url, signed=False, with_timeout=timeout, with_retry=attempts,
                      with_backoff=(0.05, 0.1, 0.0))
    c = RestClient(cfg, limiter_registry=WeightLimiterRegistry())
    made.append(c)
    return c


@pytest.mark.parametrize("mode", ["silent", "trickle_headers", "trickle_body"])
def test_total_deadline_bounds_a_safe_call_with_retries(mode: str, clients: List[RestClient]) -> None:
    with SlowServer(mode, byte_delay=0.1) as server:
        client = client_for(server, clients, timeout=1.0, attempts=3)
        t0 = time.monotonic()
        with pytest.raises(ConnectionError) as info:
            client.ping()
        took = time.monotonic() - t0
        print(f"{mode}: GET with timeout=1.0, 3 attempts -> {type(info.value).__name__} after {took:.2f} s")
        assert took <= 1.0 + scaled(SLACK), took
        assert info.value.is_retryable()
        assert "deadline" in str(info.value) or "timeout" in str(info.value)


@pytest.mark.parametrize("mode", ["silent", "trickle_headers"])
def test_total_deadline_bounds_an_order_and_reports_unknown(mode: str, clients: List[RestClient]) -> None:
    with SlowServer(mode, byte_delay=0.1) as server:
        cfg = make_config(url=server.url, with_timeout=1.0)
        client = RestClient(cfg, limiter_registry=WeightLimiterRegistry())
        clients.append(client)
        now = int(time.time() * 1000)
        client._clock.update(now, now, now)  # synced: the order is the only request
        t0 = time.monotonic()
        with pytest.raises(UnknownStatusError) as info:
            client.request("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                      "quantity": "1"}, signed=True)
        took = time.monotonic() - t0
        assert took <= 1.0 + scaled(SLACK), took
        assert info.value.client_order_id  # the order can be looked up
        assert server.requests == 1  # never re-sent


def test_per_call_timeout_is_total_too(clients: List[RestClient]) -> None:
    with SlowServer("trickle_headers", byte_delay=0.05) as server:
        client = client_for(server, clients, timeout=10.0)
        t0 = time.monotonic()
        with pytest.raises(ConnectionError):
            client.request("GET", "/api/v3/ping", timeout=0.8)
        assert time.monotonic() - t0 <= 0.8 + scaled(SLACK)


def test_a_slow_but_timely_answer_is_read_whole_and_no_thread_is_started(clients: List[RestClient]) -> None:
    before = set(threading.enumerate())
    with SlowServer("trickle_body", byte_delay=0.0005) as server:  # ~0.5 s for the whole body
        client = client_for(server, clients, timeout=3.0)
        assert client.request("GET", "/api/v3/ping")["x"] > 0
        assert client.probe(3.0)["x"] > 0
        assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("binance_conn")]


def test_probe_is_cut_at_once_when_the_stop_event_is_set(clients: List[RestClient]) -> None:
    stop = threading.Event()
    with SlowServer("trickle_headers", byte_delay=0.2) as server:
        cfg = make_config(url=server.url, signed=False, with_timeout=30.0)
        client = RestClient(cfg, limiter_registry=WeightLimiterRegistry(), stop_event=stop)
        clients.append(client)
        done = threading.Event()
        errors: List[BaseException] = []

        def run() -> None:
            try:
                client.probe(20.0)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            done.set()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        assert server.wait_requests(1, scaled(3))
        t0 = time.monotonic()
        stop.set()
        assert done.wait(scaled(2)), "the probe outlived the stop event"
        assert time.monotonic() - t0 <= scaled(0.5)
        assert errors and isinstance(errors[0], ConnectionError) and "stopping" in str(errors[0])
        t.join(1)


# ---------------------------------------------------------------- one retry budget


@responses.activate
@pytest.mark.parametrize("attempts", [1, 2, 3, 5])
def test_with_retry_attempts_is_the_one_budget(attempts: int) -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/ping", status=503, body="busy")
    client = make_client(signed=False, with_retry=attempts)
    with pytest.raises(UnknownStatusError):  # a 5xx: Binance says the outcome is unknown
        client.ping()
    assert len(responses.calls) == attempts


@responses.activate
def test_retries_stop_at_the_deadline_not_the_count() -> None:
    """Backoff that would end past the deadline is not slept: the last error comes at once."""
    responses.add(responses.GET, f"{BASE}/api/v3/ping", status=503, body="busy")
    client = make_client(signed=False, with_retry=10, with_backoff=(0.2, 0.2, 0.0), with_timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(UnknownStatusError):  # a 5xx: Binance says the outcome is unknown
        client.ping()
    assert time.monotonic() - t0 <= 0.5 + scaled(SLACK)
    assert 2 <= len(responses.calls) <= 3
