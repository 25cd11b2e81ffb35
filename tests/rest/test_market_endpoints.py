"""General and market-data typed methods over REST (``responses``): the Binance names each method
sends, the weight it reserves (numbers from rest-api.md), list parameters as JSON arrays, input
validation, the API key on keyed (MARKET_DATA / USER_STREAM) calls, the exchangeInfo cache."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Dict, List, Tuple
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from binance_conn._core import spec_market
from binance_conn._core.endpoints import MARKET_DATA, USER_STREAM, Endpoint
from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn.config import Config
from binance_conn.enums import KlineInterval
from binance_conn.errors import ValidationError
from binance_conn.rest import RestClient

BASE = "https://api.market.invalid"
KEY = "market-test-key"
SYMS = ["BTCUSDT", "ETHUSDT"]
BY_NAME = {ep.name: ep for ep in spec_market.ENDPOINTS}


def make_client(key: bool = False) -> RestClient:
    b = Config.builder().with_rest_url(BASE).with_backoff(base=0.01, max=0.02, jitter=0.0)
    if key:
        b = b.with_api_key(KEY).with_api_secret("secret")
    return RestClient(b.build(), limiter_registry=WeightLimiterRegistry())


def _body(path: str, query: Dict[str, str]) -> Any:
    if path.endswith("/time"):
        return {"serverTime": 1_700_000_000_000}
    if path.endswith("/ticker/price"):
        return {"symbol": query["symbol"], "price": "1.5"} if "symbol" in query else [
            {"symbol": s, "price": "2.5"} for s in json.loads(query.get("symbols", '["BTCUSDT"]'))]
    if path.endswith(("/trades", "/historicalTrades", "/historicalBlockTrades", "/aggTrades", "klines",
                      "Klines")):
        return []
    return {}


def _serve(rsps: responses.RequestsMock) -> None:
    def cb(req: Any) -> Tuple[int, Dict[str, str], str]:
        parts = urlsplit(req.url)
        return 200, {}, json.dumps(_body(parts.path, dict(parse_qsl(parts.query))))

    for ep in spec_market.ENDPOINTS:
        rsps.add_callback(responses.GET, BASE + str(ep.path), callback=cb)


# (typed method, args, kwargs, the Binance query it must send, the weight rest-api.md gives it)
CALLS: List[Tuple[str, str, tuple, dict, dict, int]] = [
    ("ping", "ping", (), {}, {}, 1),
    ("server_time", "server_time", (), {}, {}, 1),
    ("exchange_info", "exchange_info", ("btcusdt",), {"show_permission_sets": False},
     {"symbol": "BTCUSDT", "showPermissionSets": "false"}, 20),
    ("exchange_info", "exchange_info", (), {"symbols": SYMS}, {"symbols": '["BTCUSDT","ETHUSDT"]'}, 20),
    ("exchange_info", "exchange_info", (), {"permissions": ["MARGIN", "LEVERAGED"]},
     {"permissions": '["MARGIN","LEVERAGED"]'}, 20),
    ("exchange_info", "exchange_info", (), {"permissions": "SPOT"}, {"permissions": "SPOT"}, 20),
    ("exchange_info", "exchange_info", (), {"symbol_status": "HALT"}, {"symbolStatus": "HALT"}, 20),
    ("execution_rules", "execution_rules", ("BTCUSDT",), {}, {"symbol": "BTCUSDT"}, 2),
    ("execution_rules", "execution_rules", (), {"symbols": SYMS}, {"symbols": '["BTCUSDT","ETHUSDT"]'}, 4),
    ("execution_rules", "execution_rules", (), {"symbols": [f"S{i}USDT" for i in range(30)]}, None, 40),
    ("execution_rules", "execution_rules", (), {"symbol_status": "TRADING"}, {"symbolStatus": "TRADING"}, 40),
    ("execution_rules", "execution_rules", (), {}, {}, 40),
    ("depth", "depth", ("BTCUSDT",), {}, {"symbol": "BTCUSDT", "limit": "100"}, 5),
    ("depth", "depth", ("BTCUSDT", 101), {"symbol_status": "TRADING"},
     {"symbol": "BTCUSDT", "limit": "101", "symbolStatus": "TRADING"}, 25),
    ("depth", "depth", ("BTCUSDT",), {"limit": 1000}, {"symbol": "BTCUSDT", "limit": "1000"}, 50),
    ("depth", "depth", ("BTCUSDT",), {"limit": 5000}, {"symbol": "BTCUSDT", "limit": "5000"}, 250),
    ("trades", "trades", ("BTCUSDT",), {"limit": 1000}, {"symbol": "BTCUSDT", "limit": "1000"}, 25),
    ("historical_trades", "historical_trades", ("BTCUSDT",), {"from_id": 0, "limit": 5},
     {"symbol": "BTCUSDT", "fromId": "0", "limit": "5"}, 25),
    ("historical_block_trades", "historical_block_trades", ("BTCUSDT", 582), {"limit": 3},
     {"symbol": "BTCUSDT", "fromId": "582", "limit": "3"}, 25),
    ("agg_trades", "agg_trades", ("BTCUSDT",), {"from_id": 7, "limit": 2},
     {"symbol": "BTCUSDT", "fromId": "7", "limit": "2"}, 4),
    ("agg_trades", "agg_trades", ("BTCUSDT",), {"start_time": 1, "end_time": 2},
     {"symbol": "BTCUSDT", "startTime": "1", "endTime": "2"}, 4),
    ("klines", "klines", ("BTCUSDT", "1M"), {"start_time": 1, "end_time": 2, "time_zone": "-1:00", "limit": 9},
     {"symbol": "BTCUSDT", "interval": "1M", "startTime": "1", "endTime": "2", "timeZone": "-1:00", "limit": "9"}, 2),
    ("ui_klines", "ui_klines", ("BTCUSDT", KlineInterval("1s")), {"time_zone": 8},
     {"symbol": "BTCUSDT", "interval": "1s", "timeZone": "8"}, 2),
    ("ui_klines", "ui_klines", ("BTCUSDT", "1w"), {"start_time": 3, "end_time": 4, "limit": 1000},
     {"symbol": "BTCUSDT", "interval": "1w", "startTime": "3", "endTime": "4", "limit": "1000"}, 2),
    ("avg_price", "avg_price", ("BTCUSDT",), {}, {"symbol": "BTCUSDT"}, 2),
    ("ticker_24hr", "ticker_24hr", ("BTCUSDT",), {"type": "MINI", "symbol_status": "TRADING"},
     {"symbol": "BTCUSDT", "type": "MINI", "symbolStatus": "TRADING"}, 2),
    ("ticker_24hr", "ticker_24hr", (), {"symbols": SYMS}, {"symbols": '["BTCUSDT","ETHUSDT"]'}, 2),
    ("ticker_24hr", "ticker_24hr", (), {"symbols": [f"S{i}USDT" for i in range(20)]}, None, 2),
    ("ticker_24hr", "ticker_24hr", (), {"symbols": [f"S{i}USDT" for i in range(21)]}, None, 40),
    ("ticker_24hr", "ticker_24hr", (), {"symbols": [f"S{i}USDT" for i in range(100)]}, None, 40),
    ("ticker_24hr", "ticker_24hr", (), {"symbols": [f"S{i}USDT" for i in range(101)]}, None, 80),
    ("ticker_24hr", "ticker_24hr", (), {}, {}, 80),
    ("trading_day_ticker", "trading_day_ticker", ("BTCUSDT",), {"time_zone": "05:45", "type": "FULL",
                                                                "symbol_status": "TRADING"},
     {"symbol": "BTCUSDT", "timeZone": "05:45", "type": "FULL", "symbolStatus": "TRADING"}, 4),
    ("trading_day_ticker", "trading_day_ticker", (), {"symbols": SYMS}, {"symbols": '["BTCUSDT","ETHUSDT"]'}, 8),
    ("trading_day_ticker", "trading_day_ticker", (), {"symbols": [f"S{i}USDT" for i in range(50)]}, None, 200),
    ("trading_day_ticker", "trading_day_ticker", (), {"symbols": [f"S{i}USDT" for i in range(51)]}, None, 200),
    ("ticker_price", "ticker_price", ("btcusdt",), {}, {"symbol": "BTCUSDT"}, 2),
    ("ticker_price", "ticker_prices", (), {}, {}, 4),
    ("ticker_price", "ticker_prices", (SYMS,), {"symbol_status": "TRADING"},
     {"symbols": '["BTCUSDT","ETHUSDT"]', "symbolStatus": "TRADING"}, 4),
    ("book_ticker", "book_ticker", ("BTCUSDT",), {"symbol_status": "BREAK"},
     {"symbol": "BTCUSDT", "symbolStatus": "BREAK"}, 2),
    ("book_ticker", "book_ticker", (), {"symbols": SYMS}, {"symbols": '["BTCUSDT","ETHUSDT"]'}, 4),
    ("book_ticker", "book_ticker", (), {}, {}, 4),
    ("rolling_ticker", "rolling_ticker", ("BTCUSDT",), {"window_size": "59m", "type": "MINI",
                                                        "symbol_status": "TRADING"},
     {"symbol": "BTCUSDT", "windowSize": "59m", "type": "MINI", "symbolStatus": "TRADING"}, 4),
    ("rolling_ticker", "rolling_ticker", (), {"symbols": SYMS, "window_size": "7d"},
     {"symbols": '["BTCUSDT","ETHUSDT"]', "windowSize": "7d"}, 8),
    ("rolling_ticker", "rolling_ticker", (), {"symbols": [f"S{i}USDT" for i in range(51)]}, None, 200),
    ("reference_price", "reference_price", ("BTCUSDT",), {}, {"symbol": "BTCUSDT"}, 2),
    ("reference_price_calculation", "reference_price_calculation", ("BTCUSDT",), {"symbol_status": "TRADING"},
     {"symbol": "BTCUSDT", "symbolStatus": "TRADING"}, 2),
]


@pytest.mark.parametrize("entry, method, args, kwargs, query, weight", CALLS,
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(CALLS)])
def test_request_names_and_reserved_weight(entry: str, method: str, args: tuple, kwargs: dict,
                                           query: dict, weight: int) -> None:
    ep = BY_NAME[entry]
    client = make_client()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _serve(rsps)
        getattr(client, method)(*args, **kwargs)
        assert len(rsps.calls) == 1
        req = rsps.calls[0].request
        assert req.method == ep.http and urlsplit(req.url).path == ep.path
        sent = dict(parse_qsl(urlsplit(req.url).query, keep_blank_values=True))
        assert "X-MBX-APIKEY" not in req.headers  # security NONE: no key, no signature
    assert set(sent) <= set(ep.params), f"{method} sent undocumented names {set(sent) - set(ep.params)}"
    assert set(ep.required) <= set(sent)
    if query is not None:
        assert sent == query
    assert client.used_weight["1M"] == weight  # reserved by the limiter (no header came back)


def test_every_documented_name_is_sent_by_some_call() -> None:
    """Across CALLS, each table entry's every parameter is exercised by a Python-named argument."""
    seen: Dict[str, set] = {ep.name: set() for ep in spec_market.ENDPOINTS}
    for entry, _m, _a, _k, query, _w in CALLS:
        if query:
            seen[entry] |= set(query)
    for ep in spec_market.ENDPOINTS:
        assert seen[ep.name] == set(ep.params), ep.name


