"""Endpoint table: trading endpoints (see :mod:`.endpoints`).

rest-api.md "Trading endpoints" and web-socket-api.md "Trading requests".  ``params``
are the documented parameters minus ``timestamp`` (and the WebSocket API's ``apiKey``
and ``signature``), which the library adds itself; ``required`` are the ones the REST
docs mark mandatory.  Every order-placing endpoint (``places_order``) always carries a
client id: ``newClientOrderId`` for single orders (and the new order of a
cancel-replace), ``listClientOrderId`` for order lists.
"""

from __future__ import annotations

from typing import Any, Mapping, Tuple

from .endpoints import TRADE, Endpoint

__all__ = ["ENDPOINTS", "ORDER_PARAMS", "SOR_PARAMS", "commission_rates_weight"]


def commission_rates_weight(params: Mapping[str, Any]) -> int:
    """``POST /api/v3/order/test`` and ``/sor/order/test``: 20 with ``computeCommissionRates``, else 1."""
    flag = params.get("computeCommissionRates")
    return 20 if flag is True or str(flag).lower() == "true" else 1


ORDER_PARAMS: Tuple[str, ...] = (
    "symbol", "side", "type", "timeInForce", "quantity", "quoteOrderQty", "price", "newClientOrderId",
    "strategyId", "strategyType", "stopPrice", "trailingDelta", "icebergQty", "newOrderRespType",
    "selfTradePreventionMode", "pegPriceType", "pegOffsetValue", "pegOffsetType", "recvWindow",
)
SOR_PARAMS: Tuple[str, ...] = (
    "symbol", "side", "type", "timeInForce", "quantity", "price", "newClientOrderId", "strategyId",
    "strategyType", "icebergQty", "newOrderRespType", "selfTradePreventionMode", "recvWindow",
)
_LIST_HEAD: Tuple[str, ...] = ("symbol", "listClientOrderId", "newOrderRespType", "selfTradePreventionMode")
_WORKING: Tuple[str, ...] = (
    "workingType", "workingSide", "workingClientOrderId", "workingPrice", "workingQuantity", "workingIcebergQty",
    "workingTimeInForce", "workingStrategyId", "workingStrategyType", "workingPegPriceType", "workingPegOffsetType",
    "workingPegOffsetValue",
)
_LEG = ("Type", "ClientOrderId", "Price", "StopPrice", "TrailingDelta", "IcebergQty", "TimeInForce", "StrategyId",
        "StrategyType", "PegPriceType", "PegOffsetType", "PegOffsetValue")


def _leg(prefix: str) -> Tuple[str, ...]:
    return tuple(prefix + part for part in _LEG)


_OCO_LEGS = _leg("above") + _leg("below")
_PENDING = ("pendingSide",) + _leg("pending")
_PENDING_OCO = ("pendingSide",) + _leg("pendingAbove") + _leg("pendingBelow")

