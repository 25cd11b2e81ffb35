"""binance_conn.metrics: scrape the HTTP endpoint while the fake injects faults, and see each reflected."""

from __future__ import annotations

import re
import threading
from typing import Dict, Iterator, Optional

import prometheus_client
import pytest
import requests
from _helpers import wait_until
from _metrics_helpers import Recorder, conn_threads, fast_conn, wait_synced

import binance_conn as bc
import binance_conn.metrics as bcm
from binance_conn.errors import InternalError, IPBannedError, ValidationError
from binance_conn.testing import FakeBinance

_SAMPLE = re.compile(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$')


def scrape(url: str) -> Dict[str, Dict[frozenset, float]]:
    """``name -> {frozenset(label items): value}`` of one scrape of ``url``/metrics."""
    r = requests.get(url + "/metrics", timeout=5)
    assert r.status_code == 200, r.text
    out: Dict[str, Dict[frozenset, float]] = {}
    for line in r.text.splitlines():
        m = _SAMPLE.match(line)
        if m is None:
            continue
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        out.setdefault(m.group(1), {})[labels] = float(m.group(3))
    return out


def value(samples: Dict[str, Dict[frozenset, float]], name: str, **labels: str) -> Optional[float]:
    want = set(labels.items())
    for key, v in samples.get(name, {}).items():
        if want <= key:
            return v
    return None


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=7) as f:
        yield f


def test_scrape_sees_reconnect_gap_slow_subscriber_and_ban(fake: FakeBinance) -> None:
    before = set(conn_threads())
    conn = fast_conn(fake)
    depth = Recorder()
    conn.on_depth("BTCUSDT", depth)
    gate = threading.Event()
    slow = Recorder(gate)
    slow_sub = conn.on_trade("BTCUSDT", slow, buffer=4)
    conn.start()
    server = bcm.serve(conn, port=0)
    try:
        assert conn.wait_ready(10) and wait_synced(conn)
        s = scrape(server.url)
        assert value(s, "binance_conn_up", connector="binance") == 1.0
        assert value(s, "binance_conn_session_state", session="market", state="CONNECTED") == 1.0
        assert value(s, "binance_conn_reconnects_total", session="market") == 0.0
        assert value(s, "binance_conn_clock_synced") == 1.0
        assert value(s, "binance_conn_rest_calls_total", endpoint="/api/v3/ping", status="200") >= 1

        # a reconnect
        fake.drop_connections()
        assert wait_until(lambda: (value(scrape(server.url), "binance_conn_reconnects_total", session="market")
                                   or 0) >= 1, timeout=5)
        assert conn.wait_ready(10)

        # a gap in the depth stream (update ids skipped by the server)
        fake.publish_depth("BTCUSDT", bids=[("100", "1")])
        assert wait_until(lambda: len(depth.items) >= 1)
        fake.publish_depth("BTCUSDT", bids=[("100", "2")], skip_ids=5)
        assert wait_until(lambda: len(depth.items) >= 2)
        s = scrape(server.url)
        assert value(s, "binance_conn_gaps_opened_total", stream="btcusdt@depth@100ms") == 1.0
        assert value(s, "binance_conn_gaps_unfilled_total", stream="btcusdt@depth@100ms") == 1.0
        assert value(s, "binance_conn_gaps_filled_total", stream="btcusdt@depth@100ms") == 0.0
        assert value(s, "binance_conn_gaps_open") == 0.0
        assert (value(s, "binance_conn_messages_total", stream="btcusdt@depth@100ms") or 0) >= 2
        assert (value(s, "binance_conn_event_lag_seconds_count", stream="btcusdt@depth@100ms") or 0) >= 2

        # a slow subscriber: its queue fills (4) and the oldest are dropped
        sid = str(slow_sub.id)
        fake.publish_trade("BTCUSDT", "100", "1")
        assert slow.entered.wait(5)  # the worker holds one event in the callback: the queue's 4 stay 4
        for _ in range(30):
            fake.publish_trade("BTCUSDT", "100", "1")
        assert wait_until(lambda: (value(scrape(server.url), "binance_conn_subscriber_dropped_total",
                                         topic="btcusdt@trade", subscriber=sid) or 0) > 0)
        s = scrape(server.url)
        assert value(s, "binance_conn_subscriber_queue_depth", topic="btcusdt@trade", subscriber=sid) == 4.0
        gate.set()
        assert wait_until(lambda: value(scrape(server.url), "binance_conn_subscriber_queue_depth",
                                        topic="btcusdt@trade", subscriber=sid) == 0.0)

        def lag_counts_every_delivery() -> bool:  # the last callback may still be running: wait for it
            s = scrape(server.url)
            lag_count = value(s, "binance_conn_event_lag_seconds_count", stream="btcusdt@trade")
            return lag_count is not None and lag_count == value(
                s, "binance_conn_subscriber_delivered_total", topic="btcusdt@trade", subscriber=sid)
        assert wait_until(lag_counts_every_delivery)

        # a ban (HTTP 418): the gate closes, the prober's pings are refused without contacting Binance
        fake.fail_next(1, status=418, code=-1003, msg="Way too much request weight used; IP banned until 1.",
                       retry_after=60, path="/api/v3/exchangeInfo")
        with pytest.raises(IPBannedError):
            conn.rest.exchange_info()
        s = scrape(server.url)
        assert value(s, "binance_conn_rest_banned", kind="ip_banned") == 1.0
        assert value(s, "binance_conn_rest_banned", kind="rate_limited") == 0.0
        assert 50 < (value(s, "binance_conn_rest_ban_seconds_left") or 0) <= 60
        assert value(s, "binance_conn_rest_calls_total", endpoint="/api/v3/exchangeInfo", status="418") == 1.0
        assert wait_until(lambda: (value(scrape(server.url), "binance_conn_rest_calls_total",
                                         endpoint="/api/v3/ping", status="refused") or 0) >= 1, timeout=5)
        assert wait_until(lambda: value(scrape(server.url), "binance_conn_up") == 0.0, timeout=5)
        h = requests.get(server.url + "/health", timeout=5)
        assert h.status_code == 503 and h.json()["rest_ban"]["kind"] == "ip_banned"
        assert value(s, "binance_conn_rest_weight_limit", window="1M") == 6000.0
    finally:
        assert server.stop(5)
        assert conn.stop(5)
    assert wait_until(lambda: not (set(conn_threads()) - before)), set(conn_threads()) - before


