"""Typed account methods (see :mod:`binance_conn._api`).

rest-api.md "Account Endpoints" / web-socket-api.md "Account requests": every
method is signed (``USER_DATA``), blocks the calling thread for one request (any
thread) and returns Binance's own JSON shape with every price, quantity,
commission and rate as ``Decimal``.  ``timeout`` is the call's deadline in
seconds (default: ``rest.timeout`` over REST, 10 s over the WebSocket API);
``extra`` passes any other documented parameter by its Binance name
(``recvWindow`` ...).  Weights and parameter names come from
:mod:`binance_conn._core.spec_account`.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .._core.catalog import by_name
from .._core.params import decimalize, decimalize_filters
from ..errors import ValidationError
from .base import JSON, ApiBase, params_of

__all__ = ["AccountApi"]

_ACCOUNT = by_name("account")
_GET_ORDER = by_name("get_order")
_OPEN_ORDERS = by_name("open_orders")
_ALL_ORDERS = by_name("all_orders")
_GET_ORDER_LIST = by_name("get_order_list")
_ALL_ORDER_LISTS = by_name("all_order_lists")
_OPEN_ORDER_LISTS = by_name("open_order_lists")
_MY_TRADES = by_name("my_trades")
_ORDER_RATE_LIMIT = by_name("order_rate_limit")
_MY_PREVENTED_MATCHES = by_name("my_prevented_matches")
_MY_ALLOCATIONS = by_name("my_allocations")
_COMMISSION_RATES = by_name("commission_rates")
_ORDER_AMENDMENTS = by_name("order_amendments")
_MY_FILTERS = by_name("my_filters")


def _with(params: Dict[str, Any], extra: Dict[str, Any]) -> Dict[str, Any]:
    if extra:
        params.update((k, v) for k, v in extra.items() if v is not None)
    return params


class AccountApi(ApiBase):
    """Account endpoints; each method documents its endpoint, weight and security (all ``USER_DATA``)."""

    def account(self, omit_zero_balances: bool = False, *, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /api/v3/account`` / ``account.status`` (weight 20): permissions, commission
        rates and balances (``free``/``locked`` as Decimal).  ``omit_zero_balances`` leaves out
        assets holding nothing."""
        params = _with({"omitZeroBalances": True} if omit_zero_balances else {}, extra)
        return decimalize(self._call(_ACCOUNT, params, timeout=timeout))

    def get_order(self, symbol: str, order_id: Optional[int] = None, client_order_id: Optional[str] = None, *,
                  timeout: Any = None, **extra: Any) -> JSON:
        """``GET /api/v3/order`` / ``order.status`` (weight 4): one order by ``order_id`` or by the
        ``client_order_id`` it was placed with (``origClientOrderId``).

        Raises:
            ValidationError: neither ``order_id`` nor ``client_order_id`` given.
            NotFoundError: Binance does not know the order (-2013).
        """
        if order_id is None and client_order_id is None:
            raise ValidationError("order_id", None, "give order_id or client_order_id")
        params = _with(params_of(symbol=symbol, orderId=order_id, origClientOrderId=client_order_id), extra)
        return decimalize(self._call(_GET_ORDER, params, timeout=timeout))

    def open_orders(self, symbol: Optional[str] = None, *, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /api/v3/openOrders`` / ``openOrders.status`` (weight 6 with a symbol, 80 without):
        the open orders of ``symbol``, or of every symbol."""
        result: List[JSON] = decimalize(self._call(_OPEN_ORDERS, _with(params_of(symbol=symbol or None), extra),
                                                   timeout=timeout))
        return result

    def all_orders(self, symbol: str, *, order_id: Optional[int] = None, start_time: Optional[int] = None,
                   end_time: Optional[int] = None, limit: Optional[int] = None, timeout: Any = None,
                   **extra: Any) -> List[JSON]:
        """``GET /api/v3/allOrders`` / ``allOrders`` (weight 20): the account's orders on ``symbol``
        (open, canceled, filled), from ``order_id`` on, or within ``start_time``..``end_time`` (ms,
        at most 24 h apart); ``limit`` default 500, at most 1000."""
        params = params_of(symbol=symbol, orderId=order_id, startTime=start_time, endTime=end_time, limit=limit)
        result: List[JSON] = decimalize(self._call(_ALL_ORDERS, _with(params, extra), timeout=timeout))
        return result

    def get_order_list(self, order_list_id: Optional[int] = None, list_client_order_id: Optional[str] = None, *,
                       timeout: Any = None, **extra: Any) -> JSON:
        """``GET /api/v3/orderList`` / ``orderList.status`` (weight 4): one order list by
        ``order_list_id`` or by its ``listClientOrderId`` (sent as ``origClientOrderId``).

        Raises:
            ValidationError: neither ``order_list_id`` nor ``list_client_order_id`` given.
        """
        if order_list_id is None and list_client_order_id is None:
            raise ValidationError("order_list_id", None, "give order_list_id or list_client_order_id")
        params = params_of(orderListId=order_list_id, origClientOrderId=list_client_order_id)
        return decimalize(self._call(_GET_ORDER_LIST, _with(params, extra), timeout=timeout))

    def all_order_lists(self, *, from_id: Optional[int] = None, start_time: Optional[int] = None,
                        end_time: Optional[int] = None, limit: Optional[int] = None, timeout: Any = None,
                        **extra: Any) -> List[JSON]:
        """``GET /api/v3/allOrderList`` / ``allOrderLists`` (weight 20): the account's order lists,
        from order list id ``from_id`` on, or within ``start_time``..``end_time`` (ms)."""
        params = params_of(fromId=from_id, startTime=start_time, endTime=end_time, limit=limit)
        result: List[JSON] = decimalize(self._call(_ALL_ORDER_LISTS, _with(params, extra), timeout=timeout))
        return result

    def open_order_lists(self, *, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /api/v3/openOrderList`` / ``openOrderLists.status`` (weight 6): the open order lists."""
        result: List[JSON] = decimalize(self._call(_OPEN_ORDER_LISTS, _with({}, extra), timeout=timeout))
        return result

    def my_trades(self, symbol: str, order_id: Optional[int] = None, *, start_time: Optional[int] = None,
                  end_time: Optional[int] = None, from_id: Optional[int] = None, limit: Optional[int] = None,
                  timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /api/v3/myTrades`` / ``myTrades`` (weight 20; 5 with ``order_id``): the account's
        trades on ``symbol``, of one order, from trade id ``from_id`` on, or in a time range."""
        params = params_of(symbol=symbol, orderId=order_id, startTime=start_time, endTime=end_time,
                           fromId=from_id, limit=limit)
        result: List[JSON] = decimalize(self._call(_MY_TRADES, _with(params, extra), timeout=timeout))
        return result

    def order_rate_limit(self, *, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /api/v3/rateLimit/order`` / ``account.rateLimits.orders`` (weight 40): the unfilled
        order count per interval (``rateLimitType``, ``interval``, ``intervalNum``, ``limit``, ``count``)."""
        result: List[JSON] = self._call(_ORDER_RATE_LIMIT, _with({}, extra), timeout=timeout)
        return result

    def my_prevented_matches(self, symbol: str, *, prevented_match_id: Optional[int] = None,
                             order_id: Optional[int] = None, from_prevented_match_id: Optional[int] = None,
                             limit: Optional[int] = None, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /api/v3/myPreventedMatches`` / ``myPreventedMatches`` (weight 2 by
        ``prevented_match_id``, 20 by ``order_id``): orders expired by self-trade prevention.

        Raises:
            ValidationError: neither ``prevented_match_id`` nor ``order_id`` given.
        """
        if prevented_match_id is None and order_id is None:
            raise ValidationError("prevented_match_id", None, "give prevented_match_id or order_id")
        params = params_of(symbol=symbol, preventedMatchId=prevented_match_id, orderId=order_id,
                           fromPreventedMatchId=from_prevented_match_id, limit=limit)
        result: List[JSON] = decimalize(self._call(_MY_PREVENTED_MATCHES, _with(params, extra), timeout=timeout))
        return result

    def my_allocations(self, symbol: str, *, start_time: Optional[int] = None, end_time: Optional[int] = None,
                       from_allocation_id: Optional[int] = None, limit: Optional[int] = None,
                       order_id: Optional[int] = None, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /api/v3/myAllocations`` / ``myAllocations`` (weight 20): allocations of SOR orders."""
        params = params_of(symbol=symbol, startTime=start_time, endTime=end_time,
                           fromAllocationId=from_allocation_id, limit=limit, orderId=order_id)
        result: List[JSON] = decimalize(self._call(_MY_ALLOCATIONS, _with(params, extra), timeout=timeout))
        return result

    def commission_rates(self, symbol: str, *, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /api/v3/account/commission`` / ``account.commission`` (weight 20): the account's
        standard, special and tax commission rates on ``symbol`` and the BNB discount, as Decimals."""
        return decimalize(self._call(_COMMISSION_RATES, _with(params_of(symbol=symbol), extra), timeout=timeout))

    def order_amendments(self, symbol: str, order_id: int, *, from_execution_id: Optional[int] = None,
                         limit: Optional[int] = None, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /api/v3/order/amendments`` / ``order.amendments`` (weight 4): every amendment of
        one order (``origQty`` -> ``newQty``)."""
        params = params_of(symbol=symbol, orderId=order_id, fromExecutionId=from_execution_id, limit=limit)
        result: List[JSON] = decimalize(self._call(_ORDER_AMENDMENTS, _with(params, extra), timeout=timeout))
        return result

    def my_filters(self, symbol: str, *, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /api/v3/myFilters`` / ``myFilters`` (weight 40): the exchange, symbol and asset
        filters (``MAX_ASSET`` ...) that apply to this account on ``symbol``; bounds as Decimals."""
        return decimalize_filters(self._call(_MY_FILTERS, _with(params_of(symbol=symbol), extra), timeout=timeout))
