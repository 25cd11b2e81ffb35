"""Issue 11's "done when": every endpoint, WebSocket API method, stream, user-data event and error
code of the docs snapshot is covered by the library.  One place that reads the whole snapshot, so
a new entry in the docs fails here first (the per-area files test each one in depth).
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Dict, Set

import pytest
from _spot_docs import DOCS

import binance_conn as bc
from binance_conn._core import catalog, streams
from binance_conn._core.error_codes import CODES as _CODES  # noqa: F401 - the table must exist
from binance_conn._core.userevents import USER_EVENT_TYPES
from binance_conn._userdata.client import WsApiClient
from binance_conn.rest import RestClient

pytestmark = pytest.mark.skipif(not DOCS.is_dir(), reason="spot docs snapshot not found (tests/_spot_docs.py)")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spot_docs"
# WebSocket API methods the library calls itself (the user-data session) instead of offering as typed
# endpoint methods; each is still reachable through conn.ws_api.request(method, ...).
SESSION_METHODS = {
    "session.logon": "sent by the user-data session for Ed25519 keys",
    "session.logout": "sent by the user-data session when it closes a logged-on connection",
    "session.status": "conn.ws_api.session_status()",
    "session.subscriptions": "conn.ws_api.session_subscriptions()",
    "userDataStream.subscribe": "sent by the user-data session (Ed25519, logged on)",
    "userDataStream.subscribe.signature": "sent by the user-data session (HMAC/RSA)",
    "userDataStream.unsubscribe": "sent by the user-data session on rollover and stop",
}
# Stream names of web-socket-streams.md with one concrete example each.
STREAM_EXAMPLES = {
    r"\<symbol\>@referencePrice": ["btcusdt@referencePrice"],
    r"\<symbol\>@aggTrade": ["btcusdt@aggTrade"],
    r"\<symbol\>@trade": ["btcusdt@trade"],
    r"\<symbol\>@blockTrade": ["btcusdt@blockTrade"],
    r"\<symbol\>@kline_\<interval\>": ["btcusdt@kline_1s", "btcusdt@kline_1M"],
    r"\<symbol\>@kline_\<interval\>@+08:00": ["btcusdt@kline_1m@+08:00"],
    r"\<symbol\>@miniTicker": ["btcusdt@miniTicker"],
    "!miniTicker@arr": ["!miniTicker@arr"],
    r"\<symbol\>@ticker": ["btcusdt@ticker"],
    r"\<symbol\>@ticker_\<window_size\>": ["btcusdt@ticker_1h", "btcusdt@ticker_4h", "btcusdt@ticker_1d"],
    r"!ticker_\<window-size\>@arr": ["!ticker_1h@arr", "!ticker_1d@arr"],
    r"\<symbol\>@bookTicker": ["btcusdt@bookTicker"],
    r"\<symbol\>@avgPrice": ["btcusdt@avgPrice"],
    r"\<symbol\>@depth\<levels\> OR \<symbol\>@depth\<levels\>@100ms": ["btcusdt@depth5", "btcusdt@depth20@100ms"],
    r"\<symbol\>@depth OR \<symbol\>@depth@100ms": ["btcusdt@depth", "btcusdt@depth@100ms"],
}


def _read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def test_every_rest_route_has_a_table_entry_and_a_typed_method() -> None:
    routes = set(re.findall(r"^(GET|POST|PUT|DELETE) (/api/v3/\S+)", _read("rest-api.md"), re.M))
    assert len(routes) >= 48
    missing = sorted(f"{m} {p}" for m, p in routes if (m, p) not in catalog.BY_ROUTE)
    assert not missing, f"routes of rest-api.md without a table entry: {missing}"
    for route in routes:
        ep = catalog.BY_ROUTE[route]
        method = getattr(RestClient, ep.name, None)
        assert callable(method), f"no RestClient.{ep.name} for {route}"
        assert (method.__doc__ or "").strip(), f"RestClient.{ep.name} has no docstring"


def test_every_documented_weight_section_matches_one_entry() -> None:
    # one **Weight** section per REST route / per WS API method: nothing documented twice or missed
    assert _read("rest-api.md").count("**Weight") >= len(catalog.BY_ROUTE)


def test_every_ws_api_method_is_typed_or_run_by_the_session() -> None:
    methods = set(re.findall(r'"method":\s*"([A-Za-z0-9.]+)"', _read("web-socket-api.md")))
    assert len(methods) >= 55
    untyped = sorted(methods - set(catalog.BY_WS_METHOD) - set(SESSION_METHODS))
    assert not untyped, f"WebSocket API methods neither typed nor run by the session: {untyped}"
    for name in methods & set(catalog.BY_WS_METHOD):
        ep = catalog.BY_WS_METHOD[name]
        assert callable(getattr(WsApiClient, ep.name, None)), f"no conn.ws_api.{ep.name} for {name}"
    for name in ("session_status", "session_subscriptions"):
        assert callable(getattr(WsApiClient, name))


def test_every_table_entry_is_documented() -> None:
    rest = _read("rest-api.md")
    ws = _read("web-socket-api.md")
    for ep in catalog.ALL:
        if ep.path:
            assert f"{ep.http} {ep.path}" in rest, ep
        if ep.ws_method:
            assert f'"{ep.ws_method}"' in ws, ep


def test_every_stream_of_the_docs_is_subscribable() -> None:
    names = re.findall(r"^\*\*Stream Names?:?\*\*:? *(.+?)\s*$", _read("web-socket-streams.md"), re.M)
    assert set(names) == set(STREAM_EXAMPLES), "a stream was added to or removed from the docs"
    for examples in STREAM_EXAMPLES.values():
        for name in examples:
            info = streams.try_parse(name)
            assert info is not None, name
    # and each has a Connector way in: on_stream takes any of them
    assert "stream" in inspect.signature(bc.Connector.on_stream).parameters


def test_every_event_type_of_the_docs_is_parsed() -> None:
    text = _read("user-data-stream.md") + _read("web-socket-streams.md")
    kinds = set(re.findall(r'"e":\s*"([A-Za-z0-9]+)"', text))
    user = set(re.findall(r'"e":\s*"([A-Za-z0-9]+)"', _read("user-data-stream.md")))
    assert user <= set(USER_EVENT_TYPES), sorted(user - set(USER_EVENT_TYPES))
    market = kinds - user - {"serverShutdown"}
    # every market event type appears in a docs example the per-stream tests deliver end to end
    records = json.loads((FIXTURES / "examples.json").read_text(encoding="utf-8"))
    shown: Set[str] = set()
    for rec in records:
        if rec["doc"] != "web-socket-streams.md":
            continue
        body = rec["json"]
        items = body if isinstance(body, list) else [body]
        shown.update(i.get("e") for i in items if isinstance(i, dict) and isinstance(i.get("e"), str))
    assert market <= shown, sorted(market - shown)


def test_every_error_code_maps_to_a_specific_class() -> None:
    codes = {int(c) for c in re.findall(r"^#+ *(-\d{4})\b", _read("errors.md"), re.M)}
    assert len(codes) >= 100
    generic: Dict[int, str] = {}
    for code in sorted(codes):
        cls = bc.errors.error_for_code(code, "")
        if cls is bc.APIError or cls is bc.BinanceError:
            generic[code] = cls.__name__
    assert not generic, f"codes left to the generic class: {generic}"
