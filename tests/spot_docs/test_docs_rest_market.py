"""The general and market-data sections of rest-api.md and web-socket-api.md against the endpoint
table and the typed methods:

* coverage: every documented route / WebSocket API method has a table entry and a typed method;
* the table's parameters are the docs' parameter tables, its weights the docs' Weight text;
* every docs answer example (examples.json) served over REST (``responses``) and over a scripted
  WebSocket API link comes back from the typed method in Binance's shape, Decimal where a price or
  quantity is, no float anywhere;
* every docs WebSocket API request example is what the typed method sends for the same arguments.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses
from _helpers import scaled
from _market_docs import DOCS, example_id, examples, optional_weight_int, rest_endpoints, ws_endpoints

from binance_conn._core import catalog, spec_market
from binance_conn._core.endpoints import NONE
from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn._userdata.client import WsApiClient
from binance_conn.config import Config
from binance_conn.errors import APIError, BinanceError
from binance_conn.rest import RestClient

pytestmark = pytest.mark.skipif(not (DOCS / "rest-api.md").exists(), reason="spot docs snapshot not present")

BASE = "https://api.docs.invalid"
ROUTES = {f"{ep.http} {ep.path}": ep for ep in spec_market.ENDPOINTS}
WS_METHODS = {str(ep.ws_method): ep for ep in spec_market.ENDPOINTS}
REST_DOCS = rest_endpoints() if (DOCS / "rest-api.md").exists() else {}
WS_DOCS = ws_endpoints() if (DOCS / "web-socket-api.md").exists() else {}


# ---------------------------------------------------------------- coverage and table vs docs

def test_every_documented_rest_endpoint_has_an_entry_and_a_method() -> None:
    assert len(REST_DOCS) >= 19
    for route in REST_DOCS:
        method, path = route.split(" ", 1)
        ep = catalog.lookup(method, path)
        assert ep is not None, f"{route} has no table entry"
        assert ep in spec_market.ENDPOINTS
        assert callable(getattr(RestClient, ep.name, None)) and callable(getattr(WsApiClient, ep.name, None))
    assert set(ROUTES) == set(REST_DOCS)  # and nothing undocumented


def test_every_documented_ws_method_has_an_entry() -> None:
    assert len(WS_DOCS) >= 19
    assert set(WS_DOCS) == set(WS_METHODS)
    for method, ep in WS_METHODS.items():
        assert catalog.BY_WS_METHOD[method] is ep


def _check_params(ep_params: Tuple[str, ...], ep_required: Tuple[str, ...], doc: Any) -> None:
    assert set(ep_params) == set(doc.params), doc.key
    either = {"symbol", "symbols"} if {"symbol", "symbols"} <= set(doc.mandatory) else set()
    assert set(ep_required) == set(doc.mandatory) - either, doc.key


@pytest.mark.parametrize("route", sorted(REST_DOCS))
def test_table_params_match_rest_docs(route: str) -> None:
    ep = ROUTES[route]
    _check_params(ep.params, ep.required, REST_DOCS[route])
    assert ep.security == NONE  # no security suffix on any of these headings
    assert "(" not in REST_DOCS[route].heading


@pytest.mark.parametrize("method", sorted(WS_DOCS))
def test_table_params_match_ws_docs(method: str) -> None:
    ep = WS_METHODS[method]
    _check_params(ep.params, ep.required, WS_DOCS[method])
    assert "(" not in WS_DOCS[method].heading


@pytest.mark.parametrize("key", sorted(REST_DOCS) + sorted(WS_DOCS))
def test_fixed_weights_match_docs(key: str) -> None:
    doc = REST_DOCS.get(key) or WS_DOCS[key]
    fixed = optional_weight_int(doc.weight_text)
    ep = ROUTES.get(key) or WS_METHODS[key]
    if fixed is None:
        assert callable(ep.weight), f"{key}: the docs give a rule, the table a number"
        return
    weight_of = ep.weight_of if key in REST_DOCS else ep.ws_weight_of
    assert weight_of({}) == fixed and weight_of({"symbol": "BTCUSDT", "limit": 1000}) == fixed


_RANGE = re.compile(r"^\|?\s*(\d+)\s*[-–]\s*(\d+)\s*\|\s*(\d+)(\s*per symbol)?\s*\|?\s*$")
_OR_MORE = re.compile(r"^\|?\s*(\d+) or more\s*\|\s*(\d+)\s*\|?\s*$")


def _syms(n: int) -> List[str]:
    return [f"S{i}USDT" for i in range(n)]


@pytest.mark.parametrize("key, kind", [("GET /api/v3/depth", "limit"), ("depth", "limit"),
                                       ("ticker.24hr", "symbols"), ("ticker", "symbols")])
def test_weight_tables_of_the_docs(key: str, kind: str) -> None:
    """Range rows of the docs' Weight tables ("1-100 | 5", "21–100 | 40", "1–50 | 4 per symbol") at both ends."""
    doc = REST_DOCS.get(key) or WS_DOCS[key]
    ep = ROUTES.get(key) or WS_METHODS[key]
    rows = 0
    for line in doc.weight_text.splitlines():
        m, more = _RANGE.match(line.strip()), _OR_MORE.match(line.strip())
        if more:
            lo, w = int(more.group(1)), int(more.group(2))
            points = [(lo, w), (lo * 3, w)]
        elif m:
            lo, hi, w = int(m.group(1)), int(m.group(2)), int(m.group(3))
            points = [(n, w * n if m.group(4) else w) for n in (lo, hi)]
        else:
            continue
        rows += 1
        for n, expect in points:
            params: Dict[str, Any] = {"limit": n} if kind == "limit" else {"symbols": _syms(n)}
            assert ep.weight_of(params) == expect, (key, n)
            text = {"symbols": json.dumps(_syms(n))} if kind == "symbols" else {"limit": str(n)}
            assert ep.weight_of(text) == expect, (key, n)  # as sent over REST: the JSON text
    assert rows >= 2


