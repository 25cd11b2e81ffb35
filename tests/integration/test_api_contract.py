"""Acceptance test of the public contract exactly as API.md states it.

Uses only public names (``binance_conn`` and ``binance_conn.testing.FakeBinance``), the way a
user following API.md would. One test per statement where practical.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
import queue
import socket
import threading
import time
from decimal import Decimal
from typing import Any, Iterator, List

import pytest
from _connector_helpers import Recorder, fast_builder
from _helpers import scaled, wait_until

import binance_conn as bc
from binance_conn.testing import FakeBinance

SECRET = "S3cr3tValueThatMustNeverLeak0123456789abcdef"
KEY = "pubKeyAbcdefghijklmnop0123456789"


def _free_port_url(scheme: str) -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"{scheme}://127.0.0.1:{port}"


@pytest.fixture
def conns() -> Iterator[List[bc.Connector]]:
    made: List[bc.Connector] = []
    yield made
    for c in made:
        c.stop(timeout=5.0)


def _public_builder(fake: FakeBinance) -> Any:
    """Fast timings, fake URLs, no credentials."""
    return (bc.Config.builder().with_rest_url(fake.rest_url).with_ws_url(fake.ws_url)
            .with_backoff(base=0.05, max=0.5, jitter=0.0).with_health_check(1.0).with_debounce(0.0))


def _ready(conn: bc.Connector, fake: FakeBinance, timeout: float = 10.0) -> bool:
    """wait_ready, then until the fake has registered every stream the connector wants.

    FakeBinance registers a stream session only after the 101 response has gone out, so a publish
    right after wait_ready() can race it (a harness race, not the connector's)."""
    if not conn.wait_ready(timeout=scaled(timeout)):
        return False
    return fake.wait_until(lambda: set(conn.stats()["streams"]) <= set(fake.subscribed_streams()), scaled(5.0))


# ============================================================================ Configuration

def test_builder_every_method_with_values_shown(fake: FakeBinance) -> None:
    assert isinstance(bc.new_config(), bc.ConfigBuilder)
    assert type(bc.new_config()) is type(bc.Config.builder())
    cfg = (bc.Config.builder()
           .with_exchange("binance")
           .with_api_key(fake.api_key)
           .with_api_secret(fake.api_secret)
           .from_env()
           .with_rest_url(fake.rest_url)
           .with_ws_url(fake.ws_url)
           .with_ws_api_url(fake.ws_api_url)
           .with_timeout(10.0)
           .with_recv_window(5000)
           .with_backoff(base=0.5, max=30.0, jitter=0.2)
           .with_retry(attempts=3)
           .with_rate_limit(max_wait=1.0)
           .with_health_check(interval=5.0)
           .with_debounce(1.0)
           .with_event_buffer(1024, bc.OverflowPolicy.DROP_OLDEST)
           .with_debug(False)
           .build())
    assert isinstance(cfg, bc.Config)
    assert cfg.exchange.name == "binance"
    assert cfg.exchange.rest_url == fake.rest_url
    assert cfg.exchange.ws_url == fake.ws_url
    assert cfg.exchange.ws_api_url == fake.ws_api_url
    assert cfg.auth.api_key == fake.api_key
    assert cfg.rest.timeout == 10.0
    assert cfg.rest.recv_window == 5000
    assert (cfg.backoff.base, cfg.backoff.max, cfg.backoff.jitter) == (0.5, 30.0, 0.2)
    assert cfg.retry.attempts == 3
    assert cfg.rate_limit.max_wait == 1.0
    assert cfg.websocket.health_check_interval == 5.0
    assert cfg.websocket.debounce == 1.0
    assert cfg.events.buffer_size == 1024
    assert cfg.events.overflow == bc.OverflowPolicy.DROP_OLDEST
    assert cfg.debug is False
    # The config as built is usable against the fake: a signed call works.
    rest = bc.RestClient(cfg)
    try:
        assert "balances" in rest.account()
    finally:
        rest.close()


def test_builder_testnet_block_overflow_and_debug() -> None:
    cfg = (bc.new_config().with_exchange("binance-testnet")
           .with_event_buffer(8, bc.OverflowPolicy.BLOCK).with_debug(True).build())
    assert cfg.exchange.name == "binance-testnet"
    assert cfg.events.overflow == bc.OverflowPolicy.BLOCK and cfg.events.buffer_size == 8
    assert cfg.debug is True
    default = bc.Config.builder().build()
    assert default.exchange.name == "binance"  # spot is the default
    assert default.auth.api_key is None  # public market data needs no key


def test_with_private_key_ed25519_and_password() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    k = ed25519.Ed25519PrivateKey.generate()
    pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()).decode()
    cfg = bc.Config.builder().with_api_key(KEY).with_private_key(pem, password=None).build()
    assert cfg.auth.has_credentials
    enc = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.BestAvailableEncryption(b"pw123456")).decode()
    cfg2 = bc.Config.builder().with_api_key(KEY).with_private_key(enc, password="pw123456").build()
    assert cfg2.auth.has_credentials
    for c in (cfg, cfg2):
        assert "PRIVATE KEY" not in repr(c) and "pw123456" not in repr(c) and "pw123456" not in str(c)


def test_with_proxy_build_and_inspect_only() -> None:
    cfg = bc.Config.builder().with_proxy("http://proxy:3128").build()
    assert cfg.rest.proxy == "http://proxy:3128"
    assert cfg.websocket.proxy == "http://proxy:3128"  # REST and WebSocket


@pytest.mark.parametrize("suffix", ["", "/"])
def test_rest_url_suffix_stripped(suffix: str) -> None:
    cfg = bc.Config.builder().with_rest_url("http://127.0.0.1:8080" + suffix).build()
    assert cfg.exchange.rest_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize("suffix", ["/", "/ws", "/stream"])
def test_ws_url_suffix_stripped(suffix: str) -> None:
    cfg = bc.Config.builder().with_ws_url("ws://127.0.0.1:8081" + suffix).build()
    assert cfg.exchange.ws_url == "ws://127.0.0.1:8081"


@pytest.mark.parametrize("suffix", ["/", "/ws-api/v3"])
def test_ws_api_url_suffix_stripped(suffix: str) -> None:
    cfg = bc.Config.builder().with_ws_api_url("wss://127.0.0.1:8081" + suffix).build()
    assert cfg.exchange.ws_api_url == "wss://127.0.0.1:8081"


