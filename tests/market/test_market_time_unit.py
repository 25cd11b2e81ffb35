"""The market session with the opt-in microsecond time unit: stream URLs carry ``timeUnit``,
and the market-activity probe (a REST ``aggTrades`` ``T`` against the link's last event)
compares in milliseconds whatever unit REST answered in."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any, Dict, List

import pytest

from binance_conn._core.pacing import ConnectionBudget
from binance_conn._io.dispatch import Dispatcher
from binance_conn._io.topics import ERROR_TOPIC
from binance_conn._market.session import MarketSession
from binance_conn._userdata.session import UserDataLink
from binance_conn.config import ConfigBuilder


def _session(unit: str = "") -> MarketSession:
    b = ConfigBuilder().with_rest_url("http://memory.invalid").with_ws_url("wss://memory.invalid")
    if unit:
        b = b.with_time_unit(unit)
    return MarketSession(b.build(), Dispatcher(error_topic=ERROR_TOPIC, name="t"), lambda timeout: None,
                         ConnectionBudget(10, 1.0))


def test_stream_urls_carry_time_unit() -> None:
    s = _session("microsecond")
    assert s.stream_url(["btcusdt@trade", "ethusdt@kline_1m"]) == \
        "wss://memory.invalid/stream?streams=btcusdt@trade/ethusdt@kline_1m&timeUnit=MICROSECOND"
    assert s.stream_url([]) == "wss://memory.invalid/stream?timeUnit=MICROSECOND"


def test_stream_urls_without_time_unit_by_default() -> None:
    s = _session()
    assert s.stream_url(["btcusdt@trade"]) == "wss://memory.invalid/stream?streams=btcusdt@trade"
    assert s.stream_url([]) == "wss://memory.invalid/stream"


@pytest.mark.parametrize("unit,url", [
    ("MICROSECOND", "wss://api.invalid/ws-api/v3?timeUnit=MICROSECOND"),
    ("", "wss://api.invalid/ws-api/v3"),
])
def test_ws_api_url_carries_time_unit(unit: str, url: str) -> None:
    b = ConfigBuilder().with_ws_api_url("wss://api.invalid").with_api_key("k").with_api_secret("s")
    if unit:
        b = b.with_time_unit(unit)
    link = UserDataLink(b.build(), Dispatcher(error_topic=ERROR_TOPIC, name="t"), lambda: None)  # type: ignore[arg-type,return-value]
    assert link.url == url


def _conn(last_event_age: float) -> Any:
    link = SimpleNamespace(lock=threading.Lock(), desired={"btcusdt@trade"},
                           stream_counts={"btcusdt@trade": [1, time.monotonic() - last_event_age]})
    return SimpleNamespace(link=link)


@pytest.mark.parametrize("unit", ["MICROSECOND", ""])
@pytest.mark.parametrize("rest_newer_s,stalled", [(0.0, False), (-30.0, False), (10.0, True)])
def test_activity_probe_compares_in_milliseconds(unit: str, rest_newer_s: float, stalled: bool) -> None:
    s = _session(unit)
    scale = 1000 if unit else 1
    calls: List[Dict[str, Any]] = []

    def rest_get(path: str, params: Dict[str, Any], timeout: float) -> Any:
        calls.append(params)
        t_ms = time.time() * 1000 + rest_newer_s * 1000  # the newest REST trade vs. "now"
        return [{"a": 1, "T": int(t_ms * scale)}]

    s.rest_get = rest_get
    gap = s._activity_gap(_conn(last_event_age=0.0), 1.0)
    assert calls == [{"symbol": "BTCUSDT", "limit": 1}]
    assert (gap is not None) is stalled, gap
    if stalled:
        assert "10." in gap or "9." in gap  # seconds, not thousands of them
