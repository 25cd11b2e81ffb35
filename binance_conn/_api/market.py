"""Typed general and market-data methods (see :mod:`binance_conn._api`).

One method per entry of :mod:`binance_conn._core.spec_market`; the same method serves
``conn.rest`` (HTTP) and ``conn.ws_api`` (WebSocket API method of the same entry).
Python-named keyword arguments map to the Binance names (``start_time`` ->
``startTime``, ``from_id`` -> ``fromId``, ``time_zone`` -> ``timeZone``,
``window_size`` -> ``windowSize``, ``symbol_status`` -> ``symbolStatus``), ``symbols``
is a list (sent as the JSON array Binance expects), and ``**extra`` passes any other
parameter by its Binance name.  Answers keep Binance's JSON shape with prices and
quantities as ``Decimal``.  Bad input raises :class:`ValidationError` naming the
field, before anything is sent.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Union

from .._core.endpoints import Endpoint
from .._core.params import decimal_or_text as _dec
from .._core.params import decimalize, decimalize_depth
from .._core.spec_market import ENDPOINTS
from .._core.streams import validate_interval
from ..errors import ValidationError, error_from_ws_api
from .base import JSON, ApiBase, params_of

__all__ = ["MarketDataApi", "KLINE_DECIMAL_POSITIONS"]

_EP: Dict[str, Endpoint] = {ep.name: ep for ep in ENDPOINTS}

KLINE_DECIMAL_POSITIONS: FrozenSet[int] = frozenset({1, 2, 3, 4, 5, 7, 9, 10})
"""Kline row positions turned into Decimal: open, high, low, close, volume, quote volume,
taker buy base volume, taker buy quote volume.  Times (0, 6), the trade count (8) and the
unused last field (11) stay as sent."""

_AGG_DECIMAL_KEYS = ("p", "q")
_RULE_DECIMAL_KEYS = ("bidLimitMultUp", "bidLimitMultDown", "askLimitMultUp", "askLimitMultDown")
_TICKER_TYPES = ("FULL", "MINI")
_SYMBOL_STATUSES = ("TRADING", "HALT", "BREAK")
_WINDOW = re.compile(r"^(?:([1-9]|[1-5][0-9])m|([1-9]|1[0-9]|2[0-3])h|([1-7])d)$")
_TIME_ZONE = re.compile(r"^([+-]?)(\d{1,2})(?::(\d{2}))?$")
_MAX_SYMBOLS = 100  # rolling window and trading-day tickers


def _check_limit(value: Optional[int], maximum: Optional[int]) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("limit", value, "must be an int")
    if value < 1 or (maximum is not None and value > maximum):
        raise ValidationError("limit", value, f"must be 1..{maximum}" if maximum else "must be >= 1")
    return value


def _check_int(field: str, value: Optional[int]) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(field, value, "must be an int >= 0")
    return value


def _symbol_list(symbols: Optional[Iterable[str]], maximum: Optional[int] = None) -> Optional[List[str]]:
    """``symbols`` as the upper-cased list sent as a JSON array (REST: its text; WS API: the array)."""
    if symbols is None:
        return None
    if isinstance(symbols, (str, bytes)) or not isinstance(symbols, (list, tuple)):
        raise ValidationError("symbols", symbols, "a list of symbol names, e.g. ['BTCUSDT', 'BNBUSDT']")
    if not symbols:
        raise ValidationError("symbols", symbols, "must name at least one symbol")
    if maximum is not None and len(symbols) > maximum:
        raise ValidationError("symbols", symbols, f"at most {maximum} symbols")
    out = []
    for s in symbols:
        if not isinstance(s, str) or not s:
            raise ValidationError("symbols", symbols, "every symbol must be a non-empty str")
        out.append(s.upper())
    return out


def _one_of(symbol: Optional[str], symbols: Optional[Sequence[str]], *, required: bool = False) -> None:
    if symbol is not None and symbols is not None:
        raise ValidationError("symbols", symbols, "symbol and symbols cannot be used together")
    if required and symbol is None and symbols is None:
        raise ValidationError("symbol", None, "give symbol or symbols")


def _check_choice(field: str, value: Optional[str], choices: Sequence[str]) -> Optional[str]:
    if value is None:
        return None
    text = str.__str__(value) if isinstance(value, str) else value
    if text not in choices:
        raise ValidationError(field, value, "one of " + ", ".join(choices))
    return text


def _check_window(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or not _WINDOW.match(value):
        raise ValidationError("window_size", value, "1m..59m, 1h..23h or 1d..7d (units cannot be combined)")
    return value


def _check_time_zone(value: Union[str, int, None]) -> Optional[str]:
    """``timeZone``: hours (``8``, ``-1``) or hours and minutes (``05:45``, ``-1:00``) in [-12:00, +14:00]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValidationError("time_zone", value, "hours ('8', '-1') or hours:minutes ('05:45', '-1:00')")
    text = str(value)
    m = _TIME_ZONE.match(text)
    if m is None:
        raise ValidationError("time_zone", value, "hours ('8', '-1') or hours:minutes ('05:45', '-1:00')")
    minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
    if int(m.group(3) or 0) >= 60 or (m.group(1) == "-" and minutes > 12 * 60) or minutes > 14 * 60:
        raise ValidationError("time_zone", value, "within [-12:00, +14:00]")
    return text


