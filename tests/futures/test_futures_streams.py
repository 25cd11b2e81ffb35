"""Futures stream grammar, USD-M routing and payload parsing (futures digest §1.1, §4, §5)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any, Dict, List, Tuple

import pytest

import binance_conn as bc
from binance_conn._core import futures_streams as fs
from binance_conn._core import streams as ss
from binance_conn._core.protocol import StreamProtocol
from binance_conn._core.wire import EVENT, EVENTS, MALFORMED, UNKNOWN, WireParser

# ------------------------------------------------------------------------------------------ grammar + routes
ROUTES: List[Tuple[str, str]] = [
    ("btcusdt@bookTicker", "public"), ("!bookTicker", "public"), ("btcusdt@depth", "public"),
    ("btcusdt@depth@100ms", "public"), ("btcusdt@depth@500ms", "public"), ("btcusdt@depth5", "public"),
    ("btcusdt@depth10@100ms", "public"), ("btcusdt@depth20@500ms", "public"), ("btcusdt@rpiDepth@500ms", "public"),
    ("btcusdt@trade", "public"),
    ("btcusdt@aggTrade", "market"), ("btcusdt@markPrice", "market"), ("btcusdt@markPrice@1s", "market"),
    ("!markPrice@arr", "market"), ("!markPrice@arr@1s", "market"), ("btcusdt@kline_1m", "market"),
    ("btcusdt_perpetual@continuousKline_1h", "market"), ("btcusdt_current_quarter@continuousKline_1M", "market"),
    ("btcusdt@miniTicker", "market"), ("!miniTicker@arr", "market"), ("btcusdt@ticker", "market"),
    ("!ticker@arr", "market"), ("btcusdt@forceOrder", "market"), ("!forceOrder@arr", "market"),
    ("defiusdt@compositeIndex", "market"), ("!contractInfo", "market"), ("!assetIndex@arr", "market"),
    ("btcusd@assetIndex", "market"),
]


@pytest.mark.parametrize("name,route", ROUTES)
def test_every_stream_has_its_route(name: str, route: str) -> None:
    assert fs.try_parse(name) is not None, name
    assert fs.route_of(name) == route


def test_builders() -> None:
    assert fs.mark_price("BTCUSDT") == "btcusdt@markPrice"
    assert fs.mark_price("BTCUSDT", "1s") == "btcusdt@markPrice@1s"
    assert fs.all_mark_prices("1s") == "!markPrice@arr@1s"
    assert fs.liquidation("ETHUSDT") == "ethusdt@forceOrder"
    assert fs.continuous_kline("BTCUSDT", "PERPETUAL", "1m") == "btcusdt_perpetual@continuousKline_1m"
    assert fs.composite_index("DEFIUSDT") == "defiusdt@compositeIndex"
    assert fs.depth("BTCUSDT", "500ms") == "btcusdt@depth@500ms" and fs.depth("x", None) == "x@depth"
    assert fs.normalize_symbol("BTCUSD_PERP") == "btcusd_perp"
    info = fs.parse("btcusdt_next_quarter@continuousKline_4h")
    assert info == ss.StreamInfo(fs.CONTINUOUS_KLINE, "BTCUSDT", ("NEXT_QUARTER", "4h"))
    assert fs.parse("btcusd_perp@aggTrade", "coinm").symbol == "BTCUSD_PERP"


@pytest.mark.parametrize("call", [
    lambda: fs.mark_price("BTCUSDT", "2s"), lambda: fs.continuous_kline("BTCUSDT", "weekly", "1m"),
    lambda: fs.continuous_kline("BTCUSDT", "perpetual", "2m"), lambda: fs.normalize_symbol("_btc"),
    lambda: fs.normalize_symbol("btc-usdt"), lambda: fs.depth("btcusdt", "1000ms"),
    lambda: fs.parse("btcusdt@avgPrice"), lambda: fs.parse("btcusdt@kline_1m@+08:00"),
    lambda: fs.parse("btcusdt@ticker_1h"), lambda: fs.parse("defiusdt@compositeIndex", "coinm"),
])
def test_bad_names_raise_validation_error(call: Any) -> None:
    with pytest.raises(bc.ValidationError):
        call()


@pytest.mark.parametrize("name", ["btcusdt@markPrice@3s", "btcusdt@depth@", "BTCUSDT@aggTrade",
                                  "btcusdt_weekly@continuousKline_1m", "!markPrice", "btcusdt@rpiDepth"])
def test_unknown_names(name: str) -> None:
    assert fs.try_parse(name) is None


def test_check_stream_by_product() -> None:
    fs.check_stream("spot", "btcusdt@avgPrice")
    fs.check_stream("usdm", "btcusdt@markPrice")
    for product, name in (("spot", "btcusdt@markPrice"), ("spot", "!ticker@arr"), ("usdm", "btcusdt@avgPrice"),
                          ("usdm", "btcusdt@blockTrade"), ("coinm", "!assetIndex@arr")):
        with pytest.raises(bc.ValidationError):
            fs.check_stream(product, name)


# ------------------------------------------------------------------------------------------ sharding
def test_usdm_registry_never_mixes_routes() -> None:
    reg = fs.make_registry("usdm", 1024)
    assert reg.max_streams_per_connection == fs.MAX_STREAMS_PER_CONNECTION == 200
    names = [n for n, _ in ROUTES] * 1
    for n in names:
        reg.add(n)
    for i in range(reg.shard_count):
        shard = reg.shard(i)
        assert shard and {fs.route_of(s) for s in shard} == {reg.route(i)}
        assert fs.route_prefix("usdm", reg, [], i) == "/" + str(reg.route(i))
    assert reg.shard_count == 2


def test_usdm_registry_fills_per_route_up_to_the_cap() -> None:
    reg = fs.make_registry("usdm", 3)
    for i in range(4):
        reg.add(f"s{i}usdt@markPrice")
        reg.add(f"s{i}usdt@bookTicker")
    routes = [reg.route(i) for i in range(reg.shard_count)]
    assert sorted(routes) == ["market", "market", "public", "public"]
    assert all(len(reg.shard(i)) <= 3 for i in range(reg.shard_count))
    # an emptied shard is reused by either route
    for s in reg.shard(0):
        reg.remove(s)
    idx = reg.add("zzzusdt@bookTicker" if reg.route(0) == "market" else "zzzusdt@markPrice")
    assert idx == 0 and fs.route_of(reg.shard(0)[0]) == reg.route(0)


def test_coinm_and_spot_have_no_routes() -> None:
    reg = fs.make_registry("coinm", 1024)
    reg.add("btcusd_perp@markPrice")
    reg.add("btcusd_perp@bookTicker")
    assert reg.shard_count == 1 and fs.route_prefix("coinm", reg, [], 0) == ""
    spot = fs.make_registry("spot", 1024)
    assert spot.max_streams_per_connection == 1024 and fs.route_prefix("spot", spot, ["x@trade"], 0) == ""


def test_futures_send_pace() -> None:
    class WS:
        send_rate = 4.0

    assert StreamProtocol.from_settings("x", WS(), "usdm").bucket.rate == 8.0
    assert StreamProtocol.from_settings("x", WS(), "spot").bucket.rate == 4.0
    WS.send_rate = 20.0
    assert StreamProtocol.from_settings("x", WS(), "coinm").bucket.rate < fs.INCOMING_MESSAGES_PER_SECOND


# ------------------------------------------------------------------------------------------ parsing
SAMPLES: Dict[str, Dict[str, Any]] = {  # the futures digest's §5 sample payloads
    "btcusdt@aggTrade": {"e": "aggTrade", "E": 123456789, "s": "BNBUSDT", "a": 5933014, "p": "0.001", "q": "100",
                         "nq": "100", "f": 100, "l": 105, "T": 123456785, "m": True, "st": 1},
    "btcusdt@markPrice": {"e": "markPriceUpdate", "E": 1562305380000, "s": "BTCUSDT", "p": "11794.15000000",
                          "ap": "11794.15000000", "i": "11784.62659091", "P": "11784.25641265", "r": "0.00038167",
                          "T": 1562306400000, "st": 1},
    "btcusdt@kline_1m": {"e": "kline", "E": 1638747660000, "s": "BTCUSDT", "k": {
        "t": 1638747660000, "T": 1638747719999, "s": "BTCUSDT", "i": "1m", "f": 100, "L": 200, "o": "0.0010",
        "c": "0.0020", "h": "0.0025", "l": "0.0015", "v": "1000", "n": 100, "x": False, "q": "1.0000", "V": "500",
        "Q": "0.500", "B": "123456"}},
    "btcusdt_perpetual@continuousKline_1m": {"e": "continuous_kline", "E": 1607443058651, "ps": "BTCUSDT",
                                             "ct": "PERPETUAL", "k": {
        "t": 1607443020000, "T": 1607443079999, "i": "1m", "f": 116467658886, "L": 116468012423, "o": "18787.00",
        "c": "18804.04", "h": "18804.04", "l": "18786.54", "v": "197.664", "n": 543, "x": False,
        "q": "3715253.19494", "V": "184.769", "Q": "3472925.84746", "B": "0"}},
    "btcusdt@miniTicker": {"e": "24hrMiniTicker", "E": 123456789, "s": "BNBUSDT", "c": "0.0025", "o": "0.0010",
                           "h": "0.0025", "l": "0.0010", "v": "10000", "q": "18", "ps": "BTCUSDT", "st": 1},
    "btcusdt@ticker": {"e": "24hrTicker", "E": 123456789, "s": "BNBUSDT", "p": "0.0015", "P": "250.00",
                       "w": "0.0018", "c": "0.0025", "Q": "10", "o": "0.0010", "h": "0.0025", "l": "0.0010",
                       "v": "10000", "q": "18", "O": 0, "C": 86400000, "F": 0, "L": 18150, "n": 18151,
                       "ps": "BTCUSDT", "st": 1},
    "btcusdt@bookTicker": {"e": "bookTicker", "u": 400900217, "E": 1568014460893, "T": 1568014460891,
                           "s": "BNBUSDT", "b": "25.35190000", "B": "31.21000000", "a": "25.36520000",
                           "A": "40.66000000", "ps": "BNBUSDT", "st": 1},
    "btcusdt@forceOrder": {"e": "forceOrder", "E": 1568014460893, "o": {
        "s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.014", "p": "9910", "ap": "9910",
        "X": "FILLED", "l": "0.014", "z": "0.014", "T": 1568014460893}},
    "btcusdt@depth5@100ms": {"e": "depthUpdate", "E": 1571889248277, "T": 1571889248276, "s": "BTCUSDT",
                             "U": 390497796, "u": 390497878, "pu": 390497794, "b": [["7403.89", "0.002"]],
                             "a": [["7405.96", "3.340"]]},
    "btcusdt@depth@100ms": {"e": "depthUpdate", "E": 123456789, "T": 123456788, "s": "BNBUSDT", "U": 157,
                            "u": 160, "pu": 149, "b": [["0.0024", "10"]], "a": [["0.0026", "100"]],
                            "ps": "BTCUSDT", "st": 1},
    "defiusdt@compositeIndex": {"e": "compositeIndex", "E": 1602310596000, "s": "DEFIUSDT", "p": "554.41604065",
                                "C": "baseAsset", "c": [{"b": "BAL", "q": "USDT", "w": "1.04884844",
                                                         "W": "0.01457800", "i": "24.33521021"}]},
    "!contractInfo": {"e": "contractInfo", "E": 1669356423908, "s": "IOTAUSDT", "ps": "IOTAUSDT",
                      "ct": "PERPETUAL", "dt": 4133404800000, "ot": 1569398400000, "cs": "TRADING",
                      "bks": [{"bs": 1, "bnf": 0, "bnc": 5000, "mmr": 0.01, "cf": 0, "mi": 21, "ma": 50}]},
    "adausd@assetIndex": {"e": "assetIndexUpdate", "E": 1686749230000, "s": "ADAUSD", "i": "0.27462452",
                          "b": "0.10000000", "a": "0.10000000", "B": "0.24716207", "A": "0.30208698",
                          "q": "0.05000000", "g": "0.05000000", "Q": "0.26089330", "G": "0.28835575"},
}


def _frame(stream: str, data: Any) -> str:
    return json.dumps({"stream": stream, "data": data})


def _parse(stream: str, data: Any, product: str = "usdm") -> Tuple[str, Any]:
    tag, got_stream, value = WireParser("binance-usdm", product).parse(_frame(stream, data))
    assert got_stream == stream
    return tag, value


@pytest.mark.parametrize("stream", sorted(SAMPLES))
def test_every_sample_parses(stream: str) -> None:
    tag, ev = _parse(stream, SAMPLES[stream])
    assert tag == EVENT, ev
    assert ev.exchange == "binance-usdm"


def test_field_values() -> None:
    m = _parse("btcusdt@markPrice", SAMPLES["btcusdt@markPrice"])[1]
    assert m == bc.MarkPrice("binance-usdm", "BTCUSDT", Decimal("11794.15000000"), Decimal("11784.62659091"),
                             Decimal("11784.25641265"), Decimal("0.00038167"), 1562306400000, 1562305380000,
                             Decimal("11794.15000000"))
    liq = _parse("btcusdt@forceOrder", SAMPLES["btcusdt@forceOrder"])[1]
    assert (liq.symbol, liq.side, liq.order_type, liq.time_in_force, liq.quantity, liq.price, liq.average_price,
            liq.status, liq.last_filled_quantity, liq.filled_quantity, liq.trade_time, liq.event_time) == (
        "BTCUSDT", "SELL", "LIMIT", "IOC", Decimal("0.014"), Decimal("9910"), Decimal("9910"), "FILLED",
        Decimal("0.014"), Decimal("0.014"), 1568014460893, 1568014460893)
    d = _parse("btcusdt@depth@100ms", SAMPLES["btcusdt@depth@100ms"])[1]
    assert (d.first_update_id, d.final_update_id, d.previous_update_id, d.transaction_time, d.event_time) == (
        157, 160, 149, 123456788, 123456789)
    assert d.bids == ((Decimal("0.0024"), Decimal("10")),)
    p = _parse("btcusdt@depth5@100ms", SAMPLES["btcusdt@depth5@100ms"])[1]
    assert p.previous_update_id == 390497794 and p.first_update_id == 390497796  # diff shape, not lastUpdateId
    bt = _parse("btcusdt@bookTicker", SAMPLES["btcusdt@bookTicker"])[1]
    assert (bt.update_id, bt.event_time, bt.transaction_time, bt.ask_qty) == (
        400900217, 1568014460893, 1568014460891, Decimal("40.66000000"))
    a = _parse("btcusdt@aggTrade", SAMPLES["btcusdt@aggTrade"])[1]
    assert a.normal_quantity == Decimal("100") and a.agg_trade_id == 5933014 and a.is_buyer_maker is True
    k = _parse("btcusdt_perpetual@continuousKline_1m", SAMPLES["btcusdt_perpetual@continuousKline_1m"])[1]
    assert (k.pair, k.contract_type, k.interval, k.trade_count, k.close, k.is_closed, k.first_trade_id) == (
        "BTCUSDT", "PERPETUAL", "1m", 543, Decimal("18804.04"), False, 116467658886)
    c = _parse("defiusdt@compositeIndex", SAMPLES["defiusdt@compositeIndex"])[1]
    assert c.base_asset_type == "baseAsset" and c.components == (
        bc.IndexComponent("BAL", "USDT", Decimal("1.04884844"), Decimal("0.01457800"), Decimal("24.33521021")),)
    ci = _parse("!contractInfo", SAMPLES["!contractInfo"])[1]
    assert (ci.symbol, ci.pair, ci.contract_type, ci.delivery_date, ci.onboard_date, ci.status) == (
        "IOTAUSDT", "IOTAUSDT", "PERPETUAL", 4133404800000, 1569398400000, "TRADING")
    assert ci.brackets == (bc.ContractBracket(1, Decimal(0), Decimal(5000), Decimal("0.01"), Decimal(0), 21, 50),)
    ai = _parse("adausd@assetIndex", SAMPLES["adausd@assetIndex"])[1]
    assert (ai.index_price, ai.bid_rate, ai.auto_exchange_ask_rate) == (
        Decimal("0.27462452"), Decimal("0.24716207"), Decimal("0.28835575"))
    t = _parse("btcusdt@ticker", SAMPLES["btcusdt@ticker"])[1]
    assert t.bid_price is None and t.trade_count == 18151 and t.price_change_percent == Decimal("250.00")


def test_array_streams() -> None:
    mp = SAMPLES["btcusdt@markPrice"]
    tag, evs = _parse("!markPrice@arr", [mp, dict(mp, s="ETHUSDT")])
    assert tag == EVENTS and [e.symbol for e in evs] == ["BTCUSDT", "ETHUSDT"]
    tag, ev = _parse("!forceOrder@arr", SAMPLES["btcusdt@forceOrder"])
    assert tag == EVENT and isinstance(ev, bc.Liquidation)
    tag, evs = _parse("!ticker@arr", [SAMPLES["btcusdt@ticker"]])
    assert tag == EVENTS and evs[0].symbol == "BNBUSDT"
    tag, ev = _parse("!bookTicker", SAMPLES["btcusdt@bookTicker"])
    assert tag == EVENT and ev.symbol == "BNBUSDT"
    tag, evs = _parse("!assetIndex@arr", [SAMPLES["adausd@assetIndex"]])
    assert tag == EVENTS and evs[0].symbol == "ADAUSD"


def test_coinm_delivery_mark_price() -> None:
    data = {"e": "markPriceUpdate", "E": 1596095725000, "s": "BTCUSD_201225", "p": "10934.62615417",
            "P": "10962.17178236", "i": "10933.62615417", "r": "", "T": 0, "st": 1}
    tag, ev = _parse("btcusd_201225@markPrice", data, "coinm")
    assert tag == EVENT and ev.funding_rate is None and ev.next_funding_time == 0 and ev.mark_price_average is None
    tag, evs = _parse("btcusd@markPrice", [data], "coinm")  # COIN-M pair stream: all contracts of the pair
    assert tag == EVENTS and evs[0].symbol == "BTCUSD_201225"


def test_spot_parsing_unchanged() -> None:
    spot = WireParser("binance")
    assert spot.parse(_frame("btcusdt@markPrice", SAMPLES["btcusdt@markPrice"]))[0] == UNKNOWN
    tag, _, ev = spot.parse(_frame("btcusdt@depth@100ms", {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": 1,
                                                          "u": 2, "b": [], "a": []}))
    assert tag == EVENT and ev.previous_update_id is None and ev.transaction_time is None
    # the same name parses by product: a spot partial book has lastUpdateId, a futures one U/u/pu
    tag, _, ev = spot.parse(_frame("btcusdt@depth5@100ms", {"lastUpdateId": 7, "bids": [], "asks": []}))
    assert tag == EVENT and ev.final_update_id == 7
    assert _parse("btcusdt@depth5@100ms", {"lastUpdateId": 7, "bids": [], "asks": []})[0] == MALFORMED


def _mutations() -> List[Tuple[str, str, Any]]:
    """(stream, dotted path, bad value): NaN, negative amounts, non-int ids/times, missing fields."""
    out: List[Tuple[str, str, Any]] = []
    for path in ("p", "i", "P", "E", "T"):
        out.append(("btcusdt@markPrice", path, "NaN" if path in "piP" else "1"))
    out += [("btcusdt@markPrice", "p", "-1"), ("btcusdt@markPrice", "r", "Infinity"),
            ("btcusdt@aggTrade", "nq", "-1"), ("btcusdt@aggTrade", "a", 1.5), ("btcusdt@aggTrade", "m", "true"),
            ("btcusdt@depth@100ms", "pu", "149"), ("btcusdt@depth@100ms", "pu", None),
            ("btcusdt@depth@100ms", "T", 1.0), ("btcusdt@depth@100ms", "b", [["-1", "1"]]),
            ("btcusdt@bookTicker", "T", "1"), ("btcusdt@bookTicker", "b", "NaN"),
            ("btcusdt@forceOrder", "o.q", "-0.014"), ("btcusdt@forceOrder", "o.T", "1"),
            ("btcusdt@forceOrder", "o.ap", "NaN"), ("btcusdt@forceOrder", "E", None),
            ("btcusdt_perpetual@continuousKline_1m", "k.n", "543"),
            ("btcusdt_perpetual@continuousKline_1m", "k.v", "-1"),
            ("btcusdt_perpetual@continuousKline_1m", "k.x", 0),
            ("defiusdt@compositeIndex", "p", "NaN"), ("!contractInfo", "dt", "4133404800000"),
            ("!contractInfo", "bks", [{"bs": 1}]), ("adausd@assetIndex", "G", "-1"),
            ("btcusdt@ticker", "P", "NaN")]
    return out


@pytest.mark.parametrize("stream,path,bad", _mutations())
def test_bad_values_are_malformed(stream: str, path: str, bad: Any) -> None:
    data = copy.deepcopy(SAMPLES[stream])
    *parents, leaf = path.split(".")
    node = data
    for p in parents:
        node = node[p]
    if bad is None:
        del node[leaf]
    else:
        node[leaf] = bad
    assert _parse(stream, data)[0] == MALFORMED


def test_liquidation_fields_are_not_swapped() -> None:
    """The digest's sample has q == l == z and p == ap: distinct values tell the fields apart."""
    data = {"e": "forceOrder", "E": 2, "o": {"s": "ETHUSDT", "S": "BUY", "o": "LIMIT", "f": "IOC", "q": "1",
                                             "p": "10", "ap": "9", "X": "PARTIALLY_FILLED", "l": "0.25",
                                             "z": "0.75", "T": 1}}
    liq = _parse("ethusdt@forceOrder", data)[1]
    assert (liq.quantity, liq.price, liq.average_price, liq.last_filled_quantity, liq.filled_quantity) == (
        Decimal("1"), Decimal("10"), Decimal("9"), Decimal("0.25"), Decimal("0.75"))
    assert (liq.side, liq.status, liq.trade_time, liq.event_time) == ("BUY", "PARTIALLY_FILLED", 1, 2)


