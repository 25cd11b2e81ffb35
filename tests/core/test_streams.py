from __future__ import annotations

import pytest

from binance_conn._core import streams as s
from binance_conn.enums import KlineInterval
from binance_conn.errors import ValidationError


def test_simple_builders_lowercase_symbol() -> None:
    assert s.trade("BTCUSDT") == "btcusdt@trade"
    assert s.agg_trade("BtcUsdt") == "btcusdt@aggTrade"
    assert s.ticker("ethbtc") == "ethbtc@ticker"
    assert s.mini_ticker("ETHBTC") == "ethbtc@miniTicker"
    assert s.book_ticker("bnbUSDT") == "bnbusdt@bookTicker"


def test_kline_interval_case_sensitive() -> None:
    assert s.kline("BTCUSDT", "1m") == "btcusdt@kline_1m"
    assert s.kline("BTCUSDT", "1M") == "btcusdt@kline_1M"
    assert s.kline("BTCUSDT", KlineInterval.H4) == "btcusdt@kline_4h"
    with pytest.raises(ValidationError) as ei:
        s.kline("BTCUSDT", "1H")
    assert ei.value.field == "interval"
    with pytest.raises(ValidationError):
        s.kline("BTCUSDT", "2m")


def test_depth_names() -> None:
    assert s.depth("BTCUSDT") == "btcusdt@depth@100ms"
    assert s.depth("BTCUSDT", None) == "btcusdt@depth"
    assert s.partial_depth("BTCUSDT", 5) == "btcusdt@depth5@100ms"
    assert s.partial_depth("BTCUSDT", 20, None) == "btcusdt@depth20"
    with pytest.raises(ValidationError):
        s.partial_depth("BTCUSDT", 7)
    with pytest.raises(ValidationError):
        s.depth("BTCUSDT", "250ms")


@pytest.mark.parametrize("bad", ["", "BTC-USDT", "btc usdt", "btc/usdt", "BTCÜSDT", "btc@trade"])
def test_bad_symbol(bad: str) -> None:
    with pytest.raises(ValidationError) as ei:
        s.trade(bad)
    assert ei.value.field == "symbol"


def test_non_string_symbol() -> None:
    with pytest.raises(ValidationError):
        s.normalize_symbol(123)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name,expected",
    [
        ("btcusdt@trade", s.StreamInfo("trade", "BTCUSDT")),
        ("btcusdt@aggTrade", s.StreamInfo("aggTrade", "BTCUSDT")),
        ("btcusdt@ticker", s.StreamInfo("ticker", "BTCUSDT")),
        ("btcusdt@miniTicker", s.StreamInfo("miniTicker", "BTCUSDT")),
        ("btcusdt@bookTicker", s.StreamInfo("bookTicker", "BTCUSDT")),
        ("btcusdt@kline_1M", s.StreamInfo("kline", "BTCUSDT", ("1M",))),
        ("btcusdt@depth@100ms", s.StreamInfo("depth", "BTCUSDT", ("100ms",))),
        ("btcusdt@depth", s.StreamInfo("depth", "BTCUSDT", ("",))),
        ("btcusdt@depth10", s.StreamInfo("partialDepth", "BTCUSDT", ("10", ""))),
        ("btcusdt@depth5@100ms", s.StreamInfo("partialDepth", "BTCUSDT", ("5", "100ms"))),
        ("!serverShutdown", s.StreamInfo("serverShutdown", "")),
    ],
)
def test_parse(name: str, expected: s.StreamInfo) -> None:
    assert s.parse(name) == expected


@pytest.mark.parametrize(
    "name",
    ["BTCUSDT@trade", "btcusdt", "btcusdt@", "@trade", "btcusdt@kline_1H", "btcusdt@depth7",
     "btcusdt@depth@250ms", "btcusdt@depth@", "btcusdt@foo", "btc-usdt@trade", "!ticker@arr"],
)
def test_parse_rejects(name: str) -> None:
    assert s.try_parse(name) is None
    with pytest.raises(ValidationError):
        s.parse(name)


def test_roundtrip_every_kind() -> None:
    names = [
        s.trade("x1"), s.agg_trade("x1"), s.ticker("x1"), s.mini_ticker("x1"), s.book_ticker("x1"),
        s.depth("x1"), s.depth("x1", None), s.partial_depth("x1", 10), s.partial_depth("x1", 5, None),
    ] + [s.kline("x1", i) for i in s.INTERVALS]
    for name in names:
        info = s.parse(name)
        assert info.symbol == "X1"
        assert s.build(info.kind, info.symbol, *info.params) == name


def test_info_properties() -> None:
    assert s.parse("abc@kline_5m").interval == "5m"
    assert s.parse("abc@trade").interval is None
    assert s.parse("abc@depth20").levels == 20
    assert s.parse("abc@depth").levels is None


def test_build_errors() -> None:
    with pytest.raises(ValidationError):
        s.build("nope", "btcusdt")
    with pytest.raises(ValidationError):
        s.build("trade", "btcusdt", "x")
    with pytest.raises(ValidationError):
        s.build("partialDepth", "btcusdt", "abc")
    assert s.build("serverShutdown", "") == "!serverShutdown"
