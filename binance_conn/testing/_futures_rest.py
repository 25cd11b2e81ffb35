"""The futures REST endpoints of the fake (``FakeBinance(product="usdm")``: ``/fapi``; ``"coinm"``:
``/dapi``), hooked into :class:`._rest.RestApp` in place of ``/api/v3``, over
:class:`._futures_engine.FuturesEngine`.  Weights are the futures ones (2,400/min by default);
successful placements cost 0.  :class:`FuturesFakeMixin` adds ``fake.positions()``,
``fake.set_mark_price()``, ``fake.futures_events`` (callables given every futures user-data event
the engine generates: ORDER_TRADE_UPDATE, ACCOUNT_UPDATE, ALGO_UPDATE, TRADE_LITE,
ACCOUNT_CONFIG_UPDATE) and ``fake.futures`` (the engine)."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Set, Tuple, Union

from ._futures_engine import FuturesEngine
from ._util import JSON, BinanceFault, fmt

if TYPE_CHECKING:
    from ._fake import FakeBinance

__all__ = ["FuturesFakeMixin", "futures_routes", "futures_order_paths"]

Params = Dict[str, str]
Route = Tuple[Callable[[Params], Any], Callable[[Params], int], bool]

_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


def _depth_weight(p: Params) -> int:
    limit = int(p.get("limit") or 500) if (p.get("limit") or "500").isdigit() else 500
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


def _klines_weight(p: Params) -> int:
    limit = int(p.get("limit") or 500) if (p.get("limit") or "500").isdigit() else 500
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


def _w(single: int, every: int) -> Callable[[Params], int]:
    return lambda p: single if p.get("symbol") else every


def futures_order_paths(prefix: str) -> Set[Tuple[str, str]]:
    """Placements whose success costs no IP weight (order buckets only)."""
    return {("POST", f"{prefix}/v1/order"), ("PUT", f"{prefix}/v1/order"), ("POST", f"{prefix}/v1/algoOrder")}


class FuturesFakeMixin:
    """The futures half of :class:`FakeBinance`."""

    product: str
    futures: FuturesEngine
    futures_events: List[Callable[[JSON], Any]]

    def _init_futures(self: "FakeBinance") -> None:  # type: ignore[misc]
        with self.market.lock:
            marks = {s: st.last for s, st in self.market.state.items()}
        self.futures = FuturesEngine(self.product, self.clock, marks, Decimal("100000"))
        self.futures_events = []
        self.futures.events = self.futures_events  # the same list: append callables to it

    def positions(self, symbol: Optional[str] = None) -> List[JSON]:
        """The futures positions (``GET /fapi/v3/positionRisk`` shape), one row per (symbol, side) ever traded."""
        return self.futures.position_rows(symbol)

    def set_mark_price(self, symbol: str, price: Union[str, int, Decimal]) -> None:
        """Move ``symbol``'s mark price: fills crossed resting LIMIT orders, triggers algo orders."""
        self.futures.set_mark_price(symbol.upper(), Decimal(price))

    def mark_price(self, symbol: str) -> Decimal:
        with self.futures.lock:
            return self.futures.mark[symbol.upper()]