def test_weight_rules_from_the_docs_text() -> None:
    """The rules rest-api.md states in prose or HTML tables."""
    w = {ep.name: ep.weight_of for ep in spec_market.ENDPOINTS}
    # ticker/24hr: symbol 1 -> 2, symbol omitted -> 80; symbols 1-20 -> 2, 21-100 -> 40, 101+ -> 80, omitted -> 80
    assert w["ticker_24hr"]({"symbol": "X"}) == 2 and w["ticker_24hr"]({}) == 80
    # ticker/price, ticker/bookTicker: symbol 2, omitted 4, symbols (any) 4
    for name in ("ticker_price", "book_ticker"):
        assert w[name]({"symbol": "X"}) == 2 and w[name]({}) == 4
        assert w[name]({"symbols": ["X"]}) == 4 and w[name]({"symbols": _syms(500)}) == 4
    # ticker (rolling) and tradingDay: "4 for each requested symbol ... cap at 200 once more than 50"
    for name in ("rolling_ticker", "trading_day_ticker"):
        assert w[name]({"symbol": "X"}) == 4 and w[name]({"symbols": _syms(50)}) == 200
        assert w[name]({"symbols": _syms(49)}) == 196 and w[name]({"symbols": _syms(100)}) == 200
    # executionRules: symbol 2; symbols 2 each, capped at 40; symbolStatus 40; none 40
    assert w["execution_rules"]({"symbol": "X"}) == 2 and w["execution_rules"]({"symbols": _syms(3)}) == 6
    assert w["execution_rules"]({"symbols": _syms(21)}) == 40 and w["execution_rules"]({}) == 40
    assert w["execution_rules"]({"symbolStatus": "HALT"}) == 40
    assert "capped at a max of 40" in REST_DOCS["GET /api/v3/executionRules"].weight_text
    assert "cap at 200" in REST_DOCS["GET /api/v3/ticker"].weight_text