@pytest.mark.parametrize("call, field", [
    (lambda c: c.klines("BTCUSDT", "1H"), "interval"),
    (lambda c: c.klines("BTCUSDT", "2m"), "interval"),
    (lambda c: c.ui_klines("BTCUSDT", "1m", limit=1001), "limit"),
    (lambda c: c.klines("BTCUSDT", "1m", limit=0), "limit"),
    (lambda c: c.klines("BTCUSDT", "1m", limit=True), "limit"),
    (lambda c: c.klines("BTCUSDT", "1m", time_zone="15"), "time_zone"),
    (lambda c: c.klines("BTCUSDT", "1m", time_zone="-12:30"), "time_zone"),
    (lambda c: c.klines("BTCUSDT", "1m", time_zone="UTC"), "time_zone"),
    (lambda c: c.klines("BTCUSDT", "1m", start_time=1.5), "start_time"),
    (lambda c: c.trades("BTCUSDT", limit=1001), "limit"),
    (lambda c: c.historical_trades("BTCUSDT", limit=1001), "limit"),
    (lambda c: c.historical_block_trades("BTCUSDT", 1, limit=1001), "limit"),
    (lambda c: c.agg_trades("BTCUSDT", limit=1001), "limit"),
    (lambda c: c.klines("BTCUSDT", "1m", time_zone="14:01"), "time_zone"),
    (lambda c: c.trading_day_ticker("BTCUSDT", time_zone="+15"), "time_zone"),
    (lambda c: c.klines("BTCUSDT", "1m", time_zone="5:60"), "time_zone"),
    (lambda c: c.depth("BTCUSDT", limit=0), "limit"),
    (lambda c: c.depth("BTCUSDT", symbol_status="OPEN"), "symbol_status"),
    (lambda c: c.historical_trades("BTCUSDT", from_id=-1), "from_id"),
    (lambda c: c.historical_block_trades("BTCUSDT", None), "from_id"),
    (lambda c: c.agg_trades("BTCUSDT", from_id=1, start_time=2), "from_id"),
    (lambda c: c.ticker_24hr("BTCUSDT", symbols=SYMS), "symbols"),
    (lambda c: c.ticker_24hr(symbols="BTCUSDT"), "symbols"),
    (lambda c: c.ticker_24hr(symbols=[]), "symbols"),
    (lambda c: c.ticker_24hr("BTCUSDT", type="SMALL"), "type"),
    (lambda c: c.book_ticker("BTCUSDT", symbols=SYMS), "symbols"),
    (lambda c: c.rolling_ticker(), "symbol"),
    (lambda c: c.rolling_ticker("BTCUSDT", window_size="1d2h"), "window_size"),
    (lambda c: c.rolling_ticker("BTCUSDT", window_size="8d"), "window_size"),
    (lambda c: c.rolling_ticker("BTCUSDT", window_size="60m"), "window_size"),
    (lambda c: c.rolling_ticker(symbols=[f"S{i}" for i in range(101)]), "symbols"),
    (lambda c: c.trading_day_ticker(), "symbol"),
    (lambda c: c.trading_day_ticker("BTCUSDT", symbols=SYMS), "symbols"),
    (lambda c: c.exchange_info("BTCUSDT", symbol_status="TRADING"), "symbol_status"),
    (lambda c: c.exchange_info(symbols=SYMS, permissions="SPOT"), "permissions"),
    (lambda c: c.execution_rules("BTCUSDT", symbol_status="HALT"), "symbol_status"),
    (lambda c: c.ticker_price(None), "symbol"),
])
def test_bad_input_names_the_field_and_sends_nothing(call: Any, field: str) -> None:
    client = make_client()
    with responses.RequestsMock() as rsps:  # any request would fail: nothing is registered
        with pytest.raises(ValidationError) as info:
            call(client)
        assert not rsps.calls
    assert info.value.field == field


