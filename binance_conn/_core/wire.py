"""Market-stream frames -> typed events and control replies (reference §9).

This is the hot path: one :class:`WireParser` per connection turns each text
frame into a classified tuple ``(tag, stream, value)``:

==========  ===================  =====================================================
tag         stream               value
==========  ===================  =====================================================
EVENT       stream name or None  the :mod:`binance_conn.events` object
EVENTS      stream name          a tuple of events: one frame of an all-market array
                                 stream (``!miniTicker@arr``, ``!ticker_1h@arr``)
RESULT      None                 ``(id, result)`` of a ``{"result":..,"id":..}`` reply
ERROR       None                 ``(id, code, msg)`` of a ``{"code":..,"msg":..}`` reply
SHUTDOWN    stream name or None  event time (int ms) of ``serverShutdown``, or None
UNKNOWN     stream name or None  a short reason (valid JSON we do not understand)
MALFORMED   stream name or None  a short reason (bad JSON, missing/bad fields, or
                                 "bad value": NaN/negative amount, non-int id...)
==========  ===================  =====================================================

Nothing raises for bad input: the reader counts UNKNOWN/MALFORMED and goes on.  A
frame is all or nothing: one bad element of an array frame makes it MALFORMED.
The payload parsers and their value checks live in :mod:`.payloads`.

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

from . import futures_payloads as _fpayloads
from . import futures_streams as _fstreams
from . import streams as _streams
from .payloads import (
    EVENT_TYPE_KINDS,
    PARSERS,
    RAW_ARRAY_STREAMS,
    RAW_EVENT_KINDS,
    BadValue,
    ParseFn,
    parser_for,
)

__all__ = [
    "EVENT",
    "EVENTS",
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
EVENTS = "events"
RESULT = "result"
ERROR = "error"
SHUTDOWN = "shutdown"
UNKNOWN = "unknown"
MALFORMED = "malformed"

Parsed = Tuple[str, Optional[str], Any]
"""``(tag, stream, value)``; see the module table."""

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
Route = Optional[Tuple[ParseFn, str, bool]]
"""Cached per stream name: ``(parser, SYMBOL, is_array)``, or None for a stream we cannot parse."""

_BAD_DATA = (KeyError, TypeError, ValueError, IndexError, InvalidOperation, AttributeError)
_book_ticker = PARSERS[_streams.BOOK_TICKER]
_MAX_ROUTES = 8192  # bound on the route cache (a hostile feed must not grow it forever)


class WireParser:
    """Parse text frames of one exchange's market-stream connection.

    Not thread-safe by itself; the one reader thread of a connection owns it.

    Args:
        exchange: the exchange name stored on every event.
        product: ``"spot"`` (default), ``"usdm"`` or ``"coinm"``: the same stream name
            parses by product where the shapes differ (futures depth carries ``pu``...).
    """

    __slots__ = ("exchange", "product", "_routes")

    def __init__(self, exchange: str, product: str = "spot") -> None:
        self.exchange = exchange
        self.product = product
        self._routes: Dict[str, Route] = {}

    def route(self, stream: str) -> Route:
        """The cached ``(parser, SYMBOL)`` for ``stream`` (None when not parseable)."""
        try:
            return self._routes[stream]
        except KeyError:
            pass
        futures = self.product != "spot"
        info = _fstreams.try_parse(stream, self.product) if futures else _streams.try_parse(stream)
        route: Route = None
        if info is not None:
            fn, multi = _fpayloads.parser_for(info) if futures else parser_for(info)
            if fn is not None:
                route = (fn, info.symbol, multi)
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
            return self._parse_raw_array(msg) if type(msg) is list else (UNKNOWN, None, "not a JSON object")
        stream = msg.get("stream")
        if stream is not None:
            if type(stream) is not str:
                return (MALFORMED, None, "bad combined-stream envelope")
            try:
                route = self._routes[stream]
            except KeyError:
                route = self.route(stream)
            data = msg.get("data")
            if route is not None:
                kind = type(data)
                if kind is dict:
                    try:
                        return (EVENT, stream, route[0](data, route[1], self.exchange))
                    except BadValue:
                        return (MALFORMED, stream, "bad value")
                    except _BAD_DATA:
                        return (MALFORMED, stream, "bad payload")
                if kind is list and route[2]:
                    try:
                        return (EVENTS, stream, route[0](data, "", self.exchange))
                    except BadValue:
                        return (MALFORMED, stream, "bad value")
                    except _BAD_DATA:
                        return (MALFORMED, stream, "bad payload")
                return (MALFORMED, stream, "bad payload")
            if type(data) is dict and data.get("e") == "serverShutdown":
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
                if self.product != "spot":
                    fn = _fpayloads.RAW_PARSERS.get(e)
                    if fn is None:
                        return (UNKNOWN, None, "unknown event type")
                    return (EVENT, None, fn(msg, "", self.exchange))
                kind = RAW_EVENT_KINDS.get(e)
                if kind is None:
                    return (UNKNOWN, None, "unknown event type")
                return (EVENT, None, PARSERS[kind](msg, str(msg["s"]).upper(), self.exchange))
            if "u" in msg and "b" in msg and "s" in msg:
                return (EVENT, None, _book_ticker(msg, str(msg["s"]).upper(), self.exchange))
        except BadValue:
            return (MALFORMED, None, "bad value")
        except _BAD_DATA:
            return (MALFORMED, None, "bad payload")
        if "code" in msg and "msg" in msg:
            # An error reply without an id (e.g. code 3 "Invalid JSON").
            return (ERROR, None, (None, msg.get("code"), msg.get("msg")))
        return (UNKNOWN, None, "unrecognised message")

    def _parse_raw_array(self, rows: List[Any]) -> Parsed:
        """A raw (``/ws``) all-market array: the first element's event type names the stream."""
        first = rows[0] if rows else None
        table = RAW_ARRAY_STREAMS if self.product == "spot" else _fpayloads.RAW_ARRAY_STREAMS
        found = table.get(str(first.get("e"))) if type(first) is dict else None
        if found is None:
            return (UNKNOWN, None, "not a JSON object")
        stream, fn = found
        try:
            return (EVENTS, stream, fn(rows, "", self.exchange))
        except BadValue:
            return (MALFORMED, stream, "bad value")
        except _BAD_DATA:
            return (MALFORMED, stream, "bad payload")

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
