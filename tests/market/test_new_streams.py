"""The streams added for web-socket-streams.md, end to end (Connector + FakeBinance).

* a frame whose values break their type's promise (NaN, Infinity, a negative amount, an id
  that is a string / bool / float, also as JSON literals) is counted as malformed in
  ``conn.stats()`` and nothing of it is delivered -- not even the good elements of an
  array frame -- while the next good frame is;
* the new ``on_*`` methods refuse bad names with a ``ValidationError`` naming the field
  and subscribe exactly the documented names;
* FakeBinance's simulated market publishes the rolling-window streams.
"""

from __future__ import annotations

import json
import queue
from typing import Any, Dict, Iterator, List, NamedTuple

import pytest
from _helpers import scaled
from _stream_samples import AGG, AVG, BLOCK, BOOK, DIFF, KLINE, MINI, PARTIAL, REF, ROLLING, TICKER, TRADE, E  # noqa: E402,F401

import binance_conn as bc
from binance_conn._core.wire import EVENT, EVENTS, WireParser
from binance_conn.testing import FakeBinance

GOOD: Dict[str, Any] = {
    "bnbbtc@trade": TRADE, "bnbbtc@aggTrade": AGG, "bnbbtc@blockTrade": BLOCK, "bnbusdt@bookTicker": BOOK,
    "bnbbtc@depth@100ms": DIFF, "bnbbtc@depth5": PARTIAL, "bnbbtc@kline_1m": KLINE,
    "bnbbtc@kline_1m@+08:00": KLINE, "bnbbtc@ticker": TICKER, "bnbbtc@ticker_1h": ROLLING,
    "btcusdt@avgPrice": AVG, "bazusd@referencePrice": REF,
    "!miniTicker@arr": [MINI, dict(MINI, s="BNBUSDT")],
    "!ticker_4h@arr": [dict(ROLLING, e="4hTicker"), dict(ROLLING, e="4hTicker", s="BNBUSDT")],
}
PERIODIC = ["btcusdt@ticker_1d", "!ticker_1h@arr"]


def mutate(payload: Any, path: str, value: Any) -> Any:
    out = json.loads(json.dumps(payload))
    node = out
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = value
    return out


class Live(NamedTuple):
    fake: FakeBinance
    conn: bc.Connector
    queues: Dict[str, "queue.Queue[Any]"]


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with FakeBinance(["BNBBTC", "BNBUSDT", "BTCUSDT", "BAZUSD"], seed=3) as fake:
        cfg = (fake.config_builder().with_backoff(base=0.05, max=0.5, jitter=0.0).with_health_check(1.0)
               .with_debounce(0.0).with_websocket(handshake_timeout=2.0).build())
        conn = bc.Connector(cfg)
        queues: Dict[str, "queue.Queue[Any]"] = {}
        for stream in list(GOOD) + PERIODIC:
            queues[stream] = queue.Queue()
            conn.on_stream(stream, queue=queues[stream])
        conn.start()
        try:
            assert conn.wait_ready(scaled(10)), conn.stats()
            assert fake.wait_for_subscriptions(list(queues), scaled(10)), fake.subscribed_streams()
            yield Live(fake, conn, queues)
        finally:
            conn.stop(timeout=5.0)


def malformed(conn: bc.Connector) -> int:
    return int(conn.stats()["market"]["bad_frames"]["malformed"])


def expected_events(stream: str, payload: Any) -> List[Any]:
    tag, _, value = WireParser("binance").parse(json.dumps({"stream": stream, "data": payload}))
    assert tag in (EVENT, EVENTS), value
    return list(value) if tag == EVENTS else [value]


BAD = [
    ("bnbbtc@trade", "p", "NaN"),
    ("bnbbtc@trade", "q", "Infinity"),
    ("bnbbtc@trade", "p", "-5"),
    ("bnbbtc@trade", "t", "abc"),
    ("bnbbtc@trade", "t", True),
    ("bnbbtc@trade", "t", 1.5),
    ("bnbbtc@trade", "m", "true"),
    ("bnbbtc@aggTrade", "a", "abc"),
    ("bnbbtc@aggTrade", "q", "-Infinity"),
    ("bnbbtc@blockTrade", "q", "-5"),
    ("bnbbtc@blockTrade", "t", 1.5),
    ("bnbusdt@bookTicker", "u", True),
    ("bnbusdt@bookTicker", "A", "NaN"),
    ("bnbbtc@depth@100ms", "b.0.1", "-1"),
    ("bnbbtc@depth@100ms", "U", "157"),
    ("bnbbtc@depth5", "lastUpdateId", 1.5),
    ("bnbbtc@depth5", "asks.0.0", "Infinity"),
    ("bnbbtc@kline_1m", "k.f", True),
    ("bnbbtc@kline_1m", "k.V", "-5"),
    ("bnbbtc@kline_1m@+08:00", "k.o", "NaN"),
    ("bnbbtc@ticker", "O", 1.5),
    ("bnbbtc@ticker", "x", "NaN"),
    ("bnbbtc@ticker", "P", "Infinity"),
    ("bnbbtc@ticker_1h", "n", "abc"),
    ("bnbbtc@ticker_1h", "w", "-5"),
    ("btcusdt@avgPrice", "w", "-5"),
    ("btcusdt@avgPrice", "T", True),
    ("bazusd@referencePrice", "t", True),
    ("bazusd@referencePrice", "r", "NaN"),
    ("!miniTicker@arr", "1.c", "NaN"),  # the good first element is not delivered either
    ("!miniTicker@arr", "0.E", 1.5),
    ("!ticker_4h@arr", "1.F", "abc"),
]


