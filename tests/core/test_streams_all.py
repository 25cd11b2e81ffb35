"""Stream grammar of every documented stream kind, and the parser's value checks.

Grammar: each kind's builder, ``parse``/``try_parse`` and ``build`` round-trip; refused
names and bad parameters raise ``ValidationError`` naming the field; undocumented or
retired names (``!ticker@arr``, ``!bookTicker``, other kline offsets) are not parsed.

Values: an amount that is NaN, infinite or negative where the type promises a
non-negative one, or an id / time / count that is not an int (a string, a bool, a float),
makes the frame MALFORMED ("bad value"); a whole array frame goes with one bad element.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any, Dict, List

import pytest
from _stream_samples import AGG, AVG, BLOCK, BOOK, DIFF, KLINE, MINI, PARTIAL, REF, ROLLING, TICKER, TRADE, E  # noqa: E402,F401

from binance_conn._core import streams as s
from binance_conn._core import wire
from binance_conn._core.dedupe import natural_key
from binance_conn._core.protocol import StreamProtocol
from binance_conn._core.wire import WireParser
from binance_conn.errors import ValidationError
from binance_conn.events import AvgPrice, BlockTrade, MiniTicker, ReferencePrice, RollingWindowTicker


# ---------------------------------------------------------------------------------------------- grammar
def every_name() -> List[str]:
    names = [s.trade("x1"), s.agg_trade("x1"), s.ticker("x1"), s.mini_ticker("x1"), s.book_ticker("x1"),
             s.avg_price("x1"), s.reference_price("x1"), s.block_trade("x1"),
             s.depth("x1"), s.depth("x1", None), s.all_mini_tickers(), s.SERVER_SHUTDOWN_STREAM]
    names += [s.partial_depth("x1", n, sp) for n in s.DEPTH_LEVELS for sp in ("100ms", None)]
    names += [s.kline("x1", i, tz) for i in s.INTERVALS for tz in (None,) + s.TIMEZONES]
    names += [s.rolling_ticker("x1", w) for w in s.WINDOWS] + [s.all_rolling_tickers(w) for w in s.WINDOWS]
    return names


def test_every_kind_has_a_name() -> None:
    assert {s.parse(n).kind for n in every_name()} == set(s.KINDS)


@pytest.mark.parametrize("name", every_name())
def test_round_trip(name: str) -> None:
    info = s.parse(name)
    assert s.try_parse(name) == info
    assert info.symbol in ("X1", "")
    assert s.build(info.kind, info.symbol, *info.params) == name


@pytest.mark.parametrize(
    "name,expected",
    [
        ("btcusdt@avgPrice", s.StreamInfo("avgPrice", "BTCUSDT")),
        ("bazusd@referencePrice", s.StreamInfo("referencePrice", "BAZUSD")),
        ("bnbbtc@blockTrade", s.StreamInfo("blockTrade", "BNBBTC")),
        ("bnbbtc@ticker_1h", s.StreamInfo("rollingTicker", "BNBBTC", ("1h",))),
        ("bnbbtc@ticker_1d", s.StreamInfo("rollingTicker", "BNBBTC", ("1d",))),
        ("!miniTicker@arr", s.StreamInfo("allMiniTickers", "")),
        ("!ticker_4h@arr", s.StreamInfo("allRollingTickers", "", ("4h",))),
        ("bnbbtc@kline_1m@+08:00", s.StreamInfo("kline", "BNBBTC", ("1m", "+08:00"))),
        ("bnbbtc@kline_1M", s.StreamInfo("kline", "BNBBTC", ("1M",))),
    ],
)
def test_parse_new_kinds(name: str, expected: s.StreamInfo) -> None:
    assert s.parse(name) == expected


def test_builders() -> None:
    assert s.avg_price("BTCUSDT") == "btcusdt@avgPrice"
    assert s.reference_price("BazUsd") == "bazusd@referencePrice"
    assert s.block_trade("BNBBTC") == "bnbbtc@blockTrade"
    assert s.rolling_ticker("BNBBTC", "4h") == "bnbbtc@ticker_4h"
    assert s.all_rolling_tickers("1d") == "!ticker_1d@arr"
    assert s.all_mini_tickers() == "!miniTicker@arr"
    assert s.kline("BNBBTC", "1m", "+08:00") == "bnbbtc@kline_1m@+08:00"
    assert s.kline("BNBBTC", "1m", None) == "bnbbtc@kline_1m"
    # diff and partial depth every 1000 ms: the plain names (the docs define no "@1000ms" suffix)
    assert s.depth("BNBBTC", "1000ms") == s.depth("BNBBTC", None) == "bnbbtc@depth"
    assert s.partial_depth("BNBBTC", 10, "1000ms") == "bnbbtc@depth10"
    assert s.depth("BNBBTC", "100ms") == "bnbbtc@depth@100ms"
    with pytest.raises(ValidationError) as ei:
        s.depth("BNBBTC", "500ms")
    assert ei.value.field == "speed"


def test_info_properties() -> None:
    assert s.parse("a@ticker_4h").window == "4h" and s.parse("!ticker_1d@arr").window == "1d"
    assert s.parse("a@ticker").window is None
    assert s.parse("a@kline_1m@+08:00").timezone == "+08:00" and s.parse("a@kline_1m@+08:00").interval == "1m"
    assert s.parse("a@kline_1m").timezone is None and s.parse("a@trade").timezone is None


@pytest.mark.parametrize(
    "name",
    [
        "!ticker@arr",  # deprecated 2025-11-14, gone from the docs, retired 2026-03-26
        "!bookTicker",  # not in the docs
        "!miniTicker", "!miniTicker@arr@x", "!ticker_2h@arr", "!ticker_1H@arr", "!ticker_@arr", "!foo",
        "btcusdt@ticker_2h", "btcusdt@ticker_1H", "btcusdt@ticker_", "BTCUSDT@avgPrice", "btcusdt@avgprice",
        "btcusdt@kline_1m@+09:00", "btcusdt@kline_1m@", "btcusdt@kline_1m@08:00", "btcusdt@kline_1m@+08:00@x",
        "btcusdt@kline_1H@+08:00", "btcusdt@depth@1000ms", "btcusdt@blockTrades", "btcusdt@referencePrice@1s",
    ],
)
def test_refused_names(name: str) -> None:
    assert s.try_parse(name) is None
    with pytest.raises(ValidationError) as ei:
        s.parse(name)
    assert ei.value.field == "stream"


@pytest.mark.parametrize("bad", ["2h", "1H", "", None, 1, "24h"])
def test_bad_window(bad: Any) -> None:
    for fn in (lambda: s.rolling_ticker("BTCUSDT", bad), lambda: s.all_rolling_tickers(bad),
               lambda: s.validate_window(bad), lambda: s.build(s.ROLLING_TICKER, "btcusdt", bad),
               lambda: s.build(s.ALL_ROLLING_TICKERS, "", bad)):
        with pytest.raises(ValidationError) as ei:
            fn()
        assert ei.value.field == "window"


@pytest.mark.parametrize("bad", ["+8", "+09:00", "UTC+8", "", "+08:00 ", 8, "-08:00"])
def test_bad_timezone(bad: Any) -> None:
    for fn in (lambda: s.kline("BTCUSDT", "1m", bad), lambda: s.validate_timezone(bad),
               lambda: s.build(s.KLINE, "btcusdt", "1m", bad)):
        with pytest.raises(ValidationError) as ei:
            fn()
        assert ei.value.field == "timezone"


def test_other_refusals_name_their_field() -> None:
    with pytest.raises(ValidationError) as ei:
        s.avg_price("BTC-USDT")
    assert ei.value.field == "symbol"
    with pytest.raises(ValidationError) as ei:
        s.kline("BTCUSDT", "1H", "+08:00")
    assert ei.value.field == "interval"
    with pytest.raises(ValidationError) as ei:
        s.build(s.ALL_MINI_TICKERS, "btcusdt")
    assert ei.value.field == "symbol"
    with pytest.raises(ValidationError) as ei:
        s.build(s.ALL_MINI_TICKERS, "", "1h")
    assert ei.value.field == "kind"
    with pytest.raises(ValidationError) as ei:
        s.build(s.AVG_PRICE, "btcusdt", "5m")
    assert ei.value.field == "kind"


# ---------------------------------------------------------------------------------------------- values
STREAMS: Dict[str, Any] = {
    "bnbbtc@trade": TRADE, "bnbbtc@aggTrade": AGG, "bnbbtc@blockTrade": BLOCK, "bnbusdt@bookTicker": BOOK,
    "bnbbtc@depth@100ms": DIFF, "bnbbtc@depth5": PARTIAL, "bnbbtc@kline_1m": KLINE,
    "bnbbtc@kline_1m@+08:00": KLINE, "bnbbtc@miniTicker": MINI, "bnbbtc@ticker": TICKER,
    "bnbbtc@ticker_1h": ROLLING, "btcusdt@avgPrice": AVG, "bazusd@referencePrice": REF,
    "!miniTicker@arr": [MINI, dict(MINI, s="BNBUSDT")], "!ticker_1h@arr": [ROLLING, dict(ROLLING, s="BNBUSDT")],
}

AMOUNTS = {  # keys whose value is a non-negative amount
    "bnbbtc@trade": ["p", "q"], "bnbbtc@aggTrade": ["p", "q"], "bnbbtc@blockTrade": ["p", "q"],
    "bnbusdt@bookTicker": ["b", "B", "a", "A"], "bnbbtc@kline_1m": ["k.o", "k.h", "k.l", "k.c", "k.v", "k.q",
                                                                   "k.V", "k.Q"],
    "bnbbtc@miniTicker": ["c", "o", "h", "l", "v", "q"],
    "bnbbtc@ticker": ["w", "x", "c", "Q", "b", "B", "a", "A", "o", "h", "l", "v", "q"],
    "bnbbtc@ticker_1h": ["o", "h", "l", "c", "w", "v", "q"], "btcusdt@avgPrice": ["w"],
    "bazusd@referencePrice": ["r"], "bnbbtc@depth@100ms": ["b.0.0", "b.0.1", "a.0.0", "a.0.1"],
    "bnbbtc@depth5": ["bids.0.0", "asks.0.1"], "!miniTicker@arr": ["1.c", "0.v"], "!ticker_1h@arr": ["1.o"],
}
SIGNED = {"bnbbtc@ticker": ["p", "P"], "bnbbtc@ticker_1h": ["p", "P"]}  # may be negative, never NaN
INTS = {  # keys whose value is an id, a time or a count
    "bnbbtc@trade": ["t", "T", "E"], "bnbbtc@aggTrade": ["a", "f", "l", "T", "E"],
    "bnbbtc@blockTrade": ["t", "T", "E"], "bnbusdt@bookTicker": ["u"], "bnbbtc@depth@100ms": ["U", "u", "E"],
    "bnbbtc@depth5": ["lastUpdateId"], "bnbbtc@kline_1m": ["E", "k.t", "k.T", "k.f", "k.L", "k.n"],
    "bnbbtc@miniTicker": ["E"], "bnbbtc@ticker": ["E", "O", "C", "F", "L", "n"],
    "bnbbtc@ticker_1h": ["E", "O", "C", "F", "L", "n"], "btcusdt@avgPrice": ["E", "T"],
    "bazusd@referencePrice": ["t"], "!miniTicker@arr": ["1.E"], "!ticker_1h@arr": ["0.n", "1.F"],
}
BOOLS = {"bnbbtc@trade": ["m"], "bnbbtc@aggTrade": ["m"], "bnbbtc@blockTrade": ["m"], "bnbbtc@kline_1m": ["k.x"]}

BAD_AMOUNTS = ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", "-5", "-0.00000001", float("nan"),
               float("inf"), "abc", "", None]
BAD_SIGNED = ["NaN", "Infinity", "-Infinity", "abc", float("nan")]
BAD_INTS = ["abc", "123", True, False, 1.5, None, [1], {"a": 1}]
BAD_BOOLS = ["true", 1, 0, None]


OPTIONAL = {  # typed Optional on the event (positional compatibility, older payloads): None is valid
    "bnbbtc@kline_1m": {"E", "k.f", "k.L", "k.n", "k.q", "k.V", "k.Q"},
    "bnbbtc@kline_1m@+08:00": {"E", "k.f", "k.L", "k.n", "k.q", "k.V", "k.Q"},
    "bnbbtc@ticker": {"p", "w", "x", "Q", "b", "B", "a", "A", "O", "C", "F", "L", "n"},
    "bnbbtc@depth@100ms": {"E"},
    "bazusd@referencePrice": {"r"},  # documented: null when the symbol has no reference price
}


def cases(table: Dict[str, List[str]], values: List[Any]) -> List[Any]:
    """Every (stream, key, bad value), but None for a key whose field is Optional (None is valid there)."""
    return [pytest.param(st, k, v, id=f"{st}-{k}-{v!r}") for st, keys in table.items() for k in keys for v in values
            if not (v is None and k in OPTIONAL.get(st, ()))]


def mutate(payload: Any, path: str, value: Any) -> Any:
    out = json.loads(json.dumps(payload))
    node = out
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = value
    return out


def frame(stream: str, data: Any) -> str:
    return json.dumps({"stream": stream, "data": data})  # NaN/Infinity floats -> JSON NaN/Infinity literals


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_good_frames_parse(stream: str) -> None:
    tag, name, value = WireParser("binance").parse(frame(stream, STREAMS[stream]))
    assert name == stream and tag == (wire.EVENTS if stream.startswith("!") else wire.EVENT), value


def _malformed(stream: str, key: str, bad: Any) -> None:
    tag, name, reason = WireParser("binance").parse(frame(stream, mutate(STREAMS[stream], key, bad)))
    if isinstance(bad, float) and not math.isfinite(bad):
        # NaN / Infinity JSON literals: simplejson refuses them, or (older releases, e.g. the 3.17 floor)
        # decodes them and the value check refuses the frame: malformed either way
        assert tag == wire.MALFORMED and reason in ("invalid JSON", "bad value"), reason
        return
    assert (tag, name) == (wire.MALFORMED, stream), (key, bad, reason)
    assert reason in ("bad value", "bad payload")


@pytest.mark.parametrize("stream,key,bad", cases(AMOUNTS, BAD_AMOUNTS))
def test_bad_amount_is_malformed(stream: str, key: str, bad: Any) -> None:
    _malformed(stream, key, bad)


@pytest.mark.parametrize("stream,key,bad", cases(SIGNED, BAD_SIGNED))
def test_bad_signed_amount_is_malformed(stream: str, key: str, bad: Any) -> None:
    _malformed(stream, key, bad)


@pytest.mark.parametrize("stream,key,bad", cases(INTS, BAD_INTS))
def test_bad_int_is_malformed(stream: str, key: str, bad: Any) -> None:
    _malformed(stream, key, bad)


@pytest.mark.parametrize("stream,key,bad", cases(BOOLS, BAD_BOOLS))
def test_bad_bool_is_malformed(stream: str, key: str, bad: Any) -> None:
    _malformed(stream, key, bad)


def test_value_failures_are_reported_as_bad_value() -> None:
    p = WireParser("binance")
    assert p.parse(frame("bnbbtc@trade", mutate(TRADE, "p", "NaN")))[2] == "bad value"
    assert p.parse(frame("bnbbtc@trade", mutate(TRADE, "t", "abc")))[2] == "bad value"
    assert p.parse(frame("bnbbtc@trade", mutate(TRADE, "p", "abc")))[2] == "bad payload"  # not a number at all
    assert p.parse(json.dumps(mutate(TRADE, "q", "-5"))) == (wire.MALFORMED, None, "bad value")  # raw frame
    assert p.parse(json.dumps([MINI, mutate(MINI, "c", "NaN")])) == (wire.MALFORMED, "!miniTicker@arr", "bad value")


UNREAD = {"e", "M", "s", "k.s", "k.B"}  # a combined frame's symbol is its stream name's; "e" and "Ignore" keys


def required_keys() -> List[Any]:
    out = []
    for stream, data in STREAMS.items():
        element = data[1] if isinstance(data, list) else data
        prefix = "1." if isinstance(data, list) else ""
        keys = [f"k.{k}" for k in element["k"]] + [k for k in element if k != "k"] if "k" in element else list(element)
        for key in keys:
            if (key in OPTIONAL.get(stream, ()) and key != "r") or (key in UNREAD and not (prefix and key == "s")):
                continue
            out.append(pytest.param(stream, prefix + key, id=f"{stream}-{prefix}{key}"))
    return out


def drop(payload: Any, path: str) -> Any:
    out = json.loads(json.dumps(payload))
    node = out
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    for p in parts[:-1]:
        node = node[p]
    del node[parts[-1]]
    return out


@pytest.mark.parametrize("stream,key", required_keys())
def test_missing_required_key_is_malformed(stream: str, key: str) -> None:
    """Every documented key the event needs (not Optional on it) must be there, even when null is valid."""
    tag, name, reason = WireParser("binance").parse(frame(stream, drop(STREAMS[stream], key)))
    assert (tag, name, reason) == (wire.MALFORMED, stream, "bad payload"), key


@pytest.mark.parametrize(
    "stream,key,value",
    [
        ("bnbbtc@ticker", "p", "-0.0015"),  # a price change may be negative
        ("bnbbtc@ticker", "P", "-25.5"),
        ("bnbbtc@ticker_1h", "p", "-0.0015"),
        ("bnbbtc@kline_1m", "k.f", -1),  # Binance: -1 = no trade in this kline
        ("bnbbtc@kline_1m", "k.L", -1),
        ("bnbbtc@ticker", "F", -1),
        ("bnbbtc@trade", "p", "0"),
        ("bnbbtc@depth@100ms", "b.0.1", "0.00000000"),  # qty 0 removes a level
        ("bazusd@referencePrice", "r", None),  # documented: null when no reference price
        ("bnbbtc@trade", "t", 2**63 + 5),  # big ids stay exact ints
        ("bnbbtc@trade", "p", 0.5),  # a JSON number (not Binance's style) is still a valid amount
    ],
)
def test_valid_edge_values(stream: str, key: str, value: Any) -> None:
    tag, _, ev = WireParser("binance").parse(frame(stream, mutate(STREAMS[stream], key, value)))
    assert tag == wire.EVENT, ev


def test_array_frames() -> None:
    p = WireParser("binance")
    tag, stream, events = p.parse(frame("!miniTicker@arr", STREAMS["!miniTicker@arr"]))
    assert (tag, stream) == (wire.EVENTS, "!miniTicker@arr")
    assert [type(e) for e in events] == [MiniTicker, MiniTicker] and [e.symbol for e in events] == ["BNBBTC", "BNBUSDT"]
    assert p.parse(frame("!miniTicker@arr", [])) == (wire.EVENTS, "!miniTicker@arr", ())
    assert p.parse(frame("!miniTicker@arr", MINI))[0] == wire.MALFORMED  # an object where an array belongs
    assert p.parse(frame("bnbbtc@miniTicker", [MINI]))[0] == wire.MALFORMED  # and the other way round
    assert p.parse(frame("!miniTicker@arr", [MINI, 5]))[0] == wire.MALFORMED
    assert p.parse(frame("!miniTicker@arr", [dict(MINI, s=5)]))[0] == wire.MALFORMED
    _, _, rolling = p.parse(frame("!ticker_4h@arr", [dict(ROLLING, e="4hTicker")]))
    assert type(rolling[0]) is RollingWindowTicker and rolling[0].window == "4h"
    assert p.parse(json.dumps([ROLLING]))[:2] == (wire.EVENTS, "!ticker_1h@arr")  # raw: stream from "e"
    assert p.parse(json.dumps([dict(ROLLING, e="2hTicker")]))[0] == wire.UNKNOWN


def test_new_events_and_their_fields() -> None:
    p = WireParser("binance")
    avg = p.parse(frame("btcusdt@avgPrice", AVG))[2]
    assert avg == AvgPrice("binance", "BTCUSDT", "5m", Decimal("25776.86000000"), E, E)
    ref = p.parse(frame("bazusd@referencePrice", REF))[2]
    assert ref == ReferencePrice("binance", "BAZUSD", Decimal("1.00"), 1770313263917)
    assert p.parse(frame("bazusd@referencePrice", dict(REF, r=None)))[2].price is None
    block = p.parse(frame("bnbbtc@blockTrade", BLOCK))[2]
    assert block == BlockTrade("binance", "BNBBTC", 582, Decimal("0.052"), Decimal("5838"), E, True, E)
    k = p.parse(frame("bnbbtc@kline_1m@+08:00", KLINE))[2]
    assert (k.timezone, k.first_trade_id, k.last_trade_id) == ("+08:00", 100, 200)
    assert (k.taker_buy_base_volume, k.taker_buy_quote_volume) == (Decimal("500"), Decimal("0.500"))
    t = p.parse(frame("bnbbtc@ticker", TICKER))[2]
    assert (t.prev_close_price, t.last_qty, t.open_time, t.close_time, t.first_trade_id, t.last_trade_id) == (
        Decimal("0.0009"), Decimal("10"), 0, 86400000, 0, 18150)
    r = p.parse(frame("bnbbtc@ticker_1d", dict(ROLLING, e="1dTicker")))[2]
    assert type(r) is RollingWindowTicker and r.window == "1d" and r.trade_count == 18151


def test_protocol_delivers_one_event_per_array_element() -> None:
    proto = StreamProtocol("binance")
    proto.on_connected(0.0, ["!miniTicker@arr"])
    out = proto.receive_text(frame("!miniTicker@arr", STREAMS["!miniTicker@arr"]), 1.0)
    assert [(st, e.symbol) for st, e in out] == [("!miniTicker@arr", "BNBBTC"), ("!miniTicker@arr", "BNBUSDT")]
    assert proto.events == 2 and proto.malformed == 0
    assert proto.receive_text(frame("!miniTicker@arr", [MINI, mutate(MINI, "v", "-1")]), 1.0) == []
    assert proto.malformed == 1 and proto.events == 2


def test_raw_frames_get_their_stream_names() -> None:
    proto = StreamProtocol("binance")
    proto.set_streams(["bnbbtc@kline_1m@+08:00"])
    proto.on_connected(0.0, ["bnbbtc@kline_1m@+08:00"])
    assert proto.receive_text(json.dumps(KLINE), 1.0)[0][0] == "bnbbtc@kline_1m@+08:00"  # the one subscribed
    assert proto.receive_text(json.dumps(dict(ROLLING, e="4hTicker")), 1.0)[0][0] == "bnbbtc@ticker_4h"
    assert proto.receive_text(json.dumps(AVG), 1.0)[0][0] == "btcusdt@avgPrice"
    assert proto.receive_text(json.dumps(REF), 1.0)[0][0] == "bazusd@referencePrice"
    assert proto.receive_text(json.dumps(BLOCK), 1.0)[0][0] == "bnbbtc@blockTrade"
    assert proto.receive_text(json.dumps([MINI]), 1.0)[0][0] == "!miniTicker@arr"


def test_duplicate_keys_of_array_elements_are_per_symbol() -> None:
    """Elements of one !miniTicker@arr frame share E: the overlap filter must not drop them."""
    _, _, events = WireParser("binance").parse(frame("!miniTicker@arr", STREAMS["!miniTicker@arr"]))
    assert len({natural_key(e) for e in events}) == 2
    _, _, rolling = WireParser("binance").parse(frame("!ticker_1h@arr", STREAMS["!ticker_1h@arr"]))
    assert len({natural_key(e) for e in rolling}) == 2
