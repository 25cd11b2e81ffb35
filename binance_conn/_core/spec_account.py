"""Endpoint table: account endpoints (see :mod:`.endpoints`).

rest-api.md "Account Endpoints" and web-socket-api.md "Account requests": every
one is ``USER_DATA`` (signed), answers a query and never places an order.
``params`` are the names of the rest-api.md parameter table, in its order
(``timestamp`` included: the library fills it in); ``required`` those marked
mandatory there, except ``timestamp``.  The WebSocket API weights are the REST
ones for every method here, so ``ws_weight`` stays None.
"""

from __future__ import annotations

from typing import Any, Mapping, Tuple

from .endpoints import USER_DATA, Endpoint

__all__ = ["ENDPOINTS", "open_orders_weight", "my_trades_weight", "prevented_matches_weight"]

_TIME = ("recvWindow", "timestamp")


def open_orders_weight(params: Mapping[str, Any]) -> int:
    """``GET /api/v3/openOrders`` / ``openOrders.status``: 6 for one symbol, 80 for all."""
    return 6 if params.get("symbol") is not None else 80


def my_trades_weight(params: Mapping[str, Any]) -> int:
    """``GET /api/v3/myTrades`` / ``myTrades``: 5 with ``orderId``, 20 without."""
    return 5 if params.get("orderId") is not None else 20


def prevented_matches_weight(params: Mapping[str, Any]) -> int:
    """``GET /api/v3/myPreventedMatches``: 2 by ``preventedMatchId``, 20 by ``orderId``.

    A request naming neither (which Binance rejects) is booked at 20, the safe side.
    """
    if params.get("preventedMatchId") is not None and params.get("orderId") is None:
        return 2
    return 20


ENDPOINTS: Tuple[Endpoint, ...] = (
    Endpoint("account", "GET", "/api/v3/account", USER_DATA, 20, "account.status",
             ("omitZeroBalances",) + _TIME),
    Endpoint("get_order", "GET", "/api/v3/order", USER_DATA, 4, "order.status",
             ("symbol", "orderId", "origClientOrderId") + _TIME, ("symbol",)),
    Endpoint("open_orders", "GET", "/api/v3/openOrders", USER_DATA, open_orders_weight, "openOrders.status",
             ("symbol",) + _TIME),
    Endpoint("all_orders", "GET", "/api/v3/allOrders", USER_DATA, 20, "allOrders",
             ("symbol", "orderId", "startTime", "endTime", "limit") + _TIME, ("symbol",)),
    Endpoint("get_order_list", "GET", "/api/v3/orderList", USER_DATA, 4, "orderList.status",
             ("orderListId", "origClientOrderId") + _TIME),
    Endpoint("all_order_lists", "GET", "/api/v3/allOrderList", USER_DATA, 20, "allOrderLists",
             ("fromId", "startTime", "endTime", "limit") + _TIME),
    Endpoint("open_order_lists", "GET", "/api/v3/openOrderList", USER_DATA, 6, "openOrderLists.status", _TIME),
    Endpoint("my_trades", "GET", "/api/v3/myTrades", USER_DATA, my_trades_weight, "myTrades",
             ("symbol", "orderId", "startTime", "endTime", "fromId", "limit") + _TIME, ("symbol",)),
    Endpoint("order_rate_limit", "GET", "/api/v3/rateLimit/order", USER_DATA, 40, "account.rateLimits.orders",
             _TIME),
    Endpoint("my_prevented_matches", "GET", "/api/v3/myPreventedMatches", USER_DATA, prevented_matches_weight,
             "myPreventedMatches",
             ("symbol", "preventedMatchId", "orderId", "fromPreventedMatchId", "limit") + _TIME, ("symbol",)),
    Endpoint("my_allocations", "GET", "/api/v3/myAllocations", USER_DATA, 20, "myAllocations",
             ("symbol", "startTime", "endTime", "fromAllocationId", "limit", "orderId") + _TIME, ("symbol",)),
    # The docs' table lists only ``symbol``; it is signed like every USER_DATA endpoint.
    Endpoint("commission_rates", "GET", "/api/v3/account/commission", USER_DATA, 20, "account.commission",
             ("symbol",), ("symbol",)),
    Endpoint("order_amendments", "GET", "/api/v3/order/amendments", USER_DATA, 4, "order.amendments",
             ("symbol", "orderId", "fromExecutionId", "limit") + _TIME, ("symbol", "orderId")),
    Endpoint("my_filters", "GET", "/api/v3/myFilters", USER_DATA, 40, "myFilters", ("symbol",) + _TIME,
             ("symbol",)),
)