def futures_routes(fake: "FakeBinance", app: Any) -> Dict[Tuple[str, str], Route]:
    """The ``/fapi`` (USD-M) or ``/dapi`` (COIN-M) route table: (method, path) -> (handler, weight, signed)."""
    eng = fake.futures
    p = "/dapi" if fake.product == "coinm" else "/fapi"
    acct = "v1" if fake.product == "coinm" else "v3"
    coinm = fake.product == "coinm"
    one = lambda q: 1  # noqa: E731

    def checked(fn: Callable[[Params], Any]) -> Callable[[Params], Any]:
        def run(q: Params) -> Any:
            eng.check_countdown()
            return fn(q)
        return run

    def exchange_info(q: Params) -> JSON:
        limits = fake.rate_limits()
        for item in limits:
            if item["rateLimitType"] == "ORDERS" and item["interval"] == "DAY":
                item.update(interval="MINUTE", limit=1200)
        syms = []
        for s in fake.market.state:
            spec = fake.market.specs[s]
            info = {"symbol": s, "pair": s, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
                    "onboardDate": 1569398400000, "status": "TRADING", "baseAsset": spec.base,
                    "quoteAsset": spec.quote, "marginAsset": eng.asset_of(s), "pricePrecision": 2,
                    "quantityPrecision": 3, "baseAssetPrecision": 8, "quotePrecision": 8, "triggerProtect": "0.0500",
                    "liquidationFee": "0.012500", "marketTakeBound": "0.05",
                    "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                                   "TRAILING_STOP_MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
                    "filters": [
                        {"filterType": "PRICE_FILTER", "minPrice": fmt(spec.min_price, 2),
                         "maxPrice": fmt(spec.max_price, 2), "tickSize": fmt(spec.tick_size, 2)},
                        {"filterType": "LOT_SIZE", "minQty": fmt(spec.min_qty, 3), "maxQty": fmt(spec.max_qty, 3),
                         "stepSize": fmt(spec.step_size, 3)},
                        {"filterType": "MARKET_LOT_SIZE", "minQty": fmt(spec.min_qty, 3),
                         "maxQty": fmt(spec.max_qty, 3), "stepSize": fmt(spec.step_size, 3)},
                        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                        {"filterType": "MIN_NOTIONAL", "notional": "5"},
                        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
                         "multiplierDecimal": "4"}]}
            if coinm:
                info.update(contractSize=100, contractStatus=info.pop("status"))
            syms.append(info)
        return {"timezone": "UTC", "serverTime": fake.clock.now_ms(), "rateLimits": limits, "exchangeFilters": [],
                "assets": [], "symbols": syms}

    def depth(q: Params) -> JSON:
        sym = app._sym(q)
        limit = int(q.get("limit") or 500)
        if limit not in _DEPTH_LIMITS:
            raise BinanceFault(-4021, f"'{limit}' is not valid depth limit.")
        snap = dict(fake._snapshot(sym, limit))
        now = fake.clock.now_ms()
        snap.update(E=now, T=now)
        return snap

    def premium_index(q: Params) -> Any:
        rows = []
        with eng.lock:
            for s, mark in eng.mark.items():
                if q.get("symbol") in (None, "", s):
                    rows.append({"symbol": s, "markPrice": fmt(mark), "indexPrice": fmt(mark),
                                 "estimatedSettlePrice": fmt(mark), "lastFundingRate": "0.00010000",
                                 "interestRate": "0.00010000", "nextFundingTime": (fake.clock.now_ms() // 28800000 + 1)
                                 * 28800000, "time": fake.clock.now_ms()})
        if q.get("symbol") and not rows:
            raise BinanceFault(-1121, "Invalid symbol.")
        return rows[0] if q.get("symbol") and not coinm else rows

    def ticker_price(q: Params) -> Any:
        rows = app.ticker_price(q)
        if isinstance(rows, dict):
            rows["time"] = fake.clock.now_ms()
        return [rows] if coinm and isinstance(rows, dict) else rows

    def listen_key(q: Params) -> JSON:
        with eng.lock:
            if eng.listen_key is None:
                eng.listen_key = secrets.token_hex(32)
            return {"listenKey": eng.listen_key}

    def keepalive(q: Params) -> JSON:
        with eng.lock:
            if eng.listen_key is None:
                raise BinanceFault(-1125, "This listenKey does not exist.")
            return {"listenKey": eng.listen_key}

    def close_key(q: Params) -> JSON:
        with eng.lock:
            eng.listen_key = None
        return {}

    def batch(q: Params) -> List[JSON]:
        import json

        try:
            items = json.loads(q.get("batchOrders") or "")
        except ValueError:
            raise BinanceFault(-1130, "Data sent for parameter 'batchOrders' is not valid.") from None
        if not isinstance(items, list) or not 1 <= len(items) <= 5:
            raise BinanceFault(-4082, "Invalid number of batch place orders.")
        out: List[JSON] = []
        for item in items:
            try:
                out.append(eng.place({k: str(v) for k, v in item.items()}))
            except BinanceFault as err:
                out.append(err.body())
        return out

    def orders_of(q: Params, open_only: bool) -> List[JSON]:
        with eng.lock:
            return [o.as_json() for o in eng.orders.values() if q.get("symbol") in (None, "", o.symbol)
                    and (not open_only or o.status in ("NEW", "PARTIALLY_FILLED"))]

    def trades_of(q: Params) -> List[JSON]:
        with eng.lock:
            return [t for t in eng.trades if q.get("symbol") in (None, "", t["symbol"])]

    def income_of(q: Params) -> List[JSON]:
        with eng.lock:
            return [i for i in eng.income if q.get("incomeType") in (None, "", i["incomeType"])
                    and q.get("symbol") in (None, "", i["symbol"])]

    def klines(q: Params) -> Any:
        return app.klines(q)

    ticker_price_path = f"{p}/v1/ticker/price" if coinm else f"{p}/v2/ticker/price"
    routes: Dict[Tuple[str, str], Route] = {
        ("GET", f"{p}/v1/ping"): (lambda q: {}, one, False),
        ("GET", f"{p}/v1/time"): (lambda q: {"serverTime": fake.clock.now_ms()}, one, False),
        ("GET", f"{p}/v1/exchangeInfo"): (exchange_info, one, False),
        ("GET", f"{p}/v1/depth"): (depth, _depth_weight, False),
        ("GET", f"{p}/v1/trades"): (app.trades, lambda q: 5, False),
        # the full handler (fromId/startTime/endTime: gap backfill), as on /api/v3
        ("GET", f"{p}/v1/aggTrades"): (app.routes[("GET", "/api/v3/aggTrades")][0], lambda q: 20, False),
        ("GET", f"{p}/v1/klines"): (klines, _klines_weight, False),
        ("GET", f"{p}/v1/markPriceKlines"): (klines, _klines_weight, False),
        ("GET", ticker_price_path): (ticker_price, _w(1, 2), False),
        ("GET", f"{p}/v1/ticker/bookTicker"): (app.book_ticker, _w(2, 5), False),
        ("GET", f"{p}/v1/ticker/24hr"): (app.ticker_24hr, _w(1, 40), False),
        ("GET", f"{p}/v1/premiumIndex"): (premium_index, (lambda q: 10) if coinm else _w(1, 10), False),
        ("GET", f"{p}/v1/fundingRate"): (lambda q: [], one, False),
        ("GET", f"{p}/v1/openInterest"): (lambda q: {"openInterest": "1000.000", "symbol": app._sym(q),
                                                     "time": fake.clock.now_ms()}, one, False),
        ("POST", f"{p}/v1/order"): (checked(eng.place), one, True),
        ("PUT", f"{p}/v1/order"): (checked(eng.modify), one, True),
        ("GET", f"{p}/v1/order"): (checked(eng.query), one, True),
        ("DELETE", f"{p}/v1/order"): (checked(eng.cancel), one, True),
        ("POST", f"{p}/v1/algoOrder"): (checked(eng.place_algo), one, True),
        ("GET", f"{p}/v1/algoOrder"): (checked(eng.query_algo), one, True),
        ("DELETE", f"{p}/v1/algoOrder"): (checked(eng.cancel_algo), one, True),
        ("POST", f"{p}/v1/batchOrders"): (checked(batch), lambda q: 5, True),
        ("DELETE", f"{p}/v1/allOpenOrders"): (checked(eng.cancel_all), one, True),
        ("DELETE", f"{p}/v1/algoOpenOrders"): (checked(eng.cancel_all_algo), one, True),
        ("POST", f"{p}/v1/countdownCancelAll"): (checked(eng.countdown_cancel), lambda q: 10, True),
        ("GET", f"{p}/v1/openOrders"): (checked(lambda q: orders_of(q, True)), _w(1, 40), True),
        ("GET", f"{p}/v1/openAlgoOrders"): (checked(lambda q: [a.as_json() for a in list(eng.algos.values())
                                                               if a.status == "NEW" and q.get("symbol") in
                                                               (None, "", a.symbol)]), _w(1, 40), True),
        ("GET", f"{p}/v1/allOrders"): (checked(lambda q: orders_of(q, False)), lambda q: 20 if coinm else 5, True),
        ("GET", f"{p}/v1/userTrades"): (trades_of, lambda q: 20 if coinm else 5, True),
        ("GET", f"{p}/{acct}/positionRisk"): (lambda q: eng.position_rows(q.get("symbol") or None),
                                              lambda q: 1 if coinm else 5, True),
        ("GET", f"{p}/{acct}/account"): (lambda q: eng.account(), lambda q: 5, True),
        ("GET", f"{p}/{acct}/balance"): (lambda q: eng.balances(), lambda q: 1 if coinm else 5, True),
        ("POST", f"{p}/v1/leverage"): (eng.set_leverage, one, True),
        ("POST", f"{p}/v1/marginType"): (eng.set_margin_type, one, True),
        ("POST", f"{p}/v1/positionSide/dual"): (eng.set_dual, one, True),
        ("GET", f"{p}/v1/positionSide/dual"): (lambda q: {"dualSidePosition": eng.dual}, lambda q: 30, True),
        ("GET", f"{p}/v1/income"): (income_of, lambda q: 20 if coinm else 30, True),
        ("GET", f"{p}/v1/commissionRate"): (lambda q: {"symbol": app._sym(q), "makerCommissionRate": "0.0002",
                                                       "takerCommissionRate": "0.0004"}, lambda q: 20, True),
        ("POST", f"{p}/v1/listenKey"): (listen_key, one, False),
        ("PUT", f"{p}/v1/listenKey"): (keepalive, one, False),
        ("DELETE", f"{p}/v1/listenKey"): (close_key, one, False),
    }
    return routes
