"""_core.retry: which failures may be re-sent."""

from __future__ import annotations

import pytest

from binance_conn._core.retry import (
    Decision,
    FailureKind,
    classify,
    is_order_placement,
    is_safe,
    outcome_unknown,
)

K = FailureKind


def test_safe_requests() -> None:
    assert is_safe("GET", "/api/v3/account", {})
    assert is_safe("DELETE", "/api/v3/order", {"symbol": "X", "orderId": "1"})
    assert is_safe("DELETE", "/api/v3/order", {"symbol": "X", "origClientOrderId": "a"})
    assert not is_safe("DELETE", "/api/v3/order", {"symbol": "X"})
    assert not is_safe("DELETE", "/api/v3/openOrders", {"symbol": "X"})
    assert not is_safe("POST", "/api/v3/order", {})
    assert is_safe("DELETE", "/api/v3/orderList", {"orderListId": "1"})


def test_placements() -> None:
    assert is_order_placement("POST", "/api/v3/order")
    assert is_order_placement("POST", "/api/v3/orderList/oco")
    assert is_order_placement("PUT", "/api/v3/order/amend/keepPriority")
    assert not is_order_placement("GET", "/api/v3/order")
    # which placements always carry a client order id is the endpoint table's (places_order/order_id_param)


@pytest.mark.parametrize(
    "kind, status, code",
    [(K.CONNECT, None, None), (K.READ_TIMEOUT, None, None), (K.CONNECTION_LOST, None, None),
     (K.HTTP, 503, None), (K.HTTP, 500, -1000), (K.HTTP, 400, -1001), (K.HTTP, 400, -1008), (K.HTTP, 400, -1016),
     (K.MALFORMED, 200, None)],
)
def test_get_retried(kind: FailureKind, status: int, code: int) -> None:
    assert classify("GET", "/api/v3/time", {}, kind, http_status=status, binance_code=code) is Decision.RETRY


def test_get_retry_budget() -> None:
    assert classify("GET", "/x", {}, K.HTTP, http_status=503, attempt=2, max_attempts=3) is Decision.RETRY
    assert classify("GET", "/x", {}, K.HTTP, http_status=503, attempt=3, max_attempts=3) is Decision.FAIL
    assert classify("GET", "/x", {}, K.HTTP, http_status=503, attempt=1, max_attempts=1) is Decision.FAIL


@pytest.mark.parametrize(
    "status, code",
    [(400, -1121), (429, -1003), (418, -1003), (401, None), (400, -2010), (404, None)],
)
def test_get_not_retried(status: int, code: int) -> None:
    assert classify("GET", "/api/v3/order", {}, K.HTTP, http_status=status, binance_code=code) is Decision.FAIL


@pytest.mark.parametrize(
    "kind, status, code, expected",
    [
        (K.CONNECT, None, None, Decision.FAIL),
        (K.READ_TIMEOUT, None, None, Decision.UNKNOWN),
        (K.CONNECTION_LOST, None, None, Decision.UNKNOWN),
        (K.MALFORMED, 200, None, Decision.UNKNOWN),
        (K.HTTP, 503, None, Decision.UNKNOWN),
        (K.HTTP, 500, None, Decision.UNKNOWN),
        (K.HTTP, 400, -1000, Decision.UNKNOWN),
        (K.HTTP, 400, -1006, Decision.UNKNOWN),
        (K.HTTP, 400, -1007, Decision.UNKNOWN),
        (K.HTTP, 400, -1001, Decision.FAIL),
        (K.HTTP, 400, -2010, Decision.FAIL),
        (K.HTTP, 429, -1015, Decision.FAIL),
    ],
)
def test_post_order_never_retried(kind: FailureKind, status: int, code: int, expected: Decision) -> None:
    got = classify("POST", "/api/v3/order", {"newClientOrderId": "x"}, kind, http_status=status, binance_code=code)
    assert got is expected


def test_timestamp_resync_once() -> None:
    for method in ("GET", "POST"):
        assert classify(method, "/api/v3/order", {}, K.HTTP, http_status=400, binance_code=-1021) is Decision.RESYNC
        assert (
            classify(method, "/api/v3/order", {}, K.HTTP, http_status=400, binance_code=-1021, resynced=True)
            is Decision.FAIL
        )


def test_outcome_unknown() -> None:
    assert not outcome_unknown(K.CONNECT)
    assert not outcome_unknown(K.HTTP, 429, -1003)
    assert outcome_unknown(K.HTTP, 502, None)
