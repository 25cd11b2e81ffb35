"""RestClient behaviour against binance_conn.testing.FakeBinance (real sockets on loopback)."""

from __future__ import annotations

import socket
import threading
import time
from decimal import Decimal
from typing import Any, Iterator, List

import pytest
from _helpers import scaled, wait_until

from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn.errors import (
    BinanceError,
    ConnectionError,
    IPBannedError,
    RateLimitError,
    UnknownStatusError,
)
from binance_conn.rest import RestClient

testing = pytest.importorskip("binance_conn.testing", reason="binance_conn.testing (FakeBinance) not available")
FakeBinance = testing.FakeBinance


@pytest.fixture
def fake() -> Iterator[Any]:
    with FakeBinance() as f:
        yield f


def client_for(fake: Any, **kw: Any) -> RestClient:
    b = fake.config_builder().with_backoff(base=0.01, max=0.05, jitter=0.0)
    for name, args in kw.items():
        getattr(b, name)(*args) if isinstance(args, tuple) else getattr(b, name)(args)
    return RestClient(b.build(), limiter_registry=WeightLimiterRegistry())


def log_for(fake: Any, path: str, method: str = "") -> List[Any]:
    return [r for r in fake.request_log if r["path"] == path and (not method or r["method"] == method)]


def _fresh_window() -> None:
    sec = time.time() % 60
    if sec > 50:
        time.sleep(60.5 - sec)


def test_round_trip_order_lifecycle(fake: Any) -> None:
    client = client_for(fake)
    client.ping()
    assert abs(client.server_time() - fake.now_ms()) < 2_000
    price = client.ticker_price("BTCUSDT")
    assert isinstance(price, Decimal) and price > 0
    book = client.depth("BTCUSDT", limit=5)
    assert all(isinstance(v, Decimal) for level in book["bids"] for v in level)
    acct = client.account()
    assert any(b["asset"] == "USDT" and isinstance(b["free"], Decimal) for b in acct["balances"])
    f = client.symbol_filters("BTCUSDT")
    limit_price = client.round_price("BTCUSDT", price * Decimal("0.5"), "DOWN")
    qty = client.round_quantity("BTCUSDT", Decimal("0.0123456789"))
    client.validate_order("BTCUSDT", "LIMIT", quantity=max(qty, f.min_qty), price=limit_price)
    order = client.new_order("BTCUSDT", "BUY", "LIMIT", quantity=max(qty, f.min_qty), price=limit_price,
                             time_in_force="GTC", client_order_id="it-1")
    assert order["clientOrderId"] == "it-1" and isinstance(order["price"], Decimal)
    assert client.get_order("BTCUSDT", client_order_id="it-1")["status"] == "NEW"
    assert [o["clientOrderId"] for o in client.open_orders("BTCUSDT")] == ["it-1"]
    assert client.cancel_order("BTCUSDT", order_id=order["orderId"])["status"] == "CANCELED"
    assert client.used_weight.get("1M", 0) > 0


@pytest.mark.parametrize("skew", [3_000, -3_000])
def test_minus_1021_after_clock_skew_resyncs_and_retries_once(fake: Any, skew: int) -> None:
    client = client_for(fake, with_recv_window=2_000)
    client.account()  # first signed use: one clock sync
    assert len(log_for(fake, "/api/v3/time")) == 1
    fake.skew_clock(skew)
    client.account()  # -1021, resync, re-signed, retried once: success
    statuses = [r["status"] for r in log_for(fake, "/api/v3/account")]
    assert statuses[-2:] == [400, 200]
    assert len(log_for(fake, "/api/v3/time")) == 2
    assert abs(client.clock_offset_ms - skew) < 1_000


def test_429_then_fail_fast_then_recovery(fake: Any) -> None:
    client = client_for(fake)
    fake.fail_next(1, status=429, code=-1003, msg="Too much request weight used.", retry_after=1,
                   path="/api/v3/ping")
    with pytest.raises(RateLimitError) as info:
        client.ping()
    assert info.value.retry_after == 1.0 and info.value.http_status == 429
    n = len(fake.request_log)
    with pytest.raises(RateLimitError) as info2:
        client.server_time()
    assert len(fake.request_log) == n  # the server was not touched
    assert 0 < (info2.value.retry_after or 0) <= 1.0

    def ok() -> bool:
        try:
            client.ping()
            return True
        except RateLimitError:
            return False

    assert wait_until(ok, timeout=3.0, interval=0.05)


def test_418_banned_fails_fast(fake: Any) -> None:
    client = client_for(fake)
    fake.fail_next(1, status=418, code=-1003, msg="Way too much request weight used; IP banned until 1.",
                   retry_after=60)
    with pytest.raises(IPBannedError):
        client.ping()
    n = len(fake.request_log)
    for _ in range(3):
        with pytest.raises(IPBannedError) as info:
            client.account()
        assert 50 < (info.value.retry_after or 0) <= 60
    assert len(fake.request_log) == n


