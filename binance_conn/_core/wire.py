"""Market-stream frames -> typed events and control replies (reference §9).

This is the hot path: one :class:`WireParser` per connection turns each text
frame into a classified tuple ``(tag, stream, value)``:

==========  ===================  =====================================================
tag         stream               value
==========  ===================  =====================================================
EVENT       stream name or None  the :mod:`binance_conn.events` object
RESULT      None                 ``(id, result)`` of a ``{"result":..,"id":..}`` reply
ERROR       None                 ``(id, code, msg)`` of a ``{"code":..,"msg":..}`` reply
SHUTDOWN    stream name or None  event time (int ms) of ``serverShutdown``, or None
UNKNOWN     stream name or None  a short reason (valid JSON we do not understand)
MALFORMED   stream name or None  a short reason (bad JSON, missing/bad fields)
==========  ===================  =====================================================

Nothing raises for bad input: the reader counts UNKNOWN/MALFORMED and goes on.

Speed notes: one reused simplejson decoder (``use_decimal`` semantics: a JSON
float never becomes a ``float``); Binance sends prices as JSON strings, so
``Decimal(str)`` is applied explicitly per field; the route of each stream name
(parser function and upper-case symbol) is computed once and cached in a dict;
no strings are formatted for a good frame.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

import simplejson

from ..events import (
    AggTrade,
    BookTicker,
    DepthUpdate,
    Event,
    Kline,
    MiniTicker,
    PriceLevel,
    Ticker,
    Trade,
)
from . import streams as _streams

__all__ = [
    "EVENT",
    "RESULT",
    "ERROR",
    "SHUTDOWN",
    "UNKNOWN",
    "MALFORMED",
    "Parsed",
    "Route",
    "WireParser",
    "decode",
    "encode_request",
    "PARSERS",
    "EVENT_TYPE_KINDS",
]

EVENT = "event"
RESULT = "result"
ERROR = "error"
SHUTDOWN = "shutdown"
UNKNOWN = "unknown"
MALFORMED = "malformed"

Parsed = Tuple[str, Optional[str], Any]
"""``(tag, stream, value)``; see the module table."""

_D = Decimal
_decoder = simplejson.JSONDecoder(parse_float=Decimal)
decode: Callable[[str], Any] = _decoder.decode
"""The shared decoder (floats -> Decimal); safe to share across threads."""
_encoder = simplejson.JSONEncoder(separators=(",", ":"), use_decimal=True)
# ``decode()`` wraps the C scanner in Python-level whitespace regex matching
# (about 40% of its cost on a trade frame); frames from Binance carry no
# surrounding whitespace, so the scanner is called directly and ``decode()``
# is only the fallback for anything unusual (whitespace, errors).
_scan_once: Callable[[str, int], Tuple[Any, int]] = _decoder.scan_once


def _loads(text: str) -> Any:
    try:
        obj, end = _scan_once(text, 0)
    except (ValueError, StopIteration):
        return _decoder.decode(text)
    if end != len(text) and text[end:].strip():
        return _decoder.decode(text)  # raises for trailing garbage
    return obj

_Data = Dict[str, Any]
_ParseFn = Callable[[_Data, str, str], Event]


def _levels(rows: Iterable[Any]) -> Tuple[PriceLevel, ...]:
    return tuple([(_D(r[0]), _D(r[1])) for r in rows])


def _trade(d: _Data, sym: str, ex: str) -> Event:
    return Trade(ex, sym, d["t"], _D(d["p"]), _D(d["q"]), d["T"], d["m"], d["E"])


def _agg_trade(d: _Data, sym: str, ex: str) -> Event:
    return AggTrade(ex, sym, d["a"], _D(d["p"]), _D(d["q"]), d["f"], d["l"], d["T"], d["m"], d["E"])


def _opt(d: _Data, key: str) -> Optional[Decimal]:
    v = d.get(key)
    return None if v is None else _D(v)


def _ticker(d: _Data, sym: str, ex: str) -> Event:
    return Ticker(
        ex,
        sym,
        _D(d["c"]),
        _D(d["o"]),
        _D(d["h"]),
        _D(d["l"]),
        _D(d["v"]),
        _D(d["q"]),
        _D(d["P"]),
        d["E"],
        price_change=_opt(d, "p"),
        weighted_avg_price=_opt(d, "w"),
        bid_price=_opt(d, "b"),
        bid_qty=_opt(d, "B"),
        ask_price=_opt(d, "a"),
        ask_qty=_opt(d, "A"),
        trade_count=d.get("n"),
    )


def _mini_ticker(d: _Data, sym: str, ex: str) -> Event:
    return MiniTicker(ex, sym, _D(d["c"]), _D(d["o"]), _D(d["h"]), _D(d["l"]), _D(d["v"]), _D(d["q"]), d["E"])


def _book_ticker(d: _Data, sym: str, ex: str) -> Event:
    return BookTicker(ex, sym, d["u"], _D(d["b"]), _D(d["B"]), _D(d["a"]), _D(d["A"]))


def _kline(d: _Data, sym: str, ex: str) -> Event:
    k = d["k"]
    q = k.get("q")
    return Kline(
        ex,
        sym,
        k["i"],
        k["t"],
        k["T"],
        _D(k["o"]),
        _D(k["h"]),
        _D(k["l"]),
        _D(k["c"]),
        _D(k["v"]),
        k["x"],
        None if q is None else _D(q),
        k.get("n"),
        d.get("E"),
    )


def _depth(d: _Data, sym: str, ex: str) -> Event:
    return DepthUpdate(ex, sym, d["U"], d["u"], _levels(d["b"]), _levels(d["a"]), d.get("E"))


def _partial_depth(d: _Data, sym: str, ex: str) -> Event:
    last = d["lastUpdateId"]
    return DepthUpdate(ex, sym, last, last, _levels(d["bids"]), _levels(d["asks"]), None)


PARSERS: Dict[str, _ParseFn] = {
    _streams.TRADE: _trade,
    _streams.AGG_TRADE: _agg_trade,
    _streams.TICKER: _ticker,
    _streams.MINI_TICKER: _mini_ticker,
    _streams.BOOK_TICKER: _book_ticker,
    _streams.KLINE: _kline,
    _streams.DEPTH: _depth,
    _streams.PARTIAL_DEPTH: _partial_depth,
}
"""Stream kind -> parser ``fn(data, SYMBOL, exchange) -> Event``."""

_RAW_EVENT_KINDS: Dict[str, str] = {
    "trade": _streams.TRADE,
    "aggTrade": _streams.AGG_TRADE,
    "24hrTicker": _streams.TICKER,
    "24hrMiniTicker": _streams.MINI_TICKER,
    "kline": _streams.KLINE,
    "depthUpdate": _streams.DEPTH,
}

EVENT_TYPE_KINDS: Dict[type, str] = {
    Trade: _streams.TRADE,
    AggTrade: _streams.AGG_TRADE,
    Ticker: _streams.TICKER,
    MiniTicker: _streams.MINI_TICKER,
    BookTicker: _streams.BOOK_TICKER,
    Kline: _streams.KLINE,
    DepthUpdate: _streams.DEPTH,
}
"""Event class -> stream kind (for callers that route by type)."""

Route = Optional[Tuple[_ParseFn, str]]
"""Cached per stream name: ``(parser, SYMBOL)``, or None for a stream we cannot parse."""

_BAD_DATA = (KeyError, TypeError, ValueError, IndexError, InvalidOperation, AttributeError)
_MAX_ROUTES = 8192  # bound on the route cache (a hostile feed must not grow it forever)


class WireParser:
    """Parse text frames of one exchange's market-stream connection.

    Not thread-safe by itself; the one reader thread of a connection owns it.

    Args:
        exchange: the exchange name stored on every event.
    """

    __slots__ = ("exchange", "_routes")

    def __init__(self, exchange: str) -> None:
        self.exchange = exchange
        self._routes: Dict[str, Route] = {}

    def route(self, stream: str) -> Route:
        """The cached ``(parser, SYMBOL)`` for ``stream`` (None when not parseable)."""
        try:
            return self._routes[stream]
        except KeyError:
            pass
        info = _streams.try_parse(stream)
        fn = PARSERS.get(info.kind) if info is not None else None
        route: Route = (fn, info.symbol) if fn is not None and info is not None else None
        if len(self._routes) >= _MAX_ROUTES:
            self._routes.clear()
        self._routes[stream] = route
        return route

    def parse(self, text: Union[str, bytes]) -> Parsed:
        """Classify one frame; never raises."""
        try:
            msg = _loads(text) if isinstance(text, str) else _decoder.decode(text.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, StopIteration):
            return (MALFORMED, None, "invalid JSON")
        if type(msg) is not dict:
            return (UNKNOWN, None, "not a JSON object")
        stream = msg.get("stream")
        if stream is not None:
            if type(stream) is not str:
                return (MALFORMED, None, "bad combined-stream envelope")
            try:
                route = self._routes[stream]
            except KeyError:
                route = self.route(stream)
            data = msg.get("data")
            if type(data) is not dict:
                # e.g. "!miniTicker@arr" (a list): valid, but not a stream we parse
                return (MALFORMED, stream, "bad payload") if route is not None else (UNKNOWN, stream, "unsupported")
            if route is not None:
                try:
                    return (EVENT, stream, route[0](data, route[1], self.exchange))
                except _BAD_DATA:
                    return (MALFORMED, stream, "bad payload")
            if data.get("e") == "serverShutdown":
                return (SHUTDOWN, stream, data.get("E"))
            return (UNKNOWN, stream, "unknown stream")
        return self._parse_raw(msg)

    def _parse_raw(self, msg: _Data) -> Parsed:
        if "id" in msg and ("result" in msg or "code" in msg or "error" in msg):
            if "result" in msg:
                return (RESULT, None, (msg["id"], msg["result"]))
            err = msg.get("error")
            if type(err) is dict:  # the nested form live servers send: {"error":{"code","msg"},"id"}
                return (ERROR, None, (msg["id"], err.get("code"), err.get("msg")))
            return (ERROR, None, (msg["id"], msg.get("code"), msg.get("msg")))
        e = msg.get("e")
        try:
            if e is not None:
                if e == "serverShutdown":
                    return (SHUTDOWN, None, msg.get("E"))
                kind = _RAW_EVENT_KINDS.get(e)
                if kind is None:
                    return (UNKNOWN, None, "unknown event type")
                return (EVENT, None, PARSERS[kind](msg, str(msg["s"]).upper(), self.exchange))
            if "u" in msg and "b" in msg and "s" in msg:
                return (EVENT, None, _book_ticker(msg, str(msg["s"]).upper(), self.exchange))
        except _BAD_DATA:
            return (MALFORMED, None, "bad payload")
        if "code" in msg and "msg" in msg:
            # An error reply without an id (e.g. code 3 "Invalid JSON").
            return (ERROR, None, (None, msg.get("code"), msg.get("msg")))
        return (UNKNOWN, None, "unrecognised message")

    def parse_many(self, texts: Iterable[str]) -> List[Parsed]:
        """Parse several frames (convenience for tests and batch readers)."""
        return [self.parse(t) for t in texts]


def encode_request(method: str, params: Optional[Iterable[Any]], request_id: Union[int, str, None]) -> str:
    """Encode a live-control request, e.g. ``{"method":"SUBSCRIBE","params":[...],"id":1}``."""
    body: Dict[str, Any] = {"method": method}
    if params is not None:
        body["params"] = list(params)
    body["id"] = request_id
    return str(_encoder.encode(body))
