"""REST history rows -> the stream's event types, for backfilled gaps (sans-I/O).

REST rows lack some stream fields; the backfilled event fills them as follows (all
``is_backfilled=True``):

* ``Trade`` from ``historicalTrades`` (``id``, ``price``, ``qty``, ``time``, ``isBuyerMaker``):
  ``event_time`` is the trade time.
* ``AggTrade`` from ``aggTrades`` (``a``, ``p``, ``q``, ``f``, ``l``, ``T``, ``m``): ``event_time``
  is the trade time.
* ``Kline`` from ``klines`` rows (positional): ``is_closed=True``, ``event_time`` is the close
  time, ``first_trade_id``/``last_trade_id`` are None (REST does not give them).

:func:`trim` keeps the rows of a page inside the missing range (a page may run past it into
events the live stream already delivered: those are never delivered twice).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, List, Mapping, Optional, Sequence

from ..events import AggTrade, Kline, Trade

__all__ = ["trade_from_rest", "agg_trade_from_rest", "kline_from_rest", "PAGE_LIMIT"]

PAGE_LIMIT = 1000
"""Rows per REST page (the documented maximum of historicalTrades, aggTrades and klines)."""


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def trade_from_rest(exchange: str, symbol: str, row: Mapping[str, Any]) -> Trade:
    t = int(row["time"])
    return Trade(exchange, symbol, int(row["id"]), _dec(row["price"]), _dec(row["qty"]), t,
                 bool(row["isBuyerMaker"]), t, True)


def agg_trade_from_rest(exchange: str, symbol: str, row: Mapping[str, Any]) -> AggTrade:
    t = int(row["T"])
    return AggTrade(exchange, symbol, int(row["a"]), _dec(row["p"]), _dec(row["q"]), int(row["f"]),
                    int(row["l"]), t, bool(row["m"]), t, True)


def kline_from_rest(exchange: str, symbol: str, interval: str, timezone: Optional[str],
                    row: Sequence[Any]) -> Kline:
    close_time = int(row[6])
    return Kline(exchange, symbol, interval, int(row[0]), close_time, _dec(row[1]), _dec(row[2]), _dec(row[3]),
                 _dec(row[4]), _dec(row[5]), True, quote_volume=_dec(row[7]), trade_count=int(row[8]),
                 event_time=close_time, taker_buy_base_volume=_dec(row[9]), taker_buy_quote_volume=_dec(row[10]),
                 timezone=timezone, is_backfilled=True)


def trim(rows: Sequence[Any], key: Callable[[Any], int], first: int, last: int) -> List[Any]:
    """The rows whose key lies in ``first..last``, sorted by key, without repeats."""
    out: List[Any] = []
    seen = first - 1
    for row in sorted(rows, key=key):
        k = key(row)
        if seen < k <= last:
            out.append(row)
            seen = k
    return out
