"""End to end against FakeBinance: the opt-in microsecond time unit (REST header, stream and
WebSocket API URL parameter, clock sync), recvWindow decimals accepted by the server's rule,
and the binance-data preset refusing user data / ws_api / signed REST without a thread or socket."""

from __future__ import annotations

import queue
import threading
import time
from decimal import Decimal
from typing import Any, Iterator, List

import pytest
from _connector_helpers import conn_threads, fast_builder, scaled

import binance_conn as bc
from binance_conn._core.endpoints import USER_DATA, Endpoint
from binance_conn.testing import FakeBinance

_US = 10**14  # an epoch instant above this is in microseconds
pytestmark = pytest.mark.usefixtures("no_conn_threads")


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=11, symbols=["BTCUSDT", "ETHUSDT"]) as f:
        yield f


def _connector(fake: FakeBinance, unit: str = "", **kw: Any) -> bc.Connector:
    b = fast_builder(fake)
    if unit:
        b = b.with_time_unit(unit)
    for name, value in kw.items():
        getattr(b, name)(value)
    return bc.Connector(b.build())


def _near_now_us(value: int, slack_ms: float = 5_000) -> bool:
    return value > _US and abs(value / 1000.0 - time.time() * 1000.0) < slack_ms


# ------------------------------------------------------------------------------- REST in µs

def test_rest_times_in_microseconds(fake: FakeBinance) -> None:
    fake.publish_trade("BTCUSDT", "100.5", "0.1")
    conn = _connector(fake, "MICROSECOND")
    try:
        assert _near_now_us(conn.rest.server_time())
        trades = conn.rest.request("GET", "/api/v3/trades", {"symbol": "BTCUSDT", "limit": 5})
        assert trades and all(_near_now_us(t["time"]) for t in trades)
        klines = conn.rest.request("GET", "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": 3})
        assert klines and all(k[0] > _US and k[6] > _US and k[6] > k[0] for k in klines)
        assert klines[-1][0] % 60_000_000 == 0  # minute boundaries in µs
        info = conn.rest.exchange_info()
        assert _near_now_us(info["serverTime"])
        for rec in fake.request_log:
            assert rec["headers"].get("x-mbx-time-unit") == "MICROSECOND"
    finally:
        conn.stop()


def test_rest_times_in_milliseconds_by_default(fake: FakeBinance) -> None:
    fake.publish_trade("BTCUSDT", "100.5", "0.1")
    conn = _connector(fake)
    try:
        assert conn.rest.server_time() < _US
        trades = conn.rest.request("GET", "/api/v3/trades", {"symbol": "BTCUSDT"})
        assert all(t["time"] < _US for t in trades)
        assert all("x-mbx-time-unit" not in rec["headers"] for rec in fake.request_log)
    finally:
        conn.stop()


@pytest.mark.parametrize("skew_ms", [0, 4_000, -2_500])
def test_clock_offset_in_ms_with_microsecond_server_time(fake: FakeBinance, skew_ms: int) -> None:
    fake.skew_clock(skew_ms)
    conn = _connector(fake, "MICROSECOND")
    try:
        offset = conn.rest.sync_clock(force=True)
        assert abs(offset - skew_ms) < 500, offset
        # a signed call passes the fake's timestamp rule (1000 ms ahead / recvWindow behind)
        assert "balances" in conn.rest.account()
    finally:
        conn.stop()


@pytest.mark.parametrize("recv,text", [("5000.5", "5000.5"), (Decimal("2500.125"), "2500.125"),
                                       (Decimal("60000.000"), "60000")])
def test_decimal_recv_window_accepted_by_the_server_rule(fake: FakeBinance, recv: Any, text: str) -> None:
    conn = _connector(fake, "MICROSECOND", with_recv_window=recv)
    try:
        assert "balances" in conn.rest.account()
        signed = [r for r in fake.request_log if r["path"] == "/api/v3/account"]
        assert signed[-1]["params"]["recvWindow"] == text and signed[-1]["status"] == 200
        # per call, with microsecond precision
        conn.rest.request("GET", "/api/v3/account", {"recvWindow": Decimal("1500.250")}, signed=True)
        assert fake.request_log[-1]["params"]["recvWindow"] == "1500.25"
    finally:
        conn.stop()


# ------------------------------------------------------------------------------- streams in µs

def test_trade_events_in_microseconds(fake: FakeBinance) -> None:
    conn = _connector(fake, "MICROSECOND")
    got: "queue.Queue[Any]" = queue.Queue()
    conn.on_trade("BTCUSDT", queue=got)
    conn.on_kline("BTCUSDT", "1m", queue=got)
    conn.start()
    try:
        assert conn.wait_ready(scaled(10))
        paths = [c["path"] for c in fake.connection_log if c["kind"] == "stream"]
        assert paths and all("timeUnit=MICROSECOND" in p for p in paths), paths
        assert fake.wait_for_subscriptions(["btcusdt@trade", "btcusdt@kline_1m"], timeout=scaled(5))
        fake.publish_trade("BTCUSDT", "101.25", "0.5")
        events: List[Any] = []
        deadline = time.monotonic() + scaled(5)
        while len({type(e).__name__ for e in events}) < 2 and time.monotonic() < deadline:
            try:
                events.append(got.get(timeout=0.1))
            except queue.Empty:
                pass
        trade = next(e for e in events if isinstance(e, bc.Trade))
        assert _near_now_us(trade.event_time) and _near_now_us(trade.trade_time)
        assert trade.price == Decimal("101.25")
        kline = next(e for e in events if isinstance(e, bc.Kline))
        assert kline.open_time > _US and kline.open_time % 60_000_000 == 0
        assert kline.close_time > kline.open_time
    finally:
        assert conn.stop(scaled(5))