def test_answers_are_decimal_shaped() -> None:
    client = make_client()
    row = [1499040000000, "0.01634790", "0.80000000", "0.01575800", "0.01577100", "148976.11427815",
           1499644799999, "2434.19055334", 308, "1756.87402397", "28.46694368", "0"]
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{BASE}/api/v3/klines", json=[row])
        rsps.add(responses.GET, f"{BASE}/api/v3/aggTrades", json=[{"a": 1, "p": "0.1", "q": "2", "f": 1, "l": 1,
                                                                   "T": 5, "m": True, "M": True}])
        rsps.add(responses.GET, f"{BASE}/api/v3/ticker/price", json=[{"symbol": "A", "price": "1.10"},
                                                                     {"symbol": "B", "price": "2"}])
        rows = client.klines("BTCUSDT", "1d")
        agg = client.agg_trades("BTCUSDT")
        prices = client.ticker_prices()
    assert rows == [[1499040000000, Decimal("0.01634790"), Decimal("0.80000000"), Decimal("0.01575800"),
                     Decimal("0.01577100"), Decimal("148976.11427815"), 1499644799999, Decimal("2434.19055334"), 308,
                     Decimal("1756.87402397"), Decimal("28.46694368"), "0"]]
    assert type(rows[0][0]) is int and type(rows[0][8]) is int
    assert agg[0]["p"] == Decimal("0.1") and agg[0]["q"] == Decimal(2) and agg[0]["a"] == 1
    assert prices == {"A": Decimal("1.10"), "B": Decimal(2)}


