"""Futures market-stream payloads -> events (futures digest §5); value checks as :mod:`.payloads`.

Parsers have the spot signature ``fn(data, SYMBOL, exchange)``; array streams take the rows.
Unknown keys (``st``, ``ps`` ...) are ignored; NaN/infinite numbers, negative amounts and
non-int ids or times raise :class:`~.payloads.BadValue` (the frame is MALFORMED).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from ..events import (
    AggTrade,
    AssetIndex,
    BookTicker,
    CompositeIndex,
    ContinuousKline,
    ContractBracket,
    ContractInfo,
    DepthUpdate,
    Event,
    IndexComponent,
    Liquidation,
    MarkPrice,
)
from . import futures_streams as _f
from . import streams as _s
from .payloads import PARSERS as _SPOT_PARSERS
from .payloads import (
    BadValue,
    ParseFn,
    _all_mini_tickers,
    _amt,
    _bool,
    _int,
    _levels,
    _mini_ticker,
    _num,
    _opt_amt,
    _opt_int,
    _str,
    _symbol,
    _ticker,
)
from .streams import StreamInfo

__all__ = ["FUTURES_PARSERS", "FUTURES_ARRAY_PARSERS", "RAW_PARSERS", "RAW_ARRAY_STREAMS", "parser_for"]

_Data = Dict[str, Any]


def _agg_trade(d: _Data, sym: str, ex: str) -> Event:
    return AggTrade(ex, sym, _int(d["a"]), _amt(d["p"]), _amt(d["q"]), _int(d["f"]), _int(d["l"]), _int(d["T"]),
                    _bool(d["m"]), _int(d["E"]), False, _opt_amt(d.get("nq")))


def _book_ticker(d: _Data, sym: str, ex: str) -> Event:
    return BookTicker(ex, sym, _int(d["u"]), _amt(d["b"]), _amt(d["B"]), _amt(d["a"]), _amt(d["A"]),
                      _opt_int(d.get("E")), _opt_int(d.get("T")))


def _depth(d: _Data, sym: str, ex: str) -> Event:
    # futures partial depth has the diff shape (U/u/pu), not spot's lastUpdateId/bids/asks
    return DepthUpdate(ex, sym, _int(d["U"]), _int(d["u"]), _levels(d["b"]), _levels(d["a"]), _opt_int(d.get("E")),
                       _int(d["pu"]), _opt_int(d.get("T")))


def _funding(v: Any) -> Optional[Any]:
    return None if v == "" or v is None else _num(v)  # COIN-M delivery contracts: "r":""


def _mark_price(d: _Data, sym: str, ex: str) -> Event:
    return MarkPrice(ex, sym, _amt(d["p"]), _amt(d["i"]), _amt(d["P"]), _funding(d.get("r")), _int(d["T"]),
                     _int(d["E"]), _opt_amt(d.get("ap")))


def _liquidation(d: _Data, sym: str, ex: str) -> Event:
    o = d["o"]
    return Liquidation(ex, _str(o["s"]).upper(), _str(o["S"]), _str(o["o"]), _str(o["f"]), _amt(o["q"]),
                       _amt(o["p"]), _amt(o["ap"]), _str(o["X"]), _amt(o["l"]), _amt(o["z"]), _int(o["T"]),
                       _int(d["E"]))


def _continuous_kline(d: _Data, sym: str, ex: str) -> Event:
    k = d["k"]
    return ContinuousKline(ex, _str(d["ps"]).upper(), _str(d["ct"]), _str(k["i"]), _int(k["t"]), _int(k["T"]),
                           _amt(k["o"]), _amt(k["h"]), _amt(k["l"]), _amt(k["c"]), _amt(k["v"]), _bool(k["x"]),
                           _amt(k["q"]), _int(k["n"]), _int(d["E"]), _int(k["f"]), _int(k["L"]), _amt(k["V"]),
                           _amt(k["Q"]))


def _composite_index(d: _Data, sym: str, ex: str) -> Event:
    comps = tuple([IndexComponent(_str(c["b"]), _str(c["q"]), _amt(c["w"]), _amt(c["W"]), _amt(c["i"]))
                   for c in d["c"]])
    c_type = d.get("C")
    return CompositeIndex(ex, _str(d["s"]).upper(), _amt(d["p"]), None if c_type is None else _str(c_type), comps,
                          _int(d["E"]))


def _bracket(b: _Data) -> ContractBracket:
    return ContractBracket(_int(b["bs"]), _amt(b["bnf"]), _amt(b["bnc"]), _amt(b["mmr"]), _num(b["cf"]),
                           _int(b["mi"]), _int(b["ma"]))


def _contract_info(d: _Data, sym: str, ex: str) -> Event:
    bks = d.get("bks") or ()
    return ContractInfo(ex, _str(d["s"]).upper(), _str(d["ps"]).upper(), _str(d["ct"]), _int(d["dt"]),
                        _int(d["ot"]), _str(d["cs"]), tuple([_bracket(b) for b in bks]), _int(d["E"]))


def _asset_index(d: _Data, sym: str, ex: str) -> Event:
    return AssetIndex(ex, _str(d["s"]).upper(), _amt(d["i"]), _amt(d["b"]), _amt(d["a"]), _amt(d["B"]),
                      _amt(d["A"]), _amt(d["q"]), _amt(d["g"]), _amt(d["Q"]), _amt(d["G"]), _int(d["E"]))


def _rows(rows: Any) -> Any:
    if type(rows) is not list:
        raise BadValue("not an array")
    return rows


def _array(fn: ParseFn) -> ParseFn:
    def parse(rows: Any, sym: str, ex: str) -> Tuple[Event, ...]:
        return tuple([fn(d, _symbol(d), ex) for d in _rows(rows)])

    return parse


def _liquidations(rows: Any, sym: str, ex: str) -> Any:
    # "!forceOrder@arr" sends one object per liquidation (the digest); tolerate an array too
    if type(rows) is dict:
        return _liquidation(rows, "", ex)
    return tuple([_liquidation(d, "", ex) for d in _rows(rows)])


def _mark_prices(rows: Any, sym: str, ex: str) -> Any:
    # "<symbol>@markPrice": one object; COIN-M "<pair>@markPrice" and "!markPrice@arr": an array
    if type(rows) is dict:
        return _mark_price(rows, _symbol(rows), ex)
    return tuple([_mark_price(d, _symbol(d), ex) for d in _rows(rows)])


def _contract_infos(rows: Any, sym: str, ex: str) -> Any:
    if type(rows) is dict:
        return _contract_info(rows, "", ex)
    return tuple([_contract_info(d, "", ex) for d in _rows(rows)])


FUTURES_PARSERS: Dict[str, ParseFn] = {
    _s.TRADE: _SPOT_PARSERS[_s.TRADE],
    _s.AGG_TRADE: _agg_trade,
    _s.TICKER: _ticker,
    _s.MINI_TICKER: _SPOT_PARSERS[_s.MINI_TICKER],
    _s.BOOK_TICKER: _book_ticker,
    _s.KLINE: _SPOT_PARSERS[_s.KLINE],
    _s.DEPTH: _depth,
    _s.PARTIAL_DEPTH: _depth,
    _f.RPI_DEPTH: _depth,
    _f.FORCE_ORDER: _liquidation,
    _f.CONTINUOUS_KLINE: _continuous_kline,
    _f.COMPOSITE_INDEX: _composite_index,
    _f.ASSET_INDEX: _asset_index,
}
"""Futures stream kind -> ``fn(data, SYMBOL, exchange)`` (one object per frame)."""

FUTURES_ARRAY_PARSERS: Dict[str, ParseFn] = {
    _f.MARK_PRICE: _mark_prices,
    _f.ALL_MARK_PRICES: _mark_prices,
    _f.ALL_FORCE_ORDERS: _liquidations,
    _f.CONTRACT_INFO: _contract_infos,
    _f.ALL_ASSET_INDEXES: _array(_asset_index),
    _f.ALL_TICKERS: _array(_ticker),
    _f.ALL_BOOK_TICKERS: _array(_book_ticker),
    _s.ALL_MINI_TICKERS: _all_mini_tickers,
}
"""Kinds whose frames may be arrays (tuple of events); an object frame gives one event."""


def _one_or_array(fn: ParseFn) -> ParseFn:
    def parse(data: Any, sym: str, ex: str) -> Any:
        return fn(data, _symbol(data), ex) if type(data) is dict else _array(fn)(data, sym, ex)

    return parse


for _kind, _fn in ((_f.ALL_BOOK_TICKERS, _book_ticker), (_f.ALL_TICKERS, _ticker)):
    FUTURES_ARRAY_PARSERS[_kind] = _one_or_array(_fn)  # "!bookTicker" sends one object per update


def parser_for(info: StreamInfo) -> Tuple[Optional[ParseFn], bool]:
    """``(parser, may_be_array)`` of a futures stream name; ``(None, False)`` when none applies."""
    fn = FUTURES_ARRAY_PARSERS.get(info.kind)
    if fn is not None:
        return fn, True
    return FUTURES_PARSERS.get(info.kind), False


def _by_payload_symbol(fn: ParseFn) -> ParseFn:
    def parse(d: Any, sym: str, ex: str) -> Any:
        return fn(d, _symbol(d), ex)

    return parse


RAW_PARSERS: Dict[str, ParseFn] = {
    "trade": _by_payload_symbol(_SPOT_PARSERS[_s.TRADE]),
    "aggTrade": _by_payload_symbol(_agg_trade),
    "markPriceUpdate": _by_payload_symbol(_mark_price),
    "kline": _by_payload_symbol(_SPOT_PARSERS[_s.KLINE]),
    "continuous_kline": _continuous_kline,
    "24hrMiniTicker": _by_payload_symbol(_mini_ticker),
    "24hrTicker": _by_payload_symbol(_ticker),
    "bookTicker": _by_payload_symbol(_book_ticker),
    "forceOrder": _liquidation,
    "depthUpdate": _by_payload_symbol(_depth),
    "compositeIndex": _composite_index,
    "contractInfo": _contract_info,
    "assetIndexUpdate": _asset_index,
}
"""Event type (``e``) of a raw (``/ws``) futures payload -> parser (symbol from the payload)."""

RAW_ARRAY_STREAMS: Dict[str, Tuple[str, ParseFn]] = {
    "markPriceUpdate": ("!markPrice@arr", _mark_prices),
    "24hrTicker": ("!ticker@arr", _array(_ticker)),
    "24hrMiniTicker": ("!miniTicker@arr", _all_mini_tickers),
    "assetIndexUpdate": ("!assetIndex@arr", _array(_asset_index)),
}
"""Event type of the first element of a raw futures array -> ``(stream name, array parser)``."""
