"""_core/timing (time unit, recvWindow), the µs-aware server clock, and the WebSocket API
protocol's recvWindow: pure calls, no I/O."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

import pytest

from binance_conn._core.clock import ServerClock
from binance_conn._core.timing import (
    MICROSECOND,
    MILLISECOND,
    epoch_ms,
    format_recv_window,
    per_ms,
    recv_window,
    time_unit,
    time_unit_headers,
    to_ms,
    with_time_unit,
)
from binance_conn._core.wsapi import WsApiProtocol, ws_api_payload
from binance_conn.errors import ValidationError, parse_retry_after

SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def _sign(payload: str) -> str:
    return hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()


# ------------------------------------------------------------------------------- time unit

def test_time_unit_names() -> None:
    assert time_unit("f", "microsecond") == MICROSECOND
    assert time_unit("f", "MILLISECOND") == MILLISECOND
    with pytest.raises(ValidationError) as info:
        time_unit("exchange.time_unit", "SECOND")
    assert info.value.field == "exchange.time_unit"


def test_units_and_conversions() -> None:
    assert (per_ms(MILLISECOND), per_ms(MICROSECOND)) == (1, 1000)
    assert to_ms(1_700_000_000_123_456, MICROSECOND) == pytest.approx(1_700_000_000_123.456)
    assert to_ms(1_700_000_000_123, MILLISECOND) == 1_700_000_000_123
    assert epoch_ms(1_700_000_000_123) == 1_700_000_000_123
    assert epoch_ms(1_700_000_000_123_456) == pytest.approx(1_700_000_000_123.456)
    assert epoch_ms("1700000000123456") == pytest.approx(1_700_000_000_123.456)


@pytest.mark.parametrize("url,unit,expected", [
    ("wss://h/stream?streams=btcusdt@trade", MICROSECOND, "wss://h/stream?streams=btcusdt@trade&timeUnit=MICROSECOND"),
    ("wss://h/stream", MICROSECOND, "wss://h/stream?timeUnit=MICROSECOND"),
    ("wss://h/ws-api/v3", MICROSECOND, "wss://h/ws-api/v3?timeUnit=MICROSECOND"),
    ("wss://h/stream?streams=a@trade", MILLISECOND, "wss://h/stream?streams=a@trade"),
    ("wss://h/ws-api/v3", MILLISECOND, "wss://h/ws-api/v3"),
])
def test_with_time_unit(url: str, unit: str, expected: str) -> None:
    assert with_time_unit(url, unit) == expected


def test_time_unit_headers() -> None:
    assert time_unit_headers(MICROSECOND) == {"X-MBX-TIME-UNIT": "MICROSECOND"}
    assert time_unit_headers(MILLISECOND) == {}


# ------------------------------------------------------------------------------- recvWindow

@pytest.mark.parametrize("given,text", [
    (5000, "5000"), ("5000.123", "5000.123"), (Decimal("5000.10"), "5000.1"), (Decimal("1E+4"), "10000"),
    ("  250.5 ", "250.5"), (Decimal("0.001"), "0.001"), ("60000.000", "60000"),
])
def test_recv_window_canonical_text(given: Any, text: str) -> None:
    assert format_recv_window(recv_window("recvWindow", given)) == text


@pytest.mark.parametrize("bad", [0, -3, "60000.0001", 60001, "1.0005", 1.5, True, None, "x", Decimal("sNaN")])
def test_recv_window_invalid(bad: Any) -> None:
    with pytest.raises(ValidationError) as info:
        recv_window("recvWindow", bad)
    assert info.value.field == "recvWindow"


# ------------------------------------------------------------------------------- server clock

def test_clock_offset_from_microsecond_server_time() -> None:
    clock = ServerClock()
    # local midpoint 1_700_000_000_100 ms; server says 1_700_000_000_350.750 ms in µs
    offset = clock.update(1_700_000_000_000, 1_700_000_000_350_750, 1_700_000_000_200)
    assert offset == 251  # round(350.75) - 100
    assert clock.server_time(1_700_000_000_100) == 1_700_000_000_351


def test_clock_offset_same_in_both_units() -> None:
    ms, us = ServerClock(), ServerClock()
    assert ms.update(1_000_000_000_000, 1_000_000_004_321, 1_000_000_000_010) == \
        us.update(1_000_000_000_000, 1_000_000_004_321_000, 1_000_000_000_010) == 4316


# ------------------------------------------------------------------------------- retryAfter in µs

def test_retry_after_in_microseconds() -> None:
    now = 1_700_000_000_000
    assert parse_retry_after(retry_after_ms=(now + 2500) * 1000, now_ms=now) == pytest.approx(2.5)
    assert parse_retry_after(retry_after_ms=now + 2500, now_ms=now) == pytest.approx(2.5)
    msg = f"Way too many requests; IP(1.2.3.4) banned until {(now + 4000) * 1000}. Please use the websocket."
    assert parse_retry_after(message=msg, now_ms=now) == pytest.approx(4.0)


# ------------------------------------------------------------------------------- WebSocket API recvWindow

def _proto(recv: Any = None) -> WsApiProtocol:
    return WsApiProtocol(api_key="key", sign=_sign, recv_window=recv, clock_offset_ms=1_700_000_000_000.0)


@pytest.mark.parametrize("configured,wire", [
    (Decimal("6000.346"), "6000.346"), (Decimal("5000.5"), "5000.5"), (5000, 5000), ("4000.250", "4000.25"),
])
def test_ws_api_configured_recv_window_exact_and_signed(configured: Any, wire: Any) -> None:
    _, text = _proto(configured).request("account.status", signed=True, now=0.0)
    assert f'"recvWindow":{json.dumps(wire)}' in text  # the JSON value, exactly
    params = json.loads(text)["params"]
    assert params["recvWindow"] == wire
    signature = params["signature"]
    payload = ws_api_payload(params)
    assert f"recvWindow={wire}&" in payload + "&"
    assert signature == _sign(payload)


@pytest.mark.parametrize("per_call,wire", [
    (Decimal("1234.500"), "1234.5"), ("999.999", "999.999"), (100, 100), (Decimal("7E+3"), 7000),
])
def test_ws_api_per_call_recv_window(per_call: Any, wire: Any) -> None:
    _, text = _proto(5000).request("account.status", {"recvWindow": per_call}, signed=True, now=0.0)
    params = json.loads(text)["params"]
    assert params["recvWindow"] == wire
    assert params["signature"] == _sign(ws_api_payload(params))


@pytest.mark.parametrize("bad", [1.5, "1.0001", 0, 60001, "abc"])
def test_ws_api_per_call_recv_window_invalid(bad: Any) -> None:
    p = _proto(5000)
    with pytest.raises(ValidationError) as info:
        p.request("account.status", {"recvWindow": bad}, signed=True, now=0.0)
    assert info.value.field == "recvWindow"
    assert p.pending_count == 0  # nothing registered


def test_ws_api_configured_recv_window_invalid_at_construction() -> None:
    with pytest.raises(ValidationError) as info:
        _proto("0.0001")
    assert info.value.field == "rest.recv_window"


# ------------------------------------------------------------------------------- property

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.integers(min_value=1, max_value=60_000_000), st.integers(min_value=0, max_value=3))
def test_recv_window_text_round_trips(micros: int, padding: int) -> None:
    """Any value in (0, 60000] ms with <= 3 decimals: accepted from its text (even with trailing
    zeros), and sent as the shortest plain text of the same number (no exponent, no trailing zeros)."""
    value = Decimal(micros) / 1000
    given_text = format(value.quantize(Decimal(1).scaleb(-3)), "f") + "0" * padding
    text = format_recv_window(recv_window("recvWindow", given_text))
    assert Decimal(text) == value
    assert "E" not in text and "e" not in text
    assert not ("." in text and text.endswith("0")) and not text.endswith(".")


@given(st.integers(min_value=1, max_value=60_000_000))
def test_recv_window_four_decimals_rejected(micros: int) -> None:
    text = format(Decimal(micros) / 1000 + Decimal("0.0001"), "f")  # a 4th decimal, never allowed
    with pytest.raises(ValidationError):
        recv_window("recvWindow", text)
