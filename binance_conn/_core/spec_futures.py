"""Endpoint tables of USD-M (``/fapi``) and COIN-M (``/dapi``) futures (see :mod:`.endpoints`).

Source: binance-futures-reference.md sections 3.3 (weights), 7.1 (listenKey) and 8 (trading
and account).  Names are the typed methods' (:mod:`binance_conn._api.futures`); several repeat
a spot name (``new_order``, ``klines`` ...), so these tables are looked up per product
(:func:`.catalog.for_product`), never through the spot ``BY_NAME``.  Paths never collide with
spot ones, so :func:`.catalog.lookup` (weights, client ids) finds both.

Since 2025-12-09 ``POST /fapi/v1/order`` takes only LIMIT and MARKET; conditional types go to
``POST /fapi/v1/algoOrder`` (``-4120`` otherwise): :data:`CONDITIONAL_TYPES`.  Successful order
placements cost IP weight 0 on futures (order buckets only); 1 is booked here, the safe side,
and the ``X-MBX-USED-WEIGHT`` header corrects it.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, Mapping, Tuple

from .endpoints import NONE, TRADE, USER_DATA, USER_STREAM, Endpoint

__all__ = ["USDM", "COINM", "CONDITIONAL_TYPES", "futures_depth_weight", "futures_klines_weight",
           "symbol_or_all", "DEFAULT_WEIGHT_LIMITS"]

CONDITIONAL_TYPES: FrozenSet[str] = frozenset(
    {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"})
"""Order types served by the Algo Service (``algoOrder``) since 2025-12-09."""

DEFAULT_WEIGHT_LIMITS: Dict[str, int] = {"1M": 2400}
"""REQUEST_WEIGHT per IP until exchangeInfo's ``rateLimits`` say otherwise (reference 3.1)."""


def _int(p: Mapping[str, Any], name: str, default: int) -> int:
    raw = p.get(name)
    try:
        return default if raw is None else int(raw)
    except (TypeError, ValueError):
        return default


def futures_depth_weight(p: Mapping[str, Any]) -> int:
    """``depth``: limit 5-50 -> 2, 100 -> 5, 500 -> 10, 1000 -> 20 (default 500)."""
    limit = _int(p, "limit", 500)
    if limit <= 50:
        return 2
    if limit <= 100:
        return 5
    if limit <= 500:
        return 10
    return 20


def futures_klines_weight(p: Mapping[str, Any]) -> int:
    """Klines: limit [1,100) -> 1, [100,500) -> 2, [500,1000] -> 5, above -> 10 (default 500)."""
    limit = _int(p, "limit", 500)
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    if limit <= 1000:
        return 5
    return 10


def symbol_or_all(single: int, every: int) -> Any:
    """A rule: ``single`` with a ``symbol``, ``every`` without."""
    def rule(p: Mapping[str, Any]) -> int:
        return single if p.get("symbol") is not None else every
    rule.__doc__ = f"{single} with a symbol, {every} without"
    return rule


_T = ("recvWindow",)
ORDER_PARAMS: Tuple[str, ...] = (
    "symbol", "side", "positionSide", "type", "timeInForce", "quantity", "reduceOnly", "price",
    "newClientOrderId", "newOrderRespType", "priceMatch", "selfTradePreventionMode", "goodTillDate", "recvWindow",
)
ALGO_PARAMS: Tuple[str, ...] = (
    "algoType", "symbol", "side", "positionSide", "type", "timeInForce", "quantity", "price", "triggerPrice",
    "workingType", "priceMatch", "closePosition", "priceProtect", "reduceOnly", "activatePrice", "callbackRate",
    "clientAlgoId", "newOrderRespType", "selfTradePreventionMode", "goodTillDate", "recvWindow",
)
_KLINES = ("symbol", "interval", "startTime", "endTime", "limit")


