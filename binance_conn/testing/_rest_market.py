"""The fake's general and market-data endpoints beyond the basic ones of ``_rest.py``
(rest-api.md "General endpoints" / "Market Data endpoints"): executionRules,
historicalBlockTrades, aggTrades with ``fromId``/``startTime``/``endTime``, klines from
``startTime``, the trading-day and rolling-window tickers, reference prices; and the
WebSocket API twins of every market-data endpoint, answered by the same handlers.

Weights are written out again from the docs (the fake shares no code with the library).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from ._market import KLINE_INTERVALS, interval_end, interval_start
from ._util import JSON, BinanceFault, fmt

if TYPE_CHECKING:
    from ._fake import FakeBinance
    from ._rest import RestApp

__all__ = ["market_routes", "ws_market_route", "WS_MARKET_PATHS"]

Params = Dict[str, str]
Route = Tuple[Callable[[Params], Any], Callable[[Params], int], bool]

WS_MARKET_PATHS: Dict[str, str] = {
    "exchangeInfo": "/api/v3/exchangeInfo",
    "executionRules": "/api/v3/executionRules",
    "depth": "/api/v3/depth",
    "trades.recent": "/api/v3/trades",
    "trades.historical": "/api/v3/historicalTrades",
    "blockTrades.historical": "/api/v3/historicalBlockTrades",
    "trades.aggregate": "/api/v3/aggTrades",
    "klines": "/api/v3/klines",
    "uiKlines": "/api/v3/uiKlines",
    "avgPrice": "/api/v3/avgPrice",
    "ticker.24hr": "/api/v3/ticker/24hr",
    "ticker.tradingDay": "/api/v3/ticker/tradingDay",
    "ticker.price": "/api/v3/ticker/price",
    "ticker.book": "/api/v3/ticker/bookTicker",
    "ticker": "/api/v3/ticker",
    "referencePrice": "/api/v3/referencePrice",
    "referencePrice.calculation": "/api/v3/referencePrice/calculation",
}
"""WebSocket API method -> the REST route whose handler (and weight) answers it."""

_STATUSES = ("TRADING", "HALT", "BREAK")
_WINDOW = re.compile(r"^(?:([1-9]|[1-5][0-9])m|([1-9]|1[0-9]|2[0-3])h|([1-7])d)$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def _n_symbols(p: Params) -> Optional[int]:
    if p.get("symbol"):
        return 1
    if p.get("symbols"):
        try:
            return len(json.loads(p["symbols"]))
        except ValueError:
            return 1
    return None


def _per_symbol_weight(p: Params) -> int:
    n = _n_symbols(p) or 1
    return 200 if n > 50 else 4 * n


def _execution_rules_weight(p: Params) -> int:
    if p.get("symbol"):
        return 2
    if p.get("symbols"):
        return min(2 * (_n_symbols(p) or 0), 40)
    return 40


class _MarketEndpoints:
    """Handlers that need the basic ones of :class:`RestApp` (symbol checks, limits)."""

    def __init__(self, app: RestApp) -> None:
        self.app = app
        self.fake: FakeBinance = app.fake

    def _status(self, p: Params) -> None:
        status = p.get("symbolStatus")
        if status and status not in _STATUSES:
            raise BinanceFault(-1122, "Invalid symbolStatus.")
        if status and status != "TRADING" and p.get("symbol"):  # every fake symbol is TRADING
            raise BinanceFault(-1220, "The symbol's status does not match the requested symbolStatus.")

    def _symbols(self, p: Params, *, required: bool = False, maximum: Optional[int] = None) -> List[str]:
        self._status(p)
        if p.get("symbol") and p.get("symbols"):
            raise BinanceFault(-1128, "Combination of optional parameters invalid.")
        if required and not p.get("symbol") and not p.get("symbols"):
            raise BinanceFault(-1102, "Param 'symbol' or 'symbols' must be sent, but both were empty/null!")
        syms = self.app._sym_list(p)
        if maximum is not None and len(syms) > maximum:
            raise BinanceFault(-1101, "Too many values sent for parameter 'symbols'.")
        if p.get("symbolStatus") not in (None, "", "TRADING"):
            return []  # non-matching symbols are left out of a list answer
        return syms

    def _one(self, p: Params, out: List[JSON]) -> Any:
        return out[0] if p.get("symbol") else out

    # -- general ----------------------------------------------------------------------------------
    def execution_rules(self, p: Params) -> JSON:
        given = [k for k in ("symbol", "symbols", "symbolStatus") if p.get(k)]
        if len(given) > 1:
            raise BinanceFault(-1128, "Combination of optional parameters invalid.")
        rules = {"ruleType": "PRICE_RANGE", "bidLimitMultUp": "1.0001", "bidLimitMultDown": "0.9999",
                 "askLimitMultUp": "1.0001", "askLimitMultDown": "0.9999"}
        return {"symbolRules": [{"symbol": s, "rules": [dict(rules)]} for s in self._symbols(p)]}

    # -- trades -----------------------------------------------------------------------------------
    def block_trades(self, p: Params) -> List[JSON]:
        self.app._sym(p)
        if not p.get("fromId"):
            raise BinanceFault(-1102, "Mandatory parameter 'fromId' was not sent, was empty/null, or malformed.")
        self.app._limit(p, 500, 1000)
        return []  # the fake market has no block trades

    def agg_trades(self, p: Params) -> List[JSON]:
        m = self.fake.market
        sym = self.app._sym(p)
        limit = self.app._limit(p, 500, 1000)
        from_id = int(p["fromId"]) if p.get("fromId") else None
        start = int(p["startTime"]) if p.get("startTime") else None
        end = int(p["endTime"]) if p.get("endTime") else None
        if from_id is not None and (start is not None or end is not None):
            raise BinanceFault(-1128, "Combination of optional parameters invalid.")
        with m.lock:
            st = m.state[sym]
            if from_id is not None:
                recs = st.trades_from(from_id, limit, agg=True)
            elif start is None and end is None:
                recs = st.recent_trades(limit)
            else:
                recs = [r for r in st.trades if (start is None or r.time >= start) and (end is None or r.time <= end)]
                recs = recs[:limit] if start is not None else recs[-limit:]
        return [{"a": r.agg_id, "p": fmt(r.price), "q": fmt(r.qty), "f": r.id, "l": r.id, "T": r.time,
                 "m": r.buyer_maker, "M": True} for r in recs]

    def klines(self, p: Params) -> List[List[Any]]:
        """klines/uiKlines: from ``startTime`` forward when given, else back from ``endTime``/now."""
        if not p.get("startTime"):
            return self.app.klines(p)
        sym = self.app._sym(p)
        interval = p.get("interval") or ""
        if interval not in KLINE_INTERVALS:
            raise BinanceFault(-1120, "Invalid interval.")
        limit = self.app._limit(p, 500, 1000)
        now = self.fake.clock.now_ms()
        last = min(now, int(p["endTime"])) if p.get("endTime") else now
        t = interval_start(interval, int(p["startTime"]))
        if t < int(p["startTime"]):
            t = interval_end(interval, t) + 1
        starts: List[int] = []
        while t <= last and len(starts) < limit:
            starts.append(t)
            t = interval_end(interval, t) + 1
        if not starts:
            return []
        return self.fake.market.klines(sym, interval, len(starts), now, starts[-1])

    # -- tickers ----------------------------------------------------------------------------------
    def _stats(self, sym: str, open_time: int, mini: bool) -> JSON:
        now = self.fake.clock.now_ms()
        full = self.fake.market.ticker_24hr(sym, now, mini)
        for k in ("prevClosePrice", "lastQty", "bidPrice", "bidQty", "askPrice", "askQty"):
            full.pop(k, None)
        full["openTime"] = open_time
        return full

    @staticmethod
    def _mini(p: Params) -> bool:
        kind = p.get("type") or "FULL"
        if kind not in ("FULL", "MINI"):
            raise BinanceFault(-1139, "Invalid ticker type.")
        return kind == "MINI"

    def trading_day(self, p: Params) -> Any:
        mini = self._mini(p)
        now = self.fake.clock.now_ms()
        day = now // 86_400_000 * 86_400_000
        return self._one(p, [self._stats(s, day, mini) for s in self._symbols(p, required=True, maximum=100)])

    def rolling(self, p: Params) -> Any:
        mini = self._mini(p)
        window = p.get("windowSize") or "1d"
        if not _WINDOW.match(window):
            raise BinanceFault(-1100, "Illegal characters found in parameter 'windowSize'.")
        now = self.fake.clock.now_ms()
        open_time = (now - int(window[:-1]) * _UNIT_MS[window[-1]]) // 60_000 * 60_000
        return self._one(p, [self._stats(s, open_time, mini) for s in self._symbols(p, required=True, maximum=100)])

    # -- reference price --------------------------------------------------------------------------
    def reference_price(self, p: Params) -> JSON:
        m = self.fake.market
        sym = self.app._sym(p)
        with m.lock:
            price: Decimal = m.state[sym].last
        return {"symbol": sym, "referencePrice": fmt(price), "timestamp": self.fake.clock.now_ms()}

    def reference_price_calculation(self, p: Params) -> JSON:
        self._status(p)
        sym = self.app._sym(p)
        return {"symbol": sym, "calculationType": "ARITHMETIC_MEAN", "bucketCount": 10, "bucketWidthMs": 1000}


def market_routes(app: RestApp) -> Dict[Tuple[str, str], Route]:
    """The routes this module adds to (or improves in) :attr:`RestApp.routes`."""
    h = _MarketEndpoints(app)
    return {
        ("GET", "/api/v3/executionRules"): (h.execution_rules, _execution_rules_weight, False),
        ("GET", "/api/v3/historicalBlockTrades"): (h.block_trades, lambda p: 25, False),
        ("GET", "/api/v3/aggTrades"): (h.agg_trades, lambda p: 4, False),
        ("GET", "/api/v3/klines"): (h.klines, lambda p: 2, False),
        ("GET", "/api/v3/uiKlines"): (h.klines, lambda p: 2, False),
        ("GET", "/api/v3/ticker/tradingDay"): (h.trading_day, _per_symbol_weight, False),
        ("GET", "/api/v3/ticker"): (h.rolling, _per_symbol_weight, False),
        ("GET", "/api/v3/referencePrice"): (h.reference_price, lambda p: 2, False),
        ("GET", "/api/v3/referencePrice/calculation"): (h.reference_price_calculation, lambda p: 2, False),
    }


def _wire_params(params: Dict[str, Any]) -> Params:
    """WebSocket API params as the REST handlers read them (arrays as their JSON text)."""
    out: Params = {}
    for k, v in params.items():
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, (list, dict)):
            out[k] = json.dumps(v, separators=(",", ":"))
        elif v is not None:
            out[k] = str(v)
    return out


def ws_market_route(fake: FakeBinance, method: str, params: Dict[str, Any]
                    ) -> Optional[Tuple[int, Callable[[], Any]]]:
    """``(weight, answer)`` for a market-data WebSocket API method, None for any other method."""
    path = WS_MARKET_PATHS.get(method)
    if path is None:
        return None
    handler, weight_fn, _signed = fake._rest_app().routes[("GET", path)]
    p = _wire_params(params)
    return weight_fn(p), lambda: handler(p)