@pytest.mark.parametrize("stream,key,bad", BAD, ids=[f"{s}-{k}-{v!r}" for s, k, v in BAD])
def test_bad_value_is_counted_not_delivered(live: Live, stream: str, key: str, bad: Any) -> None:
    q = live.queues[stream]
    good = GOOD[stream]
    before = malformed(live.conn)
    assert live.fake.publish(stream, mutate(good, key, bad)) == 1
    assert live.fake.publish(stream, good) == 1  # same connection, after the bad one
    want = expected_events(stream, good)
    got = [q.get(timeout=scaled(5)) for _ in want]
    assert got == want  # the first thing delivered is the good frame: the bad one was dropped
    assert malformed(live.conn) == before + 1
    assert q.empty()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_literals_are_counted_not_delivered(live: Live, literal: str) -> None:
    stream = "bnbbtc@trade"
    q = live.queues[stream]
    before = malformed(live.conn)
    text = json.dumps(TRADE).replace('"0.001"', literal)
    assert literal in text
    assert live.fake.publish(stream, text) == 1  # a str payload is sent verbatim
    assert live.fake.publish(stream, TRADE) == 1
    assert q.get(timeout=scaled(5)) == expected_events(stream, TRADE)[0]
    assert malformed(live.conn) == before + 1


def test_simulated_market_publishes_rolling_windows(live: Live) -> None:
    live.fake.publish_periodic()
    one = live.queues["btcusdt@ticker_1d"].get(timeout=scaled(5))
    assert type(one) is bc.RollingWindowTicker and (one.symbol, one.window) == ("BTCUSDT", "1d")
    arr = live.queues["!ticker_1h@arr"]
    got = [arr.get(timeout=scaled(5)) for _ in range(4)]  # one per listed symbol
    assert {e.symbol for e in got} == {"BNBBTC", "BNBUSDT", "BTCUSDT", "BAZUSD"}
    assert all(type(e) is bc.RollingWindowTicker and e.window == "1h" for e in got)
    assert one.close_time - one.open_time >= 86_400_000 and one.open_time % 60_000 == 0


# ---------------------------------------------------------------------------------------------- connector methods
@pytest.fixture
def idle() -> Iterator[bc.Connector]:
    """A connector never started: subscriptions only register names (no network)."""
    conn = bc.Connector(bc.ConfigBuilder().build())
    yield conn
    conn.stop(timeout=1.0)


@pytest.mark.parametrize(
    "call,field",
    [
        (lambda c: c.on_rolling_ticker("BTCUSDT", "2h", print), "window"),
        (lambda c: c.on_rolling_ticker("BTCUSDT", "1H", print), "window"),
        (lambda c: c.on_all_rolling_tickers("1w", print), "window"),
        (lambda c: c.on_all_rolling_tickers(None, print), "window"),
        (lambda c: c.on_kline("BTCUSDT", "1m", print, timezone="+09:00"), "timezone"),
        (lambda c: c.on_kline("BTCUSDT", "1m", print, timezone="UTC+8"), "timezone"),
        (lambda c: c.on_kline("BTCUSDT", "1H", print, timezone="+08:00"), "interval"),
        (lambda c: c.on_avg_price("BTC-USDT", print), "symbol"),
        (lambda c: c.on_reference_price("", print), "symbol"),
        (lambda c: c.on_block_trade([], print), "symbol"),
        (lambda c: c.on_block_trade(["BTCUSDT", "bad/sym"], print), "symbol"),
        (lambda c: c.on_stream("!ticker@arr", print), "stream"),
        (lambda c: c.on_stream("!bookTicker", print), "stream"),
        (lambda c: c.on_stream("btcusdt@kline_1m@+09:00", print), "stream"),
        (lambda c: c.on_stream("btcusdt@ticker_2h", print), "stream"),
        (lambda c: c.on_all_mini_tickers(print, bogus=1), "options"),
    ],
)
def test_refusals_name_the_field(idle: bc.Connector, call: Any, field: str) -> None:
    with pytest.raises(bc.ValidationError) as ei:
        call(idle)
    assert ei.value.field == field
    assert idle.stats()["streams"] == {}  # nothing half-subscribed


def test_methods_subscribe_the_documented_names(idle: bc.Connector) -> None:
    subs = [
        idle.on_avg_price("BTCUSDT", print),
        idle.on_rolling_ticker(["BTCUSDT", "ethusdt"], "4h", print),
        idle.on_all_mini_tickers(print),
        idle.on_all_rolling_tickers("1d", print),
        idle.on_reference_price("BAZUSD", print),
        idle.on_block_trade("BNBBTC", print),
        idle.on_kline("BNBBTC", "1M", print, timezone="+08:00"),
        idle.on_kline("BNBBTC", "1m", print),
        idle.on_stream("!ticker_1h@arr", print),
        idle.on_stream("bnbbtc@ticker_1d", print),
    ]
    assert set(idle.stats()["streams"]) == {
        "btcusdt@avgPrice", "btcusdt@ticker_4h", "ethusdt@ticker_4h", "!miniTicker@arr", "!ticker_1d@arr",
        "bazusd@referencePrice", "bnbbtc@blockTrade", "bnbbtc@kline_1M@+08:00", "bnbbtc@kline_1m",
        "!ticker_1h@arr", "bnbbtc@ticker_1d",
    }
    assert isinstance(subs[1], bc.SubscriptionGroup) and len(subs[1].members) == 2
    for sub in subs:
        sub()
    assert idle.stats()["streams"] == {}
