"""Typed USD-M and COIN-M futures trading and account methods (README "Futures (USD-M and COIN-M)").

:class:`FuturesApi` (market data and plumbing in :mod:`.futures_market`) over the tables of
:mod:`binance_conn._core.spec_futures`.  ``new_order`` routes the conditional types (STOP,
STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET) to the Algo Service
(``POST /fapi/v1/algoOrder``, ``algoType=CONDITIONAL``, ``stop_price`` sent as ``triggerPrice``):
``POST /fapi/v1/order`` takes only LIMIT and MARKET since 2025-12-09 (``-4120`` otherwise).
Algo orders have their own ids (``algoId``, ``clientAlgoId``); ``get_order`` and
``cancel_order`` take ``algo_id``/``client_algo_id`` and, asked by ``client_order_id`` for an
order the order book does not know, try the algo order of that client id, so
``reconcile_order`` resolves both kinds of placement.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

import simplejson

from .._core.numbers import format_param
from .._core.params import check_client_order_id, new_client_order_id
from .._core.spec_futures import CONDITIONAL_TYPES
from ..errors import NotFoundError, ValidationError
from .base import JSON, Number
from .futures_market import FuturesMarketApi, choice, limit_of

__all__ = ["FuturesApi"]

_TIF = ("GTC", "IOC", "FOK", "GTX", "GTD", "RPI")
_MARGIN_TYPES = ("ISOLATED", "CROSSED")
_POSITION_SIDES = ("BOTH", "LONG", "SHORT")
_MAX_BATCH = 5


class FuturesApi(FuturesMarketApi):
    """Futures trading (TRADE) and account (USER_DATA) endpoints, plus the listenKey (USER_STREAM)."""

    # ---------------------------------------------------------------- orders

    def _order_params(self, symbol: str, side: str, type: str, quantity: Optional[Number],  # noqa: A002
                      price: Optional[Number], time_in_force: Optional[str], position_side: Optional[str],
                      reduce_only: Optional[bool], price_match: Optional[str],
                      self_trade_prevention_mode: Optional[str], good_till_date: Optional[int],
                      new_order_resp_type: Optional[str]) -> Dict[str, Any]:
        if good_till_date is not None and str(time_in_force).upper() != "GTD":
            raise ValidationError("good_till_date", good_till_date, "only with time_in_force='GTD'")
        return {"symbol": symbol, "side": side, "type": type, "quantity": quantity, "price": price,
                "timeInForce": choice("time_in_force", time_in_force, _TIF),
                "positionSide": choice("position_side", position_side, _POSITION_SIDES),
                "reduceOnly": reduce_only, "priceMatch": price_match,
                "selfTradePreventionMode": self_trade_prevention_mode, "goodTillDate": good_till_date,
                "newOrderRespType": new_order_resp_type}

    def new_order(self, symbol: str, side: str, type: str, *, quantity: Optional[Number] = None,  # noqa: A002
                  price: Optional[Number] = None, time_in_force: Optional[str] = None,
                  position_side: Optional[str] = None, reduce_only: Optional[bool] = None,
                  close_position: Optional[bool] = None, stop_price: Optional[Number] = None,
                  working_type: Optional[str] = None, price_protect: Optional[bool] = None,
                  activation_price: Optional[Number] = None, callback_rate: Optional[Number] = None,
                  price_match: Optional[str] = None, self_trade_prevention_mode: Optional[str] = None,
                  good_till_date: Optional[int] = None, client_order_id: Optional[str] = None,
                  new_order_resp_type: Optional[str] = None, timeout: Any = None, **extra: Any) -> JSON:
        """Place an order (TRADE): LIMIT/MARKET on ``POST /fapi/v1/order`` (order buckets 1; IP weight 0,
        1 booked); a conditional type on ``POST /fapi/v1/algoOrder`` (see :meth:`new_algo_order`).

        ``position_side`` BOTH (one-way, default) or LONG/SHORT (required in hedge mode, where
        ``reduce_only`` is refused); ``time_in_force`` GTC, IOC, FOK, GTX (post-only), GTD (with
        ``good_till_date``, ms), RPI; ``price_match`` OPPONENT[_5/10/20]/QUEUE[_5/10/20] instead of a
        price.  ``close_position``, ``stop_price``, ``working_type``, ``price_protect``,
        ``activation_price`` and ``callback_rate`` belong to conditional orders only (ValidationError on
        LIMIT/MARKET).  A client id is always sent (``client_order_id`` or a generated one); an unknown
        outcome raises :class:`UnknownStatusError` with it (``conn.rest.reconcile_order(err)``).
        Answers default to Binance's ``ACK`` (``new_order_resp_type="RESULT"`` for the final state of
        MARKET/IOC/FOK orders).
        """
        kind = str(type).upper()
        if kind in CONDITIONAL_TYPES:
            return self.new_algo_order(
                symbol, side, kind, quantity=quantity, price=price, trigger_price=stop_price,
                time_in_force=time_in_force, position_side=position_side, reduce_only=reduce_only,
                close_position=close_position, working_type=working_type, price_protect=price_protect,
                activate_price=activation_price, callback_rate=callback_rate, price_match=price_match,
                self_trade_prevention_mode=self_trade_prevention_mode, good_till_date=good_till_date,
                client_algo_id=client_order_id, new_order_resp_type=new_order_resp_type, timeout=timeout, **extra)
        for field, value in (("close_position", close_position), ("stop_price", stop_price),
                             ("working_type", working_type), ("price_protect", price_protect),
                             ("activation_price", activation_price), ("callback_rate", callback_rate)):
            if value is not None:
                raise ValidationError(field, value, "only for conditional orders (" +
                                      ", ".join(sorted(CONDITIONAL_TYPES)) + ")")
        params = self._order_params(symbol, side, kind, quantity, price, time_in_force, position_side, reduce_only,
                                    price_match, self_trade_prevention_mode, good_till_date, new_order_resp_type)
        params["newClientOrderId"] = client_order_id
        return self._f("new_order", params, extra, timeout)

    def new_algo_order(self, symbol: str, side: str, type: str, *, quantity: Optional[Number] = None,  # noqa: A002
                       price: Optional[Number] = None, trigger_price: Optional[Number] = None,
                       time_in_force: Optional[str] = None, position_side: Optional[str] = None,
                       reduce_only: Optional[bool] = None, close_position: Optional[bool] = None,
                       working_type: Optional[str] = None, price_protect: Optional[bool] = None,
                       activate_price: Optional[Number] = None, callback_rate: Optional[Number] = None,
                       price_match: Optional[str] = None, self_trade_prevention_mode: Optional[str] = None,
                       good_till_date: Optional[int] = None, client_algo_id: Optional[str] = None,
                       new_order_resp_type: Optional[str] = None, timeout: Any = None, **extra: Any) -> JSON:
        """``POST /fapi/v1/algoOrder`` (TRADE; order buckets 1, IP weight 0, 1 booked): a conditional order
        (``algoType=CONDITIONAL``) triggered at ``trigger_price`` (``working_type`` MARK_PRICE or
        CONTRACT_PRICE); TRAILING_STOP_MARKET takes ``activate_price`` and ``callback_rate`` instead.
        ``close_position=True`` (STOP_MARKET/TAKE_PROFIT_MARKET) closes the whole position and excludes
        ``quantity``.  A ``clientAlgoId`` is always sent.  Answers ``{"algoId", "clientAlgoId",
        "algoStatus", "orderType", "triggerPrice", ...}``."""
        kind = str(type).upper()
        if kind not in CONDITIONAL_TYPES:
            raise ValidationError("type", type, "one of " + ", ".join(sorted(CONDITIONAL_TYPES)))
        if close_position and quantity is not None:
            raise ValidationError("quantity", quantity, "not with close_position=True")
        if kind == "TRAILING_STOP_MARKET":
            if callback_rate is None:
                raise ValidationError("callback_rate", None, "mandatory for TRAILING_STOP_MARKET")
        elif trigger_price is None:
            raise ValidationError("stop_price", None, f"the trigger price is mandatory for {kind}")
        params = self._order_params(symbol, side, kind, quantity, price, time_in_force, position_side, reduce_only,
                                    price_match, self_trade_prevention_mode, good_till_date, new_order_resp_type)
        params.update({"algoType": "CONDITIONAL", "triggerPrice": trigger_price, "workingType": working_type,
                       "closePosition": close_position, "priceProtect": price_protect,
                       "activatePrice": activate_price, "callbackRate": callback_rate, "clientAlgoId": client_algo_id})
        return self._f("new_algo_order", params, extra, timeout)

    def new_batch_orders(self, orders: Sequence[Mapping[str, Any]], *, timeout: Any = None, **extra: Any
                         ) -> List[JSON]:
        """``POST /fapi/v1/batchOrders`` (TRADE; weight 5): up to 5 LIMIT/MARKET orders, each a dict of
        Binance-named parameters (``{"symbol", "side", "type", "quantity", "price", "timeInForce" ...}``);
        each gets a ``newClientOrderId`` when it has none.  The answer lists, in request order, an order
        or an error object ``{"code", "msg"}`` per item (HTTP 200 with partial failures)."""
        if not isinstance(orders, (list, tuple)) or not 1 <= len(orders) <= _MAX_BATCH:
            raise ValidationError("orders", orders, f"a list of 1..{_MAX_BATCH} order dicts")
        items = []
        for n, order in enumerate(orders):
            if not isinstance(order, Mapping) or "symbol" not in order:
                raise ValidationError(f"orders[{n}]", order, "a dict of Binance-named order parameters")
            if str(order.get("type", "")).upper() in CONDITIONAL_TYPES:
                raise ValidationError(f"orders[{n}].type", order.get("type"),
                                      "LIMIT or MARKET (conditional orders: new_order / new_algo_order)")
            item = {k: format_param(k, v, allow_float=self._allow_float) for k, v in order.items() if v is not None}
            item["symbol"] = item["symbol"].upper()
            cid = item.get("newClientOrderId")
            item["newClientOrderId"] = new_client_order_id() if cid is None else check_client_order_id(
                cid, f"orders[{n}].newClientOrderId")
            items.append(item)
        text = simplejson.dumps(items, separators=(",", ":"))
        result: List[JSON] = self._f("new_batch_orders", {"batchOrders": text}, extra, timeout)
        for item in result if isinstance(result, list) else ():
            if isinstance(item, Mapping) and "orderId" in item:
                self._placed(item)
        return result

    def cancel_order(self, symbol: str, order_id: Optional[int] = None, client_order_id: Optional[str] = None, *,
                     algo_id: Optional[int] = None, client_algo_id: Optional[str] = None, timeout: Any = None,
                     **extra: Any) -> JSON:
        """``DELETE /fapi/v1/order`` (TRADE, weight 1) by ``order_id`` or ``client_order_id``; an algo order
        (``DELETE /fapi/v1/algoOrder``) by ``algo_id``/``client_algo_id``.  A ``client_order_id`` the order
        book does not know is tried as a ``clientAlgoId`` (``new_order`` sends it as such for conditional
        types) before :class:`NotFoundError` is raised."""
        if algo_id is not None or client_algo_id is not None:
            return self._f("cancel_algo_order", {"algoId": algo_id, "clientAlgoId": client_algo_id}, extra, timeout)
        if order_id is None and client_order_id is None:
            raise ValidationError("order_id", None, "give order_id, client_order_id, algo_id or client_algo_id")
        try:
            return self._f("cancel_order", {"symbol": symbol, "orderId": order_id,
                                            "origClientOrderId": client_order_id}, extra, timeout)
        except NotFoundError:
            if order_id is not None or client_order_id is None:
                raise
            return self._algo_fallback("cancel_algo_order", client_order_id, timeout)

    def _algo_fallback(self, name: str, client_id: str, timeout: Any) -> JSON:
        try:
            return self._f(name, {"clientAlgoId": client_id}, {}, timeout)
        except NotFoundError:
            raise NotFoundError(f"no order or algo order with client id {client_id}",
                                details={"client_order_id": client_id}) from None

    def cancel_all_orders(self, symbol: str, *, algo: bool = True, timeout: Any = None, **extra: Any) -> JSON:
        """``DELETE /fapi/v1/allOpenOrders`` (TRADE, weight 1): cancel every open order of ``symbol``; with
        ``algo`` (default) also ``DELETE /fapi/v1/algoOpenOrders`` (weight 1), since the first leaves
        conditional orders alone.  Returns the answer of the first (``{"code": 200, "msg": ...}``)."""
        result = self._f("cancel_all_orders", {"symbol": symbol}, extra, timeout)
        if algo:
            self._f("cancel_all_algo_orders", {"symbol": symbol}, {}, timeout)
        return result

    def countdown_cancel_all(self, symbol: str, countdown_time: int, *, timeout: Any = None, **extra: Any) -> JSON:
        """``POST /fapi/v1/countdownCancelAll`` (TRADE, weight 10): cancel every open order of ``symbol`` when
        no new call comes within ``countdown_time`` ms (0 switches it off); send it as a heartbeat, e.g.
        every 30 s with 120000."""
        if isinstance(countdown_time, bool) or not isinstance(countdown_time, int) or countdown_time < 0:
            raise ValidationError("countdown_time", countdown_time, "an int >= 0 (ms; 0 = off)")
        return self._f("countdown_cancel_all", {"symbol": symbol, "countdownTime": countdown_time}, extra, timeout)

    def modify_order(self, symbol: str, side: str, *, order_id: Optional[int] = None,
                     client_order_id: Optional[str] = None, quantity: Optional[Number] = None,
                     price: Optional[Number] = None, price_match: Optional[str] = None, timeout: Any = None,
                     **extra: Any) -> JSON:
        """``PUT /fapi/v1/order`` (TRADE; order buckets 1, IP weight 0): change a LIMIT order's ``quantity``
        and ``price`` (both, or ``price_match``); the order keeps its id and goes to the back of the queue."""
        if order_id is None and client_order_id is None:
            raise ValidationError("order_id", None, "give order_id or client_order_id")
        if price_match is None and (quantity is None or price is None):
            raise ValidationError("price", price, "give quantity and price (or price_match)")
        params = {"symbol": symbol, "side": side, "orderId": order_id, "origClientOrderId": client_order_id,
                  "quantity": quantity, "price": price, "priceMatch": price_match}
        return self._f("modify_order", params, extra, timeout)

    # ---------------------------------------------------------------- order queries

    def get_order(self, symbol: str, order_id: Optional[int] = None, client_order_id: Optional[str] = None, *,
                  algo_id: Optional[int] = None, client_algo_id: Optional[str] = None, timeout: Any = None,
                  **extra: Any) -> JSON:
        """``GET /fapi/v1/order`` (USER_DATA, weight 1) by ``order_id``/``client_order_id``; an algo order
        (``GET /fapi/v1/algoOrder``) by ``algo_id``/``client_algo_id``.  A ``client_order_id`` unknown to the
        order book is tried as a ``clientAlgoId``; neither known: :class:`NotFoundError`."""
        if algo_id is not None or client_algo_id is not None:
            return self._f("get_algo_order", {"algoId": algo_id, "clientAlgoId": client_algo_id}, extra, timeout)
        if order_id is None and client_order_id is None:
            raise ValidationError("order_id", None, "give order_id, client_order_id, algo_id or client_algo_id")
        try:
            return self._f("get_order", {"symbol": symbol, "orderId": order_id,
                                         "origClientOrderId": client_order_id}, extra, timeout)
        except NotFoundError:
            if order_id is not None or client_order_id is None:
                raise
            return self._algo_fallback("get_algo_order", client_order_id, timeout)

    def open_orders(self, symbol: Optional[str] = None, *, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /fapi/v1/openOrders`` (USER_DATA; weight 1 with a symbol, 40 without)."""
        result: List[JSON] = self._f("open_orders", {"symbol": symbol}, extra, timeout)
        return result

    def open_algo_orders(self, symbol: Optional[str] = None, *, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /fapi/v1/openAlgoOrders`` (USER_DATA; weight 1 with a symbol, 40 without)."""
        result: List[JSON] = self._f("open_algo_orders", {"symbol": symbol}, extra, timeout)
        return result

    def all_orders(self, symbol: Optional[str] = None, *, order_id: Optional[int] = None,
                   start_time: Optional[int] = None, end_time: Optional[int] = None, limit: Optional[int] = None,
                   timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /fapi/v1/allOrders`` (USER_DATA, weight 5; COIN-M 20): orders of a window < 7 days (limit <= 1000)."""
        result: List[JSON] = self._f("all_orders", {"symbol": symbol, "orderId": order_id, "startTime": start_time,
                                                    "endTime": end_time, "limit": limit_of(limit, 1000)},
                                     extra, timeout)
        return result

    def my_trades(self, symbol: Optional[str] = None, *, order_id: Optional[int] = None,
                  start_time: Optional[int] = None, end_time: Optional[int] = None, from_id: Optional[int] = None,
                  limit: Optional[int] = None, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /fapi/v1/userTrades`` (USER_DATA, weight 5; COIN-M 20): fills (``realizedPnl``, ``commission``
        ... Decimal) of a window <= 7 days; ``from_id`` excludes the times."""
        if from_id is not None and (start_time is not None or end_time is not None):
            raise ValidationError("from_id", from_id, "cannot be combined with start_time or end_time")
        result: List[JSON] = self._f("my_trades", {"symbol": symbol, "orderId": order_id, "startTime": start_time,
                                                   "endTime": end_time, "fromId": from_id,
                                                   "limit": limit_of(limit, 1000)}, extra, timeout)
        return result

    # ---------------------------------------------------------------- account

    def positions(self, symbol: Optional[str] = None, *, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /fapi/v3/positionRisk`` (USER_DATA, weight 5; COIN-M ``/dapi/v1/positionRisk``, weight 1):
        the positions (symbols with a position or open orders), hedge mode one row per LONG/SHORT side;
        ``positionAmt`` (negative when short), ``entryPrice``, ``markPrice``, ``unRealizedProfit`` ... Decimal."""
        result: List[JSON] = self._f("positions", {"symbol": symbol}, extra, timeout)
        return result

    def account(self, *, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /fapi/v3/account`` (USER_DATA, weight 5; COIN-M ``/dapi/v1/account``): totals, ``assets`` and
        ``positions`` with every amount Decimal."""
        return self._f("account", {}, extra, timeout)

    def balance(self, *, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /fapi/v3/balance`` (USER_DATA, weight 5; COIN-M ``/dapi/v1/balance``, weight 1): one row per
        asset (``balance``, ``crossWalletBalance``, ``availableBalance`` ... Decimal)."""
        result: List[JSON] = self._f("balance", {}, extra, timeout)
        return result

    def set_leverage(self, symbol: str, leverage: int, *, timeout: Any = None, **extra: Any) -> JSON:
        """``POST /fapi/v1/leverage`` (TRADE, weight 1): ``{"leverage", "maxNotionalValue", "symbol"}``."""
        if isinstance(leverage, bool) or not isinstance(leverage, int) or not 1 <= leverage <= 125:
            raise ValidationError("leverage", leverage, "an int in 1..125")
        return self._f("set_leverage", {"symbol": symbol, "leverage": leverage}, extra, timeout)

    def set_margin_type(self, symbol: str, margin_type: str, *, timeout: Any = None, **extra: Any) -> JSON:
        """``POST /fapi/v1/marginType`` (TRADE, weight 1): ``ISOLATED`` or ``CROSSED``.  Already so:
        :class:`OrderRejectedError` ``-4046`` (``.code`` ``"no_change"``)."""
        params = {"symbol": symbol, "marginType": choice("margin_type", margin_type, _MARGIN_TYPES)}
        return self._f("set_margin_type", params, extra, timeout)

    def set_position_mode(self, dual: bool, *, timeout: Any = None, **extra: Any) -> JSON:
        """``POST /fapi/v1/positionSide/dual`` (TRADE, weight 1): hedge mode (``dual=True``) or one-way, for
        every symbol.  Already so: ``-4059`` (``.code`` ``"no_change"``)."""
        if not isinstance(dual, bool):
            raise ValidationError("dual", dual, "True (hedge mode) or False (one-way mode)")
        return self._f("set_position_mode", {"dualSidePosition": dual}, extra, timeout)

    def position_mode(self, *, timeout: Any = None, **extra: Any) -> bool:
        """``GET /fapi/v1/positionSide/dual`` (USER_DATA, weight 30): True in hedge mode."""
        value = self._f("position_mode", {}, extra, timeout).get("dualSidePosition")
        return value is True or str(value).lower() == "true"

    def income(self, symbol: Optional[str] = None, *, income_type: Optional[str] = None,
               start_time: Optional[int] = None, end_time: Optional[int] = None, page: Optional[int] = None,
               limit: Optional[int] = None, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /fapi/v1/income`` (USER_DATA, weight 30; COIN-M 20): income history (``income`` Decimal);
        ``income_type`` e.g. TRANSFER, REALIZED_PNL, FUNDING_FEE, COMMISSION (limit <= 1000)."""
        result: List[JSON] = self._f("income", {"symbol": symbol, "incomeType": income_type, "startTime": start_time,
                                                "endTime": end_time, "page": page, "limit": limit_of(limit, 1000)},
                                     extra, timeout)
        return result

    def commission_rate(self, symbol: str, *, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /fapi/v1/commissionRate`` (USER_DATA, weight 20): ``makerCommissionRate``/``takerCommissionRate``."""
        return self._f("commission_rate", {"symbol": symbol}, extra, timeout)

    def order_rate_limit(self, *, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /fapi/v1/rateLimit/order`` (USER_DATA, weight 1): the account's own ORDERS limits."""
        result: List[JSON] = self._f("order_rate_limit", {}, extra, timeout)
        return result

    # ---------------------------------------------------------------- listenKey (USER_STREAM)

    def new_listen_key(self, *, timeout: Any = None) -> str:
        """``POST /fapi/v1/listenKey`` (weight 1): the account's key (an active one is returned and extended)."""
        return str(self._f("new_listen_key", {}, {}, timeout)["listenKey"])

    def keepalive_listen_key(self, listen_key: Optional[str] = None, *, timeout: Any = None) -> JSON:
        """``PUT /fapi/v1/listenKey`` (weight 1): extend the key 60 min; unknown key: NotFoundError -1125."""
        return self._f("keepalive_listen_key", {"listenKey": listen_key}, {}, timeout)

    def close_listen_key(self, listen_key: Optional[str] = None, *, timeout: Any = None) -> JSON:
        """``DELETE /fapi/v1/listenKey`` (weight 1): invalidates the key for every consumer of the account."""
        return self._f("close_listen_key", {"listenKey": listen_key}, {}, timeout)