def _table(p: str, acct: str) -> Tuple[Endpoint, ...]:
    """The table of one product: ``p`` the path prefix (``/fapi`` or ``/dapi``), ``acct`` the version
    of account/balance/positionRisk (``v3`` on USD-M, ``v1`` on COIN-M)."""
    coinm = p == "/dapi"
    ticker_price = f"{p}/v1/ticker/price" if coinm else f"{p}/v2/ticker/price"
    return (
        # -- general and market data (NONE)
        Endpoint("ping", "GET", f"{p}/v1/ping", NONE, 1),
        Endpoint("server_time", "GET", f"{p}/v1/time", NONE, 1),
        Endpoint("exchange_info", "GET", f"{p}/v1/exchangeInfo", NONE, 1),
        Endpoint("depth", "GET", f"{p}/v1/depth", NONE, futures_depth_weight, "depth", ("symbol", "limit"),
                 ("symbol",)),
        Endpoint("trades", "GET", f"{p}/v1/trades", NONE, 5, None, ("symbol", "limit"), ("symbol",)),
        Endpoint("agg_trades", "GET", f"{p}/v1/aggTrades", NONE, 20, None,
                 ("symbol", "fromId", "startTime", "endTime", "limit"), ("symbol",)),
        Endpoint("klines", "GET", f"{p}/v1/klines", NONE, futures_klines_weight, None, _KLINES,
                 ("symbol", "interval")),
        Endpoint("mark_price_klines", "GET", f"{p}/v1/markPriceKlines", NONE, futures_klines_weight, None, _KLINES,
                 ("symbol", "interval")),
        Endpoint("ticker_price", "GET", ticker_price, NONE, symbol_or_all(1, 2), "ticker.price", ("symbol",)),
        Endpoint("book_ticker", "GET", f"{p}/v1/ticker/bookTicker", NONE, symbol_or_all(2, 5), "ticker.book",
                 ("symbol",)),
        Endpoint("ticker_24hr", "GET", f"{p}/v1/ticker/24hr", NONE, symbol_or_all(1, 40), None, ("symbol",)),
        Endpoint("premium_index", "GET", f"{p}/v1/premiumIndex", NONE, 10 if coinm else symbol_or_all(1, 10), None,
                 ("symbol", "pair") if coinm else ("symbol",)),
        Endpoint("funding_rate_history", "GET", f"{p}/v1/fundingRate", NONE, 1, None,
                 ("symbol", "startTime", "endTime", "limit")),
        Endpoint("open_interest", "GET", f"{p}/v1/openInterest", NONE, 1, None, ("symbol",), ("symbol",)),
        # -- trading (TRADE)
        Endpoint("new_order", "POST", f"{p}/v1/order", TRADE, 1, "order.place", ORDER_PARAMS,
                 ("symbol", "side", "type"), places_order=True, order_id_param="newClientOrderId", ws_weight=0),
        Endpoint("new_algo_order", "POST", f"{p}/v1/algoOrder", TRADE, 1, "algoOrder.place", ALGO_PARAMS,
                 ("algoType", "symbol", "side", "type"), places_order=True, order_id_param="clientAlgoId",
                 ws_weight=0),
        Endpoint("new_batch_orders", "POST", f"{p}/v1/batchOrders", TRADE, 5, None, ("batchOrders",) + _T,
                 ("batchOrders",)),
        Endpoint("modify_order", "PUT", f"{p}/v1/order", TRADE, 1, "order.modify",
                 ("symbol", "side", "orderId", "origClientOrderId", "quantity", "price", "priceMatch") + _T,
                 ("symbol", "side"), ws_weight=0),
        Endpoint("cancel_order", "DELETE", f"{p}/v1/order", TRADE, 1, "order.cancel",
                 ("symbol", "orderId", "origClientOrderId") + _T, ("symbol",)),
        Endpoint("cancel_algo_order", "DELETE", f"{p}/v1/algoOrder", TRADE, 1, "algoOrder.cancel",
                 ("algoId", "clientAlgoId") + _T),
        Endpoint("cancel_batch_orders", "DELETE", f"{p}/v1/batchOrders", TRADE, 1, None,
                 ("symbol", "orderIdList", "origClientOrderIdList") + _T, ("symbol",)),
        Endpoint("cancel_all_orders", "DELETE", f"{p}/v1/allOpenOrders", TRADE, 1, None, ("symbol",) + _T,
                 ("symbol",)),
        Endpoint("cancel_all_algo_orders", "DELETE", f"{p}/v1/algoOpenOrders", TRADE, 1, None, ("symbol",) + _T,
                 ("symbol",)),
        Endpoint("countdown_cancel_all", "POST", f"{p}/v1/countdownCancelAll", TRADE, 10, None,
                 ("symbol", "countdownTime") + _T, ("symbol", "countdownTime")),
        # -- orders and trades (USER_DATA)
        Endpoint("get_order", "GET", f"{p}/v1/order", USER_DATA, 1, "order.status",
                 ("symbol", "orderId", "origClientOrderId") + _T, ("symbol",)),
        Endpoint("get_algo_order", "GET", f"{p}/v1/algoOrder", USER_DATA, 1, None, ("algoId", "clientAlgoId") + _T),
        Endpoint("open_orders", "GET", f"{p}/v1/openOrders", USER_DATA, symbol_or_all(1, 40), None,
                 ("symbol",) + _T),
        Endpoint("open_algo_orders", "GET", f"{p}/v1/openAlgoOrders", USER_DATA, symbol_or_all(1, 40), None,
                 ("symbol", "algoType", "algoId") + _T),
        Endpoint("all_orders", "GET", f"{p}/v1/allOrders", USER_DATA, 20 if coinm else 5, None,
                 ("symbol", "pair", "orderId", "startTime", "endTime", "limit") + _T),
        Endpoint("my_trades", "GET", f"{p}/v1/userTrades", USER_DATA, 20 if coinm else 5, None,
                 ("symbol", "pair", "orderId", "startTime", "endTime", "fromId", "limit") + _T),
        # -- account (USER_DATA)
        Endpoint("positions", "GET", f"{p}/{acct}/positionRisk", USER_DATA, 1 if coinm else 5,
                 None if coinm else "v2/account.position", ("symbol", "marginAsset", "pair") + _T),
        Endpoint("account", "GET", f"{p}/{acct}/account", USER_DATA, 5, None if coinm else "v2/account.status", _T),
        Endpoint("balance", "GET", f"{p}/{acct}/balance", USER_DATA, 1 if coinm else 5,
                 None if coinm else "v2/account.balance", _T),
        Endpoint("set_leverage", "POST", f"{p}/v1/leverage", TRADE, 1, None, ("symbol", "leverage") + _T,
                 ("symbol", "leverage")),
        Endpoint("set_margin_type", "POST", f"{p}/v1/marginType", TRADE, 1, None, ("symbol", "marginType") + _T,
                 ("symbol", "marginType")),
        Endpoint("set_position_mode", "POST", f"{p}/v1/positionSide/dual", TRADE, 1, None,
                 ("dualSidePosition",) + _T, ("dualSidePosition",)),
        Endpoint("position_mode", "GET", f"{p}/v1/positionSide/dual", USER_DATA, 30, None, _T),
        Endpoint("income", "GET", f"{p}/v1/income", USER_DATA, 20 if coinm else 30, None,
                 ("symbol", "incomeType", "startTime", "endTime", "page", "limit") + _T),
        Endpoint("commission_rate", "GET", f"{p}/v1/commissionRate", USER_DATA, 20, None, ("symbol",) + _T,
                 ("symbol",)),
        Endpoint("order_rate_limit", "GET", f"{p}/v1/rateLimit/order", USER_DATA, 1, None, _T),
        # -- user data stream (API key, no signature)
        Endpoint("new_listen_key", "POST", f"{p}/v1/listenKey", USER_STREAM, 1, "userDataStream.start"),
        Endpoint("keepalive_listen_key", "PUT", f"{p}/v1/listenKey", USER_STREAM, 1, "userDataStream.ping",
                 ("listenKey",)),
        Endpoint("close_listen_key", "DELETE", f"{p}/v1/listenKey", USER_STREAM, 1, "userDataStream.stop",
                 ("listenKey",)),
    )


USDM: Tuple[Endpoint, ...] = _table("/fapi", "v3")
"""USD-M futures (``https://fapi.binance.com``)."""
COINM: Tuple[Endpoint, ...] = _table("/dapi", "v1")
"""COIN-M futures (``https://dapi.binance.com``): ``/dapi/v1`` account, balance and positionRisk;
``/dapi/v1/algoOrder`` since the 2026-06-30 CM-UM integration (its parameters: unconfirmed, taken as UM's)."""