# ---------------------------------------------------------------- answers: docs examples through the methods

_TICKER_KEYS = ("priceChange", "priceChangePercent", "weightedAvgPrice", "prevClosePrice", "lastPrice", "lastQty",
                "bidPrice", "bidQty", "askPrice", "askQty", "openPrice", "highPrice", "lowPrice", "volume",
                "quoteVolume")
_TRADE_KEYS = ("price", "qty", "quoteQty")
DECIMAL_FIELDS: Dict[str, Tuple[str, ...]] = {
    "/api/v3/trades": _TRADE_KEYS, "/api/v3/historicalTrades": _TRADE_KEYS,
    "/api/v3/historicalBlockTrades": _TRADE_KEYS, "/api/v3/aggTrades": ("p", "q"), "/api/v3/avgPrice": ("price",),
    "/api/v3/ticker/24hr": _TICKER_KEYS, "/api/v3/ticker/tradingDay": _TICKER_KEYS, "/api/v3/ticker": _TICKER_KEYS,
    "/api/v3/ticker/bookTicker": ("bidPrice", "bidQty", "askPrice", "askQty"),
    "/api/v3/referencePrice": ("referencePrice",),
    "/api/v3/executionRules": ("bidLimitMultUp", "bidLimitMultDown", "askLimitMultUp", "askLimitMultDown"),
}
KLINE_POSITIONS = (1, 2, 3, 4, 5, 7, 9, 10)  # open, high, low, close, volume, quote vol, taker buy base/quote


def _expected(path: str, data: Any) -> Any:
    """What the typed method returns for ``data``, written out from the docs' field comments."""
    data = json.loads(json.dumps(data))
    if path in ("/api/v3/klines", "/api/v3/uiKlines"):
        return [[Decimal(v) if i in KLINE_POSITIONS else v for i, v in enumerate(row)] for row in data]
    if path == "/api/v3/depth":
        for side in ("bids", "asks"):
            data[side] = [[Decimal(p), Decimal(q)] for p, q in data[side]]
        return data
    keys = DECIMAL_FIELDS.get(path, ())

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k in keys and isinstance(v, str):
                    obj[k] = Decimal(v)
                else:
                    walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)
    walk(data)
    return data


