"""Endpoint table: general and market-data endpoints (see :mod:`.endpoints`).

Straight from rest-api.md "General endpoints" / "Market Data endpoints" and their
web-socket-api.md twins ("General requests" / "Market data requests").  Every one
of them is security type ``NONE`` in the docs (``historicalTrades`` /
``trades.historical`` changed from ``MARKET_DATA`` to ``NONE``; the API key is
"no longer necessary and is now ignored").  The WebSocket API weights are the
REST ones for all of these, so no ``ws_weight`` is set.

Weight rules read the Binance-named parameters (``limit`` as sent, ``symbols`` as a
list or its JSON text, see :func:`.endpoints.count_symbols`).
"""

from __future__ import annotations

from typing import Any, Mapping, Tuple

from .endpoints import NONE, Endpoint, count_symbols

__all__ = ["ENDPOINTS", "depth_weight", "ticker_24hr_weight", "single_or_many_weight", "per_symbol_weight",
           "execution_rules_weight"]


def depth_weight(p: Mapping[str, Any]) -> int:
    """``depth``: 1-100 -> 5, 101-500 -> 25, 501-1000 -> 50, 1001-5000 -> 250 (default limit 100)."""
    raw = p.get("limit")
    try:
        limit = 100 if raw is None else int(raw)
    except (TypeError, ValueError):
        limit = 100
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


def ticker_24hr_weight(p: Mapping[str, Any]) -> int:
    """``ticker/24hr``: ``symbol`` 2; ``symbols`` 1-20 -> 2, 21-100 -> 40, 101+ -> 80; neither 80."""
    n = count_symbols(p)
    if n is None:
        return 80
    if n <= 20:
        return 2
    if n <= 100:
        return 40
    return 80


def single_or_many_weight(p: Mapping[str, Any]) -> int:
    """``ticker/price`` and ``ticker/bookTicker``: ``symbol`` 2, ``symbols`` (any) or neither 4."""
    return 2 if p.get("symbol") is not None else 4


def per_symbol_weight(p: Mapping[str, Any]) -> int:
    """``ticker`` (rolling window) and ``ticker/tradingDay``: 4 per symbol, 200 once more than 50."""
    n = count_symbols(p) or 1
    return 200 if n > 50 else 4 * n


def execution_rules_weight(p: Mapping[str, Any]) -> int:
    """``executionRules``: ``symbol`` 2; ``symbols`` 2 each, at most 40; ``symbolStatus`` or none 40."""
    if p.get("symbol") is not None:
        return 2
    if p.get("symbols") is not None:
        return min(2 * (count_symbols(p) or 0), 40)
    return 40


_KLINE_PARAMS = ("symbol", "interval", "startTime", "endTime", "timeZone", "limit")

ENDPOINTS: Tuple[Endpoint, ...] = (
    # -- general endpoints
    Endpoint("ping", "GET", "/api/v3/ping", NONE, 1, "ping"),
    Endpoint("server_time", "GET", "/api/v3/time", NONE, 1, "time"),
    Endpoint("exchange_info", "GET", "/api/v3/exchangeInfo", NONE, 20, "exchangeInfo",
             ("symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus")),
    Endpoint("execution_rules", "GET", "/api/v3/executionRules", NONE, execution_rules_weight, "executionRules",
             ("symbol", "symbols", "symbolStatus")),
    # -- market data endpoints
    Endpoint("depth", "GET", "/api/v3/depth", NONE, depth_weight, "depth",
             ("symbol", "limit", "symbolStatus"), ("symbol",)),
    Endpoint("trades", "GET", "/api/v3/trades", NONE, 25, "trades.recent", ("symbol", "limit"), ("symbol",)),
    Endpoint("historical_trades", "GET", "/api/v3/historicalTrades", NONE, 25, "trades.historical",
             ("symbol", "limit", "fromId"), ("symbol",)),
    Endpoint("historical_block_trades", "GET", "/api/v3/historicalBlockTrades", NONE, 25, "blockTrades.historical",
             ("symbol", "fromId", "limit"), ("symbol", "fromId")),
    Endpoint("agg_trades", "GET", "/api/v3/aggTrades", NONE, 4, "trades.aggregate",
             ("symbol", "fromId", "startTime", "endTime", "limit"), ("symbol",)),
    Endpoint("klines", "GET", "/api/v3/klines", NONE, 2, "klines", _KLINE_PARAMS, ("symbol", "interval")),
    Endpoint("ui_klines", "GET", "/api/v3/uiKlines", NONE, 2, "uiKlines", _KLINE_PARAMS, ("symbol", "interval")),
    Endpoint("avg_price", "GET", "/api/v3/avgPrice", NONE, 2, "avgPrice", ("symbol",), ("symbol",)),
    Endpoint("ticker_24hr", "GET", "/api/v3/ticker/24hr", NONE, ticker_24hr_weight, "ticker.24hr",
             ("symbol", "symbols", "type", "symbolStatus")),
    # symbol OR symbols is mandatory (checked by the typed method), hence no ``required``
    Endpoint("trading_day_ticker", "GET", "/api/v3/ticker/tradingDay", NONE, per_symbol_weight, "ticker.tradingDay",
             ("symbol", "symbols", "timeZone", "type", "symbolStatus")),
    Endpoint("ticker_price", "GET", "/api/v3/ticker/price", NONE, single_or_many_weight, "ticker.price",
             ("symbol", "symbols", "symbolStatus")),
    Endpoint("book_ticker", "GET", "/api/v3/ticker/bookTicker", NONE, single_or_many_weight, "ticker.book",
             ("symbol", "symbols", "symbolStatus")),
    Endpoint("rolling_ticker", "GET", "/api/v3/ticker", NONE, per_symbol_weight, "ticker",
             ("symbol", "symbols", "windowSize", "type", "symbolStatus")),
    Endpoint("reference_price", "GET", "/api/v3/referencePrice", NONE, 2, "referencePrice", ("symbol",), ("symbol",)),
    Endpoint("reference_price_calculation", "GET", "/api/v3/referencePrice/calculation", NONE, 2,
             "referencePrice.calculation", ("symbol", "symbolStatus"), ("symbol",)),
)
