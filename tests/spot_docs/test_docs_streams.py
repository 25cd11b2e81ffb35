"""Every JSON example of the spot docs' web-socket-streams.md, through the public path.

For each example (``tests/fixtures/spot_docs/examples.json``, doc ``web-socket-streams.md``):

* DOC_FIELDS below says which event attribute each documented key lands on (an independent
  oracle, written from the docs' comments).  ``test_doc_keys_all_mapped`` compares the
  example's keys with it, so a key the docs add, or a field the parser drops, fails here;
* the payload is parsed by ``WireParser`` as a combined frame (and a raw one) and every
  documented value is checked on the event (Decimal text exact, ints and bools by type);
* the payload is published by FakeBinance on its stream and received end to end by a
  ``Connector`` subscribed through its public ``on_*`` methods, checked the same way.

Control examples (SUBSCRIBE... requests and replies, serverShutdown) are checked against
the frames the library sends (``encode_request``) and the classification of the replies.
A new example under a heading this file does not know fails ``test_every_example_is_known``.
"""

from __future__ import annotations

import copy
import json
import queue
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Set, Tuple

import pytest
from _helpers import scaled

import binance_conn as bc
from binance_conn._core import wire
from binance_conn._core.wire import WireParser, encode_request
from binance_conn.testing import FakeBinance

DOC = "web-socket-streams.md"
_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "spot_docs" / "examples.json"
RECORDS: List[Dict[str, Any]] = [r for r in json.loads(_FIXTURE.read_text(encoding="utf-8")) if r["doc"] == DOC]

# Documented payload key (``k.t``: key ``t`` of the nested ``k`` object) -> event attribute.
TRADE = {"E": "event_time", "s": "symbol", "t": "trade_id", "p": "price", "q": "quantity", "T": "trade_time",
         "m": "is_buyer_maker"}
AGG_TRADE = {"E": "event_time", "s": "symbol", "a": "agg_trade_id", "p": "price", "q": "quantity",
             "f": "first_trade_id", "l": "last_trade_id", "T": "trade_time", "m": "is_buyer_maker"}
KLINE = {"E": "event_time", "s": "symbol", "k.t": "open_time", "k.T": "close_time", "k.s": "symbol",
         "k.i": "interval", "k.f": "first_trade_id", "k.L": "last_trade_id", "k.o": "open", "k.c": "close",
         "k.h": "high", "k.l": "low", "k.v": "volume", "k.n": "trade_count", "k.x": "is_closed",
         "k.q": "quote_volume", "k.V": "taker_buy_base_volume", "k.Q": "taker_buy_quote_volume"}
MINI = {"E": "event_time", "s": "symbol", "c": "close_price", "o": "open_price", "h": "high_price",
        "l": "low_price", "v": "volume", "q": "quote_volume"}
TICKER = {"E": "event_time", "s": "symbol", "p": "price_change", "P": "price_change_percent",
          "w": "weighted_avg_price", "x": "prev_close_price", "c": "last_price", "Q": "last_qty", "b": "bid_price",
          "B": "bid_qty", "a": "ask_price", "A": "ask_qty", "o": "open_price", "h": "high_price", "l": "low_price",
          "v": "volume", "q": "quote_volume", "O": "open_time", "C": "close_time", "F": "first_trade_id",
          "L": "last_trade_id", "n": "trade_count"}
ROLLING = {"E": "event_time", "s": "symbol", "p": "price_change", "P": "price_change_percent", "o": "open_price",
           "h": "high_price", "l": "low_price", "c": "last_price", "w": "weighted_avg_price", "v": "volume",
           "q": "quote_volume", "O": "open_time", "C": "close_time", "F": "first_trade_id", "L": "last_trade_id",
           "n": "trade_count"}
BOOK = {"u": "update_id", "s": "symbol", "b": "bid_price", "B": "bid_qty", "a": "ask_price", "A": "ask_qty"}
AVG = {"E": "event_time", "s": "symbol", "i": "interval", "w": "price", "T": "last_trade_time"}
REFERENCE = {"s": "symbol", "r": "price", "t": "timestamp"}
PARTIAL = {"lastUpdateId": "final_update_id", "bids": "bids", "asks": "asks"}
DIFF = {"E": "event_time", "s": "symbol", "U": "first_update_id", "u": "final_update_id", "b": "bids", "a": "asks"}


class Spec(NamedTuple):
    cls: type
    fields: Dict[str, str]
    ignored: Set[str]  # documented keys with no attribute: the event type itself, "Ignore" fields
    streams: Tuple[str, ...]  # where the fake publishes this example (combined-stream names)
    derived: Set[str] = set()  # attributes not in the payload: from the stream name / the connector
    element_of: Optional[str] = None  # an array example ("[{}]"): the heading of its element's example