def _kline_rows(rows: Any) -> Any:
    """Positional kline rows: Decimal at :data:`KLINE_DECIMAL_POSITIONS`, the list shape kept."""
    if isinstance(rows, list):
        for i, row in enumerate(rows):
            if isinstance(row, list):
                rows[i] = [_dec(v) if n in KLINE_DECIMAL_POSITIONS else v for n, v in enumerate(row)]
    return rows


def _keys_to_decimal(items: Any, keys: Sequence[str]) -> Any:
    for item in items if isinstance(items, list) else (items,):
        if isinstance(item, dict):
            for k in keys:
                if k in item:
                    item[k] = _dec(item[k])
    return items


def _raise_embedded_error(data: Any) -> None:
    """``{"code": -2043, "msg": ...}`` given as an answer (web-socket-api.md shows it as a
    status-200 ``result`` of ``referencePrice``): raise it as the error it is."""
    if isinstance(data, dict) and "code" in data and "msg" in data and "symbol" not in data:
        raise error_from_ws_api(None, data)


class MarketDataApi(ApiBase):
    """General and market-data endpoints; each method names its endpoint, weight and
    WebSocket API method.  All are security type NONE (no API key needed)."""

    # ---------------------------------------------------------------- general

    def ping(self, *, timeout: Any = None, **extra: Any) -> None:
        """``GET /api/v3/ping`` / ``ping`` (weight 1): raises if the API is unreachable."""
        self._call(_EP["ping"], params_of(**extra), timeout=timeout)

    def server_time(self, *, timeout: Any = None, **extra: Any) -> int:
        """``GET /api/v3/time`` / ``time`` (weight 1): the server's time in epoch ms."""
        return int(self._call(_EP["server_time"], params_of(**extra), timeout=timeout)["serverTime"])

    def exchange_info(self, symbol: Optional[str] = None, *, symbols: Optional[Sequence[str]] = None,
                      permissions: Union[str, Sequence[str], None] = None,
                      show_permission_sets: Optional[bool] = None, symbol_status: Optional[str] = None,
                      timeout: Any = None, **extra: Any) -> JSON:
        """``GET /api/v3/exchangeInfo`` / ``exchangeInfo`` (weight 20).

        Over REST the answer is cached for ``rest.exchange_info_ttl`` s and seeds the
        shared weight limiter from ``rateLimits`` (unless the config pins
        ``rate_limit.weight_limit``); the caller gets its own copy.  Filter values stay
        strings, as sent (use ``symbol_filters`` for Decimal rules).  ``symbol``,
        ``symbols``, ``permissions`` and ``symbol_status`` exclude each other.
        """
        _one_of(symbol, symbols)
        given = [(n, v) for n, v in (("symbol", symbol), ("symbols", symbols), ("permissions", permissions),
                                     ("symbol_status", symbol_status)) if v is not None]
        if len(given) > 1:
            raise ValidationError(given[1][0], given[1][1], f"cannot be combined with {given[0][0]}")
        perms: Any = permissions
        if permissions is not None and not isinstance(permissions, str):
            perms = [str(p) for p in permissions]
        params = params_of(symbol=symbol, symbols=_symbol_list(symbols), permissions=perms,
                           showPermissionSets=show_permission_sets,
                           symbolStatus=_check_choice("symbol_status", symbol_status, _SYMBOL_STATUSES), **extra)
        return self._exchange_info_request(params, timeout)

    def _exchange_info_request(self, params: Dict[str, Any], timeout: Any) -> JSON:
        """The exchangeInfo call itself; the REST client overrides it with its cache."""
        return self._call(_EP["exchange_info"], params, timeout=timeout)

    def execution_rules(self, symbol: Optional[str] = None, *, symbols: Optional[Sequence[str]] = None,
                        symbol_status: Optional[str] = None, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /api/v3/executionRules`` / ``executionRules`` (weight: symbol 2, symbols 2 each up to
        40, symbol_status or none 40).  Parameters exclude each other; the rules' multipliers
        are Decimal."""
        _one_of(symbol, symbols)
        if symbol_status is not None and (symbol is not None or symbols is not None):
            raise ValidationError("symbol_status", symbol_status, "cannot be combined with symbol or symbols")
        params = params_of(symbol=symbol, symbols=_symbol_list(symbols),
                           symbolStatus=_check_choice("symbol_status", symbol_status, _SYMBOL_STATUSES), **extra)
        data = self._call(_EP["execution_rules"], params, timeout=timeout)
        for entry in data.get("symbolRules", ()) if isinstance(data, dict) else ():
            if isinstance(entry, dict):
                _keys_to_decimal(entry.get("rules"), _RULE_DECIMAL_KEYS)
        return data

    # ---------------------------------------------------------------- order book and trades

    def depth(self, symbol: str, limit: Optional[int] = 100, *, symbol_status: Optional[str] = None,
              timeout: Any = None, **extra: Any) -> JSON:
        """``GET /api/v3/depth`` / ``depth`` (weight by limit: <=100 5, <=500 25, <=1000 50, more 250):
        ``{"lastUpdateId", "bids", "asks"}`` with ``[price, qty]`` Decimal levels.  Binance returns at
        most 5000 levels (a larger limit is accepted and capped)."""
        params = params_of(symbol=symbol, limit=_check_limit(limit, None),
                           symbolStatus=_check_choice("symbol_status", symbol_status, _SYMBOL_STATUSES), **extra)
        return decimalize_depth(self._call(_EP["depth"], params, timeout=timeout))

    def trades(self, symbol: str, *, limit: Optional[int] = None, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /api/v3/trades`` / ``trades.recent`` (weight 25): recent trades (limit <= 1000)."""
        params = params_of(symbol=symbol, limit=_check_limit(limit, 1000), **extra)
        return decimalize(self._call(_EP["trades"], params, timeout=timeout))  # type: ignore[no-any-return]

    def historical_trades(self, symbol: str, *, from_id: Optional[int] = None, limit: Optional[int] = None,
                          timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /api/v3/historicalTrades`` / ``trades.historical`` (weight 25): older trades from
        trade id ``from_id`` (default: the most recent).  Security NONE since Binance dropped the
        API-key requirement."""
        params = params_of(symbol=symbol, limit=_check_limit(limit, 1000), fromId=_check_int("from_id", from_id),
                           **extra)
        return decimalize(self._call(_EP["historical_trades"], params, timeout=timeout))  # type: ignore[no-any-return]

    def historical_block_trades(self, symbol: str, from_id: int, *, limit: Optional[int] = None,
                                timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /api/v3/historicalBlockTrades`` / ``blockTrades.historical`` (weight 25): block trades
        from block trade id ``from_id`` (mandatory)."""
        if from_id is None:
            raise ValidationError("from_id", None, "mandatory: the block trade id to fetch from")
        params = params_of(symbol=symbol, fromId=_check_int("from_id", from_id), limit=_check_limit(limit, 1000),
                           **extra)
        data = self._call(_EP["historical_block_trades"], params, timeout=timeout)
        return decimalize(data)  # type: ignore[no-any-return]

    def agg_trades(self, symbol: str, *, from_id: Optional[int] = None, start_time: Optional[int] = None,
                   end_time: Optional[int] = None, limit: Optional[int] = None, timeout: Any = None,
                   **extra: Any) -> List[JSON]:
        """``GET /api/v3/aggTrades`` / ``trades.aggregate`` (weight 4): aggregate trades with Binance's
        short keys (``a``, ``p``, ``q``, ``f``, ``l``, ``T``, ``m``, ``M``); ``p`` and ``q`` Decimal.
        ``from_id`` cannot be combined with ``start_time``/``end_time``."""
        if from_id is not None and (start_time is not None or end_time is not None):
            raise ValidationError("from_id", from_id, "cannot be combined with start_time or end_time")
        params = params_of(symbol=symbol, fromId=_check_int("from_id", from_id),
                           startTime=_check_int("start_time", start_time), endTime=_check_int("end_time", end_time),
                           limit=_check_limit(limit, 1000), **extra)
        return _keys_to_decimal(self._call(_EP["agg_trades"], params, timeout=timeout),  # type: ignore[no-any-return]
                                _AGG_DECIMAL_KEYS)

    # ---------------------------------------------------------------- klines

    def _klines(self, name: str, symbol: str, interval: str, start_time: Optional[int], end_time: Optional[int],
                time_zone: Union[str, int, None], limit: Optional[int], timeout: Any,
                extra: Dict[str, Any]) -> List[List[Any]]:
        params = params_of(symbol=symbol, interval=validate_interval(interval),
                           startTime=_check_int("start_time", start_time), endTime=_check_int("end_time", end_time),
                           timeZone=_check_time_zone(time_zone), limit=_check_limit(limit, 1000), **extra)
        return _kline_rows(self._call(_EP[name], params, timeout=timeout))  # type: ignore[no-any-return]

    def klines(self, symbol: str, interval: str, *, start_time: Optional[int] = None, end_time: Optional[int] = None,
               time_zone: Union[str, int, None] = None, limit: Optional[int] = None, timeout: Any = None,
               **extra: Any) -> List[List[Any]]:
        """``GET /api/v3/klines`` / ``klines`` (weight 2).

        Rows keep Binance's positional list shape ``[open time, open, high, low, close, volume,
        close time, quote volume, trades, taker buy base volume, taker buy quote volume, "0"]``
        with the prices and volumes Decimal (:data:`KLINE_DECIMAL_POSITIONS`).  ``interval`` is
        case-sensitive (``1m`` minute, ``1M`` month); ``limit`` <= 1000.
        """
        return self._klines("klines", symbol, interval, start_time, end_time, time_zone, limit, timeout, extra)

    def ui_klines(self, symbol: str, interval: str, *, start_time: Optional[int] = None,
                  end_time: Optional[int] = None, time_zone: Union[str, int, None] = None,
                  limit: Optional[int] = None, timeout: Any = None, **extra: Any) -> List[List[Any]]:
        """``GET /api/v3/uiKlines`` / ``uiKlines`` (weight 2): klines optimised for charts, same rows
        as :meth:`klines`."""
        return self._klines("ui_klines", symbol, interval, start_time, end_time, time_zone, limit, timeout, extra)

    def avg_price(self, symbol: str, *, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /api/v3/avgPrice`` / ``avgPrice`` (weight 2): ``{"mins", "price" (Decimal), "closeTime"}``."""
        data = self._call(_EP["avg_price"], params_of(symbol=symbol, **extra), timeout=timeout)
        return decimalize(data)

    # ---------------------------------------------------------------- tickers

    def ticker_24hr(self, symbol: Optional[str] = None, symbols: Optional[Sequence[str]] = None,
                    type: Optional[str] = None, *, symbol_status: Optional[str] = None,  # noqa: A002
                    timeout: Any = None, **extra: Any) -> JSON:
        """``GET /api/v3/ticker/24hr`` / ``ticker.24hr`` (weight: symbol 2; symbols 1-20 2, 21-100 40,
        more 80; all 80).  One dict for ``symbol``, else a list; ``type`` FULL (default) or MINI."""
        _one_of(symbol, symbols)
        params = params_of(symbol=symbol, symbols=_symbol_list(symbols),
                           type=_check_choice("type", type, _TICKER_TYPES),
                           symbolStatus=_check_choice("symbol_status", symbol_status, _SYMBOL_STATUSES), **extra)
        return decimalize(self._call(_EP["ticker_24hr"], params, timeout=timeout))

    def trading_day_ticker(self, symbol: Optional[str] = None, symbols: Optional[Sequence[str]] = None, *,
                           time_zone: Union[str, int, None] = None, type: Optional[str] = None,  # noqa: A002
                           symbol_status: Optional[str] = None, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /api/v3/ticker/tradingDay`` / ``ticker.tradingDay`` (weight 4 per symbol, 200 above 50):
        statistics of the trading day.  ``symbol`` or ``symbols`` (at most 100) is mandatory."""
        _one_of(symbol, symbols, required=True)
        params = params_of(symbol=symbol, symbols=_symbol_list(symbols, _MAX_SYMBOLS),
                           timeZone=_check_time_zone(time_zone), type=_check_choice("type", type, _TICKER_TYPES),
                           symbolStatus=_check_choice("symbol_status", symbol_status, _SYMBOL_STATUSES), **extra)
        return decimalize(self._call(_EP["trading_day_ticker"], params, timeout=timeout))

    def ticker_price(self, symbol: str, *, timeout: Any = None, **extra: Any) -> Decimal:
        """``GET /api/v3/ticker/price`` / ``ticker.price`` (weight 2): the last price as a Decimal."""
        if not isinstance(symbol, str) or not symbol:
            raise ValidationError("symbol", symbol, "a symbol name (ticker_prices() for many or all)")
        data = self._call(_EP["ticker_price"], params_of(symbol=symbol, **extra), timeout=timeout)
        return Decimal(str(data["price"]))

    def ticker_prices(self, symbols: Optional[Sequence[str]] = None, *, symbol_status: Optional[str] = None,
                      timeout: Any = None, **extra: Any) -> Dict[str, Decimal]:
        """``GET /api/v3/ticker/price`` / ``ticker.price`` with ``symbols`` or for every symbol
        (weight 4): ``{"BTCUSDT": Decimal(...), ...}``."""
        params = params_of(symbols=_symbol_list(symbols),
                           symbolStatus=_check_choice("symbol_status", symbol_status, _SYMBOL_STATUSES), **extra)
        data = self._call(_EP["ticker_price"], params, timeout=timeout)
        rows = data if isinstance(data, list) else [data]
        return {str(r["symbol"]): Decimal(str(r["price"])) for r in rows}

    def book_ticker(self, symbol: Optional[str] = None, symbols: Optional[Sequence[str]] = None, *,
                    symbol_status: Optional[str] = None, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /api/v3/ticker/bookTicker`` / ``ticker.book`` (weight: symbol 2, otherwise 4): best
        bid/ask price and quantity (Decimal); one dict for ``symbol``, else a list."""
        _one_of(symbol, symbols)
        params = params_of(symbol=symbol, symbols=_symbol_list(symbols),
                           symbolStatus=_check_choice("symbol_status", symbol_status, _SYMBOL_STATUSES), **extra)
        return decimalize(self._call(_EP["book_ticker"], params, timeout=timeout))

    def rolling_ticker(self, symbol: Optional[str] = None, symbols: Optional[Sequence[str]] = None, *,
                       window_size: Optional[str] = None, type: Optional[str] = None,  # noqa: A002
                       symbol_status: Optional[str] = None, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /api/v3/ticker`` / ``ticker`` (weight 4 per symbol, 200 above 50): statistics over
        ``window_size`` (``1m``..``59m``, ``1h``..``23h``, ``1d``..``7d``; default ``1d``).
        ``symbol`` or ``symbols`` (at most 100) is mandatory."""
        _one_of(symbol, symbols, required=True)
        params = params_of(symbol=symbol, symbols=_symbol_list(symbols, _MAX_SYMBOLS),
                           windowSize=_check_window(window_size), type=_check_choice("type", type, _TICKER_TYPES),
                           symbolStatus=_check_choice("symbol_status", symbol_status, _SYMBOL_STATUSES), **extra)
        return decimalize(self._call(_EP["rolling_ticker"], params, timeout=timeout))

    # ---------------------------------------------------------------- reference price

    def reference_price(self, symbol: str, *, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /api/v3/referencePrice`` / ``referencePrice`` (weight 2): ``{"symbol",
        "referencePrice" (Decimal, or None when none is set), "timestamp"}``.  A symbol that never
        had a reference price raises :class:`APIError` with ``binance_code`` -2043."""
        data = self._call(_EP["reference_price"], params_of(symbol=symbol, **extra), timeout=timeout)
        _raise_embedded_error(data)
        return _keys_to_decimal(data, ("referencePrice",))

    def reference_price_calculation(self, symbol: str, *, symbol_status: Optional[str] = None,
                                    timeout: Any = None, **extra: Any) -> JSON:
        """``GET /api/v3/referencePrice/calculation`` / ``referencePrice.calculation`` (weight 2): how
        the reference price is computed (``calculationType`` ``ARITHMETIC_MEAN`` or ``EXTERNAL``).
        No reference price: :class:`APIError` with ``binance_code`` -2043."""
        params = params_of(symbol=symbol,
                           symbolStatus=_check_choice("symbol_status", symbol_status, _SYMBOL_STATUSES), **extra)
        data = self._call(_EP["reference_price_calculation"], params, timeout=timeout)
        _raise_embedded_error(data)
        return data
