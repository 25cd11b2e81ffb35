"""The account queries of the fake (rest-api.md "Account Endpoints", web-socket-api.md "Account
requests"): one handler per endpoint, shared by the REST routes and the WebSocket API methods,
answering in the documented shapes.

Order lists, prevented matches (STP), SOR allocations and order amendments are not simulated by
the engine: their queries answer empty lists (a single order list or the amendments of an
unknown order answer the documented error) unless the engine grows the optional hooks
``order_list_status(params)``, ``all_order_lists(params)``, ``open_order_lists()``,
``prevented_matches(symbol)``, ``allocations(symbol)`` and ``amendments(order)``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple

from ._engine import COMMISSION_RATE
from ._util import JSON, BinanceFault, fmt

if TYPE_CHECKING:
    from ._fake import FakeBinance

__all__ = ["ACCOUNT_ROUTES", "ACCOUNT_WS_METHODS", "Handler", "WeightRule", "rest_routes", "ws_handlers"]

Params = Mapping[str, str]
Handler = Callable[["FakeBinance", Params], Any]
WeightRule = Callable[[Mapping[str, Any]], int]


def _missing(name: str) -> BinanceFault:
    return BinanceFault(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def _int(p: Params, name: str) -> Optional[int]:
    raw = p.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise BinanceFault(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                  "'^[0-9]{1,20}$'.") from None


def _limit(p: Params) -> int:
    value = _int(p, "limit")
    return 500 if value is None else max(1, min(value, 1000))


def _symbol(fake: FakeBinance, p: Params) -> str:
    sym = p.get("symbol")
    if not sym:
        raise _missing("symbol")
    if sym not in fake.market.state:
        raise BinanceFault(-1121, "Invalid symbol.")
    return sym


def _window(items: List[JSON], p: Params, time_key: str, id_key: str, from_name: str) -> List[JSON]:
    """Binance's paging: from an id on (ascending, first ``limit``), within a time range, or the
    most recent ``limit``."""
    start, end, from_id = _int(p, "startTime"), _int(p, "endTime"), _int(p, from_name)
    if start is not None and end is not None and end - start > 24 * 3600 * 1000:
        raise BinanceFault(-1127, "More than 24 hours between startTime and endTime.")
    if start is not None:
        items = [x for x in items if x[time_key] >= start]
    if end is not None:
        items = [x for x in items if x[time_key] <= end]
    limit = _limit(p)
    if from_id is not None and start is None and end is None:
        return [x for x in items if x[id_key] >= from_id][:limit]
    if start is not None:
        return items[:limit]
    return items[-limit:]


# -- orders and trades -------------------------------------------------------------------------

def account(fake: FakeBinance, p: Params) -> JSON:
    return fake.engine.account(p.get("omitZeroBalances") == "true")


def order_status(fake: FakeBinance, p: Params) -> JSON:
    return fake.engine.query(p)


def open_orders(fake: FakeBinance, p: Params) -> List[JSON]:
    return fake.engine.open_orders(p.get("symbol") or None)


def all_orders(fake: FakeBinance, p: Params) -> List[JSON]:
    sym = _symbol(fake, p)
    eng = fake.engine
    with eng.lock:
        orders = sorted((o for o in eng.orders.values() if o.symbol == sym), key=lambda o: o.order_id)
        rows = [o.as_query() for o in orders]
    return _window(rows, p, "updateTime", "orderId", "orderId")


def my_trades(fake: FakeBinance, p: Params) -> List[JSON]:
    sym = _symbol(fake, p)
    oid = _int(p, "orderId")
    eng = fake.engine
    with eng.lock:
        rows = [dict(t) for t in eng.trades if t["symbol"] == sym and (oid is None or t["orderId"] == oid)]
    rows.sort(key=lambda t: int(t["id"]))
    return _window(rows, p, "time", "id", "fromId")


def order_rate_limit(fake: FakeBinance, p: Params) -> List[JSON]:
    counter = fake.orders_counter
    c10, cd = counter.counts()
    return [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": counter.limit_10s,
             "count": c10},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": counter.limit_1d, "count": cd}]


def commission(fake: FakeBinance, p: Params) -> JSON:
    sym = _symbol(fake, p)
    rate, zero = fmt(COMMISSION_RATE), fmt(Decimal(0))
    return {"symbol": sym,
            "standardCommission": {"maker": rate, "taker": rate, "buyer": zero, "seller": zero},
            "specialCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
            "taxCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
            "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB",
                         "discount": fmt(Decimal("0.25"))}}


def _hook(fake: FakeBinance, name: str) -> Optional[Callable[..., Any]]:
    hook = getattr(fake.engine, name, None)
    return hook if callable(hook) else None


def order_amendments(fake: FakeBinance, p: Params) -> List[JSON]:
    sym = _symbol(fake, p)
    if _int(p, "orderId") is None:
        raise _missing("orderId")
    eng = fake.engine
    with eng.lock:
        order = eng.find({"symbol": sym, "orderId": str(p["orderId"])})  # -2013 for an unknown order
        hook = _hook(fake, "amendments")
        rows: List[JSON] = list(hook(order)) if hook is not None else []
    from_exec = _int(p, "fromExecutionId")
    rows = [r for r in rows if from_exec is None or int(r.get("executionId", 0)) >= from_exec]
    return rows[:_limit(p)]


def my_filters(fake: FakeBinance, p: Params) -> JSON:
    _symbol(fake, p)
    return {"exchangeFilters": [{"filterType": "EXCHANGE_MAX_NUM_ORDERS", "maxNumOrders": 1000}],
            "symbolFilters": [{"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
                              {"filterType": "MAX_NUM_ORDER_LISTS", "maxNumOrderLists": 20}],
            "assetFilters": []}


def prevented_matches(fake: FakeBinance, p: Params) -> List[JSON]:
    sym = _symbol(fake, p)
    match_id, oid = _int(p, "preventedMatchId"), _int(p, "orderId")
    if match_id is None and oid is None:
        raise BinanceFault(-1102, "Param 'preventedMatchId' or 'orderId' must be sent, but both were empty/null!")
    hook = _hook(fake, "prevented_matches")
    rows: List[JSON] = list(hook(sym)) if hook is not None else []
    if match_id is not None:
        return [r for r in rows if r.get("preventedMatchId") == match_id]
    from_id = _int(p, "fromPreventedMatchId")
    rows = [r for r in rows if r.get("takerOrderId") == oid or r.get("makerOrderId") == oid]
    return [r for r in rows if from_id is None or int(r.get("preventedMatchId", 0)) >= from_id][:_limit(p)]


def allocations(fake: FakeBinance, p: Params) -> List[JSON]:
    sym = _symbol(fake, p)
    hook = _hook(fake, "allocations")
    rows: List[JSON] = list(hook(sym)) if hook is not None else []
    oid = _int(p, "orderId")
    rows = [r for r in rows if oid is None or r.get("orderId") == oid]
    return _window(rows, p, "time", "allocationId", "fromAllocationId")


# -- order lists (simulated by the engine only when it offers the hooks) -----------------------

def order_list_status(fake: FakeBinance, p: Params) -> JSON:
    if not p.get("orderListId") and not p.get("origClientOrderId"):
        raise BinanceFault(-1102, "Param 'origClientOrderId' or 'orderListId' must be sent, but both were "
                                  "empty/null!")
    hook = _hook(fake, "order_list_status")
    if hook is None:
        raise BinanceFault(-2013, "Order list does not exist.")
    return hook(p)  # type: ignore[no-any-return]


def all_order_lists(fake: FakeBinance, p: Params) -> List[JSON]:
    hook = _hook(fake, "all_order_lists")
    return list(hook(p)) if hook is not None else []


def open_order_lists(fake: FakeBinance, p: Params) -> List[JSON]:
    hook = _hook(fake, "open_order_lists")
    return list(hook()) if hook is not None else []


# -- the tables: REST (method, path) and WebSocket API method -> (handler, weight rule) ---------

def _fixed(weight: int) -> WeightRule:
    return lambda p: weight


def _open_orders_weight(p: Mapping[str, Any]) -> int:
    return 6 if p.get("symbol") else 80


def _my_trades_weight(p: Mapping[str, Any]) -> int:
    return 5 if p.get("orderId") not in (None, "") else 20


def _prevented_weight(p: Mapping[str, Any]) -> int:
    return 2 if p.get("preventedMatchId") not in (None, "") and p.get("orderId") in (None, "") else 20


# (REST path, WebSocket API method, handler, weight rule); every one is GET and USER_DATA (signed).
_TABLE: Tuple[Tuple[str, str, Handler, WeightRule], ...] = (
    ("/api/v3/account", "account.status", account, _fixed(20)),
    ("/api/v3/order", "order.status", order_status, _fixed(4)),
    ("/api/v3/openOrders", "openOrders.status", open_orders, _open_orders_weight),
    ("/api/v3/allOrders", "allOrders", all_orders, _fixed(20)),
    ("/api/v3/orderList", "orderList.status", order_list_status, _fixed(4)),
    ("/api/v3/allOrderList", "allOrderLists", all_order_lists, _fixed(20)),
    ("/api/v3/openOrderList", "openOrderLists.status", open_order_lists, _fixed(6)),
    ("/api/v3/myTrades", "myTrades", my_trades, _my_trades_weight),
    ("/api/v3/rateLimit/order", "account.rateLimits.orders", order_rate_limit, _fixed(40)),
    ("/api/v3/myPreventedMatches", "myPreventedMatches", prevented_matches, _prevented_weight),
    ("/api/v3/myAllocations", "myAllocations", allocations, _fixed(20)),
    ("/api/v3/account/commission", "account.commission", commission, _fixed(20)),
    ("/api/v3/order/amendments", "order.amendments", order_amendments, _fixed(4)),
    ("/api/v3/myFilters", "myFilters", my_filters, _fixed(40)),
)

ACCOUNT_ROUTES: Dict[Tuple[str, str], Tuple[Handler, WeightRule]] = {
    ("GET", path): (handler, weight) for path, _m, handler, weight in _TABLE}
ACCOUNT_WS_METHODS: Dict[str, Tuple[Handler, WeightRule]] = {
    method: (handler, weight) for _p, method, handler, weight in _TABLE}


def _bind(fake: FakeBinance, handler: Handler) -> Callable[[Dict[str, str]], Any]:
    return lambda p: handler(fake, p)


def rest_routes(fake: FakeBinance) -> Dict[Tuple[str, str], Tuple[Callable[[Dict[str, str]], Any],
                                                                   Callable[[Dict[str, str]], int], bool]]:
    """The REST routes in ``RestApp.routes`` form: (handler(params), weight(params), signed)."""
    return {key: (_bind(fake, handler), weight, True) for key, (handler, weight) in ACCOUNT_ROUTES.items()}


def ws_handlers(fake: FakeBinance) -> Dict[str, Callable[[Dict[str, str]], Any]]:
    """The WebSocket API handlers in ``_wsapi._dispatch`` form: handler(string params)."""
    return {method: _bind(fake, handler) for method, (handler, _w) in ACCOUNT_WS_METHODS.items()}
