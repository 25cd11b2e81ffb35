"""The fake's trading beyond single orders (rest-api.md "Trading endpoints"): order lists (OCO, the
deprecated OCO, OTO, OTOCO, OPO, OPOCO), cancel-replace, amend keepPriority, cancel of all open
orders (order lists included), SOR orders, the order-list and amendment queries of
``_account.py`` (engine hooks), and the ``listStatus`` / ``executionReport`` user-data
events they cause.  Works on :class:`._engine.Engine`'s orders under its lock.

Simplifications (documented for users of the fake): stop legs (``STOP_LOSS*``, ``TAKE_PROFIT*``)
rest untriggered until a test fills them (``fake.fill_order``); a pending order activated by its
working order's fill does not match the book at once unless it is a MARKET order; an OPO's
received funds are not locked; SOR routes to the symbol's own book.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from ._engine import Order
from ._util import JSON, BinanceFault, fmt

if TYPE_CHECKING:
    from ._fake import FakeBinance

__all__ = ["Trading", "DataFault", "rest_routes", "ws_handlers", "WS_WEIGHTS", "ORDER_PATHS", "WS_ORDER_METHODS"]

Params = Dict[str, str]
STOP_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_ABOVE_TYPES = ("STOP_LOSS_LIMIT", "STOP_LOSS", "LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_BELOW_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER")
_FINAL = ("FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH")


class DataFault(BinanceFault):
    """An error answer with a ``data`` block (cancel-replace's -2021 / -2022)."""

    def __init__(self, code: int, msg: str, status: int, data: JSON) -> None:
        super().__init__(code, msg, status=status)
        self.data = data

    def body(self) -> JSON:
        return {"code": self.code, "msg": self.msg, "data": self.data}


@dataclass
class OrderList:
    list_id: int
    symbol: str
    kind: str  # OCO, OTO, OTOCO, OPO, OPOCO
    client_id: str
    time: int
    orders: List[int] = field(default_factory=list)
    working: Optional[int] = None
    pending: List[int] = field(default_factory=list)
    status_type: str = "EXEC_STARTED"
    order_status: str = "EXECUTING"

    @property
    def contingency(self) -> str:
        return "OCO" if self.kind == "OCO" else "OTO"


@dataclass
class _Leg:
    side: str
    type: str
    qty: Optional[Decimal]
    price: Optional[Decimal] = None
    stop: Optional[Decimal] = None
    tif: str = ""
    cid: Optional[str] = None
    trailing: Optional[str] = None


class Trading:
    """Order lists and the other trading endpoints of the fake (see the module docstring)."""

    def __init__(self, fake: FakeBinance) -> None:
        self.fake = fake
        self.engine = fake.engine
        self.lists: Dict[int, OrderList] = {}
        self.next_list_id = 1
        self.amended: Dict[int, List[JSON]] = {}  # orderId -> GET /api/v3/order/amendments rows
        self.engine.on_fill = self.on_fill
        # The hooks testing/_account.py looks for on the engine (order-list and amendment queries).
        hooks: Dict[str, Callable[..., Any]] = {
            "order_list_status": self.query_list, "all_order_lists": self.all_lists,
            "open_order_lists": self.open_lists, "amendments": lambda o: list(self.amended.get(o.order_id, ()))}
        for name, hook in hooks.items():
            setattr(self.engine, name, hook)

    # -- helpers ----------------------------------------------------------------------------------
    def _auto_cid(self, prefix: str = "fake") -> str:
        e = self.engine
        cid = f"{prefix}{e.next_auto_cid:018d}"
        e.next_auto_cid += 1
        return cid

    def _leg_of(self, p: Params, prefix: str, side: str, qty: Optional[Decimal], types: Tuple[str, ...]) -> _Leg:
        e = self.engine
        otype = p.get(prefix + "Type")
        if not otype:
            raise BinanceFault(-1102, f"Mandatory parameter '{prefix}Type' was not sent, was empty/null, or malformed.")
        if otype not in types:
            raise BinanceFault(-1116, f"Invalid {prefix}Type.")
        leg = _Leg(side, otype, qty, e._dec(p, prefix + "Price", required=False),
                   e._dec(p, prefix + "StopPrice", required=False), p.get(prefix + "TimeInForce", ""),
                   p.get(prefix + "ClientOrderId"), p.get(prefix + "TrailingDelta"))
        self._check_leg(leg, prefix)
        return leg

    @staticmethod
    def _check_leg(leg: _Leg, prefix: str) -> None:
        if leg.type in ("LIMIT", "LIMIT_MAKER") or leg.type.endswith("_LIMIT"):
            if leg.price is None:
                raise BinanceFault(-1102, f"Mandatory parameter '{prefix}Price' was not sent, was empty/null, "
                                          "or malformed.")
        if leg.type in STOP_TYPES and leg.stop is None and not leg.trailing:
            raise BinanceFault(-1102, f"Mandatory parameter '{prefix}StopPrice' was not sent, was empty/null, "
                                      "or malformed.")
        if (leg.type == "LIMIT" or leg.type.endswith("_LIMIT")) and not leg.tif:
            raise BinanceFault(-1102, f"Mandatory parameter '{prefix}TimeInForce' was not sent, was empty/null, "
                                      "or malformed.")

    def _new_list(self, p: Params, symbol: str, kind: str) -> OrderList:
        cid = p.get("listClientOrderId") or self._auto_cid("list")
        if any(lst.client_id == cid and lst.order_status != "ALL_DONE" for lst in self.lists.values()):
            raise BinanceFault(-2010, "Duplicate order sent.")
        lst = OrderList(self.next_list_id, symbol, kind, cid, self.fake.clock.now_ms())
        self.next_list_id += 1
        return lst

    def _place_leg(self, lst: OrderList, leg: _Leg, status: str = "NEW") -> Order:
        """A working LIMIT / LIMIT_MAKER leg goes through the engine (matching, balance); any other leg
        rests untriggered (stop legs) or waits (``PENDING_NEW``)."""
        e = self.engine
        if status == "NEW" and leg.type in ("LIMIT", "LIMIT_MAKER"):
            params = {"symbol": lst.symbol, "side": leg.side, "type": leg.type, "quantity": fmt(leg.qty or Decimal(0)),
                      "price": fmt(leg.price or Decimal(0))}
            if leg.type == "LIMIT":
                params["timeInForce"] = leg.tif or "GTC"
            if leg.cid:
                params["newClientOrderId"] = leg.cid
            resp, _ = e.place(params, order_list_id=lst.list_id)
            o = e.orders[resp["orderId"]]
        else:
            now = self.fake.clock.now_ms()
            o = Order(lst.symbol, e.next_order_id, leg.cid or self._auto_cid(), leg.side, leg.type, leg.tif or "GTC",
                      leg.price or Decimal(0), leg.qty or Decimal(0), Decimal(0), now, status=status,
                      update_time=now, order_list_id=lst.list_id, stop_price=leg.stop or Decimal(0))
            e.next_order_id += 1
            e.orders[o.order_id] = o
            e._report(o, "NEW", now)
        lst.orders.append(o.order_id)
        self.fake.orders_counter.add()
        return o

    def _emit_status(self, lst: OrderList) -> None:
        now = self.fake.clock.now_ms()
        e = self.engine
        self.engine.emit_user({"e": "listStatus", "E": now, "s": lst.symbol, "g": lst.list_id, "c": lst.contingency,
                               "l": lst.status_type, "L": lst.order_status, "r": "NONE", "C": lst.client_id,
                               "T": now, "O": [{"s": lst.symbol, "i": i, "c": e.orders[i].client_order_id}
                                               for i in lst.orders]})

    def _status(self, lst: OrderList) -> JSON:
        e = self.engine
        return {"orderListId": lst.list_id, "contingencyType": lst.contingency, "listStatusType": lst.status_type,
                "listOrderStatus": lst.order_status, "listClientOrderId": lst.client_id,
                "transactionTime": lst.time, "symbol": lst.symbol,
                "orders": [{"symbol": lst.symbol, "orderId": i, "clientOrderId": e.orders[i].client_order_id}
                           for i in lst.orders]}

    def _list_response(self, lst: OrderList, resp_type: Optional[str]) -> JSON:
        out = self._status(lst)
        out["orderReports"] = [self.engine._response(self.engine.orders[i], resp_type or "RESULT") for i in lst.orders]
        return out

    def _release(self, o: Order) -> str:
        spec = self.engine.market.specs[o.symbol]
        asset = spec.quote if o.side == "BUY" else spec.base
        b = self.engine._bal(asset)
        b[0] += o.locked
        b[1] -= o.locked
        o.locked = Decimal(0)
        return asset

    def _expire(self, o: Order, reason: str) -> None:
        now = self.fake.clock.now_ms()
        asset = self._release(o)
        o.status, o.update_time = "EXPIRED", now
        self.engine._report(o, "EXPIRED", now, expiry=reason)
        self.engine._position([asset], now)

    def _finish_if_done(self, lst: OrderList) -> None:
        if lst.order_status != "ALL_DONE" and all(self.engine.orders[i].status in _FINAL for i in lst.orders):
            lst.status_type = lst.order_status = "ALL_DONE"
            self._emit_status(lst)

    # -- order lists --------------------------------------------------------------------------------
    def oco(self, p: Params, deprecated: bool = False) -> JSON:
        e = self.engine
        with e.lock:
            st = e._symbol(p)
            side = p.get("side") or ""
            if side not in ("BUY", "SELL"):
                raise BinanceFault(-1102 if not side else -1117, "Invalid side." if side else
                                   "Mandatory parameter 'side' was not sent, was empty/null, or malformed.")
            qty = e._dec(p, "quantity")
            if deprecated:
                limit = _Leg(side, "LIMIT_MAKER", qty, e._dec(p, "price"), None, "GTC", p.get("limitClientOrderId"))
                stop_limit = e._dec(p, "stopLimitPrice", required=False)
                stop = _Leg(side, "STOP_LOSS_LIMIT" if stop_limit is not None else "STOP_LOSS", qty, stop_limit,
                            e._dec(p, "stopPrice", required=not p.get("trailingDelta")),
                            p.get("stopLimitTimeInForce", ""), p.get("stopClientOrderId"), p.get("trailingDelta"))
                self._check_leg(stop, "stopLimit")
                above, below = (limit, stop) if side == "SELL" else (stop, limit)
            else:
                above = self._leg_of(p, "above", side, qty, _ABOVE_TYPES)
                below = self._leg_of(p, "below", side, qty, _BELOW_TYPES)
            hi = above.price if above.type == "LIMIT_MAKER" else above.stop
            lo = below.price if below.type == "LIMIT_MAKER" else below.stop
            if hi is not None and lo is not None and not (hi > st.last > lo):
                raise BinanceFault(-2010, "The relationship of the prices for the orders is not correct.")
            for leg in (above, below):  # everything that can fail is checked before anything is placed
                e._check_filters(st, leg.price, leg.qty)
            lst = self._new_list(p, st.spec.symbol, "OCO")
            for leg in sorted((above, below), key=lambda leg: leg.type in STOP_TYPES):  # engine legs first
                self._place_leg(lst, leg)
            stops = [i for i in lst.orders if e.orders[i].type in STOP_TYPES]
            lst.orders = stops + [i for i in lst.orders if i not in stops]  # answers list the stop leg first
            self.lists[lst.list_id] = lst
            self._emit_status(lst)
            return self._list_response(lst, p.get("newOrderRespType"))

    def oto(self, p: Params, kind: str) -> JSON:
        """OTO, OTOCO, OPO, OPOCO: a working order and one pending order or a pending OCO pair."""
        e = self.engine
        with e.lock:
            st = e._symbol(p)
            wtype = p.get("workingType")
            if wtype not in ("LIMIT", "LIMIT_MAKER"):
                raise BinanceFault(-1116 if wtype else -1102, "Invalid workingType." if wtype else
                                   "Mandatory parameter 'workingType' was not sent, was empty/null, or malformed.")
            working = _Leg(p.get("workingSide") or "", wtype, e._dec(p, "workingQuantity"), e._dec(p, "workingPrice"),
                           None, p.get("workingTimeInForce", ""), p.get("workingClientOrderId"))
            self._check_leg(working, "working")
            opo = kind.startswith("OPO")
            if opo and (working.side != "BUY" or p.get("pendingSide") != "SELL"):
                raise BinanceFault(-1100, "OPO: only a BUY working order and SELL pending orders are accepted.")
            pqty = None if opo else e._dec(p, "pendingQuantity")
            pside = p.get("pendingSide") or ""
            if kind in ("OTO", "OPO"):
                ptype = p.get("pendingType") or ""
                if not ptype:
                    raise BinanceFault(-1102, "Mandatory parameter 'pendingType' was not sent, was empty/null, "
                                              "or malformed.")
                pending = [self._leg_of(p, "pending", pside, pqty, (ptype,))]
            else:
                pending = [self._leg_of(p, "pendingAbove", pside, pqty, _ABOVE_TYPES)]
                if p.get("pendingBelowType"):
                    pending.append(self._leg_of(p, "pendingBelow", pside, pqty, _BELOW_TYPES))
            for leg in pending:
                e._check_filters(st, leg.price, leg.qty)
            lst = self._new_list(p, st.spec.symbol, kind)
            w = self._place_leg(lst, working)
            lst.working = w.order_id
            for leg in pending:
                lst.pending.append(self._place_leg(lst, leg, status="PENDING_NEW").order_id)
            self.lists[lst.list_id] = lst
            self._emit_status(lst)
            out = self._list_response(lst, p.get("newOrderRespType"))
            if w.status == "FILLED":  # the answer still shows the pending orders as PENDING_NEW (rest-api.md)
                self._activate(lst, w)
            return out

    def _activate(self, lst: OrderList, working: Order) -> None:
        e = self.engine
        now = self.fake.clock.now_ms()
        st = e.market.state[lst.symbol]
        spec = st.spec
        qty: Optional[Decimal] = None
        if lst.kind.startswith("OPO"):  # the pending quantity is what the working order received
            got = sum((Decimal(f["qty"]) - (Decimal(f["commission"]) if f["commissionAsset"] == spec.base
                                              else Decimal(0)) for f in working.fills), Decimal(0))
            qty = (got / spec.step_size).to_integral_value(ROUND_DOWN) * spec.step_size if spec.step_size else got
        for oid in lst.pending:
            o = e.orders[oid]
            if o.status != "PENDING_NEW":
                continue
            if qty is not None:
                o.orig_qty = qty
            o.status, o.update_time = "NEW", now
            if o.type == "MARKET":
                e._report(o, "NEW", now)
                with e.market.lock:
                    fills = e._match(st, o.side, None, o.orig_qty, None)
                for px, q in fills:
                    e._apply_fill(o, st, px, q, now, maker=False)
                if o.status not in _FINAL:
                    self._expire(o, "INSUFFICIENT_LIQUIDITY")
                continue
            if o.type in ("LIMIT", "LIMIT_MAKER"):
                remaining = o.orig_qty - o.executed_qty
                need, asset = (remaining * o.price, spec.quote) if o.side == "BUY" else (remaining, spec.base)
                b = e._bal(asset)
                if need > b[0]:
                    self._expire(o, "REJECTED")
                    continue
                o.locked = need
                b[0] -= need
                b[1] += need
                o.working_time = now
            e._report(o, "NEW", now)
            e._position([spec.base, spec.quote], now)

    def on_fill(self, o: Order) -> None:
        """Engine hook after every fill of any order (engine lock held)."""
        lst = self.lists.get(o.order_list_id)
        if lst is None or o.order_id not in lst.orders:
            return
        e = self.engine
        if lst.kind == "OCO" or (o.order_id in lst.pending and len(lst.pending) > 1):
            group = lst.orders if lst.kind == "OCO" else lst.pending
            for oid in group:
                other = e.orders[oid]
                if oid != o.order_id and other.status not in _FINAL:
                    self._expire(other, "OCO_TRIGGER")
        elif o.order_id == lst.working and o.status == "FILLED":
            self._activate(lst, o)
        self._finish_if_done(lst)

    def find_list(self, p: Params, id_key: str = "orderListId", cid_key: str = "listClientOrderId",
                  code: int = -2011, msg: str = "Unknown order list sent.") -> OrderList:
        st = self.engine._symbol(p) if p.get("symbol") else None
        raw, cid = p.get(id_key), p.get(cid_key)
        if not raw and not cid:
            raise BinanceFault(-1102, f"Param '{id_key}' or '{cid_key}' must be sent, but both were empty/null!")
        found: Optional[OrderList] = None
        if raw:
            try:
                found = self.lists.get(int(raw))
            except ValueError:
                raise BinanceFault(-1100, f"Illegal characters found in parameter '{id_key}'.") from None
            if found is not None and cid and found.client_id != cid:
                raise BinanceFault(-2039, "Client order ID is not correct for this order ID.")
        else:
            matches = [lst for lst in self.lists.values() if lst.client_id == cid]
            found = matches[-1] if matches else None
        if found is None or (st is not None and found.symbol != st.spec.symbol):
            raise BinanceFault(code, msg)
        return found

    def cancel_list(self, p: Params, lst: Optional[OrderList] = None) -> JSON:
        e = self.engine
        with e.lock:
            lst = lst or self.find_list(p)
            if lst.order_status == "ALL_DONE":
                raise BinanceFault(-2011, "Unknown order list sent.")
            reports = [e._cancel(e.orders[i], p.get("newClientOrderId")) for i in lst.orders
                       if e.orders[i].status not in _FINAL]
            lst.status_type = lst.order_status = "ALL_DONE"
            lst.time = self.fake.clock.now_ms()
            self._emit_status(lst)
            out = self._status(lst)
            out["orderReports"] = reports
            return out

    def query_list(self, p: Params) -> JSON:
        with self.engine.lock:
            return self._status(self.find_list(p, cid_key="origClientOrderId", code=-2013,
                                               msg="Order list does not exist."))

    def all_lists(self, p: Params) -> List[JSON]:
        with self.engine.lock:
            start = int(p.get("fromId") or 0)
            rows = [self._status(lst) for lid, lst in sorted(self.lists.items()) if lid >= start]
            return rows[: int(p.get("limit") or 500)]

    def open_lists(self) -> List[JSON]:
        with self.engine.lock:
            return [self._status(lst) for _, lst in sorted(self.lists.items()) if lst.order_status != "ALL_DONE"]

    # -- single orders ------------------------------------------------------------------------------
    def cancel_order(self, p: Params) -> JSON:
        """DELETE /api/v3/order: a leg of an order list cancels the whole list (list status answer)."""
        e = self.engine
        with e.lock:
            o = e.find(p, for_cancel=True)
            lst = self.lists.get(o.order_list_id)
            if lst is not None and o.order_id in lst.orders:
                return self.cancel_list(p, lst)
            return e._cancel(o, p.get("newClientOrderId"))

    def cancel_all(self, p: Params) -> List[JSON]:
        e = self.engine
        with e.lock:
            st = e._symbol(p)
            out: List[JSON] = []
            done = set()
            for o in sorted(e.orders.values(), key=lambda o: o.order_id):
                if o.status in _FINAL or o.symbol != st.spec.symbol:
                    continue
                lst = self.lists.get(o.order_list_id)
                if lst is not None:
                    if lst.list_id not in done:
                        done.add(lst.list_id)
                        out.append(self.cancel_list(p, lst))
                else:
                    out.append(e._cancel(o, None))
            return out

    def cancel_replace(self, p: Params) -> JSON:
        mode = p.get("cancelReplaceMode")
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise BinanceFault(-1102 if not mode else -1100, "Mandatory parameter 'cancelReplaceMode' was not sent, "
                               "was empty/null, or malformed." if not mode else "Invalid cancelReplaceMode.")
        cancel = {"symbol": p.get("symbol", ""), "orderId": p.get("cancelOrderId", ""),
                  "origClientOrderId": p.get("cancelOrigClientOrderId", ""),
                  "newClientOrderId": p.get("cancelNewClientOrderId", "")}
        new = {k: v for k, v in p.items() if not k.startswith("cancel") and k != "orderRateLimitExceededMode"}
        with self.engine.lock:
            cancel_ok, new_ok = True, True
            try:
                cancel_resp: Any = self.cancel_order({k: v for k, v in cancel.items() if v})
            except BinanceFault as f:
                cancel_ok, cancel_resp = False, f.body()
            if not cancel_ok and mode == "STOP_ON_FAILURE":
                raise DataFault(-2022, "Order cancel-replace failed.", 400, {
                    "cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED", "cancelResponse": cancel_resp,
                    "newOrderResponse": None})
            try:
                new_resp: Any = self.fake._place_order(new)
            except BinanceFault as f:
                new_ok, new_resp = False, f.body()
        data = {"cancelResult": "SUCCESS" if cancel_ok else "FAILURE",
                "newOrderResult": "SUCCESS" if new_ok else "FAILURE", "cancelResponse": cancel_resp,
                "newOrderResponse": new_resp}
        if cancel_ok and new_ok:
            return data
        if cancel_ok or new_ok:
            raise DataFault(-2021, "Order cancel-replace partially failed.", 409, data)
        raise DataFault(-2022, "Order cancel-replace failed.", 400, data)

    def amend(self, p: Params) -> JSON:
        e = self.engine
        with e.lock:
            o = e.find(p, for_cancel=True)
            new_qty = e._dec(p, "newQty")
            assert new_qty is not None
            if new_qty <= o.executed_qty or new_qty >= o.orig_qty:
                raise BinanceFault(-2038, "Order amend (quantity increase) is not supported." if new_qty >= o.orig_qty
                                   else "Order amend rejected: newQty must be more than the executed quantity.")
            now = self.fake.clock.now_ms()
            if o.locked > 0:  # resting: unlock what the lower quantity no longer needs
                keep = (new_qty - o.executed_qty) * (o.price if o.side == "BUY" else Decimal(1))
                spec = e.market.specs[o.symbol]
                b = e._bal(spec.quote if o.side == "BUY" else spec.base)
                b[0] += o.locked - keep
                b[1] -= o.locked - keep
                o.locked = keep
            orig, orig_qty = o.client_order_id, o.orig_qty
            o.orig_qty, o.update_time = new_qty, now
            o.client_order_id = p.get("newClientOrderId") or self._auto_cid()
            execution_id = e.next_exec_id
            e._report(o, "REPLACED", now, orig_cid=orig)
            self.amended.setdefault(o.order_id, []).append({
                "symbol": o.symbol, "orderId": o.order_id, "executionId": execution_id, "origClientOrderId": orig,
                "newClientOrderId": o.client_order_id, "origQty": fmt(orig_qty), "newQty": fmt(new_qty), "time": now})
            amended = {"symbol": o.symbol, "orderId": o.order_id, "orderListId": o.order_list_id,
                       "origClientOrderId": orig, "clientOrderId": o.client_order_id, "price": fmt(o.price),
                       "qty": fmt(o.orig_qty), "executedQty": fmt(o.executed_qty), "preventedQty": fmt(Decimal(0)),
                       "quoteOrderQty": fmt(o.orig_quote_qty), "cumulativeQuoteQty": fmt(o.cum_quote),
                       "status": o.status, "timeInForce": o.time_in_force, "type": o.type, "side": o.side,
                       "workingTime": o.working_time, "selfTradePreventionMode": "NONE"}
            out: JSON = {"transactTime": now, "executionId": execution_id, "amendedOrder": amended}
            lst = self.lists.get(o.order_list_id)
            if lst is not None:
                out["listStatus"] = self._status(lst)
            return out

    # -- SOR ------------------------------------------------------------------------------------------
    @staticmethod
    def _check_sor(p: Params) -> None:
        if p.get("type") not in ("LIMIT", "MARKET"):
            raise BinanceFault(-1116, "Invalid orderType.")
        if p.get("quoteOrderQty"):
            raise BinanceFault(-1106, "Parameter 'quoteOrderQty' sent when not required.")

    def sor_order(self, p: Params) -> JSON:
        self._check_sor(p)
        p = dict(p)
        p.setdefault("newOrderRespType", "FULL")  # SOR answers default to FULL (rest-api.md)
        out = self.fake._place_order(p)
        if "fills" in out:
            out["fills"] = [dict(f, matchType="ONE_PARTY_TRADE_REPORT", allocId=n) for n, f in enumerate(out["fills"])]
        out["workingFloor"] = "SOR"
        out["usedSor"] = True
        return out

    def sor_test(self, p: Params) -> JSON:
        self._check_sor(p)
        out = self.fake._rest_app().test_order(p)
        out.pop("specialCommissionForOrder", None)
        return out


# -- registration with the REST and WebSocket API front ends -------------------------------------------

ORDER_PATHS = {("POST", "/api/v3/order/oco"), ("POST", "/api/v3/orderList/oco"), ("POST", "/api/v3/orderList/oto"),
               ("POST", "/api/v3/orderList/otoco"), ("POST", "/api/v3/orderList/opo"),
               ("POST", "/api/v3/orderList/opoco"), ("DELETE", "/api/v3/orderList"),
               ("POST", "/api/v3/order/cancelReplace"), ("POST", "/api/v3/sor/order")}
"""Successful calls cost weight 0 (docs CHANGELOG 2026-03-27); an amend keeps its weight (2026-04-02)."""
WS_ORDER_METHODS = ("orderList.place", "orderList.place.oco", "orderList.place.oto", "orderList.place.otoco",
                    "orderList.place.opo", "orderList.place.opoco", "orderList.cancel", "order.cancelReplace",
                    "openOrders.cancelAll", "sor.order.place")
WS_WEIGHTS: Dict[str, int] = {m: 1 for m in WS_ORDER_METHODS}
WS_WEIGHTS.update({"order.amend.keepPriority": 4, "sor.order.test": 1})


def _commission_weight(p: Params) -> int:
    return 20 if p.get("computeCommissionRates") == "true" else 1


def rest_routes(t: Trading) -> Dict[Tuple[str, str], Tuple[Callable[[Params], Any], Callable[[Params], int], bool]]:
    one: Callable[[Params], int] = lambda p: 1  # noqa: E731
    return {
        ("DELETE", "/api/v3/order"): (t.cancel_order, one, True),
        ("DELETE", "/api/v3/openOrders"): (t.cancel_all, one, True),
        ("POST", "/api/v3/order/cancelReplace"): (t.cancel_replace, one, True),
        ("PUT", "/api/v3/order/amend/keepPriority"): (t.amend, lambda p: 4, True),
        ("POST", "/api/v3/order/oco"): (lambda p: t.oco(p, deprecated=True), one, True),
        ("POST", "/api/v3/orderList/oco"): (t.oco, one, True),
        ("POST", "/api/v3/orderList/oto"): (lambda p: t.oto(p, "OTO"), one, True),
        ("POST", "/api/v3/orderList/otoco"): (lambda p: t.oto(p, "OTOCO"), one, True),
        ("POST", "/api/v3/orderList/opo"): (lambda p: t.oto(p, "OPO"), one, True),
        ("POST", "/api/v3/orderList/opoco"): (lambda p: t.oto(p, "OPOCO"), one, True),
        ("DELETE", "/api/v3/orderList"): (t.cancel_list, one, True),
        ("POST", "/api/v3/sor/order"): (t.sor_order, one, True),
        ("POST", "/api/v3/sor/order/test"): (t.sor_test, _commission_weight, True),
    }


def ws_handlers(t: Trading) -> Dict[str, Callable[[Params], Any]]:
    return {
        "order.cancel": t.cancel_order,
        "openOrders.cancelAll": t.cancel_all,
        "order.cancelReplace": t.cancel_replace,
        "order.amend.keepPriority": t.amend,
        "orderList.place": lambda p: t.oco(p, deprecated=True),
        "orderList.place.oco": t.oco,
        "orderList.place.oto": lambda p: t.oto(p, "OTO"),
        "orderList.place.otoco": lambda p: t.oto(p, "OTOCO"),
        "orderList.place.opo": lambda p: t.oto(p, "OPO"),
        "orderList.place.opoco": lambda p: t.oto(p, "OPOCO"),
        "orderList.cancel": t.cancel_list,
        "sor.order.place": lambda p: [t.sor_order(p)],  # the WebSocket API answers SOR with a list
        "sor.order.test": t.sor_test,
    }