def test_stripped_urls_carry_traffic(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    cfg = (fast_builder(fake).with_rest_url(fake.rest_url + "/").with_ws_url(fake.ws_url + "/stream")
           .with_ws_api_url(fake.ws_api_url + "/ws-api/v3").build())
    conn = bc.Connector(cfg)
    conns.append(conn)
    trades = Recorder()
    conn.on_trade("BTCUSDT", trades)
    conn.on_order(lambda e: None)
    conn.start()
    assert conn.wait_ready(timeout=scaled(10.0)) is True
    assert conn.rest.server_time() > 0


@pytest.mark.parametrize("exchange", ["binance", "binance-testnet"])
def test_ws_api_url_follows_ws_url(exchange: str) -> None:
    cfg = bc.Config.builder().with_exchange(exchange).with_ws_url("ws://127.0.0.1:9999/ws").build()
    assert cfg.exchange.ws_api_url == "ws://127.0.0.1:9999"


def test_ws_api_follows_ws_url_in_traffic(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    cfg = (bc.Config.builder().with_rest_url(fake.rest_url).with_ws_url(fake.ws_url)
           .with_api_key(fake.api_key).with_api_secret(fake.api_secret).with_debounce(0.0).build())
    conn = bc.Connector(cfg)
    conns.append(conn)
    conn.on_order(lambda e: None)
    conn.start()
    assert conn.wait_ready(timeout=scaled(10.0))
    assert fake.user_subscription_count() >= 1


def test_backoff_formula_semantics(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    """attempt n waits min(max, base * 2**n) * (1 - jitter*U); the first attempt is immediate."""
    from _connector_helpers import RefusingServer

    with RefusingServer() as srv:
        cfg = (_public_builder(fake).with_ws_url(srv.url)
               .with_backoff(base=0.04, max=0.32, jitter=0.0).build())
        conn = bc.Connector(cfg)
        conns.append(conn)
        conn.on_trade("BTCUSDT", lambda e: None)
        t0 = time.monotonic()
        conn.start()
        assert wait_until(lambda: len(srv.times) >= 7, timeout=8.0)
        conn.stop()
        times = list(srv.times)
    assert times[0] - t0 < 0.5  # first attempt immediate (no backoff)
    gaps = [b - a for a, b in zip(times, times[1:])][:6]
    # Exponential growth with no jitter, capped at max.
    assert all(g <= 0.32 * 1.5 + 0.1 for g in gaps), gaps
    assert gaps[0] < 0.2, gaps
    assert max(gaps) >= 0.32 * 0.8, gaps
    assert gaps[2] > gaps[0] * 1.5, gaps


def test_backoff_jitter_only_shortens() -> None:
    with pytest.raises(bc.ValidationError):
        bc.Config.builder().with_backoff(base=0.5, max=30.0, jitter=1.5).build()
    with pytest.raises(bc.ValidationError):
        bc.Config.builder().with_backoff(base=0.5, max=30.0, jitter=-0.1).build()
    cfg = bc.Config.builder().with_backoff(base=0.5, max=30.0, jitter=1.0).build()
    assert cfg.backoff.jitter == 1.0


def test_from_env_fills_only_unset_fields_whatever_the_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINANCE_API_KEY", "envKey1234567890")
    monkeypatch.setenv("BINANCE_API_SECRET", "envSecret1234567890")
    monkeypatch.setenv("BINANCE_CONN_DEBUG", "1")
    filled = bc.Config.builder().from_env().build()
    assert filled.auth.api_key == "envKey1234567890"
    assert filled.auth.has_credentials
    assert filled.debug is True
    before = bc.Config.builder().with_api_key("explicitKey123").with_debug(False).from_env().build()
    after = bc.Config.builder().from_env().with_api_key("explicitKey123").with_debug(False).build()
    for cfg in (before, after):
        assert cfg.auth.api_key == "explicitKey123"
        assert cfg.debug is False
    assert before == after


def test_from_env_private_key_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    p = tmp_path / "key.pem"
    p.write_bytes(pem)
    monkeypatch.delenv("BINANCE_API_SECRET", raising=False)
    monkeypatch.delenv("BINANCE_PRIVATE_KEY", raising=False)
    monkeypatch.setenv("BINANCE_API_KEY", "envKey1234567890")
    monkeypatch.setenv("BINANCE_PRIVATE_KEY_PATH", str(p))
    cfg = bc.Config.builder().from_env().build()
    assert cfg.auth.has_credentials and cfg.auth.private_key is not None
    monkeypatch.delenv("BINANCE_PRIVATE_KEY_PATH")
    monkeypatch.setenv("BINANCE_PRIVATE_KEY", pem.decode())
    cfg = bc.Config.builder().from_env().build()
    assert cfg.auth.private_key is not None


def test_config_is_immutable_and_nested() -> None:
    cfg = bc.Config.builder().build()
    for obj, attr, val in [(cfg, "debug", True), (cfg.exchange, "rest_url", "http://x"),
                           (cfg.auth, "api_key", "k"), (cfg.rest, "timeout", 1.0),
                           (cfg.websocket, "debounce", 0.0), (cfg.retry, "attempts", 9),
                           (cfg.rate_limit, "max_wait", 9.0), (cfg.events, "buffer_size", 1)]:
        with pytest.raises(AttributeError):
            setattr(obj, attr, val)
    assert hash(cfg.events) == hash(cfg.events)


def test_connector_keeps_its_own_copy(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    builder = _public_builder(fake).with_event_buffer(16)
    cfg = builder.build()
    conn = bc.Connector(cfg)
    conns.append(conn)
    conn.start()
    assert conn.wait_ready(timeout=scaled(5.0))
    builder.with_event_buffer(99).with_rest_url("http://127.0.0.1:1")
    builder.build()
    assert conn.config.events.buffer_size == 16
    assert conn.config.exchange.rest_url == fake.rest_url
    assert conn.config == cfg
    assert conn.rest.server_time() > 0


@pytest.mark.parametrize("make, field", [
    (lambda b: b.with_timeout(0), "timeout"),
    (lambda b: b.with_timeout(-1.0), "timeout"),
    (lambda b: b.with_api_secret(SECRET), "api_key"),
    (lambda b: b.with_exchange("kraken"), "exchange"),
    (lambda b: b.with_rest_url("ftp://127.0.0.1:21"), "rest_url"),
    (lambda b: b.with_ws_url("http://127.0.0.1:80"), "ws_url"),
    (lambda b: b.with_event_buffer(0), "buffer"),
    (lambda b: b.with_recv_window(0), "recv_window"),
    (lambda b: b.with_recv_window(60001), "recv_window"),
    (lambda b: b.with_health_check(interval=0), "health"),
    (lambda b: b.with_retry(attempts=0), "attempts"),
])
def test_build_raises_validation_error(make: Any, field: str) -> None:
    with pytest.raises(bc.ValidationError) as ei:
        make(bc.Config.builder()).build()
    err = ei.value
    assert isinstance(err, ValueError) and isinstance(err, bc.BinanceError)
    assert isinstance(err.field, str) and field in err.field.lower()
    assert isinstance(err.constraint, str) and err.constraint
    assert hasattr(err, "value")
    assert SECRET not in str(err) and SECRET not in repr(err) and SECRET not in repr(err.value)


def test_build_raises_for_the_first_bad_field_only() -> None:
    with pytest.raises(bc.ValidationError) as ei:
        bc.Config.builder().with_timeout(-1.0).with_event_buffer(0).build()
    assert ei.value.field  # one field named, the build did not partly succeed


def test_secrets_never_in_repr_str_logs_or_errors(fake: FakeBinance, caplog: pytest.LogCaptureFixture) -> None:
    fake.register_key(KEY, secret=SECRET)
    caplog.set_level(logging.DEBUG)
    builder = fake.config_builder().with_api_key(KEY).with_api_secret(SECRET).with_debug(True)
    cfg = builder.build()
    for text in (repr(cfg), str(cfg), repr(builder), str(builder), repr(cfg.auth), str(cfg.auth)):
        assert SECRET not in text
    rest = bc.RestClient(cfg)
    try:
        rest.account()
        with pytest.raises(bc.NotFoundError) as ei:
            rest.get_order("BTCUSDT", order_id=987654321)
        fake.revoke_key(KEY)
        with pytest.raises(bc.AuthenticationError) as ei2:
            rest.account()
    finally:
        rest.close()
    for e in (ei.value, ei2.value):
        assert SECRET not in str(e) and SECRET not in repr(e) and SECRET not in repr(e.details)
    assert SECRET not in caplog.text
    for rec in caplog.records:
        assert SECRET not in rec.getMessage()


# ============================================================================ Connector lifecycle

def test_constructor_creates_no_thread_and_state_stopped(fake: FakeBinance) -> None:
    before = threading.active_count()
    conn = bc.Connector(_public_builder(fake).build())
    assert threading.active_count() == before
    assert conn.state == bc.ConnectionState.STOPPED
    assert conn.is_connected() is False
    assert conn.stop() is True


def test_start_returns_at_once_and_never_raises_for_network_trouble(conns: List[bc.Connector]) -> None:
    cfg = (bc.Config.builder().with_rest_url(_free_port_url("http")).with_ws_url(_free_port_url("ws"))
           .with_backoff(base=0.05, max=0.2, jitter=0.0).with_timeout(0.5).build())
    conn = bc.Connector(cfg)
    conns.append(conn)
    conn.on_trade("BTCUSDT", lambda e: None)
    t0 = time.monotonic()
    conn.start()
    assert time.monotonic() - t0 < 0.5
    assert conn.state in (bc.ConnectionState.CONNECTING, bc.ConnectionState.RECONNECTING,
                          bc.ConnectionState.DISCONNECTED)
    assert conn.wait_ready(timeout=0.3) is False
    assert conn.is_connected() is False
    t1 = time.monotonic()
    assert conn.stop(timeout=5.0) is True
    assert time.monotonic() - t1 < 2.0  # interrupts the backoff sleep
    assert conn.state == bc.ConnectionState.STOPPED


def test_lifecycle_block(fake: FakeBinance, conns: List[bc.Connector], no_conn_threads: None) -> None:
    before_threads = set(threading.enumerate())
    conn = bc.Connector(fast_builder(fake).build())
    conns.append(conn)
    assert conn.state == bc.ConnectionState.STOPPED
    assert isinstance(conn.ready, threading.Event) and not conn.ready.is_set()
    conn.on_trade("BTCUSDT", lambda e: None)
    conn.start()
    ok = conn.wait_ready(timeout=scaled(10.0))
    assert ok is True and isinstance(ok, bool)
    assert conn.ready.is_set()
    assert conn.is_connected() is True
    assert conn.state == bc.ConnectionState.CONNECTED
    assert isinstance(conn.state, bc.ConnectionState)
    s = conn.stats()
    assert isinstance(s, dict) and s
    stopped = conn.stop(timeout=5.0)
    assert stopped is True
    assert conn.state == bc.ConnectionState.STOPPED
    assert conn.is_connected() is False
    assert not conn.ready.is_set()
    assert conn.stop(timeout=5.0) is True  # idempotent
    assert conn.stop() is True
    # After stop() returned True no thread started by the connector is alive.
    assert not [t for t in threading.enumerate() if t.name.startswith("binance_conn") and t.is_alive()
                and t not in before_threads]


def test_ready_is_level_triggered(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    conn = bc.Connector(fast_builder(fake).build())
    conns.append(conn)
    events = Recorder()
    conn.on_connection(events)
    conn.on_trade("BTCUSDT", lambda e: None)
    conn.start()
    assert conn.wait_ready(timeout=scaled(10.0))
    fake.refuse_handshakes(1.0)
    fake.drop_connections()
    assert wait_until(lambda: not conn.ready.is_set(), timeout=5.0)
    assert conn.is_connected() is False
    assert conn.state in (bc.ConnectionState.RECONNECTING, bc.ConnectionState.DISCONNECTED)
    assert conn.wait_ready(timeout=scaled(10.0)) is True
    assert conn.ready.is_set() and conn.state == bc.ConnectionState.CONNECTED
    assert events.wait_for(lambda items: [e.state for e in items][-1:] == ["CONNECTED"] and len(items) >= 3)
    states = [e.state for e in events.snapshot()]
    assert states[0] == "CONNECTED" and any(st in ("DISCONNECTED", "RECONNECTING") for st in states)
    for e in events.snapshot():
        assert isinstance(e.state, bc.ConnectionState) and e.session == "market" and e.exchange == "binance"


def test_is_connected_never_blocks(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    conn = bc.Connector(fast_builder(fake).build())
    conns.append(conn)
    conn.on_trade("BTCUSDT", lambda e: None)
    fake.freeze()
    conn.start()
    t0 = time.monotonic()
    for _ in range(100):
        conn.is_connected()
        conn.state  # noqa: B018
    assert time.monotonic() - t0 < 0.5
    fake.resume()


def test_stats_snapshot_contents(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    conn = bc.Connector(fast_builder(fake).build())
    conns.append(conn)
    rec = Recorder()
    h = conn.on_trade("BTCUSDT", rec)
    conn.start()
    assert _ready(conn, fake)
    fake.publish_trade("BTCUSDT", "100", "1")
    assert rec.wait_count(1)
    assert wait_until(lambda: h.delivered >= 1)
    st = conn.stats()
    assert st["state"] == "CONNECTED" or st["state"] == bc.ConnectionState.CONNECTED
    text = repr(st).lower()
    for word in ("drop", "error", "reconnect", "deliver"):
        assert word in text, word
    assert "age" in text or "last" in text


def test_start_with_new_config_after_stop(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    conn = bc.Connector(fast_builder(fake).build())
    conns.append(conn)
    conn.start()
    assert conn.wait_ready(timeout=scaled(5.0))
    assert conn.stop() is True
    with FakeBinance(seed=3) as other:
        new_cfg = fast_builder(other).with_event_buffer(7).build()
        rec = Recorder()
        conn.on_trade("ETHUSDT", rec)
        conn.start(config=new_cfg)
        assert _ready(conn, other)
        assert conn.config.events.buffer_size == 7
        assert conn.config.exchange.rest_url == other.rest_url
        other.publish_trade("ETHUSDT", "10", "1")
        assert rec.wait_count(1)
        assert conn.stop() is True
    assert conn.state == bc.ConnectionState.STOPPED


def test_context_manager(fake: FakeBinance) -> None:
    cfg = fast_builder(fake).build()
    with bc.Connector(cfg) as conn:
        assert isinstance(conn, bc.Connector)
        assert conn.state != bc.ConnectionState.STOPPED
        assert conn.wait_ready(timeout=scaled(5.0))
    assert conn.state == bc.ConnectionState.STOPPED


def test_rest_works_before_start_and_after_stop(fake: FakeBinance) -> None:
    conn = bc.Connector(fast_builder(fake).build())
    assert conn.rest.server_time() > 0
    assert isinstance(conn.rest, bc.RestClient)
    conn.start()
    conn.stop()
    assert conn.rest.server_time() > 0


# ============================================================================ Events

def _running(fake: FakeBinance, conns: List[bc.Connector], **kw: Any) -> bc.Connector:
    conn = bc.Connector(fast_builder(fake, **kw).build())
    conns.append(conn)
    return conn


SUBSCRIBERS = [
    ("on_ticker", "ticker", lambda f, s: f.publish_ticker(s, last_price="101")),
    ("on_book_ticker", "bookTicker", lambda f, s: f.publish_book_ticker(s, bid="99", ask="101")),
    ("on_trade", "trade", lambda f, s: f.publish_trade(s, "100", "1")),
    ("on_depth", "depth@100ms", lambda f, s: f.publish_depth(s, bids=[("99", "1")], asks=[("101", "2")])),
]


@pytest.mark.parametrize("method, suffix, publish", SUBSCRIBERS)
@pytest.mark.parametrize("symbol", ["btcusdt", "BtcUsdt", "BTCUSDT"])
def test_on_symbol_any_case(fake: FakeBinance, conns: List[bc.Connector], method: str, suffix: str,
                            publish: Any, symbol: str) -> None:
    conn = _running(fake, conns)
    rec = Recorder()
    getattr(conn, method)(symbol, rec)  # subscribing before start()
    assert fake.subscribed_streams() == []
    conn.start()
    assert fake.wait_for_subscriptions([f"btcusdt@{suffix}"])
    assert conn.wait_ready(timeout=scaled(10.0))
    publish(fake, "BTCUSDT")
    assert rec.wait_count(1)
    assert rec.snapshot()[0].symbol == "BTCUSDT"


@pytest.mark.parametrize("method, suffix, publish", SUBSCRIBERS)
def test_on_symbol_list(fake: FakeBinance, conns: List[bc.Connector], method: str, suffix: str,
                        publish: Any) -> None:
    conn = _running(fake, conns)
    conn.start()
    assert conn.wait_ready(timeout=scaled(10.0))
    rec = Recorder()
    h = getattr(conn, method)(["btcusdt", "ETHUSDT"], rec)  # live, while running
    assert fake.wait_for_subscriptions([f"btcusdt@{suffix}", f"ethusdt@{suffix}"])
    assert _ready(conn, fake)
    publish(fake, "BTCUSDT")
    publish(fake, "ETHUSDT")
    assert rec.wait_count(2)
    assert {e.symbol for e in rec.snapshot()} == {"BTCUSDT", "ETHUSDT"}
    for attr in ("dropped", "delivered", "errors", "active"):
        assert hasattr(h, attr)
    assert h.active is True
    h()
    h()  # idempotent
    assert h.active is False


def test_on_kline_any_case_and_list(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    conn = _running(fake, conns)
    rec = Recorder()
    conn.on_kline("btcUSDT", "1m", rec)
    conn.on_kline(["ethusdt"], "1m", rec)
    conn.start()
    assert fake.wait_for_subscriptions(["btcusdt@kline_1m", "ethusdt@kline_1m"])
    assert _ready(conn, fake)
    fake.publish_kline("BTCUSDT", "1m", "1", "2", "0.5", "1.5", "10")
    fake.publish_kline("ETHUSDT", "1m", "1", "2", "0.5", "1.5", "10")
    assert rec.wait_count(2)
    assert {e.symbol for e in rec.snapshot()} == {"BTCUSDT", "ETHUSDT"}


def test_kline_intervals_case_sensitive(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    conn = _running(fake, conns)
    minute, month = Recorder(), Recorder()
    conn.on_kline("BTCUSDT", "1m", minute)
    conn.on_kline("BTCUSDT", "1M", month)
    for bad in ("1H", "1x", "", "60s"):
        with pytest.raises(bc.ValidationError):
            conn.on_kline("BTCUSDT", bad, lambda e: None)
    conn.start()
    assert fake.wait_for_subscriptions(["btcusdt@kline_1m", "btcusdt@kline_1M"])
    assert _ready(conn, fake)
    fake.publish_kline("BTCUSDT", "1M", "1", "2", "0.5", "1.5")
    assert month.wait_count(1)
    assert month.snapshot()[0].interval == "1M"
    assert not minute.wait_count(1, timeout=0.2)


def test_buffer_and_overflow_keywords(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    conn = _running(fake, conns)
    gate = threading.Event()
    got = Recorder(lambda e: gate.wait(scaled(5.0)))
    h = conn.on_trade("BTCUSDT", got, buffer=2, overflow=bc.OverflowPolicy.DROP_OLDEST)
    h_block = conn.on_trade("BTCUSDT", lambda e: None, buffer=4, overflow=bc.OverflowPolicy.BLOCK)
    conn.start()
    assert _ready(conn, fake)
    for i in range(10):
        fake.publish_trade("BTCUSDT", str(100 + i), "1")
    assert wait_until(lambda: h.dropped >= 1)
    gate.set()
    assert wait_until(lambda: h.delivered + h.dropped == 10)
    assert got.snapshot()[-1].price == Decimal("109")  # the newest were kept
    assert wait_until(lambda: h_block.delivered == 10)
    assert h_block.dropped == 0


def test_queue_instead_of_callback(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    conn = _running(fake, conns)
    q: "queue.Queue[Any]" = queue.Queue(maxsize=2)
    h = conn.on_trade("BTCUSDT", queue=q, overflow=bc.OverflowPolicy.DROP_OLDEST)
    conn.start()
    assert _ready(conn, fake)
    for i in range(5):
        fake.publish_trade("BTCUSDT", str(100 + i), "1")
    assert wait_until(lambda: h.dropped + q.qsize() >= 5 or h.delivered + h.dropped >= 5)
    first = q.get(timeout=scaled(2.0))
    assert isinstance(first, bc.Trade)


def test_none_callback_is_inactive_handle(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    conn = _running(fake, conns)
    for h in (conn.on_trade("BTCUSDT", None), conn.on_connection(None), conn.on_error(None),
              conn.on_kline("BTCUSDT", "1m", None), conn.on_order(None)):
        assert h.active is False
        h()
        assert h.active is False
    conn.start()
    assert conn.wait_ready(timeout=scaled(5.0))
    assert fake.subscribed_streams() == []


def test_user_data_without_credentials_raises_at_once(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    conn = bc.Connector(_public_builder(fake).build())
    conns.append(conn)
    with pytest.raises(bc.ValidationError):
        conn.on_order(lambda e: None)
    with pytest.raises(bc.ValidationError):
        conn.on_balance(lambda e: None)


def test_callback_error_goes_to_on_error_and_worker_goes_on(fake: FakeBinance, conns: List[bc.Connector],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    conn = _running(fake, conns)
    errors = Recorder()
    conn.on_error(errors)
    seen = Recorder()

    def boom(e: Any) -> None:
        seen(e)
        raise RuntimeError("callback boom")

    h = conn.on_trade("BTCUSDT", boom)
    conn.start()
    assert _ready(conn, fake)
    fake.publish_trade("BTCUSDT", "100", "1")
    fake.publish_trade("BTCUSDT", "101", "1")
    assert seen.wait_count(2)
    assert errors.wait_count(1)
    assert isinstance(errors.snapshot()[0], bc.BinanceError)
    assert wait_until(lambda: h.errors >= 2)
    assert any(r.levelno == logging.WARNING and r.exc_info for r in caplog.records)


# ---------------------------------------------------------------------------- event field table

def _check_common(ev: Any) -> None:
    assert ev.exchange == "binance"
    with pytest.raises((AttributeError, TypeError)):
        ev.exchange = "x"
    if hasattr(ev, "symbol"):
        assert ev.symbol == ev.symbol.upper()


def _dec(ev: Any, *names: str) -> None:
    for n in names:
        assert isinstance(getattr(ev, n), Decimal), n


def _ms(ev: Any, *names: str) -> None:
    now = int(time.time() * 1000)
    for n in names:
        v = getattr(ev, n)
        assert isinstance(v, int) and not isinstance(v, bool), n
        assert abs(v - now) < 400 * 86400 * 1000, (n, v)


def test_market_event_fields(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    conn = _running(fake, conns)
    ticker, book, trade, kline, depth, cev = (Recorder() for _ in range(6))
    conn.on_connection(cev)
    conn.on_ticker("btcusdt", ticker)
    conn.on_book_ticker("btcusdt", book)
    conn.on_trade("btcusdt", trade)
    conn.on_kline("btcusdt", "1m", kline)
    conn.on_depth("btcusdt", depth)
    conn.start()
    assert _ready(conn, fake)
    fake.publish_ticker("BTCUSDT", last_price="101.5")
    fake.publish_book_ticker("BTCUSDT", bid="99.5", bid_qty="1.25", ask="100.5", ask_qty="2")
    fake.publish_trade("BTCUSDT", "100.25", "0.5", buyer_maker=True)
    fake.publish_kline("BTCUSDT", "1m", "1", "2", "0.5", "1.5", "10", closed=True)
    fake.publish_depth("BTCUSDT", bids=[("99", "1")], asks=[("101", "2")])
    for r in (ticker, book, trade, kline, depth, cev):
        assert r.wait_count(1), r

    c = cev.snapshot()[0]
    assert isinstance(c, bc.ConnectionEvent)
    _check_common(c)
    assert c.session == "market"
    assert c.state == "CONNECTED" and c.state == bc.ConnectionState.CONNECTED and isinstance(c.state, str)
    assert hasattr(c, "reason")
    _ms(c, "timestamp")

    t = ticker.snapshot()[0]
    assert isinstance(t, bc.Ticker)
    _check_common(t)
    _dec(t, "last_price", "open_price", "high_price", "low_price", "volume", "quote_volume",
         "price_change_percent")
    assert t.last_price == Decimal("101.5")
    _ms(t, "event_time")

    b = book.snapshot()[0]
    assert isinstance(b, bc.BookTicker)
    _check_common(b)
    assert isinstance(b.update_id, int)
    _dec(b, "bid_price", "bid_qty", "ask_price", "ask_qty")
    assert (b.bid_price, b.bid_qty, b.ask_price, b.ask_qty) == (Decimal("99.5"), Decimal("1.25"),
                                                                Decimal("100.5"), Decimal("2"))

    tr = trade.snapshot()[0]
    assert isinstance(tr, bc.Trade)
    _check_common(tr)
    assert isinstance(tr.trade_id, int)
    _dec(tr, "price", "quantity")
    assert (tr.price, tr.quantity) == (Decimal("100.25"), Decimal("0.5"))
    assert tr.is_buyer_maker is True
    _ms(tr, "trade_time", "event_time")

    assert kline.wait_for(lambda items: any(e.is_closed and e.open == Decimal("1") for e in items))
    k = [e for e in kline.snapshot() if e.is_closed and e.open == Decimal("1")][0]
    assert isinstance(k, bc.Kline)
    _check_common(k)
    assert k.interval == "1m"
    _ms(k, "open_time", "close_time")
    _dec(k, "open", "high", "low", "close", "volume")
    assert (k.open, k.high, k.low, k.close) == (Decimal("1"), Decimal("2"), Decimal("0.5"), Decimal("1.5"))
    assert k.is_closed is True

    want_b, want_a = (Decimal("99"), Decimal("1")), (Decimal("101"), Decimal("2"))
    assert depth.wait_for(lambda items: any(want_b in e.bids and want_a in e.asks for e in items))
    d = [e for e in depth.snapshot() if want_b in e.bids][-1]
    assert isinstance(d, bc.DepthUpdate)
    _check_common(d)
    assert isinstance(d.first_update_id, int) and isinstance(d.final_update_id, int)
    assert isinstance(d.bids, tuple) and isinstance(d.asks, tuple)
    for level in d.bids + d.asks:
        assert isinstance(level, tuple) and all(isinstance(x, Decimal) for x in level)


def test_user_data_event_fields(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    conn = _running(fake, conns)
    orders, balances, cev = Recorder(), Recorder(), Recorder()
    conn.on_connection(cev)
    conn.on_order(orders)
    conn.on_balance(balances)
    conn.start()
    assert conn.wait_ready(timeout=scaled(10.0))
    assert fake.wait_for_user_subscriptions(1)
    placed = conn.rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="0.5", price="100", time_in_force="GTC",
                                 client_order_id="contract-1")
    assert orders.wait_count(1)
    fake.deposit("USDT", "5")
    assert balances.wait_for(lambda items: any(hasattr(e, "delta") and e.delta is not None for e in items)
                             and any(getattr(e, "free", None) is not None for e in items))
    assert cev.wait_for(lambda items: any(e.session == "user_data" for e in items))

    o = orders.snapshot()[0]
    assert isinstance(o, bc.OrderUpdate)
    _check_common(o)
    assert o.symbol == "BTCUSDT"
    assert o.order_id == placed["orderId"] and isinstance(o.order_id, int)
    assert o.client_order_id == "contract-1"
    assert o.side == "BUY" and isinstance(o.side, str) and o.side == bc.OrderSide.BUY
    assert o.order_type == "LIMIT" and isinstance(o.order_type, str)
    assert o.status == "NEW" and isinstance(o.status, str)
    _dec(o, "price", "quantity", "filled_quantity", "last_fill_price", "last_fill_quantity")
    assert (o.price, o.quantity) == (Decimal("100"), Decimal("0.5"))
    _ms(o, "event_time")
    assert isinstance(o.is_reconciled, bool)

    for e in balances.snapshot():
        assert isinstance(e, bc.BalanceUpdate)
        _check_common(e)
        assert isinstance(e.asset, str)
        _ms(e, "event_time")
    delta = [e for e in balances.snapshot() if getattr(e, "delta", None) is not None][0]
    assert delta.asset == "USDT" and delta.delta == Decimal("5") and isinstance(delta.delta, Decimal)
    pos = [e for e in balances.snapshot() if getattr(e, "free", None) is not None][0]
    _dec(pos, "free", "locked")


# ============================================================================ REST

@pytest.fixture
def rest(fake: FakeBinance) -> Iterator[bc.RestClient]:
    client = bc.RestClient(fake.config_builder().with_backoff(base=0.01, max=0.05, jitter=0.0).build())
    yield client
    client.close()


def test_rest_client_standalone_no_threads(fake: FakeBinance) -> None:
    before = {t for t in threading.enumerate() if t.name.startswith("binance_conn")}
    client = bc.RestClient(fake.config_builder().build())
    try:
        client.ping()
        after = {t for t in threading.enumerate() if t.name.startswith("binance_conn")}
        assert after == before
    finally:
        client.close()


def test_rest_methods_and_signatures(fake: FakeBinance, rest: bc.RestClient) -> None:
    assert rest.ping() is None or rest.ping() == {}
    st = rest.server_time()
    assert isinstance(st, int) and abs(st - int(time.time() * 1000)) < 60_000
    info = rest.exchange_info()
    assert isinstance(info, dict) and "symbols" in info
    one = rest.exchange_info(symbol="BTCUSDT")
    assert [s["symbol"] for s in one["symbols"]] == ["BTCUSDT"]
    price = rest.ticker_price("BTCUSDT")
    assert isinstance(price, Decimal)
    book = rest.depth("BTCUSDT", limit=5)
    assert isinstance(book, dict) and len(book["bids"]) <= 5
    bid, _ask = fake.best_prices("BTCUSDT")
    limit_price = (bid * Decimal("0.9")).quantize(Decimal("0.01"))
    order = rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.001"), price=str(limit_price),
                           time_in_force="GTC", client_order_id="contract-rest-1")
    assert order["clientOrderId"] == "contract-rest-1" and order["symbol"] == "BTCUSDT"
    oid = order["orderId"]
    got = rest.get_order("BTCUSDT", order_id=oid)
    assert got["orderId"] == oid
    assert rest.get_order("BTCUSDT", client_order_id="contract-rest-1")["orderId"] == oid
    opened = rest.open_orders()
    assert any(o["orderId"] == oid for o in opened)
    assert any(o["orderId"] == oid for o in rest.open_orders(symbol="BTCUSDT"))
    cancelled = rest.cancel_order("BTCUSDT", order_id=oid)
    assert cancelled["status"] == "CANCELED"
    acct = rest.account()
    assert isinstance(acct, dict) and isinstance(acct["balances"], list)
    raw = rest.request("GET", "/api/v3/ticker/price", params={"symbol": "BTCUSDT"}, signed=False)
    assert raw["symbol"] == "BTCUSDT"
    uw = rest.used_weight
    assert isinstance(uw, dict) and "1M" in uw and isinstance(uw["1M"], int) and uw["1M"] > 0


def test_rest_params_decimal_str_int_and_float_rejected(fake: FakeBinance, rest: bc.RestClient) -> None:
    bid, _ = fake.best_prices("BTCUSDT")
    p = (bid * Decimal("0.9")).quantize(Decimal("0.01"))
    rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity=Decimal("1E-3"), price=p, time_in_force="GTC")
    sent = [r for r in fake.request_log if r["path"] == "/api/v3/order"][-1]["params"]
    assert sent["quantity"] == "0.001"  # no exponent, no float rounding
    assert sent["price"] == str(p)
    assert sent.get("newClientOrderId")  # a client order id is always sent
    assert "timestamp" in sent and sent["recvWindow"] == "5000"
    n = len(fake.request_log)
    with pytest.raises(bc.ValidationError) as ei:
        rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity=0.001, price=str(p), time_in_force="GTC")
    assert isinstance(ei.value, ValueError)
    with pytest.raises(bc.ValidationError):
        rest.request("GET", "/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5.0})
    assert len(fake.request_log) == n  # nothing sent


def test_unknown_status_and_reconcile_order(fake: FakeBinance) -> None:
    client = bc.RestClient(fake.config_builder().with_timeout(0.3).build())
    try:
        bid, _ = fake.best_prices("BTCUSDT")
        p = (bid * Decimal("0.9")).quantize(Decimal("0.01"))
        fake.delay_responses(1.0, path="/api/v3/order")
        with pytest.raises(bc.UnknownStatusError) as ei:
            client.new_order("BTCUSDT", "BUY", "LIMIT", quantity="0.001", price=str(p), time_in_force="GTC")
        err = ei.value
        assert "client_order_id" in err.details or getattr(err, "client_order_id", None)
        assert wait_until(lambda: len(fake.orders("BTCUSDT")) >= 1, timeout=3.0)
        real = client.reconcile_order(err)
        assert real is not None and real["symbol"] == "BTCUSDT"
        fake.fail_next(1, status=500, code=-1000, path="/api/v3/order", method="POST")
        with pytest.raises(bc.UnknownStatusError) as ei2:
            client.new_order("BTCUSDT", "BUY", "LIMIT", quantity="0.001", price=str(p), time_in_force="GTC")
        assert client.reconcile_order(ei2.value) is None  # never executed
    finally:
        client.close()


def test_429_rate_limit_error_with_retry_after_and_fail_fast(fake: FakeBinance, rest: bc.RestClient) -> None:
    fake.fail_next(1, status=429, code=-1003, msg="Too many requests", retry_after=2)
    with pytest.raises(bc.RateLimitError) as ei:
        rest.server_time()
    err = ei.value
    assert not isinstance(err, bc.IPBannedError)
    assert isinstance(err.retry_after, (int, float)) and 0 < err.retry_after <= 2
    assert err.code and err.details["http_status"] == 429
    n = len(fake.request_log)
    with pytest.raises(bc.RateLimitError):
        rest.server_time()
    assert len(fake.request_log) == n  # failed fast, not sent


def test_418_ip_banned_and_fail_fast(fake: FakeBinance, rest: bc.RestClient) -> None:
    fake.fail_next(1, status=418, code=-1003, msg="Way too many requests; IP banned", retry_after=30)
    with pytest.raises(bc.IPBannedError) as ei:
        rest.ticker_price("BTCUSDT")
    assert isinstance(ei.value, bc.RateLimitError)
    assert ei.value.retry_after is not None and ei.value.retry_after > 0
    n = len(fake.request_log)
    t0 = time.monotonic()
    with pytest.raises(bc.IPBannedError):
        rest.ping()
    assert time.monotonic() - t0 < 0.5
    assert len(fake.request_log) == n


# ============================================================================ Errors

ERROR_CLASSES = ["ValidationError", "ConnectionError", "NotConnectedError", "RateLimitError", "IPBannedError",
                 "AuthenticationError", "TimestampError", "NotFoundError", "OrderRejectedError",
                 "UnknownStatusError", "APIError"]


@pytest.mark.parametrize("name", ERROR_CLASSES)
def test_error_class_exists_and_derives_from_binance_error(name: str) -> None:
    cls = getattr(bc, name)
    assert issubclass(cls, bc.BinanceError) and issubclass(cls, Exception)


def test_error_inheritance() -> None:
    assert issubclass(bc.ValidationError, ValueError)
    assert issubclass(bc.ConnectionError, builtins.ConnectionError)
    assert issubclass(bc.IPBannedError, bc.RateLimitError)


def test_error_attributes_from_a_real_response(fake: FakeBinance, rest: bc.RestClient) -> None:
    with pytest.raises(bc.NotFoundError) as ei:
        rest.get_order("BTCUSDT", order_id=123456789)
    err = ei.value
    assert isinstance(err.code, str) and err.code
    assert err.binance_code == -2013
    assert isinstance(err.message, str) and err.message
    d = err.details
    assert d["exchange"] == "binance"
    assert "request_id" in d
    assert isinstance(d["timestamp"], int) and abs(d["timestamp"] - time.time() * 1000) < 60_000
    assert d["http_status"] == 400 and d["binance_code"] == -2013
    assert err.is_retryable() is False
    fake.fail_next(1, status=400, code=-2010, msg="Account has insufficient balance", path="/api/v3/order")
    with pytest.raises(bc.OrderRejectedError):
        rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="1", time_in_force="GTC")
    fake.fail_next(1, status=400, code=-1121, msg="Invalid symbol.")
    with pytest.raises((bc.NotFoundError, bc.APIError)):
        rest.ticker_price("BTCUSDT")
    fake.fail_next(1, status=400, code=-1100, msg="Illegal characters")
    with pytest.raises(bc.APIError) as ei3:
        rest.ticker_price("BTCUSDT")
    assert ei3.value.binance_code == -1100


def test_status_decides_first_for_5xx(fake: FakeBinance) -> None:
    client = bc.RestClient(fake.config_builder().with_retry(attempts=1).build())
    try:
        fake.fail_next(1, status=503, code=-2013, msg="Order does not exist.")
        with pytest.raises(bc.UnknownStatusError) as ei:
            client.ticker_price("BTCUSDT")
        assert ei.value.is_retryable() in (True, False)
    finally:
        client.close()


def test_connection_error_str_includes_chained_cause() -> None:
    client = bc.RestClient(bc.Config.builder().with_rest_url(_free_port_url("http")).with_retry(attempts=1)
                           .with_timeout(0.5).build())
    try:
        with pytest.raises(bc.ConnectionError) as ei:
            client.server_time()
    finally:
        client.close()
    err = ei.value
    assert isinstance(err, builtins.ConnectionError)
    assert err.__cause__ is not None
    cause_msg = str(err.__cause__)
    assert cause_msg and cause_msg[:40] in str(err)
    assert isinstance(err.is_temporary(), bool)
    assert err.is_retryable() is True
    assert isinstance(err.details["timestamp"], int)


def test_not_connected_error_is_connection_error() -> None:
    assert issubclass(bc.NotConnectedError, bc.BinanceError)


# ============================================================================ Testing support

def test_fake_binance_one_line_and_fault_controls() -> None:
    with FakeBinance() as f:
        assert f.rest_url.startswith("http://127.0.0.1:")
        assert f.ws_url.startswith("ws://127.0.0.1:")
        assert f.ws_api_url.startswith("ws://127.0.0.1:")
        for control in ("drop_connections", "close_connections", "freeze", "resume", "fail_next",
                        "fail_next_ws_api", "delay_responses", "refuse_handshakes"):
            assert callable(getattr(f, control)), control
        assert isinstance(f.config_builder().build(), bc.Config)


def test_dataclass_replace_gives_new_config_and_leaves_original() -> None:
    cfg = bc.Config.builder().build()
    other = dataclasses.replace(cfg, debug=True)
    assert cfg.debug is False and other.debug is True


def test_slow_subscriber_never_delays_another_and_order_kept(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    conn = _running(fake, conns)
    gate = threading.Event()
    slow = Recorder(lambda e: gate.wait(scaled(5.0)))
    fast = Recorder()
    conn.on_trade("BTCUSDT", slow)
    conn.on_trade("BTCUSDT", fast)
    conn.start()
    assert _ready(conn, fake)
    for i in range(20):
        fake.publish_trade("BTCUSDT", str(100 + i), "1")
    assert fast.wait_count(20, timeout=3.0)
    assert [e.price for e in fast.snapshot()] == [Decimal(100 + i) for i in range(20)]
    assert len(slow) <= 1
    gate.set()
    assert slow.wait_count(20)
    assert [e.price for e in slow.snapshot()] == [Decimal(100 + i) for i in range(20)]


def test_live_only_no_snapshot_replayed(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    conn = _running(fake, conns)
    first = Recorder()
    conn.on_trade("BTCUSDT", first)
    conn.start()
    assert _ready(conn, fake)
    fake.publish_trade("BTCUSDT", "100", "1")
    assert first.wait_count(1)
    late = Recorder()
    conn.on_trade("BTCUSDT", late)
    fake.publish_trade("BTCUSDT", "101", "1")
    assert first.wait_count(2) and late.wait_count(1)
    assert [e.price for e in late.snapshot()] == [Decimal("101")]


def test_stop_from_a_callback_works(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    conn = _running(fake, conns)
    result: List[bool] = []
    conn.on_trade("BTCUSDT", lambda e: result.append(conn.stop(timeout=2.0)))
    conn.start()
    assert _ready(conn, fake)
    fake.publish_trade("BTCUSDT", "100", "1")
    assert wait_until(lambda: bool(result), timeout=5.0)
    assert conn.state == bc.ConnectionState.STOPPED


def test_several_connectors_side_by_side(fake: FakeBinance, conns: List[bc.Connector]) -> None:
    a, b = _running(fake, conns), _running(fake, conns)
    ra, rb = Recorder(), Recorder()
    a.on_trade("BTCUSDT", ra)
    a.start()
    assert _ready(a, fake)
    b.on_trade("BTCUSDT", rb)
    b.start()
    assert _ready(b, fake)
    assert fake.wait_until(lambda: fake.open_connections("stream") >= 2, scaled(5.0))
    fake.publish_trade("BTCUSDT", "100", "1")
    assert ra.wait_count(1) and rb.wait_count(1)
    assert a.stop() is True
    assert b.is_connected() is True


def test_signed_request_resyncs_clock_on_1021(fake: FakeBinance, rest: bc.RestClient) -> None:
    rest.account()
    fake.skew_clock(3_000_000)  # server clock jumps: the client's offset is now wrong
    acct = rest.account()  # -1021 -> re-sync -> retried once
    assert isinstance(acct, dict)


def test_safe_get_retried_on_5xx_order_never_resent(fake: FakeBinance, rest: bc.RestClient) -> None:
    fake.fail_next(2, status=502, code=-1000, path="/api/v3/ticker/price")
    assert isinstance(rest.ticker_price("BTCUSDT"), Decimal)
    assert len([r for r in fake.request_log if r["path"] == "/api/v3/ticker/price"]) == 3
    fake.fail_next(1, status=503, code=-1000, path="/api/v3/order", method="POST")
    with pytest.raises(bc.UnknownStatusError) as ei:
        rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="0.001", price="100", time_in_force="GTC")
    posts = [r for r in fake.request_log if r["path"] == "/api/v3/order" and r["method"] == "POST"]
    assert len(posts) == 1  # never blindly re-sent
    sent_id = posts[0]["params"]["newClientOrderId"]
    assert sent_id and sent_id in str(ei.value.details) + str(getattr(ei.value, "client_order_id", ""))


def test_float_conversion_opt_in(fake: FakeBinance) -> None:
    client = bc.RestClient(fake.config_builder().with_float_conversion(True).build())
    try:
        book = client.depth("BTCUSDT", limit=5)
        assert len(book["bids"]) <= 5
        client.request("GET", "/api/v3/ticker/price", params={"symbol": "BTCUSDT"})
        client.new_order("BTCUSDT", "BUY", "LIMIT", quantity=0.5, price="100", time_in_force="GTC")
        sent = [r for r in fake.request_log if r["path"] == "/api/v3/order"][-1]["params"]
        assert sent["quantity"] == "0.5"
    finally:
        client.close()


def test_with_debug_adds_stack_traces_to_error_details(fake: FakeBinance) -> None:
    for debug in (False, True):
        client = bc.RestClient(fake.config_builder().with_debug(debug).build())
        try:
            with pytest.raises(bc.NotFoundError) as ei:
                client.get_order("BTCUSDT", order_id=555)
        finally:
            client.close()
        text = " ".join(str(v) for v in ei.value.details.values())
        assert ('File "' in text) is debug, (debug, sorted(ei.value.details))