SPECS: Dict[str, Spec] = {
    "Reference Price Streams": Spec(bc.ReferencePrice, REFERENCE, {"e"}, ("bazusd@referencePrice",)),
    "Aggregate Trade Streams": Spec(bc.AggTrade, AGG_TRADE, {"e", "M"}, ("bnbbtc@aggTrade",)),
    "Trade Streams": Spec(bc.Trade, TRADE, {"e", "M"}, ("bnbbtc@trade",)),
    "Block Trade Streams": Spec(bc.BlockTrade, TRADE, {"e"}, ("bnbbtc@blockTrade",)),
    "Kline/Candlestick Streams for UTC": Spec(bc.Kline, KLINE, {"e", "k.B"}, ("bnbbtc@kline_1m",), {"timezone"}),
    "Kline/Candlestick Streams with timezone offset": Spec(
        bc.Kline, KLINE, {"e", "k.B"}, ("bnbbtc@kline_1m@+08:00",), {"timezone"}),
    "Individual Symbol Mini Ticker Stream": Spec(bc.MiniTicker, MINI, {"e"}, ("bnbbtc@miniTicker",)),
    "All Market Mini Tickers Stream": Spec(bc.MiniTicker, MINI, {"e"}, ("!miniTicker@arr",),
                                           element_of="Individual Symbol Mini Ticker Stream"),
    "Individual Symbol Ticker Streams": Spec(bc.Ticker, TICKER, {"e"}, ("bnbbtc@ticker",)),
    "Individual Symbol Rolling Window Statistics Streams": Spec(
        bc.RollingWindowTicker, ROLLING, {"e"}, ("bnbbtc@ticker_1h", "bnbbtc@ticker_4h", "bnbbtc@ticker_1d"),
        {"window"}),
    "All Market Rolling Window Statistics Streams": Spec(
        bc.RollingWindowTicker, ROLLING, {"e"}, ("!ticker_1h@arr", "!ticker_4h@arr", "!ticker_1d@arr"), {"window"},
        element_of="Individual Symbol Rolling Window Statistics Streams"),
    "Individual Symbol Book Ticker Streams": Spec(bc.BookTicker, BOOK, set(), ("bnbusdt@bookTicker",)),
    "Average Price": Spec(bc.AvgPrice, AVG, {"e"}, ("btcusdt@avgPrice",)),
    "Partial Book Depth Streams": Spec(
        bc.DepthUpdate, PARTIAL, set(), ("bnbbtc@depth5", "bnbbtc@depth10@100ms", "bnbbtc@depth20"),
        {"symbol", "first_update_id", "event_time"}),
    "Diff. Depth Stream": Spec(bc.DepthUpdate, DIFF, {"e"}, ("bnbbtc@depth", "bnbbtc@depth@100ms")),
}
CONTROL_HEADINGS = {"Server Shutdown", "Subscribe to a stream", "Unsubscribe to a stream", "Listing Subscriptions",
                    "Setting Properties", "Retrieving Properties"}
BY_HEADING = {r["heading"]: r for r in RECORDS if r["heading"] in SPECS}
CASES = [(h, s) for h, spec in SPECS.items() for s in spec.streams]


def _window(stream: str) -> Optional[str]:
    return stream.split("ticker_")[1][:2] if "ticker_" in stream else None


def payload_for(heading: str, stream: str) -> Any:
    """The doc example to publish on ``stream`` (an array example: its element's example, twice,
    the second for another symbol; a rolling window other than 1h: its own event type)."""
    spec = SPECS[heading]
    source = BY_HEADING[spec.element_of or heading]["json"]
    data = copy.deepcopy(source)
    window = _window(stream)
    if window is not None:
        data["e"] = window + "Ticker"
    if spec.element_of is not None:
        other = dict(data, s="BNBUSDT")
        return [data, other]
    return data


def flat_keys(payload: Dict[str, Any]) -> Set[str]:
    keys: Set[str] = set()
    for key, value in payload.items():
        if isinstance(value, dict):
            keys |= {f"{key}.{k}" for k in value}
        else:
            keys.add(key)
    return keys


def lookup(payload: Dict[str, Any], key: str) -> Any:
    head, _, tail = key.partition(".")
    return payload[head][tail] if tail else payload[head]


def expected(value: Any) -> Any:
    """A documented value as the event must hold it (amounts as Decimal, exact text)."""
    if isinstance(value, str) and value[:1].isdigit() and not value[-1:].isalpha():
        return Decimal(value)
    if isinstance(value, list):  # price levels
        return tuple((Decimal(p), Decimal(q)) for p, q in value)
    return value