def _same(a: Any, b: Any, where: str = "") -> None:
    """Equal, and of the same types all the way down (Decimal('1') == 1 must not pass)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__} ({a!r} / {b!r})"
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _no_float(obj: Any) -> None:
    assert not isinstance(obj, float), obj
    for v in obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else ():
        _no_float(v)


Call = Tuple[str, tuple, dict]


def _call_for(path: str, data: Any, label: str) -> Call:
    """The typed call whose answer ``data`` is (arguments read off the example)."""
    one = isinstance(data, dict) and "symbol" in data
    many = isinstance(data, list) and bool(data) and isinstance(data[0], dict) and "symbol" in data[0]
    sym = data["symbol"] if one else "BNBBTC"
    syms = [d["symbol"] for d in data] if many else None
    kind = {"type": "MINI"} if "MINI" in label else {}
    which: Dict[str, Any] = {"symbols": syms} if many else {"symbol": sym}
    table: Dict[str, Call] = {
        "/api/v3/ping": ("ping", (), {}),
        "/api/v3/time": ("server_time", (), {}),
        "/api/v3/exchangeInfo": ("exchange_info", (), {}),
        "/api/v3/executionRules": ("execution_rules", (), {"symbol": "BAZUSD"}),
        "/api/v3/depth": ("depth", ("BNBBTC",), {"limit": 5}),
        "/api/v3/trades": ("trades", ("BNBBTC",), {"limit": 1}),
        "/api/v3/historicalTrades": ("historical_trades", ("BNBBTC",), {"from_id": 0}),
        "/api/v3/historicalBlockTrades": ("historical_block_trades", ("BNBBTC", 582), {}),
        "/api/v3/aggTrades": ("agg_trades", ("BNBBTC",), {"limit": 1}),
        "/api/v3/klines": ("klines", ("BNBBTC", "1h"), {}),
        "/api/v3/uiKlines": ("ui_klines", ("BNBBTC", "1h"), {}),
        "/api/v3/avgPrice": ("avg_price", ("BNBBTC",), {}),
        "/api/v3/ticker/24hr": ("ticker_24hr", (), dict(which, **kind)),
        "/api/v3/ticker/tradingDay": ("trading_day_ticker", (), dict(which, **kind)),
        "/api/v3/ticker": ("rolling_ticker", (), dict(which, **kind)),
        "/api/v3/ticker/bookTicker": ("book_ticker", (), which),
        "/api/v3/ticker/price": ("ticker_prices", (), {"symbols": syms}) if many else ("ticker_price", (sym,), {}),
        "/api/v3/referencePrice": ("reference_price", ("BAZUSD",), {}),
        "/api/v3/referencePrice/calculation": ("reference_price_calculation", ("BAZUSD",), {}),
    }
    return table[path]


def _check_answer(client: Any, path: str, data: Any, label: str) -> None:
    name, args, kwargs = _call_for(path, data, label)
    if isinstance(data, dict) and "code" in data and "msg" in data:  # the docs' error answers (-2043)
        with pytest.raises(APIError) as info:
            getattr(client, name)(*args, **kwargs)
        assert info.value.binance_code == data["code"]
        return
    got = getattr(client, name)(*args, **kwargs)
    _no_float(got)
    if name == "ping":
        assert got is None
    elif name == "server_time":
        _same(got, data["serverTime"])
    elif name == "ticker_price":
        _same(got, Decimal(data["price"]))
    elif name == "ticker_prices":
        _same(got, {d["symbol"]: Decimal(d["price"]) for d in data})
    else:
        _same(got, _expected(path, data), name)


REST_EXAMPLES = examples("rest-api.md", set(ROUTES)) if (DOCS / "rest-api.md").exists() else []
WS_EXAMPLES = examples("web-socket-api.md", set(WS_METHODS)) if (DOCS / "web-socket-api.md").exists() else []
WS_REQUESTS = examples("web-socket-api.md", set(WS_METHODS), request=True) if WS_EXAMPLES else []


def test_every_route_has_docs_examples() -> None:
    assert {r["route"] for r in REST_EXAMPLES} == set(ROUTES)
    assert {r["route"] for r in WS_EXAMPLES} == set(WS_METHODS)
    assert {r["route"] for r in WS_REQUESTS} == set(WS_METHODS)


@pytest.mark.parametrize("record", REST_EXAMPLES, ids=example_id)
def test_rest_docs_answer_through_the_typed_method(record: Dict[str, Any]) -> None:
    path = record["route"].split(" ", 1)[1]
    data = record["json"]
    status = 400 if isinstance(data, dict) and "code" in data and "symbol" not in data else 200
    client = RestClient(Config.builder().with_rest_url(BASE).with_retry(1).build(),
                        limiter_registry=WeightLimiterRegistry())
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, BASE + path, body=json.dumps(data), status=status,
                 content_type="application/json")
        _check_answer(client, path, data, record["label"])


# ---------------------------------------------------------------- the WebSocket API, over a scripted link

class _DocsServer:
    """Answers the next request for ``method`` with a docs frame (its id replaced); the rest
    (logon, user-data subscription) goes to the harness' scripted API."""

    def __init__(self, base: Callable[[Any, str], None]) -> None:
        self.base = base
        self.lock = threading.Lock()
        self.frames: Dict[str, Dict[str, Any]] = {}
        self.sent: List[Dict[str, Any]] = []

    def __call__(self, transport: Any, text: str) -> None:
        req = json.loads(text)
        with self.lock:
            frame = self.frames.get(req["method"])
            if frame is not None:
                self.sent.append(req)
        if frame is None:
            self.base(transport, text)
            return
        transport.feed_text(json.dumps(dict(frame, id=req["id"])))