def test_callback_errors_and_book_state(fake: FakeBinance) -> None:
    conn = fast_conn(fake)

    def boom(_: object) -> None:
        raise RuntimeError("callback bug")

    sub = conn.on_ticker("BTCUSDT", boom)
    books = Recorder()
    conn.on_book("BTCUSDT", books)
    registry = prometheus_client.CollectorRegistry()
    bcm.register(conn, registry, name="spot")
    try:
        conn.start()
        assert conn.wait_ready(10)
        fake.publish_ticker("BTCUSDT")
        assert wait_until(lambda: sub.errors == 1)
        assert wait_until(lambda: registry.get_sample_value(
            "binance_conn_book_state", {"connector": "spot", "symbol": "BTCUSDT", "state": "SYNCED"}) == 1.0
            or bool(fake.publish_depth("BTCUSDT") and False))  # the book syncs on the first diffs
        assert registry.get_sample_value("binance_conn_callback_errors_total", {
            "connector": "spot", "topic": "btcusdt@ticker", "subscriber": str(sub.id)}) == 1.0
        assert registry.get_sample_value(
            "binance_conn_book_state", {"connector": "spot", "symbol": "BTCUSDT", "state": "OUT_OF_SYNC"}) == 0.0
    finally:
        conn.stop(5)


def test_several_connectors_in_one_registry(fake: FakeBinance) -> None:
    a, b = fast_conn(fake), fast_conn(fake)
    registry = prometheus_client.CollectorRegistry()
    col = bcm.register(a, registry)
    assert bcm.register(b, registry) is col
    assert bcm.register(a, registry) is col  # again: a no-op
    assert col.names() == ["binance", "binance-2"]
    with pytest.raises(ValidationError) as info:
        bcm.register(fast_conn(fake), registry, name="binance")
    assert info.value.field == "name"
    with pytest.raises(ValidationError):
        bcm.register(object(), registry)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        bcm.serve(a, port=-1)
    ups = {lbl: registry.get_sample_value("binance_conn_up", {"connector": lbl}) for lbl in ("binance", "binance-2")}
    assert ups == {"binance": 0.0, "binance-2": 0.0}  # not started
    assert col.remove(b) and not col.remove(b)
    assert registry.get_sample_value("binance_conn_up", {"connector": "binance-2"}) is None