def test_weight_limiter_across_16_threads_never_exceeds_fake_limit() -> None:
    _fresh_window()
    with FakeBinance(weight_limit=300) as fake:
        client = client_for(fake, with_rate_limit=(0.05,))
        client.exchange_info()  # seeds the limiter: REQUEST_WEIGHT 300 / 1 MINUTE (costs 20)
        assert client._limiter.limits == {"1M": 300}
        limited: List[BaseException] = []
        done: List[int] = []
        lock = threading.Lock()

        def worker() -> None:
            for _ in range(20):
                try:
                    client.depth("BTCUSDT", limit=5)  # weight 5
                    with lock:
                        done.append(1)
                except RateLimitError as exc:
                    with lock:
                        limited.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(30))
        statuses = [r["status"] for r in fake.request_log]
        assert 429 not in statuses and 418 not in statuses
        assert 20 + 5 * len(done) <= 300
        assert len(done) == 56  # (300 - 20) / 5: the whole budget was used, no more
        assert limited and all(e.details.get("client_side") for e in limited)


def test_get_retried_on_503_and_succeeds(fake: Any) -> None:
    client = client_for(fake)
    client.account()
    fake.fail_next(1, status=503, code=-1000, msg="Service Unavailable.", path="/api/v3/account")
    assert "balances" in client.account()
    assert [r["status"] for r in log_for(fake, "/api/v3/account")][-2:] == [503, 200]


def test_post_order_503_one_post_then_reconciled(fake: Any) -> None:
    client = client_for(fake)
    fake.fail_next(1, status=503, code=-1000, msg="Unknown error, please check your request or try again later.",
                   path="/api/v3/order", method="POST")
    with pytest.raises(UnknownStatusError) as info:
        client.new_order("BTCUSDT", "BUY", "LIMIT", quantity="0.01", price="1000.00", time_in_force="GTC")
    assert len(log_for(fake, "/api/v3/order", "POST")) == 1
    assert info.value.client_order_id
    assert client.reconcile_order(info.value) is None  # the fake did not execute it


def test_post_order_read_timeout_then_reconciled_exists(fake: Any) -> None:
    client = client_for(fake)
    client.account()
    fake.delay_responses(1.0, path="/api/v3/order", method="POST")  # executed, answer late
    with pytest.raises(UnknownStatusError) as info:
        client.new_order("BTCUSDT", "BUY", "LIMIT", quantity="0.01", price="1000.00", time_in_force="GTC",
                         client_order_id="slow-1", timeout=0.2)
    assert len(log_for(fake, "/api/v3/order", "POST")) <= 1
    assert fake.wait_for_requests("/api/v3/order", 1, method="POST")
    state = client.reconcile_order(info.value)
    assert state is not None and state["clientOrderId"] == "slow-1" and state["status"] == "NEW"
    assert len(log_for(fake, "/api/v3/order", "POST")) == 1


def test_timeout_is_temporary_connection_error(fake: Any) -> None:
    client = client_for(fake, with_retry=1)
    fake.delay_responses(1.0, count=1, path="/api/v3/ping")
    t0 = time.monotonic()
    with pytest.raises(ConnectionError) as info:
        client.request("GET", "/api/v3/ping", timeout=0.2)
    assert info.value.is_temporary() and time.monotonic() - t0 < scaled(1.0)


def test_refused_connection() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from binance_conn.config import Config

    cfg = Config.builder().with_rest_url(f"http://127.0.0.1:{port}").with_retry(2).with_backoff(0.01, 0.01, 0).build()
    with pytest.raises(ConnectionError) as info:
        RestClient(cfg, limiter_registry=WeightLimiterRegistry()).ping()
    assert info.value.is_temporary() and info.value.__cause__ is not None


def test_malformed_body(fake: Any) -> None:
    client = client_for(fake, with_retry=1)
    fake.fail_next(1, status=200, raw_body="<html>oops</html>", path="/api/v3/ping")
    with pytest.raises(BinanceError) as info:
        client.ping()
    assert info.value.code == "malformed_response"


def test_concurrent_signed_calls_from_16_threads_all_valid(fake: Any) -> None:
    client = client_for(fake)
    errors: List[BaseException] = []

    def worker() -> None:
        for _ in range(5):
            try:
                client.account()
                client.open_orders("BTCUSDT")
            except BaseException as exc:  # noqa: B902
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(scaled(30))
    assert not errors
    assert [r["status"] for r in fake.request_log if r["path"] == "/api/v3/account"] == [200] * 80
    assert client.inflight == 0


def test_ed25519_key_against_fake(fake: Any) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    fake.register_key("edkey", pub)
    from binance_conn.config import Config

    cfg = Config.builder().with_rest_url(fake.rest_url).with_api_key("edkey").with_private_key(pem).build()
    client = RestClient(cfg, limiter_registry=WeightLimiterRegistry())
    assert "balances" in client.account()
