"""Typed trading methods (see :mod:`binance_conn._api`): rest-api.md "Trading endpoints",
web-socket-api.md "Trading requests".

Every method takes Python-named keyword arguments and passes any other parameter
through ``**extra``, by its Binance name (``stopLimitPrice``) or its Python spelling
(``stop_limit_price``: snake case is turned into the documented camelCase name; an
undocumented snake-case name raises :class:`ValidationError`, so a typo never reaches
Binance as a silently ignored parameter).  Prices and quantities are ``Decimal``,
``str`` or ``int``; a ``float`` raises :class:`ValidationError` unless the config allows
it.  Answers keep Binance's JSON shape with every price and quantity as ``Decimal``.

Order placement (``new_order``, ``cancel_replace``, the order lists, SOR) always sends a
client id (``newClientOrderId``, or ``listClientOrderId`` for an order list: the caller's
or a generated one), is never re-sent blindly, and an unknown outcome raises
:class:`binance_conn.UnknownStatusError` carrying that id and the symbol.  Unless the
caller sets ``new_order_resp_type``, placements ask for ``FULL`` answers, so every order
type (``LIMIT_MAKER``, ``STOP_LOSS_LIMIT`` ... default to ``ACK`` at Binance) comes back
with its status and fills.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional

from .._core import catalog
from .._core.endpoints import Endpoint
from .._core.params import check_client_order_id, decimalize, new_client_order_id
from ..errors import APIError, UnknownStatusError, ValidationError
from .base import JSON, ApiBase, Number, params_of

__all__ = ["TradingApi", "binance_names"]

_SNAKE = re.compile(r"_([a-z0-9])")
_ID_FIELDS = {"newClientOrderId": "client_order_id", "listClientOrderId": "list_client_order_id"}
FULL = "FULL"


def binance_names(endpoint: Endpoint, extra: Mapping[str, Any]) -> Dict[str, Any]:
    """``extra`` with Python-spelled names of ``endpoint``'s documented parameters turned into
    Binance's (``stop_limit_price`` -> ``stopLimitPrice``); Binance names pass unchanged.

    Raises:
        ValidationError: a snake-case name that is no documented parameter of the endpoint.
    """
    out: Dict[str, Any] = {}
    for name, value in extra.items():
        if "_" in name:
            camel = _SNAKE.sub(lambda m: m.group(1).upper(), name)
            if camel not in endpoint.params:
                raise ValidationError(name, value, f"not a parameter of {endpoint.name} "
                                      f"(documented: {', '.join(endpoint.params)})")
            name = camel
        out[name] = value
    return out


def _one_of(field: str, *values: Any) -> None:
    if all(v is None for v in values):
        raise ValidationError(field, None, "give " + " or ".join(f.strip() for f in field.split("/")))


class TradingApi(ApiBase):
    """Trading endpoints; each method documents its endpoint, weight and security (all ``TRADE``:
    signed).  Over REST (``conn.rest``) and the WebSocket API (``conn.ws_api``) alike."""

    # ---------------------------------------------------------------- plumbing

    def _trade(self, name: str, params: Dict[str, Any], extra: Mapping[str, Any], timeout: Any, *,
               full: bool = False, client_order_id: Optional[str] = None) -> Any:
        """Send one trading endpoint: map ``extra``, fill the client id of a placement, default
        ``newOrderRespType`` to FULL (``full``), decimalize the answer."""
        ep = catalog.BY_NAME[name]
        if extra:
            params.update(binance_names(ep, extra))
        params = params_of(**params)
        if full:
            params.setdefault("newOrderRespType", FULL)
        symbol = params.get("symbol")
        cid = client_order_id
        id_param = ep.order_id_param
        if ep.places_order and id_param is not None:
            given = params.get(id_param)
            cid = new_client_order_id() if given is None else check_client_order_id(
                given, _ID_FIELDS.get(id_param, id_param))
            params[id_param] = cid
        try:
            result = decimalize(self._call(ep, params, timeout=timeout, client_order_id=cid, symbol=symbol))
        except UnknownStatusError as err:
            if ep.places_order and cid is not None:
                err.client_order_id = cid
                err.symbol = symbol
                err.details["client_order_id"] = cid
                if id_param == "listClientOrderId":
                    err.details["list_client_order_id"] = cid
            raise
        except APIError as err:  # cancel-replace: the new order may be placed though the cancel failed
            placed = getattr(err, "new_order_response", None)
            if isinstance(placed, Mapping) and "orderId" in placed:
                self._placed(placed)
            raise
        if ep.places_order:
            self._placed(result)
        return result

    # ---------------------------------------------------------------- single orders

    def new_order(self, symbol: str, side: str, type: str, *, quantity: Optional[Number] = None,  # noqa: A002
                  price: Optional[Number] = None, time_in_force: Optional[str] = None,
                  client_order_id: Optional[str] = None, quote_order_qty: Optional[Number] = None,
                  stop_price: Optional[Number] = None, trailing_delta: Optional[int] = None,
                  iceberg_qty: Optional[Number] = None, new_order_resp_type: Optional[str] = None,
                  self_trade_prevention_mode: Optional[str] = None, strategy_id: Optional[int] = None,
                  strategy_type: Optional[int] = None, peg_price_type: Optional[str] = None,
                  peg_offset_value: Optional[int] = None, peg_offset_type: Optional[str] = None,
                  timeout: Any = None, **extra: Any) -> JSON:
        """``POST /api/v3/order`` / ``order.place`` (weight 1, TRADE); never re-sent blindly.

        A ``newClientOrderId`` is always sent (``client_order_id`` or a generated one);
        when the outcome is unknown (read timeout, 5xx, -1000/-1006/-1007, connection lost)
        :class:`UnknownStatusError` carries it: pass the error to ``conn.rest.reconcile_order``.
        ``newOrderRespType`` is ``FULL`` unless ``new_order_resp_type`` says otherwise.
        ``timeout``: this call's deadline (s).
        """
        params: Dict[str, Any] = {
            "symbol": symbol, "side": side, "type": type, "timeInForce": time_in_force, "quantity": quantity,
            "quoteOrderQty": quote_order_qty, "price": price, "newClientOrderId": client_order_id,
            "strategyId": strategy_id, "strategyType": strategy_type, "stopPrice": stop_price,
            "trailingDelta": trailing_delta, "icebergQty": iceberg_qty, "newOrderRespType": new_order_resp_type,
            "selfTradePreventionMode": self_trade_prevention_mode, "pegPriceType": peg_price_type,
            "pegOffsetValue": peg_offset_value, "pegOffsetType": peg_offset_type}
        return self._trade("new_order", params, extra, timeout, full=True)

    def test_order(self, symbol: str, side: str, type: str, *, compute_commission_rates: bool = False,  # noqa: A002
                   quantity: Optional[Number] = None, price: Optional[Number] = None,
                   time_in_force: Optional[str] = None, quote_order_qty: Optional[Number] = None,
                   stop_price: Optional[Number] = None, timeout: Any = None, **extra: Any) -> JSON:
        """``POST /api/v3/order/test`` / ``order.test`` (TRADE; weight 1, 20 with
        ``compute_commission_rates``): validates an order without placing it.  Returns ``{}``, or
        the commission rates (Decimals) with ``compute_commission_rates=True``.  Any other
        ``new_order`` parameter goes through ``extra``."""
        params: Dict[str, Any] = {
            "symbol": symbol, "side": side, "type": type, "timeInForce": time_in_force, "quantity": quantity,
            "quoteOrderQty": quote_order_qty, "price": price, "stopPrice": stop_price,
            "computeCommissionRates": True if compute_commission_rates else None}
        return self._trade("test_order", params, extra, timeout)

    def cancel_order(self, symbol: str, order_id: Optional[int] = None, client_order_id: Optional[str] = None, *,
                     new_client_order_id: Optional[str] = None, cancel_restrictions: Optional[str] = None,
                     timeout: Any = None, **extra: Any) -> JSON:
        """``DELETE /api/v3/order`` / ``order.cancel`` (weight 1, TRADE) by ``order_id`` or
        ``client_order_id`` (the order's ``origClientOrderId``).

        REST retries it as a safe request; if a retried cancel is answered "Unknown order"
        after an attempt that may have gone through, the order's real state is returned
        instead of :class:`NotFoundError`.  Over the WebSocket API it is not re-sent.
        """
        _one_of("order_id/client_order_id", order_id, client_order_id)
        params: Dict[str, Any] = {"symbol": symbol, "orderId": order_id, "origClientOrderId": client_order_id,
                                  "newClientOrderId": new_client_order_id, "cancelRestrictions": cancel_restrictions}
        return self._trade("cancel_order", params, extra, timeout, client_order_id=client_order_id)

    def cancel_open_orders(self, symbol: str, *, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``DELETE /api/v3/openOrders`` / ``openOrders.cancelAll`` (weight 1, TRADE): cancels every
        open order of ``symbol``, order lists included.  Returns the cancel reports (orders, and
        list statuses with their ``orderReports``)."""
        result: List[JSON] = self._trade("cancel_open_orders", {"symbol": symbol}, extra, timeout)
        return result

    def cancel_replace(self, symbol: str, side: str, type: str, cancel_replace_mode: str, *,  # noqa: A002
                       cancel_order_id: Optional[int] = None, cancel_orig_client_order_id: Optional[str] = None,
                       cancel_new_client_order_id: Optional[str] = None, quantity: Optional[Number] = None,
                       price: Optional[Number] = None, time_in_force: Optional[str] = None,
                       client_order_id: Optional[str] = None, quote_order_qty: Optional[Number] = None,
                       stop_price: Optional[Number] = None, trailing_delta: Optional[int] = None,
                       iceberg_qty: Optional[Number] = None, new_order_resp_type: Optional[str] = None,
                       self_trade_prevention_mode: Optional[str] = None, cancel_restrictions: Optional[str] = None,
                       order_rate_limit_exceeded_mode: Optional[str] = None, timeout: Any = None,
                       **extra: Any) -> JSON:
        """``POST /api/v3/order/cancelReplace`` / ``order.cancelReplace`` (weight 1, TRADE): cancel
        ``cancel_order_id`` (or ``cancel_orig_client_order_id``) and place a new order.

        ``cancel_replace_mode``: ``STOP_ON_FAILURE`` or ``ALLOW_FAILURE``.  Returns
        ``{"cancelResult", "newOrderResult", "cancelResponse", "newOrderResponse"}``.  A partial
        or complete failure (-2021 / -2022) raises ``CancelReplaceError`` (an :class:`APIError`)
        whose ``.data`` holds Binance's ``data`` block (both halves' answers, Decimals).  The new
        order always carries a ``newClientOrderId`` (unknown outcome: :class:`UnknownStatusError`
        with it) and defaults to a ``FULL`` answer.
        """
        _one_of("cancel_order_id/cancel_orig_client_order_id", cancel_order_id, cancel_orig_client_order_id)
        params: Dict[str, Any] = {
            "symbol": symbol, "side": side, "type": type, "cancelReplaceMode": cancel_replace_mode,
            "timeInForce": time_in_force, "quantity": quantity, "quoteOrderQty": quote_order_qty, "price": price,
            "cancelNewClientOrderId": cancel_new_client_order_id,
            "cancelOrigClientOrderId": cancel_orig_client_order_id, "cancelOrderId": cancel_order_id,
            "newClientOrderId": client_order_id, "stopPrice": stop_price, "trailingDelta": trailing_delta,
            "icebergQty": iceberg_qty, "newOrderRespType": new_order_resp_type,
            "selfTradePreventionMode": self_trade_prevention_mode, "cancelRestrictions": cancel_restrictions,
            "orderRateLimitExceededMode": order_rate_limit_exceeded_mode}
        return self._trade("cancel_replace", params, extra, timeout, full=True)

    def amend_order(self, symbol: str, new_qty: Number, *, order_id: Optional[int] = None,
                    orig_client_order_id: Optional[str] = None, new_client_order_id: Optional[str] = None,
                    timeout: Any = None, **extra: Any) -> JSON:
        """``PUT /api/v3/order/amend/keepPriority`` / ``order.amend.keepPriority`` (weight 4, TRADE):
        reduce an open order's quantity to ``new_qty`` keeping its place in the queue.  Returns
        ``{"transactTime", "executionId", "amendedOrder"[, "listStatus"]}``."""
        _one_of("order_id/orig_client_order_id", order_id, orig_client_order_id)
        params: Dict[str, Any] = {"symbol": symbol, "orderId": order_id, "origClientOrderId": orig_client_order_id,
                                  "newClientOrderId": new_client_order_id, "newQty": new_qty}
        return self._trade("amend_order", params, extra, timeout, client_order_id=orig_client_order_id)

    # ---------------------------------------------------------------- order lists

    def new_oco(self, symbol: str, side: str, quantity: Number, price: Number, stop_price: Optional[Number] = None,
                *, stop_limit_price: Optional[Number] = None, stop_limit_time_in_force: Optional[str] = None,
                trailing_delta: Optional[int] = None, list_client_order_id: Optional[str] = None,
                new_order_resp_type: Optional[str] = None, timeout: Any = None, **extra: Any) -> JSON:
        """DEPRECATED by Binance: ``POST /api/v3/order/oco`` / ``orderList.place`` (weight 1, TRADE).
        Prefer :meth:`new_order_list_oco`.  A LIMIT_MAKER leg at ``price`` and a STOP_LOSS(_LIMIT)
        leg at ``stop_price`` (``stop_limit_price`` makes it a limit).  Leg options by name
        (``limit_client_order_id``, ``stop_iceberg_qty`` ...) go through ``extra``."""
        params: Dict[str, Any] = {
            "symbol": symbol, "side": side, "quantity": quantity, "price": price, "stopPrice": stop_price,
            "stopLimitPrice": stop_limit_price, "stopLimitTimeInForce": stop_limit_time_in_force,
            "trailingDelta": trailing_delta, "listClientOrderId": list_client_order_id,
            "newOrderRespType": new_order_resp_type}
        return self._trade("new_oco", params, extra, timeout, full=True)

    def new_order_list_oco(self, symbol: str, side: str, quantity: Number, above_type: str, below_type: str, *,
                           above_price: Optional[Number] = None, above_stop_price: Optional[Number] = None,
                           above_trailing_delta: Optional[int] = None, above_time_in_force: Optional[str] = None,
                           above_client_order_id: Optional[str] = None, below_price: Optional[Number] = None,
                           below_stop_price: Optional[Number] = None, below_trailing_delta: Optional[int] = None,
                           below_time_in_force: Optional[str] = None, below_client_order_id: Optional[str] = None,
                           list_client_order_id: Optional[str] = None, new_order_resp_type: Optional[str] = None,
                           timeout: Any = None, **legs: Any) -> JSON:
        """``POST /api/v3/orderList/oco`` / ``orderList.place.oco`` (weight 1, TRADE): a
        one-cancels-the-other pair, the *above* and the *below* order.  Other leg options
        (``above_iceberg_qty``, ``belowStrategyId``, ``above_peg_price_type`` ...) go through
        ``legs`` by Python or Binance name."""
        params: Dict[str, Any] = {
            "symbol": symbol, "side": side, "quantity": quantity, "aboveType": above_type,
            "belowType": below_type, "abovePrice": above_price, "aboveStopPrice": above_stop_price,
            "aboveTrailingDelta": above_trailing_delta, "aboveTimeInForce": above_time_in_force,
            "aboveClientOrderId": above_client_order_id, "belowPrice": below_price,
            "belowStopPrice": below_stop_price, "belowTrailingDelta": below_trailing_delta,
            "belowTimeInForce": below_time_in_force, "belowClientOrderId": below_client_order_id,
            "listClientOrderId": list_client_order_id, "newOrderRespType": new_order_resp_type}
        return self._trade("new_order_list_oco", params, legs, timeout, full=True)

    @staticmethod
    def _working(symbol: str, working_type: str, working_side: str, working_price: Number,
                 working_quantity: Number, list_client_order_id: Optional[str],
                 new_order_resp_type: Optional[str]) -> Dict[str, Any]:
        return {"symbol": symbol, "workingType": working_type, "workingSide": working_side,
                "workingPrice": working_price, "workingQuantity": working_quantity,
                "listClientOrderId": list_client_order_id, "newOrderRespType": new_order_resp_type}

    def new_order_list_oto(self, symbol: str, working_type: str, working_side: str, working_price: Number,
                           working_quantity: Number, pending_type: str, pending_side: str, pending_quantity: Number,
                           *, working_time_in_force: Optional[str] = None, pending_price: Optional[Number] = None,
                           pending_stop_price: Optional[Number] = None, pending_trailing_delta: Optional[Number] = None,
                           pending_time_in_force: Optional[str] = None, list_client_order_id: Optional[str] = None,
                           new_order_resp_type: Optional[str] = None, timeout: Any = None, **legs: Any) -> JSON:
        """``POST /api/v3/orderList/oto`` / ``orderList.place.oto`` (weight 1, TRADE): the
        *working* order (LIMIT or LIMIT_MAKER) triggers the *pending* one once fully filled.
        Other leg options (``working_iceberg_qty``, ``pendingClientOrderId`` ...) via ``legs``."""
        params = self._working(symbol, working_type, working_side, working_price, working_quantity,
                               list_client_order_id, new_order_resp_type)
        params.update({"workingTimeInForce": working_time_in_force, "pendingType": pending_type,
                       "pendingSide": pending_side, "pendingQuantity": pending_quantity, "pendingPrice": pending_price,
                       "pendingStopPrice": pending_stop_price, "pendingTrailingDelta": pending_trailing_delta,
                       "pendingTimeInForce": pending_time_in_force})
        return self._trade("new_order_list_oto", params, legs, timeout, full=True)

    def new_order_list_otoco(self, symbol: str, working_type: str, working_side: str, working_price: Number,
                             working_quantity: Number, pending_side: str, pending_quantity: Number,
                             pending_above_type: str, *, pending_below_type: Optional[str] = None,
                             list_client_order_id: Optional[str] = None, new_order_resp_type: Optional[str] = None,
                             timeout: Any = None, **legs: Any) -> JSON:
        """``POST /api/v3/orderList/otoco`` / ``orderList.place.otoco`` (weight 1, TRADE): a working
        order that, once filled, places an OCO pair (pending above / pending below).  Leg options
        (``working_time_in_force``, ``pending_above_price``, ``pending_below_stop_price`` ...) via ``legs``."""
        params = self._working(symbol, working_type, working_side, working_price, working_quantity,
                               list_client_order_id, new_order_resp_type)
        params.update({"pendingSide": pending_side, "pendingQuantity": pending_quantity,
                       "pendingAboveType": pending_above_type, "pendingBelowType": pending_below_type})
        return self._trade("new_order_list_otoco", params, legs, timeout, full=True)

    def new_order_list_opo(self, symbol: str, working_type: str, working_side: str, working_price: Number,
                           working_quantity: Number, pending_type: str, pending_side: str, *,
                           list_client_order_id: Optional[str] = None, new_order_resp_type: Optional[str] = None,
                           timeout: Any = None, **legs: Any) -> JSON:
        """``POST /api/v3/orderList/opo`` / ``orderList.place.opo`` (weight 1, TRADE): like OTO, but
        the pending order is placed as the working order fills (faqs/opo.md); its quantity follows
        the working order's.  Leg options (``working_time_in_force``, ``pending_price`` ...) via ``legs``."""
        params = self._working(symbol, working_type, working_side, working_price, working_quantity,
                               list_client_order_id, new_order_resp_type)
        params.update({"pendingType": pending_type, "pendingSide": pending_side})
        return self._trade("new_order_list_opo", params, legs, timeout, full=True)

    def new_order_list_opoco(self, symbol: str, working_type: str, working_side: str, working_price: Number,
                             working_quantity: Number, pending_side: str, pending_above_type: str, *,
                             pending_below_type: Optional[str] = None, list_client_order_id: Optional[str] = None,
                             new_order_resp_type: Optional[str] = None, timeout: Any = None, **legs: Any) -> JSON:
        """``POST /api/v3/orderList/opoco`` / ``orderList.place.opoco`` (weight 1, TRADE): OPO whose
        pending side is an OCO pair.  Leg options (``pending_above_price`` ...) via ``legs``."""
        params = self._working(symbol, working_type, working_side, working_price, working_quantity,
                               list_client_order_id, new_order_resp_type)
        params.update({"pendingSide": pending_side, "pendingAboveType": pending_above_type,
                       "pendingBelowType": pending_below_type})
        return self._trade("new_order_list_opoco", params, legs, timeout, full=True)

    def cancel_order_list(self, symbol: str, order_list_id: Optional[int] = None,
                          list_client_order_id: Optional[str] = None, *, new_client_order_id: Optional[str] = None,
                          timeout: Any = None, **extra: Any) -> JSON:
        """``DELETE /api/v3/orderList`` / ``orderList.cancel`` (weight 1, TRADE): cancel a whole order
        list by ``order_list_id`` or ``list_client_order_id``; REST retries it as a safe request."""
        _one_of("order_list_id/list_client_order_id", order_list_id, list_client_order_id)
        params: Dict[str, Any] = {"symbol": symbol, "orderListId": order_list_id,
                                  "listClientOrderId": list_client_order_id, "newClientOrderId": new_client_order_id}
        return self._trade("cancel_order_list", params, extra, timeout)

    # ---------------------------------------------------------------- SOR

    def new_sor_order(self, symbol: str, side: str, type: str, quantity: Number, *,  # noqa: A002
                      price: Optional[Number] = None, time_in_force: Optional[str] = None,
                      client_order_id: Optional[str] = None, new_order_resp_type: Optional[str] = None,
                      timeout: Any = None, **extra: Any) -> JSON:
        """``POST /api/v3/sor/order`` / ``sor.order.place`` (weight 1, TRADE): an order through
        smart order routing (LIMIT or MARKET).  Client id and unknown outcome as :meth:`new_order`.
        Over the WebSocket API the answer is a list (one entry per order)."""
        params: Dict[str, Any] = {"symbol": symbol, "side": side, "type": type, "quantity": quantity,
                                  "price": price, "timeInForce": time_in_force, "newClientOrderId": client_order_id,
                                  "newOrderRespType": new_order_resp_type}
        return self._trade("new_sor_order", params, extra, timeout, full=True)

    def test_sor_order(self, symbol: str, side: str, type: str, quantity: Number, *,  # noqa: A002
                       compute_commission_rates: bool = False, price: Optional[Number] = None,
                       time_in_force: Optional[str] = None, timeout: Any = None, **extra: Any) -> JSON:
        """``POST /api/v3/sor/order/test`` / ``sor.order.test`` (TRADE; weight 1, 20 with
        ``compute_commission_rates``): validates an SOR order without placing it."""
        params: Dict[str, Any] = {"symbol": symbol, "side": side, "type": type, "quantity": quantity,
                                  "price": price, "timeInForce": time_in_force,
                                  "computeCommissionRates": True if compute_commission_rates else None}
        return self._trade("test_sor_order", params, extra, timeout)