def test_negative_funding_rate_is_valid() -> None:
    data = dict(SAMPLES["btcusdt@markPrice"], r="-0.00012")
    assert _parse("btcusdt@markPrice", data)[1].funding_rate == Decimal("-0.00012")


def test_rest_path_of_the_market_room() -> None:
    assert fs.rest_path("usdm", "/api/v3/aggTrades") == "/fapi/v1/aggTrades"
    assert fs.rest_path("coinm", "/api/v3/klines") == "/dapi/v1/klines"
    assert fs.rest_path("spot", "/api/v3/ping") == "/api/v3/ping"
    assert fs.rest_path("usdm", "/fapi/v1/ping") == "/fapi/v1/ping"


@pytest.mark.parametrize("stream", sorted(SAMPLES))
def test_raw_ws_frames_parse_by_event_type(stream: str) -> None:
    """A ``/ws`` connection sends payloads without the envelope: the event type picks the parser."""
    tag, got_stream, ev = WireParser("binance-usdm", "usdm").parse(json.dumps(SAMPLES[stream]))
    assert tag == EVENT and got_stream is None, ev
    want = _parse(stream, SAMPLES[stream])[1].to_dict()
    got = ev.to_dict()
    if "symbol" in got:  # from the payload here, from the stream name in the envelope
        data = SAMPLES[stream]
        assert got.pop("symbol") == (data.get("s") or data["o"]["s"]).upper()
        want.pop("symbol")
    assert got == want


def test_raw_ws_arrays() -> None:
    parser = WireParser("binance-usdm", "usdm")
    tag, stream, evs = parser.parse(json.dumps([SAMPLES["btcusdt@markPrice"]]))
    assert (tag, stream, evs[0].symbol) == (EVENTS, "!markPrice@arr", "BTCUSDT")
    assert parser.parse(json.dumps({"e": "avgPrice", "E": 1, "s": "X"}))[0] == UNKNOWN