@pytest.fixture(scope="module")
def ws() -> Iterator[Tuple[WsApiClient, _DocsServer]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "userdata"))
    from _harness import Harness  # the scripted WebSocket API link of tests/userdata

    h = Harness()
    server = _DocsServer(h.api)
    h.net.on_send = server
    h.start()
    try:
        yield WsApiClient(lambda: h.link), server
    finally:
        h.stop()


def _ws_answer_frame(method: str, record_json: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in record_json.items() if k != "id"}


@pytest.mark.parametrize("record", WS_EXAMPLES, ids=example_id)
def test_ws_docs_answer_through_the_typed_method(ws: Tuple[WsApiClient, _DocsServer],
                                                 record: Dict[str, Any]) -> None:
    client, server = ws
    method = record["route"]
    frame = record["json"]
    path = str(WS_METHODS[method].path)
    with server.lock:
        server.frames = {method: _ws_answer_frame(method, frame)}
    if "error" in frame:
        name, args, kwargs = _call_for(path, {}, "")
        with pytest.raises(BinanceError) as info:
            getattr(client, name)(*args, timeout=scaled(5), **kwargs)
        assert info.value.binance_code == frame["error"]["code"]
        return
    _check_answer(client, path, frame["result"], record["label"] or "")


_PY_NAMES = {"fromId": "from_id", "startTime": "start_time", "endTime": "end_time", "timeZone": "time_zone",
             "windowSize": "window_size", "symbolStatus": "symbol_status", "showPermissionSets": "show_permission_sets"}


@pytest.mark.parametrize("record", WS_REQUESTS, ids=example_id)
def test_ws_docs_request_is_what_the_typed_method_sends(ws: Tuple[WsApiClient, _DocsServer],
                                                        record: Dict[str, Any]) -> None:
    client, server = ws
    req = record["json"]
    method = req["method"]
    params: Dict[str, Any] = dict(req.get("params") or {})
    answers = [r["json"] for r in WS_EXAMPLES if r["route"] == method and "result" in r["json"]]
    many = "symbols" in params
    answer = next((a for a in answers if isinstance(a["result"], list) == many), answers[0])
    with server.lock:
        server.frames = {method: _ws_answer_frame(method, answer)}
        server.sent.clear()
    ep = WS_METHODS[method]
    name = "ticker_prices" if (ep.name == "ticker_price" and many) else ep.name
    kwargs = {_PY_NAMES.get(k, k): v for k, v in params.items() if k in ep.params}
    extra = {k: v for k, v in params.items() if k not in ep.params}  # e.g. returnRateLimits: passed through
    getattr(client, name)(timeout=scaled(5), **kwargs, **extra)
    with server.lock:
        sent = list(server.sent)
    assert len(sent) == 1 and sent[0]["method"] == method
    assert sent[0].get("params", {}) == params


# ---------------------------------------------------------------- REST requests of the docs' curl examples

def test_rest_exchange_info_symbols_as_the_docs_spell_them() -> None:
    """rest-api.md: ``symbols=%5B%22BNBBTC%22,%22BTCUSDT%22%5D`` / ``permissions=["MARGIN","LEVERAGED"]``."""
    client = RestClient(Config.builder().with_rest_url(BASE).build(), limiter_registry=WeightLimiterRegistry())
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{BASE}/api/v3/exchangeInfo", json={"symbols": []})
        client.exchange_info(symbols=["BNBBTC", "BTCUSDT"])
        client.exchange_info(permissions=["MARGIN", "LEVERAGED"])
        queries: List[Optional[str]] = [urlsplit(c.request.url).query for c in rsps.calls]
    assert dict(parse_qsl(str(queries[0]))) == {"symbols": '["BNBBTC","BTCUSDT"]'}
    assert str(queries[0]).upper() == "SYMBOLS=%5B%22BNBBTC%22%2C%22BTCUSDT%22%5D"
    assert dict(parse_qsl(str(queries[1]))) == {"permissions": '["MARGIN","LEVERAGED"]'}
