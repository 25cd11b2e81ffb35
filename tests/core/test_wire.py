from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from binance_conn._core import wire
from binance_conn._core.wire import WireParser, encode_request
from binance_conn.events import AggTrade, BookTicker, DepthUpdate, Kline, MiniTicker, Ticker, Trade

FIX = Path(__file__).parent / "fixtures" / "ws_messages"


def raw(name: str) -> str:
    return (FIX / name).read_text().strip()


def combined(stream: str, name: str) -> str:
    return '{"stream":"%s","data":%s}' % (stream, raw(name))


@pytest.fixture
def p() -> WireParser:
    return WireParser("binance")


def event_of(parsed: Any) -> Any:
    assert parsed[0] == wire.EVENT, parsed
    return parsed[2]


def test_trade(p: WireParser) -> None:
    tag, stream, ev = p.parse(combined("bnbbtc@trade", "trade.json"))
    assert (tag, stream) == (wire.EVENT, "bnbbtc@trade")
    assert ev == Trade("binance", "BNBBTC", 12345, Decimal("0.001"), Decimal("100"), 1672515782136, True,
                       1672515782136)
    assert type(ev.price) is Decimal


def test_agg_trade(p: WireParser) -> None:
    ev = event_of(p.parse(combined("bnbbtc@aggTrade", "aggTrade.json")))
    assert isinstance(ev, AggTrade)
    assert (ev.agg_trade_id, ev.first_trade_id, ev.last_trade_id) == (12345, 100, 105)
    assert ev.price == Decimal("0.001") and ev.is_buyer_maker is True


def test_kline(p: WireParser) -> None:
    ev = event_of(p.parse(combined("bnbbtc@kline_1m", "kline_1m.json")))
    assert isinstance(ev, Kline)
    assert ev.interval == "1m" and ev.open_time == 1672515780000 and ev.close_time == 1672515839999
    assert (ev.open, ev.high, ev.low, ev.close) == (Decimal("0.0010"), Decimal("0.0025"), Decimal("0.0015"),
                                                    Decimal("0.0020"))
    assert str(ev.open) == "0.0010"  # exact text preserved
    assert ev.volume == Decimal("1000") and ev.is_closed is False
    assert ev.quote_volume == Decimal("1.0000") and ev.trade_count == 100 and ev.event_time == 1672515782136


def test_mini_ticker(p: WireParser) -> None:
    ev = event_of(p.parse(combined("bnbbtc@miniTicker", "miniTicker.json")))
    assert isinstance(ev, MiniTicker)
    assert ev.close_price == Decimal("0.0025") and ev.quote_volume == Decimal("18")


def test_ticker(p: WireParser) -> None:
    ev = event_of(p.parse(combined("bnbbtc@ticker", "ticker.json")))
    assert isinstance(ev, Ticker)
    assert ev.symbol == "BNBBTC"
    assert ev.last_price == Decimal("0.0025") and ev.open_price == Decimal("0.0010")
    assert ev.price_change_percent == Decimal("250.00") and ev.price_change == Decimal("0.0015")
    assert ev.bid_price == Decimal("0.0024") and ev.ask_qty == Decimal("100")
    assert ev.trade_count == 18151 and ev.event_time == 1672515782136


def test_book_ticker(p: WireParser) -> None:
    ev = event_of(p.parse(combined("bnbusdt@bookTicker", "bookTicker.json")))
    assert ev == BookTicker("binance", "BNBUSDT", 400900217, Decimal("25.35190000"), Decimal("31.21000000"),
                            Decimal("25.36520000"), Decimal("40.66000000"))


def test_diff_depth(p: WireParser) -> None:
    ev = event_of(p.parse(combined("bnbbtc@depth@100ms", "depthUpdate.json")))
    assert isinstance(ev, DepthUpdate)
    assert (ev.first_update_id, ev.final_update_id) == (157, 160)
    assert ev.bids == ((Decimal("0.0024"), Decimal("10")),)
    assert ev.asks == ((Decimal("0.0026"), Decimal("100")),)
    assert isinstance(ev.bids, tuple)


def test_partial_depth_symbol_from_stream_name(p: WireParser) -> None:
    ev = event_of(p.parse(combined("bnbbtc@depth5@100ms", "depth_partial.json")))
    assert isinstance(ev, DepthUpdate)
    assert ev.symbol == "BNBBTC"
    assert ev.first_update_id == ev.final_update_id == 160
    assert ev.bids == ((Decimal("0.0024"), Decimal("10")),)


def test_symbol_uppercased_from_name(p: WireParser) -> None:
    text = combined("ethbtc@trade", "trade.json").replace('"s":"BNBBTC"', '"s":"ethbtc"')
    assert event_of(p.parse(text)).symbol == "ETHBTC"