def check_event(ev: Any, heading: str, stream: str, element: Dict[str, Any]) -> None:
    spec = SPECS[heading]
    assert type(ev) is spec.cls, (heading, ev)
    assert ev.exchange == "binance"
    for key, attr in spec.fields.items():
        want = expected(lookup(element, key))
        got = getattr(ev, attr)
        if attr == "symbol":
            want = str(want).upper()
        assert got == want, (heading, key, attr, got, want)
        assert type(got) is type(want) or (want is None and got is None), (heading, key, attr, type(got))
        if isinstance(want, Decimal):
            assert str(got) == str(want), (key, got)  # exact text (exponent) preserved
    if spec.cls is bc.RollingWindowTicker:
        assert ev.window == _window(stream) == element["e"][:-6]
    if spec.cls is bc.Kline:
        assert ev.timezone == ("+08:00" if stream.endswith("@+08:00") else None)
    if heading == "Partial Book Depth Streams":
        assert ev.symbol == stream.split("@")[0].upper()  # from the stream name
        assert ev.first_update_id == ev.final_update_id == element["lastUpdateId"] and ev.event_time is None
    mapped = set(spec.fields.values()) | spec.derived | {"exchange", "is_backfilled",  # set by REST backfill only
                                                         "previous_update_id"}  # futures only (pu)
    assert set(spec.cls.__slots__) <= mapped, f"{spec.cls.__name__} fields no doc key fills: " \
        f"{sorted(set(spec.cls.__slots__) - mapped)}"


def elements(heading: str, stream: str) -> List[Dict[str, Any]]:
    data = payload_for(heading, stream)
    return data if isinstance(data, list) else [data]


# ---------------------------------------------------------------------------------------------- coverage
def test_every_example_is_known() -> None:
    assert len(RECORDS) >= 22
    known = set(SPECS) | CONTROL_HEADINGS
    unknown = [(r["line"], r["heading"]) for r in RECORDS if r["heading"] not in known]
    assert not unknown, f"web-socket-streams.md examples this test does not know: {unknown}"
    assert set(BY_HEADING) == set(SPECS)


@pytest.mark.parametrize("heading", sorted(h for h in SPECS if SPECS[h].element_of is None))
def test_doc_keys_all_mapped(heading: str) -> None:
    """The example's keys are exactly the mapped ones plus the documented "ignore" ones."""
    spec = SPECS[heading]
    keys = flat_keys(BY_HEADING[heading]["json"])
    assert keys == set(spec.fields) | spec.ignored, (heading, sorted(keys ^ (set(spec.fields) | spec.ignored)))


@pytest.mark.parametrize("heading", sorted(h for h in SPECS if SPECS[h].element_of is not None))
def test_array_examples_are_placeholders(heading: str) -> None:
    assert BY_HEADING[heading]["json"] == [{}]  # "Same as <symbol>@... payload": checked with that example


# ---------------------------------------------------------------------------------------------- the parser
@pytest.mark.parametrize("heading,stream", CASES)
def test_doc_example_parsed_combined(heading: str, stream: str) -> None:
    data = payload_for(heading, stream)
    tag, name, value = WireParser("binance").parse(json.dumps({"stream": stream, "data": data}))
    assert name == stream
    if isinstance(data, list):
        assert tag == wire.EVENTS and len(value) == len(data)
        events = list(value)
    else:
        assert tag == wire.EVENT, value
        events = [value]
    for ev, element in zip(events, elements(heading, stream)):
        check_event(ev, heading, stream, element)


@pytest.mark.parametrize("heading,stream", [c for c in CASES if c[0] != "Partial Book Depth Streams"])
def test_doc_example_parsed_raw(heading: str, stream: str) -> None:
    """A raw (``/ws``) frame: no stream name, the payload alone says what it is."""
    data = payload_for(heading, stream)
    if SPECS[heading].cls is bc.Kline:
        stream = stream.replace("@+08:00", "")  # a raw payload cannot tell the offset
    tag, name, value = WireParser("binance").parse(json.dumps(data))
    events = list(value) if tag == wire.EVENTS else [value]
    assert tag in (wire.EVENT, wire.EVENTS), value
    assert name == (stream if tag == wire.EVENTS else None)
    for ev, element in zip(events, elements(heading, stream)):
        check_event(ev, heading, stream, element)