def test_trade_events_in_milliseconds_by_default(fake: FakeBinance) -> None:
    conn = _connector(fake)
    got: "queue.Queue[Any]" = queue.Queue()
    conn.on_trade("BTCUSDT", queue=got)
    conn.start()
    try:
        assert conn.wait_ready(scaled(10))
        assert all("timeUnit" not in c["path"] for c in fake.connection_log)
        assert fake.wait_for_subscriptions(["btcusdt@trade"], timeout=scaled(5))
        fake.publish_trade("BTCUSDT", "101.25", "0.5")
        trade = got.get(timeout=scaled(5))
        assert trade.event_time < _US and abs(trade.event_time - time.time() * 1000) < 5_000
    finally:
        assert conn.stop(scaled(5))


def test_ws_api_url_and_time_in_microseconds(fake: FakeBinance) -> None:
    conn = _connector(fake, "MICROSECOND")
    conn.start()
    try:
        result = conn.ws_api.request("time", timeout=scaled(5))
        assert _near_now_us(result["serverTime"])
        api = [c["path"] for c in fake.connection_log if c["kind"] == "api"]
        assert api == ["/ws-api/v3?timeUnit=MICROSECOND"]
        status = conn.ws_api.request("account.status", signed=True, timeout=scaled(5))
        assert "balances" in status
    finally:
        assert conn.stop(scaled(5))


def test_market_data_and_user_data_together_in_microseconds(fake: FakeBinance) -> None:
    conn = _connector(fake, "MICROSECOND")
    orders: "queue.Queue[Any]" = queue.Queue()
    conn.on_order(queue=orders)
    conn.start()
    try:
        assert conn.wait_ready(scaled(10))
        placed = conn.rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="100", time_in_force="GTC")
        assert _near_now_us(placed["transactTime"])
        queried = conn.rest.get_order("BTCUSDT", order_id=placed["orderId"])
        assert _near_now_us(queried["time"]) and _near_now_us(queried["updateTime"])
        update = orders.get(timeout=scaled(5))
        assert update.order_id == placed["orderId"]
        assert _near_now_us(update.event_time)  # /ws-api/v3?timeUnit=MICROSECOND: wire values
    finally:
        assert conn.stop(scaled(5))


# ------------------------------------------------------------------------------- binance-data

def _user_threads() -> List[threading.Thread]:
    return [t for t in conn_threads() if "user_data" in t.name]


def test_data_preset_refuses_account_access_unstarted() -> None:
    cfg = bc.Config.builder().with_exchange("binance-data").with_api_key("k").with_api_secret("s").build()
    conn = bc.Connector(cfg)
    before = set(threading.enumerate())
    calls = [
        lambda: conn.on_order(lambda e: None),
        lambda: conn.on_balance(lambda e: None),
        lambda: conn.on_order_list(lambda e: None),
        lambda: conn.ws_api.request("time"),
        lambda: conn.ws_api.request("account.status", signed=True),
        lambda: conn.ws_api.place_order("BTCUSDT", "BUY", "MARKET", quantity="1"),
        lambda: conn.ws_api.cancel_order("BTCUSDT", order_id=1),
        lambda: conn.ws_api._call(Endpoint("account", "GET", "/api/v3/account", USER_DATA,
                                           ws_method="account.status")),
        lambda: conn.rest.account(),
        lambda: conn.rest.request("GET", "/api/v3/openOrders", signed=True),
    ]
    for call in calls:
        with pytest.raises(bc.ValidationError) as info:
            call()
        assert info.value.field == "exchange"
        assert "binance-data serves public market data only" in info.value.constraint
    assert set(threading.enumerate()) == before  # no thread (hence no socket) was started
    assert conn.rest.inflight == 0
    assert conn.stats()["user_data"]["connects"] == 0


def test_data_preset_streams_work_user_data_refused(fake: FakeBinance) -> None:
    cfg = (bc.Config.builder().with_exchange("binance-data").with_rest_url(fake.rest_url).with_ws_url(fake.ws_url)
           .with_backoff(base=0.05, max=0.5, jitter=0.0).with_debounce(0.0).with_time_unit("MICROSECOND").build())
    assert cfg.exchange.ws_api_url == ""
    conn = bc.Connector(cfg)
    got: "queue.Queue[Any]" = queue.Queue()
    conn.on_trade("BTCUSDT", queue=got)
    conn.start()
    try:
        assert conn.wait_ready(scaled(10))
        with pytest.raises(bc.ValidationError):
            conn.on_order(lambda e: None)
        with pytest.raises(bc.ValidationError):
            conn.ws_api.request("time")
        assert fake.wait_for_subscriptions(["btcusdt@trade"], timeout=scaled(5))
        fake.publish_trade("BTCUSDT", "99", "1")
        assert _near_now_us(got.get(timeout=scaled(5)).event_time)
        assert _near_now_us(conn.rest.server_time())
        assert not _user_threads()
        assert [c["kind"] for c in fake.connection_log] == ["stream"]
    finally:
        assert conn.stop(scaled(5))
