"""Market-stream payloads -> typed events, checking what the event types promise.

One parser per stream kind of the spot docs (``web-socket-streams.md``), each
``fn(data, SYMBOL, exchange) -> Event``; the all-market array streams
(``!miniTicker@arr``, ``!ticker_<window>@arr``) have array parsers
``fn(rows, "", exchange) -> tuple of events`` (one per element, symbol from each
element).  :func:`parser_for` picks (and binds) the parser of a parsed stream name.

Value checks (the promise of :mod:`binance_conn.events`): a price, quantity or
volume is a finite, non-negative :class:`~decimal.Decimal` (a price change or a
percentage may be negative, never NaN or infinite); an id, time or count is an
``int`` (not a bool, a float or a string); a flag is a ``bool``.  A value that
breaks its promise raises :class:`BadValue` (a ``ValueError``): the reader counts the
frame as MALFORMED and delivers nothing of it.  Ids are not sign-checked: Binance
uses ``-1`` for "no trade" (``f``/``L`` of an empty kline, ``F``/``L`` of a ticker).

Speed: the checks run on the values already built (``Decimal.is_signed()`` and
``is_finite()``, ``type(x) is int``), inline in the real-time parsers (trades, book
ticker, depth) and through small helpers in the once-a-second ones; no per-field
``try``, nothing formatted for a good frame.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

from ..events import (
    AggTrade,
    AvgPrice,
    BlockTrade,
    BookTicker,
    DepthUpdate,
    Event,
    Kline,
    MiniTicker,
    PriceLevel,
    ReferencePrice,
    RollingWindowTicker,
    Ticker,
    Trade,
)
from . import streams as _streams
from .streams import StreamInfo

__all__ = [
    "BadValue",
    "PARSERS",
    "ARRAY_PARSERS",
    "RAW_EVENT_KINDS",
    "RAW_ARRAY_STREAMS",
    "EVENT_TYPE_KINDS",
    "parser_for",
]

_D = Decimal
_Data = Dict[str, Any]
ParseFn = Callable[[Any, str, str], Any]
"""``fn(data, SYMBOL, exchange)`` -> an event (array parsers: a tuple of events)."""


class BadValue(ValueError):
    """A field of the right shape holds a value its event type does not allow."""


# ---------------------------------------------------------------------------- value checks (helpers)
def _amt(v: Any) -> Decimal:
    """A finite, non-negative amount (price, quantity, volume)."""
    x = _D(v)
    if x.is_signed() or not x.is_finite():
        raise BadValue(v)
    return x


def _num(v: Any) -> Decimal:
    """A finite amount of either sign (price change, percentage)."""
    x = _D(v)
    if not x.is_finite():
        raise BadValue(v)
    return x


def _int(v: Any) -> int:
    if type(v) is not int:
        raise BadValue(v)
    return v


def _bool(v: Any) -> bool:
    if type(v) is not bool:
        raise BadValue(v)
    return v


def _str(v: Any) -> str:
    if type(v) is not str:
        raise BadValue(v)
    return v


def _opt_amt(v: Any) -> Optional[Decimal]:
    return None if v is None else _amt(v)


def _opt_num(v: Any) -> Optional[Decimal]:
    return None if v is None else _num(v)


def _opt_int(v: Any) -> Optional[int]:
    if v is None or type(v) is int:
        return v
    raise BadValue(v)


def _symbol(d: _Data) -> str:
    """The symbol of an element of an all-market array (no stream name tells it)."""
    return _str(d["s"]).upper()


# ---------------------------------------------------------------------------- real-time streams (inline checks)
def _levels(rows: Iterable[Any]) -> Tuple[PriceLevel, ...]:
    out = tuple([(_D(r[0]), _D(r[1])) for r in rows])
    for p, q in out:
        if p.is_signed() or q.is_signed() or not p.is_finite() or not q.is_finite():
            raise BadValue("price level")
    return out


def _trade(d: _Data, sym: str, ex: str) -> Event:
    t = d["t"]
    tt = d["T"]
    e = d["E"]
    m = d["m"]
    p = _D(d["p"])
    q = _D(d["q"])
    if (type(t) is not int or type(tt) is not int or type(e) is not int or type(m) is not bool
            or p.is_signed() or q.is_signed() or not p.is_finite() or not q.is_finite()):
        raise BadValue("trade")
    return Trade(ex, sym, t, p, q, tt, m, e)


def _block_trade(d: _Data, sym: str, ex: str) -> Event:
    t = d["t"]
    tt = d["T"]
    e = d["E"]
    m = d["m"]
    p = _D(d["p"])
    q = _D(d["q"])
    if (type(t) is not int or type(tt) is not int or type(e) is not int or type(m) is not bool
            or p.is_signed() or q.is_signed() or not p.is_finite() or not q.is_finite()):
        raise BadValue("blockTrade")
    return BlockTrade(ex, sym, t, p, q, tt, m, e)


def _agg_trade(d: _Data, sym: str, ex: str) -> Event:
    a = d["a"]
    f = d["f"]
    last = d["l"]
    tt = d["T"]
    e = d["E"]
    m = d["m"]
    p = _D(d["p"])
    q = _D(d["q"])
    if (type(a) is not int or type(f) is not int or type(last) is not int or type(tt) is not int
            or type(e) is not int or type(m) is not bool
            or p.is_signed() or q.is_signed() or not p.is_finite() or not q.is_finite()):
        raise BadValue("aggTrade")
    return AggTrade(ex, sym, a, p, q, f, last, tt, m, e)


def _book_ticker(d: _Data, sym: str, ex: str) -> Event:
    u = d["u"]
    b = _D(d["b"])
    bq = _D(d["B"])
    a = _D(d["a"])
    aq = _D(d["A"])
    if (type(u) is not int or b.is_signed() or bq.is_signed() or a.is_signed() or aq.is_signed()
            or not (b.is_finite() and bq.is_finite() and a.is_finite() and aq.is_finite())):
        raise BadValue("bookTicker")
    return BookTicker(ex, sym, u, b, bq, a, aq)


def _depth(d: _Data, sym: str, ex: str) -> Event:
    first = d["U"]
    final = d["u"]
    e = d.get("E")
    pu = d.get("pu")  # futures: the previous event's u (binance-futures-reference.md section 6)
    if (type(first) is not int or type(final) is not int or (e is not None and type(e) is not int)
            or (pu is not None and type(pu) is not int)):
        raise BadValue("depthUpdate")
    return DepthUpdate(ex, sym, first, final, _levels(d["b"]), _levels(d["a"]), e, pu)


def _partial_depth(d: _Data, sym: str, ex: str) -> Event:
    last = d["lastUpdateId"]
    if type(last) is not int:
        raise BadValue("lastUpdateId")
    return DepthUpdate(ex, sym, last, last, _levels(d["bids"]), _levels(d["asks"]), None)


def _mini_ticker(d: _Data, sym: str, ex: str) -> Event:
    # inline: !miniTicker@arr brings one per symbol every second
    e = d["E"]
    c = _D(d["c"])
    o = _D(d["o"])
    h = _D(d["h"])
    low = _D(d["l"])
    v = _D(d["v"])
    q = _D(d["q"])
    if (type(e) is not int or c.is_signed() or o.is_signed() or h.is_signed() or low.is_signed() or v.is_signed()
            or q.is_signed() or not (c.is_finite() and o.is_finite() and h.is_finite() and low.is_finite()
                                     and v.is_finite() and q.is_finite())):
        raise BadValue("miniTicker")
    return MiniTicker(ex, sym, c, o, h, low, v, q, e)


# ---------------------------------------------------------------------------- once-a-second streams (helpers)
def _ticker(d: _Data, sym: str, ex: str) -> Event:
    g = d.get
    return Ticker(
        ex,
        sym,
        _amt(d["c"]),
        _amt(d["o"]),
        _amt(d["h"]),
        _amt(d["l"]),
        _amt(d["v"]),
        _amt(d["q"]),
        _num(d["P"]),
        _int(d["E"]),
        price_change=_opt_num(g("p")),
        weighted_avg_price=_opt_amt(g("w")),
        bid_price=_opt_amt(g("b")),
        bid_qty=_opt_amt(g("B")),
        ask_price=_opt_amt(g("a")),
        ask_qty=_opt_amt(g("A")),
        trade_count=_opt_int(g("n")),
        prev_close_price=_opt_amt(g("x")),
        last_qty=_opt_amt(g("Q")),
        open_time=_opt_int(g("O")),
        close_time=_opt_int(g("C")),
        first_trade_id=_opt_int(g("F")),
        last_trade_id=_opt_int(g("L")),
    )


def _rolling(d: _Data, sym: str, ex: str, window: str) -> Event:
    return RollingWindowTicker(
        ex,
        sym,
        window,
        _num(d["p"]),
        _num(d["P"]),
        _amt(d["o"]),
        _amt(d["h"]),
        _amt(d["l"]),
        _amt(d["c"]),
        _amt(d["w"]),
        _amt(d["v"]),
        _amt(d["q"]),
        _int(d["O"]),
        _int(d["C"]),
        _int(d["F"]),
        _int(d["L"]),
        _int(d["n"]),
        _int(d["E"]),
    )


def _window_of(d: _Data) -> str:
    """``1h`` from an event type ``1hTicker`` (a raw frame has no stream name to tell the window)."""
    e = _str(d["e"])
    window = e[:-6]
    if e[-6:] != "Ticker" or window not in _streams.WINDOWS:
        raise BadValue(e)
    return window


def _rolling_any(d: _Data, sym: str, ex: str) -> Event:
    return _rolling(d, sym, ex, _window_of(d))


def _kline(d: _Data, sym: str, ex: str, timezone: Optional[str] = None) -> Event:
    k = d["k"]
    g = k.get
    return Kline(
        ex,
        sym,
        _str(k["i"]),
        _int(k["t"]),
        _int(k["T"]),
        _amt(k["o"]),
        _amt(k["h"]),
        _amt(k["l"]),
        _amt(k["c"]),
        _amt(k["v"]),
        _bool(k["x"]),
        _opt_amt(g("q")),
        _opt_int(g("n")),
        _opt_int(d.get("E")),
        _opt_int(g("f")),
        _opt_int(g("L")),
        _opt_amt(g("V")),
        _opt_amt(g("Q")),
        timezone,
    )


def _avg_price(d: _Data, sym: str, ex: str) -> Event:
    return AvgPrice(ex, sym, _str(d["i"]), _amt(d["w"]), _int(d["T"]), _int(d["E"]))


def _reference_price(d: _Data, sym: str, ex: str) -> Event:
    return ReferencePrice(ex, sym, _opt_amt(d["r"]), _int(d["t"]))


# ---------------------------------------------------------------------------- all-market arrays
def _rows(rows: Any) -> Any:
    if type(rows) is not list:
        raise BadValue("not an array")
    return rows


def _all_mini_tickers(rows: Any, sym: str, ex: str) -> Tuple[Event, ...]:
    return tuple([_mini_ticker(d, _symbol(d), ex) for d in _rows(rows)])


def _all_rolling_any(rows: Any, sym: str, ex: str) -> Tuple[Event, ...]:
    return tuple([_rolling(d, _symbol(d), ex, _window_of(d)) for d in _rows(rows)])


def _all_rolling(window: str) -> ParseFn:
    def parse(rows: Any, sym: str, ex: str) -> Tuple[Event, ...]:
        return tuple([_rolling(d, _symbol(d), ex, window) for d in _rows(rows)])

    return parse


# ---------------------------------------------------------------------------- tables
PARSERS: Dict[str, ParseFn] = {
    _streams.TRADE: _trade,
    _streams.AGG_TRADE: _agg_trade,
    _streams.TICKER: _ticker,
    _streams.MINI_TICKER: _mini_ticker,
    _streams.BOOK_TICKER: _book_ticker,
    _streams.KLINE: _kline,
    _streams.DEPTH: _depth,
    _streams.PARTIAL_DEPTH: _partial_depth,
    _streams.AVG_PRICE: _avg_price,
    _streams.REFERENCE_PRICE: _reference_price,
    _streams.BLOCK_TRADE: _block_trade,
    _streams.ROLLING_TICKER: _rolling_any,
}
"""Stream kind -> parser ``fn(data, SYMBOL, exchange) -> Event`` (a rolling ticker's window
from its event type; :func:`parser_for` binds it from the stream name instead)."""

ARRAY_PARSERS: Dict[str, ParseFn] = {
    _streams.ALL_MINI_TICKERS: _all_mini_tickers,
    _streams.ALL_ROLLING_TICKERS: _all_rolling_any,
}
"""All-market stream kind -> parser ``fn(rows, "", exchange) -> tuple of events``."""

RAW_EVENT_KINDS: Dict[str, str] = {
    "trade": _streams.TRADE,
    "aggTrade": _streams.AGG_TRADE,
    "24hrTicker": _streams.TICKER,
    "24hrMiniTicker": _streams.MINI_TICKER,
    "kline": _streams.KLINE,
    "depthUpdate": _streams.DEPTH,
    "avgPrice": _streams.AVG_PRICE,
    "referencePrice": _streams.REFERENCE_PRICE,
    "blockTrade": _streams.BLOCK_TRADE,
}
RAW_EVENT_KINDS.update({w + "Ticker": _streams.ROLLING_TICKER for w in _streams.WINDOWS})
"""Event type (``e``) of a raw (``/ws``) payload -> stream kind."""

RAW_ARRAY_STREAMS: Dict[str, Tuple[str, ParseFn]] = {
    "24hrMiniTicker": (_streams.ALL_MINI_TICKERS_STREAM, _all_mini_tickers),
}
RAW_ARRAY_STREAMS.update({w + "Ticker": (_streams.all_rolling_tickers(w), _all_rolling(w)) for w in _streams.WINDOWS})
"""Event type of the first element of a raw array payload -> ``(stream name, array parser)``."""

EVENT_TYPE_KINDS: Dict[type, str] = {
    Trade: _streams.TRADE,
    AggTrade: _streams.AGG_TRADE,
    Ticker: _streams.TICKER,
    MiniTicker: _streams.MINI_TICKER,
    BookTicker: _streams.BOOK_TICKER,
    Kline: _streams.KLINE,
    DepthUpdate: _streams.DEPTH,
    AvgPrice: _streams.AVG_PRICE,
    ReferencePrice: _streams.REFERENCE_PRICE,
    BlockTrade: _streams.BLOCK_TRADE,
    RollingWindowTicker: _streams.ROLLING_TICKER,
}
"""Event class -> stream kind (for callers that route by type)."""


def parser_for(info: StreamInfo) -> Tuple[Optional[ParseFn], bool]:
    """``(parser, is_array)`` for a parsed stream name; ``(None, False)`` when none applies.

    Parameters of the name that the payload does not carry are bound here: a kline's
    timezone offset, a rolling ticker's window."""
    kind = info.kind
    if kind == _streams.KLINE and len(info.params) > 1:
        tz = info.params[1]
        return (lambda d, sym, ex: _kline(d, sym, ex, tz)), False
    if kind == _streams.ROLLING_TICKER:
        window = info.params[0]
        return (lambda d, sym, ex: _rolling(d, sym, ex, window)), False
    if kind == _streams.ALL_ROLLING_TICKERS:
        return _all_rolling(info.params[0]), True
    fn = ARRAY_PARSERS.get(kind)
    if fn is not None:
        return fn, True
    return PARSERS.get(kind), False