def test_control_examples() -> None:
    parser = WireParser("binance")
    seen = set()
    for r in RECORDS:
        if r["heading"] not in CONTROL_HEADINGS:
            continue
        msg = r["json"]
        seen.add(r["heading"])
        if "method" in msg:  # what the library sends, byte for byte in meaning
            assert json.loads(encode_request(msg["method"], msg.get("params"), msg["id"])) == msg
        elif "result" in msg:
            assert parser.parse(json.dumps(msg)) == (wire.RESULT, None, (msg["id"], msg["result"]))
        else:
            stream = msg.get("stream")
            assert parser.parse(json.dumps(msg)) == (wire.SHUTDOWN, stream, (msg.get("data") or msg)["E"])
    assert seen == CONTROL_HEADINGS


# ---------------------------------------------------------------------------------------------- end to end
SYMBOLS = ["BNBBTC", "BNBUSDT", "BTCUSDT", "BAZUSD"]


def _subscribe(conn: bc.Connector, stream: str, q: "queue.Queue[Any]") -> Any:
    """Subscribe through the dedicated public method where there is one."""
    sym, _, rest = stream.partition("@")
    by_kind: Dict[str, Callable[[], Any]] = {
        "referencePrice": lambda: conn.on_reference_price(sym.upper(), queue=q),
        "aggTrade": lambda: conn.on_agg_trade(sym.upper(), queue=q),
        "trade": lambda: conn.on_trade(sym.upper(), queue=q),
        "blockTrade": lambda: conn.on_block_trade(sym, queue=q),
        "kline_1m": lambda: conn.on_kline(sym.upper(), "1m", queue=q),
        "kline_1m@+08:00": lambda: conn.on_kline(sym, "1m", timezone="+08:00", queue=q),
        "miniTicker": lambda: conn.on_mini_ticker(sym, queue=q),
        "ticker": lambda: conn.on_ticker(sym, queue=q),
        "bookTicker": lambda: conn.on_book_ticker(sym, queue=q),
        "avgPrice": lambda: conn.on_avg_price(sym.upper(), queue=q),
        "depth@100ms": lambda: conn.on_depth(sym, queue=q),
    }
    if rest.startswith("ticker_"):
        return conn.on_rolling_ticker(sym.upper(), rest[7:], queue=q)
    if stream == "!miniTicker@arr":
        return conn.on_all_mini_tickers(queue=q)
    if stream.startswith("!ticker_"):
        return conn.on_all_rolling_tickers(stream[8:10], queue=q)
    fn = by_kind.get(rest)
    return fn() if fn is not None else conn.on_stream(stream, queue=q)


class Live(NamedTuple):
    fake: FakeBinance
    conn: bc.Connector
    queues: Dict[str, "queue.Queue[Any]"]


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with FakeBinance(SYMBOLS, seed=7) as fake:
        cfg = (fake.config_builder().with_backoff(base=0.05, max=0.5, jitter=0.0).with_health_check(1.0)
               .with_debounce(0.0).with_websocket(handshake_timeout=2.0).build())
        conn = bc.Connector(cfg)
        queues: Dict[str, "queue.Queue[Any]"] = {}
        for _, stream in CASES:
            queues[stream] = queue.Queue()
            _subscribe(conn, stream, queues[stream])
        conn.start()
        try:
            assert conn.wait_ready(scaled(10)), conn.stats()
            assert fake.wait_for_subscriptions(list(queues), scaled(10)), fake.subscribed_streams()
            yield Live(fake, conn, queues)
        finally:
            conn.stop(timeout=5.0)


@pytest.mark.parametrize("heading,stream", CASES)
def test_doc_example_end_to_end(live: Live, heading: str, stream: str) -> None:
    q = live.queues[stream]
    assert q.empty()
    assert live.fake.publish(stream, payload_for(heading, stream)) == 1
    want = elements(heading, stream)
    got = [q.get(timeout=scaled(5)) for _ in want]  # an array frame: one event per element, in order
    for ev, element in zip(got, want):
        check_event(ev, heading, stream, element)
    assert q.empty()
    stats = live.conn.stats()
    assert stats["market"]["bad_frames"]["malformed"] == 0, stats["market"]["last_bad_frame"]
    assert stats["streams"][stream]["events"] >= len(want)


def test_kline_offset_stream_subscribed_by_its_exact_name(live: Live) -> None:
    """``+`` would read as a space in the connect URL (a refused handshake, then a fallback to
    SUBSCRIBE): the URL carries it as ``%2B`` and the first handshake is accepted."""
    assert "bnbbtc@kline_1m@+08:00" in live.fake.subscribed_streams()
    market = live.conn.stats()["market"]
    assert market["last_connect_error"] is None and market["connections"][0]["failed_attempts"] == 0, market