@pytest.mark.parametrize(
    "name,cls",
    [("trade.json", Trade), ("aggTrade.json", AggTrade), ("kline_1m.json", Kline), ("miniTicker.json", MiniTicker),
     ("ticker.json", Ticker), ("bookTicker.json", BookTicker), ("depthUpdate.json", DepthUpdate)],
)
def test_raw_payloads(p: WireParser, name: str, cls: Any) -> None:
    tag, stream, ev = p.parse(raw(name))
    assert tag == wire.EVENT and stream is None
    assert type(ev) is cls
    assert ev.symbol in ("BNBBTC", "BNBUSDT")


def test_server_shutdown(p: WireParser) -> None:
    assert p.parse(raw("serverShutdown.json")) == (wire.SHUTDOWN, None, 1778227200000)
    assert p.parse(raw("serverShutdown_combined.json")) == (wire.SHUTDOWN, "!serverShutdown", 1778227200000)


def test_control_replies(p: WireParser) -> None:
    assert p.parse(raw("result_ok.json")) == (wire.RESULT, None, (1, None))
    assert p.parse(raw("result_list.json")) == (wire.RESULT, None, (3, ["btcusdt@aggTrade"]))
    assert p.parse(raw("error_unknown_property.json")) == (wire.ERROR, None, (5, 0, "Unknown property"))
    tag, _, value = p.parse(raw("error_invalid_json.json"))
    assert tag == wire.ERROR and value[0] is None and value[1] == 3


@pytest.mark.parametrize("text", ["", "{", "not json", '{"a":1} trailing', b"\xff\xfe"])
def test_malformed_json(p: WireParser, text: Any) -> None:
    assert p.parse(text)[0] == wire.MALFORMED


def test_malformed_payload(p: WireParser) -> None:
    bad = combined("bnbbtc@trade", "trade.json").replace('"p":"0.001"', '"p":"abc"')
    assert p.parse(bad) == (wire.MALFORMED, "bnbbtc@trade", "bad payload")
    missing = '{"stream":"bnbbtc@trade","data":{"e":"trade"}}'
    assert p.parse(missing)[0] == wire.MALFORMED
    assert p.parse('{"stream":"bnbbtc@trade","data":[1]}')[0] == wire.MALFORMED
    assert p.parse('{"e":"trade","s":"X"}')[0] == wire.MALFORMED


def test_unknown(p: WireParser) -> None:
    # avgPrice and !miniTicker@arr are parsed since the streams branch (tests/core/test_streams_all.py)
    assert p.parse(combined("btcusdt@markPrice", "avgPrice.json"))[0] == wire.UNKNOWN
    assert p.parse(raw("avgPrice.json").replace('"avgPrice"', '"markPriceUpdate"'))[0] == wire.UNKNOWN
    assert p.parse("[1,2]")[0] == wire.UNKNOWN
    assert p.parse('{"stream":"!ticker@arr","data":[]}') == (wire.UNKNOWN, "!ticker@arr", "unknown stream")
    assert p.parse('{"stream":5,"data":{}}')[0] == wire.MALFORMED
    assert p.parse('{"hello":"world"}')[0] == wire.UNKNOWN
    assert p.parse(raw("depth_partial.json"))[0] == wire.UNKNOWN  # no symbol without a stream name


def test_bytes_and_whitespace(p: WireParser) -> None:
    text = combined("bnbbtc@trade", "trade.json")
    assert p.parse(text.encode())[0] == wire.EVENT
    assert p.parse("  " + text + "\n")[0] == wire.EVENT


def test_floats_become_decimal(p: WireParser) -> None:
    text = combined("bnbbtc@trade", "trade.json").replace('"p":"0.001"', '"p":0.1')
    ev = event_of(p.parse(text))
    assert ev.price == Decimal("0.1") and type(ev.price) is Decimal


def test_route_cached(p: WireParser) -> None:
    assert p.route("btcusdt@trade") is p.route("btcusdt@trade")
    assert p.route("btcusdt@nope") is None


def test_parse_many(p: WireParser) -> None:
    out = p.parse_many([raw("result_ok.json"), raw("trade.json")])
    assert [o[0] for o in out] == [wire.RESULT, wire.EVENT]


def test_encode_request() -> None:
    text = encode_request("SUBSCRIBE", ["btcusdt@aggTrade", "btcusdt@depth"], 1)
    assert text == '{"method":"SUBSCRIBE","params":["btcusdt@aggTrade","btcusdt@depth"],"id":1}'
    assert json.loads(encode_request("LIST_SUBSCRIPTIONS", None, 3)) == {"method": "LIST_SUBSCRIPTIONS", "id": 3}


def test_nested_error_reply_is_classified_as_error() -> None:
    from binance_conn._core.wire import ERROR, WireParser

    tag, stream, value = WireParser("binance").parse('{"error":{"code":2,"msg":"Invalid request"},"id":7}')
    assert (tag, stream) == (ERROR, None)
    assert value == (7, 2, "Invalid request")