@pytest.mark.parametrize("security", [MARKET_DATA, USER_STREAM])
def test_keyed_unsigned_endpoints_send_the_api_key(security: str) -> None:
    ep = Endpoint("keyed_probe", "GET", "/api/v3/keyedProbe", security)
    client = make_client(key=True)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{BASE}/api/v3/keyedProbe", json={})
        client._call(ep, {"symbol": "BTCUSDT"})
        req = rsps.calls[0].request
    assert req.headers["X-MBX-APIKEY"] == KEY
    assert dict(parse_qsl(urlsplit(req.url).query)) == {"symbol": "BTCUSDT"}  # no timestamp, no signature
    with pytest.raises(ValidationError) as info:
        make_client()._call(ep, {"symbol": "BTCUSDT"})
    assert info.value.field == "api_key"


def test_none_security_never_sends_the_key_even_when_configured() -> None:
    client = make_client(key=True)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _serve(rsps)
        client.historical_trades("BTCUSDT", limit=1)  # NONE since Binance dropped MARKET_DATA here
        assert "X-MBX-APIKEY" not in rsps.calls[0].request.headers


def test_exchange_info_cache_is_per_parameter_set() -> None:
    client = make_client()
    info = {"rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                            "limit": 1234}], "symbols": [{"symbol": "BTCUSDT", "filters": []}]}
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{BASE}/api/v3/exchangeInfo", json=info)
        client.exchange_info(symbols=SYMS)
        client.exchange_info(symbols=list(SYMS))
        assert len(rsps.calls) == 1
        client.exchange_info(permissions="SPOT")
        client.exchange_info("btcusdt")
        assert len(rsps.calls) == 3
        client.exchange_info(symbols=["BNBBTC"])  # other values of the same names: another entry
        client.exchange_info("ETHUSDT")
        assert len(rsps.calls) == 5
        client.symbol_filters("BTCUSDT")  # the library's own read shares exchange_info("BTCUSDT")'s entry
        assert len(rsps.calls) == 5
    assert client._limiter.limits == {"1M": 1234}


def test_moved_methods_live_in_the_shared_mixin() -> None:
    from binance_conn._api.market import MarketDataApi
    from binance_conn._rest.endpoints import RestEndpoints

    for ep in spec_market.ENDPOINTS:
        assert ep.name in vars(MarketDataApi), ep.name
        assert ep.name not in vars(RestEndpoints), f"{ep.name} still shadowed by RestEndpoints"
    assert "ticker_prices" in vars(MarketDataApi)


@pytest.mark.parametrize("tz", ["0", "8", "-1", "-1:00", "05:45", "+14:00", "14", "-12:00", "-12", 8, 0, -5])
def test_time_zones_the_docs_accept(tz: Any) -> None:
    """"Hours and minutes (e.g. -1:00, 05:45)", "Only hours (e.g. 0, 8, 4)", range [-12:00, +14:00]."""
    client = make_client()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _serve(rsps)
        client.klines("BTCUSDT", "1m", time_zone=tz)
        client.trading_day_ticker("BTCUSDT", time_zone=tz)
        sent = [dict(parse_qsl(urlsplit(c.request.url).query))["timeZone"] for c in rsps.calls]
    assert sent == [str(tz), str(tz)]