ENDPOINTS: Tuple[Endpoint, ...] = (
    Endpoint("new_order", "POST", "/api/v3/order", TRADE, 1, "order.place", ORDER_PARAMS,
             ("symbol", "side", "type"), places_order=True, order_id_param="newClientOrderId"),
    Endpoint("test_order", "POST", "/api/v3/order/test", TRADE, commission_rates_weight, "order.test",
             ORDER_PARAMS + ("computeCommissionRates",), ("symbol", "side", "type")),
    Endpoint("cancel_order", "DELETE", "/api/v3/order", TRADE, 1, "order.cancel",
             ("symbol", "orderId", "origClientOrderId", "newClientOrderId", "cancelRestrictions", "recvWindow"),
             ("symbol",)),
    Endpoint("cancel_open_orders", "DELETE", "/api/v3/openOrders", TRADE, 1, "openOrders.cancelAll",
             ("symbol", "recvWindow"), ("symbol",)),
    Endpoint("cancel_replace", "POST", "/api/v3/order/cancelReplace", TRADE, 1, "order.cancelReplace",
             ORDER_PARAMS + ("cancelReplaceMode", "cancelNewClientOrderId", "cancelOrigClientOrderId",
                             "cancelOrderId", "cancelRestrictions", "orderRateLimitExceededMode"),
             ("symbol", "side", "type", "cancelReplaceMode"), places_order=True,
             order_id_param="newClientOrderId"),
    Endpoint("amend_order", "PUT", "/api/v3/order/amend/keepPriority", TRADE, 4, "order.amend.keepPriority",
             ("symbol", "orderId", "origClientOrderId", "newClientOrderId", "newQty", "recvWindow"),
             ("symbol", "newQty")),
    Endpoint("new_oco", "POST", "/api/v3/order/oco", TRADE, 1, "orderList.place",
             ("symbol", "listClientOrderId", "side", "quantity", "limitClientOrderId", "price", "limitStrategyId",
              "limitStrategyType", "limitIcebergQty", "trailingDelta", "stopClientOrderId", "stopPrice",
              "stopStrategyId", "stopStrategyType", "stopLimitPrice", "stopIcebergQty", "stopLimitTimeInForce",
              "newOrderRespType", "selfTradePreventionMode", "recvWindow"),
             ("symbol", "side", "quantity", "price", "stopPrice"), places_order=True,
             order_id_param="listClientOrderId"),
    Endpoint("new_order_list_oco", "POST", "/api/v3/orderList/oco", TRADE, 1, "orderList.place.oco",
             _LIST_HEAD + ("side", "quantity") + _OCO_LEGS + ("recvWindow",),
             ("symbol", "side", "quantity", "aboveType", "belowType"), places_order=True,
             order_id_param="listClientOrderId"),
    Endpoint("new_order_list_oto", "POST", "/api/v3/orderList/oto", TRADE, 1, "orderList.place.oto",
             _LIST_HEAD + _WORKING + _PENDING + ("pendingQuantity", "recvWindow"),
             ("symbol", "workingType", "workingSide", "workingPrice", "workingQuantity", "pendingType",
              "pendingSide", "pendingQuantity"), places_order=True, order_id_param="listClientOrderId"),
    Endpoint("new_order_list_otoco", "POST", "/api/v3/orderList/otoco", TRADE, 1, "orderList.place.otoco",
             _LIST_HEAD + _WORKING + _PENDING_OCO + ("pendingQuantity", "recvWindow"),
             ("symbol", "workingType", "workingSide", "workingPrice", "workingQuantity", "pendingSide",
              "pendingQuantity", "pendingAboveType"), places_order=True, order_id_param="listClientOrderId"),
    Endpoint("new_order_list_opo", "POST", "/api/v3/orderList/opo", TRADE, 1, "orderList.place.opo",
             _LIST_HEAD + _WORKING + _PENDING + ("recvWindow",),
             ("symbol", "workingType", "workingSide", "workingPrice", "workingQuantity", "pendingType",
              "pendingSide"), places_order=True, order_id_param="listClientOrderId"),
    Endpoint("new_order_list_opoco", "POST", "/api/v3/orderList/opoco", TRADE, 1, "orderList.place.opoco",
             _LIST_HEAD + _WORKING + _PENDING_OCO + ("recvWindow",),
             ("symbol", "workingType", "workingSide", "workingPrice", "workingQuantity", "pendingSide",
              "pendingAboveType"), places_order=True, order_id_param="listClientOrderId"),
    Endpoint("cancel_order_list", "DELETE", "/api/v3/orderList", TRADE, 1, "orderList.cancel",
             ("symbol", "orderListId", "listClientOrderId", "newClientOrderId", "recvWindow"), ("symbol",)),
    Endpoint("new_sor_order", "POST", "/api/v3/sor/order", TRADE, 1, "sor.order.place", SOR_PARAMS,
             ("symbol", "side", "type", "quantity"), places_order=True, order_id_param="newClientOrderId"),
    Endpoint("test_sor_order", "POST", "/api/v3/sor/order/test", TRADE, commission_rates_weight, "sor.order.test",
             SOR_PARAMS + ("computeCommissionRates",), ("symbol", "side", "type", "quantity")),
)