def test_a_failing_connector_is_left_out_and_the_server_recovers(fake: FakeBinance,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    conn = fast_conn(fake)
    errors = Recorder()
    conn.on_error(errors)
    conn.start()
    try:
        with bcm.serve(conn, port=0, name="x") as server:
            monkeypatch.setattr(conn, "stats", lambda: 1 / 0)
            s = scrape(server.url)  # the scrape still answers; the connector is left out
            assert value(s, "binance_conn_up", connector="x") is None
            assert "metrics collector" in caplog.text and "ZeroDivisionError" in caplog.text
            monkeypatch.setattr(conn, "health", lambda: 1 / 0)
            r = requests.get(server.url + "/health", timeout=5)
            assert r.status_code == 500 and "ZeroDivisionError" in r.text
            assert wait_until(lambda: len(errors.items) == 2)
            assert all(isinstance(e, InternalError) for e in errors.items)
            assert [e.details["component"].split(" ")[1] for e in errors.items] == ["collector", "server"]
            monkeypatch.undo()
            assert value(scrape(server.url), "binance_conn_up", connector="x") is not None
            assert requests.get(server.url + "/nope", timeout=5).status_code == 404
    finally:
        assert conn.stop(5)
    assert not any(t.name == f"binance_conn-metrics-{server.port}" for t in threading.enumerate())
    server.stop()  # idempotent


def test_metric_names_are_stable_and_documented() -> None:
    """The exported names, types and labels are a contract: the README table lists exactly these."""
    expected = {
        "binance_conn_up": ("gauge", ()),
        "binance_conn_session_state": ("gauge", ("session", "state")),
        "binance_conn_session_ready": ("gauge", ("session",)),
        "binance_conn_reconnects_total": ("counter", ("session",)),
        "binance_conn_messages_total": ("counter", ("stream",)),
        "binance_conn_event_lag_seconds": ("histogram", ("stream",)),
        "binance_conn_clock_offset_seconds": ("gauge", ()),
        "binance_conn_clock_synced": ("gauge", ()),
        "binance_conn_subscriber_queue_depth": ("gauge", ("topic", "subscriber")),
        "binance_conn_subscriber_delivered_total": ("counter", ("topic", "subscriber")),
        "binance_conn_subscriber_dropped_total": ("counter", ("topic", "subscriber")),
        "binance_conn_callback_errors_total": ("counter", ("topic", "subscriber")),
        "binance_conn_gaps_opened_total": ("counter", ("stream",)),
        "binance_conn_gaps_filled_total": ("counter", ("stream",)),
        "binance_conn_gaps_unfilled_total": ("counter", ("stream",)),
        "binance_conn_gaps_open": ("gauge", ()),
        "binance_conn_book_state": ("gauge", ("symbol", "state")),
        "binance_conn_rest_calls_total": ("counter", ("endpoint", "status")),
        "binance_conn_rest_used_weight": ("gauge", ("window",)),
        "binance_conn_rest_weight_limit": ("gauge", ("window",)),
        "binance_conn_rest_banned": ("gauge", ("kind",)),
        "binance_conn_rest_ban_seconds_left": ("gauge", ()),
    }
    assert {name: (kind, labels) for name, kind, labels, _ in bcm.METRICS} == expected
    import pathlib
    readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text()
    for name, kind, labels, _ in bcm.METRICS:
        row = f"| `{name}` | {kind} | {', '.join(f'`{x}`' for x in ('connector',) + labels)} |"
        assert row in readme, row


def test_missing_prometheus_client_names_the_extra(fake: FakeBinance, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def fake_import(name: str, *a: object) -> object:
        if name.startswith("prometheus_client"):
            raise ImportError("No module named 'prometheus_client'")
        return real(name, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib, "import_module", fake_import)
    with pytest.raises(ImportError, match=r"binance_conn\[metrics\]"):
        bcm.register(bc.Connector(fake.config_builder().build()))
