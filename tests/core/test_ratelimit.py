"""_core.ratelimit: aligned weight windows, header correction, ban gate, order counts."""

from __future__ import annotations

import pytest

from binance_conn._core.ratelimit import (
    BanGate,
    OrderCounter,
    WeightLimiter,
    endpoint_weight,
    header_key,
    parse_count_headers,
    window_seconds,
)

T0 = 1_700_000_040.0  # exactly on a whole minute


def test_keys() -> None:
    assert header_key("MINUTE", 1) == "1M"
    assert header_key("second", 10) == "10S"
    assert window_seconds("1M") == 60 and window_seconds("10S") == 10 and window_seconds("1D") == 86400


def test_parse_headers_case_insensitive() -> None:
    h = {"x-mbx-used-weight-1m": "12", "X-MBX-USED-WEIGHT": "12", "X-MBX-ORDER-COUNT-10S": "3",
         "x-mbx-order-count-1d": "40", "Content-Type": "application/json", "X-MBX-USED-WEIGHT-XX": "1"}
    assert parse_count_headers(h) == {"1M": 12}
    assert parse_count_headers(h, "x-mbx-order-count-") == {"10S": 3, "1D": 40}
    assert parse_count_headers({"X-MBX-USED-WEIGHT": "7"}) == {"1M": 7}
    assert parse_count_headers({"X-MBX-USED-WEIGHT-1M": "bad"}) == {}


@pytest.mark.parametrize(
    "method, path, params, weight",
    [
        ("GET", "/api/v3/ping", None, 1),
        ("GET", "/api/v3/exchangeInfo", {}, 20),
        ("GET", "/api/v3/depth", {"limit": 100}, 5),
        ("GET", "/api/v3/depth", {"limit": "500"}, 25),
        ("GET", "/api/v3/depth", {"limit": 1000}, 50),
        ("GET", "/api/v3/depth", {"limit": 5000}, 250),
        ("GET", "/api/v3/ticker/price", {"symbol": "X"}, 2),
        ("GET", "/api/v3/ticker/price", {}, 4),
        ("GET", "/api/v3/ticker/24hr", {}, 80),
        ("GET", "/api/v3/openOrders", {"symbol": "X"}, 6),
        ("GET", "/api/v3/openOrders", {}, 80),
        ("GET", "/api/v3/order", {}, 4),
        ("POST", "/api/v3/order", {}, 1),
        ("GET", "/api/v3/myTrades", {"orderId": 1}, 5),
        ("GET", "/api/v3/myTrades", {}, 20),
        ("GET", "/api/v3/account", {}, 20),
        ("GET", "/sapi/v1/whatever", {}, 1),
    ],
)
def test_endpoint_weights(method: str, path: str, params: dict, weight: int) -> None:
    assert endpoint_weight(method, path, params) == weight


def test_reserve_until_full_then_wait_for_window() -> None:
    lim = WeightLimiter({"1M": 10})
    for _ in range(10):
        assert lim.reserve(1, T0 + 1) == 0.0
    delay = lim.reserve(1, T0 + 20)
    assert delay == pytest.approx(40.1)  # to the boundary, plus the landing guard (our clock is an estimate)
    # next aligned window: budget is back
    assert lim.reserve(1, T0 + 60) == 0.0


def test_complete_releases_in_flight_and_header_corrects_upwards() -> None:
    lim = WeightLimiter({"1M": 100})
    assert lim.reserve(5, T0 + 1) == 0.0
    lim.complete(5, T0 + 1, T0 + 2, {"1M": 90})  # other processes on this IP spent 85
    assert lim.used_weight(T0 + 2) == {"1M": 90}
    assert lim.reserve(10, T0 + 3) == 0.0
    assert lim.reserve(1, T0 + 3) > 0  # 90 + 10 in flight = 100 -> full


def test_header_from_previous_window_ignored() -> None:
    lim = WeightLimiter({"1M": 100})
    assert lim.reserve(1, T0 - 1) == 0.0
    lim.complete(1, T0 - 1, T0 + 1, {"1M": 99})
    assert lim.used_weight(T0 + 1) == {"1M": 0}
    assert lim.reserve(50, T0 + 1) == 0.0


def test_headers_of_a_request_sent_just_after_a_boundary_are_not_the_new_window() -> None:
    """Our boundary is an estimate: a request sent within the landing guard after it may have been
    counted in Binance's old, full window; its header must not fill the new one (review finding:
    a 5 ms clock lead starved alternate windows)."""
    lim = WeightLimiter({"1M": 100})
    assert lim.reserve(1, T0 + 0.01) == 0.0
    lim.complete(1, T0 + 0.01, T0 + 0.05, {"1M": 100})  # Binance's old window, full
    assert lim.used_weight(T0 + 0.06) == {"1M": 1}  # only our own booking
    assert lim.reserve(50, T0 + 0.2) == 0.0
    lim.complete(50, T0 + 0.2, T0 + 0.3, {"1M": 80})  # well inside the window: the header counts
    assert lim.used_weight(T0 + 0.3) == {"1M": 80}


def test_observe_and_unknown_windows() -> None:
    lim = WeightLimiter()
    lim.observe({"1M": 30, "1S": 2}, T0 + 0.2, T0 + 0.5)
    assert lim.used_weight(T0 + 0.5) == {"1M": 30, "1S": 2}
    assert lim.used_weight(T0 + 61) == {"1M": 0, "1S": 0}


def test_configure_from_exchange_info() -> None:
    lim = WeightLimiter()
    assert lim.configure_from_exchange_info(
        [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
         {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50}]
    )
    assert lim.limits == {"1M": 1200}
    assert not lim.configure_from_exchange_info([{"rateLimitType": "ORDERS"}])


def test_oversized_weight_never_fits() -> None:
    lim = WeightLimiter({"1M": 10})
    assert lim.reserve(11, T0) > 0


def test_ban_gate() -> None:
    gate = BanGate()
    assert gate.check(T0) is None
    gate.trip(T0, 30.0, kind="rate_limited", message="slow down", http_status=429)
    assert gate.check(T0 + 10) == pytest.approx(20.0)
    assert gate.kind == "rate_limited" and gate.http_status == 429
    assert gate.check(T0 + 30) is None
    # without Retry-After: closed until the next whole minute
    gate.trip(T0 + 45, None, kind="rate_limited")
    assert gate.check(T0 + 50) == pytest.approx(10.0)
    # a ban takes over even if shorter
    gate.trip(T0 + 50, 5.0, kind="ip_banned", http_status=418)
    assert gate.kind == "ip_banned"
    gate.clear()
    assert gate.check(T0 + 50) is None


def test_order_counter_latest_wins() -> None:
    oc = OrderCounter()
    oc.observe({"10S": 3, "1D": 10}, T0 + 1)
    oc.observe({"10S": 2, "1D": 9}, T0 + 2)
    assert oc.snapshot(T0 + 3) == {"10S": 2, "1D": 9}
    assert oc.snapshot(T0 + 11) == {"10S": 0, "1D": 9}
