"""A small matching engine: LIMIT / LIMIT_MAKER / MARKET orders against the simulated book, resting
orders, partial fills driven by tests, cancels, balances, and the user-data events they cause
(reference sections 7 and 8.3). Thread-safe: one engine lock, taken before the Market lock."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from ._market import Market, SymbolState, TradeRec
from ._util import JSON, BinanceFault, Clock, fmt

Level = Tuple[Decimal, Decimal]

__all__ = ["Engine", "Order", "COMMISSION_RATE"]

COMMISSION_RATE = Decimal("0.001")
_CLIENT_ID_RE = re.compile(r"^[a-zA-Z0-9\-_]{1,36}$")
_DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_FINAL = ("FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH")


def _missing(name: str) -> BinanceFault:
    return BinanceFault(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


@dataclass
class Order:
    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    orig_quote_qty: Decimal
    time: int
    status: str = "NEW"
    executed_qty: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
    update_time: int = 0
    working_time: int = -1
    locked: Decimal = Decimal(0)
    fills: List[JSON] = field(default_factory=list)
    order_list_id: int = -1  # >= 0: a leg of an order list (testing/_orderlists.py)
    stop_price: Decimal = Decimal(0)

    @property
    def is_open(self) -> bool:
        return self.status not in _FINAL

    def as_query(self) -> JSON:
        return {"symbol": self.symbol, "orderId": self.order_id, "orderListId": self.order_list_id,
                "clientOrderId": self.client_order_id, "price": fmt(self.price), "origQty": fmt(self.orig_qty),
                "executedQty": fmt(self.executed_qty), "cummulativeQuoteQty": fmt(self.cum_quote),
                "status": self.status, "timeInForce": self.time_in_force, "type": self.type, "side": self.side,
                "stopPrice": fmt(self.stop_price), "icebergQty": fmt(Decimal(0)), "time": self.time,
                "updateTime": self.update_time, "isWorking": True,
                "workingTime": self.working_time if self.working_time >= 0 else self.time,
                "origQuoteOrderQty": fmt(self.orig_quote_qty), "selfTradePreventionMode": "NONE"}


class Engine:
    """Single-account exchange state. ``emit_user`` receives user-data events (unwrapped);
    ``emit_trade`` is told about every fill so public trade streams show it too."""

    def __init__(self, market: Market, clock: Clock, balances: Mapping[str, Decimal]) -> None:
        self.lock = threading.RLock()
        self.market = market
        self.clock = clock
        self.balances: Dict[str, List[Decimal]] = {a: [Decimal(v), Decimal(0)] for a, v in balances.items()}
        self.orders: Dict[int, Order] = {}
        self.trades: List[JSON] = []
        self.next_order_id = 1
        self.next_exec_id = 1
        self.next_auto_cid = 1
        self.emit_user: Callable[[JSON], object] = lambda ev: None
        self.emit_trade: Callable[[str, TradeRec], None] = lambda sym, rec: None
        self.on_fill: Callable[[Order], None] = lambda o: None  # order lists react to their legs' fills
        # resting orders, their fills and cancels and the levels a taker consumes change the public book
        self.emit_book: Callable[[str, List[Level], List[Level]], object] = lambda sym, b, a: None

    # -- parameters ---------------------------------------------------------------------------
    @staticmethod
    def _dec(params: Mapping[str, str], name: str, required: bool = True) -> Optional[Decimal]:
        raw = params.get(name)
        if raw is None or raw == "":
            if required:
                raise _missing(name)
            return None
        if not _DECIMAL_RE.match(raw):
            raise BinanceFault(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                      "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise _missing(name) from None
        if "." in raw and len(raw.split(".")[1].rstrip("0")) > 8:
            raise BinanceFault(-1111, f"Parameter '{name}' has too much precision.")
        return value

    def _symbol(self, params: Mapping[str, str]) -> SymbolState:
        sym = params.get("symbol")
        if not sym:
            raise _missing("symbol")
        if sym not in self.market.state:
            raise BinanceFault(-1121, "Invalid symbol.")
        return self.market.state[sym]

    @staticmethod
    def _check_filters(st: SymbolState, price: Optional[Decimal], qty: Optional[Decimal]) -> None:
        spec = st.spec
        if price is not None:
            if (spec.min_price and price < spec.min_price) or (spec.max_price and price > spec.max_price) \
                    or (spec.tick_size and price % spec.tick_size != 0):
                raise BinanceFault(-1013, "Filter failure: PRICE_FILTER")
        if qty is not None:
            if qty < spec.min_qty or qty > spec.max_qty or (spec.step_size and qty % spec.step_size != 0):
                raise BinanceFault(-1013, "Filter failure: LOT_SIZE")
        if price is not None and qty is not None:
            notional = price * qty
            if notional < spec.min_notional or (spec.max_notional and notional > spec.max_notional):
                raise BinanceFault(-1013, "Filter failure: NOTIONAL")

    def _bal(self, asset: str) -> List[Decimal]:
        return self.balances.setdefault(asset, [Decimal(0), Decimal(0)])

    # -- events -------------------------------------------------------------------------------
    def _report(self, o: Order, x: str, now: int, *, last_qty: Decimal = Decimal(0), last_px: Decimal = Decimal(0),
                commission: Decimal = Decimal(0), comm_asset: Optional[str] = None, trade_id: int = -1,
                orig_cid: str = "", cid: Optional[str] = None, expiry: Optional[str] = None,
                maker: bool = False) -> None:
        ev: JSON = {"e": "executionReport", "E": now, "s": o.symbol, "c": cid or o.client_order_id, "S": o.side,
                    "o": o.type, "f": o.time_in_force, "q": fmt(o.orig_qty), "p": fmt(o.price), "P": fmt(o.stop_price),
                    "F": fmt(Decimal(0)), "g": o.order_list_id, "C": orig_cid, "x": x, "X": o.status, "r": "NONE",
                    "i": o.order_id, "l": fmt(last_qty), "z": fmt(o.executed_qty), "L": fmt(last_px),
                    "n": fmt(commission), "N": comm_asset, "T": now, "t": trade_id, "I": self.next_exec_id,
                    "w": o.is_open and o.working_time >= 0, "m": maker,
                    "M": False, "O": o.time, "Z": fmt(o.cum_quote), "Y": fmt(last_qty * last_px),
                    "Q": fmt(o.orig_quote_qty), "V": "NONE"}
        if o.working_time >= 0:
            ev["W"] = o.working_time
        if expiry is not None:
            ev["eR"] = expiry
        self.next_exec_id += 1
        self.emit_user(ev)

    def _position(self, assets: List[str], now: int) -> None:
        self.emit_user({"e": "outboundAccountPosition", "E": now, "u": now,
                        "B": [{"a": a, "f": fmt(self._bal(a)[0]), "l": fmt(self._bal(a)[1])}
                              for a in sorted(set(assets))]})

    def _book_delta(self, symbol: str, side: str, deltas: List[Level]) -> None:
        """Add ``(price, delta)`` to the quantities of one side ("b"/"a") of the public book (never below 0)."""
        with self.market.lock:
            st = self.market.state[symbol]
            book = st.bids if side == "b" else st.asks
            levels: Dict[Decimal, Decimal] = {}
            for p, d in deltas:
                levels[p] = max(Decimal(0), levels.get(p, book.get(p, Decimal(0))) + d)
            out = [(p, q) for p, q in levels.items() if q > 0 or p in book]
            if out:
                self.emit_book(symbol, out if side == "b" else [], out if side == "a" else [])

    # -- matching -----------------------------------------------------------------------------
    def _match(self, st: SymbolState, side: str, limit: Optional[Decimal], qty: Optional[Decimal],
               quote: Optional[Decimal]) -> List[Tuple[Decimal, Decimal]]:
        """Levels an incoming order would take: [(price, qty)]. The simulated book is not depleted."""
        book = st.asks if side == "BUY" else st.bids
        prices = sorted(book, reverse=(side == "SELL"))
        out: List[Tuple[Decimal, Decimal]] = []
        rem_q, rem_quote = qty, quote
        step = st.spec.step_size
        for p in prices:
            if limit is not None and ((side == "BUY" and p > limit) or (side == "SELL" and p < limit)):
                break
            avail = book[p]
            if rem_q is not None:
                take = min(avail, rem_q)
                rem_q -= take
            else:
                assert rem_quote is not None
                take = min(avail, (rem_quote / p / step).to_integral_value(ROUND_DOWN) * step)
                rem_quote -= take * p
            if take > 0:
                out.append((p, take))
            if (rem_q is not None and rem_q <= 0) or (rem_quote is not None and rem_quote < p * step):
                break
        return out

    def _apply_fill(self, o: Order, st: SymbolState, px: Decimal, q: Decimal, now: int, maker: bool) -> None:
        spec = st.spec
        base, quote = self._bal(spec.base), self._bal(spec.quote)
        cost = px * q
        if o.side == "BUY":
            comm, comm_asset = (q * COMMISSION_RATE).quantize(Decimal("1e-8"), ROUND_DOWN), spec.base
            if maker:
                release = min(o.locked, o.price * q)
                o.locked -= release
                quote[1] -= release
                quote[0] += release - cost
            else:
                quote[0] -= cost
            base[0] += q - comm
        else:
            comm, comm_asset = (cost * COMMISSION_RATE).quantize(Decimal("1e-8"), ROUND_DOWN), spec.quote
            if maker:
                o.locked -= q
                base[1] -= q
            else:
                base[0] -= q
            quote[0] += cost - comm
        if maker and o.price > 0:
            self._book_delta(o.symbol, "b" if o.side == "BUY" else "a", [(o.price, -q)])
        o.executed_qty += q
        o.cum_quote += cost
        o.update_time = now
        o.status = "FILLED" if o.executed_qty >= o.orig_qty and o.orig_qty > 0 else "PARTIALLY_FILLED"
        with self.market.lock:
            rec = st.record_trade(px, q, now, buyer_maker=(o.side == "BUY") == maker)
        fill = {"price": fmt(px), "qty": fmt(q), "commission": fmt(comm), "commissionAsset": comm_asset,
                "tradeId": rec.id}
        o.fills.append(fill)
        self.trades.append({"symbol": o.symbol, "id": rec.id, "orderId": o.order_id, "orderListId": -1,
                            "price": fmt(px), "qty": fmt(q), "quoteQty": fmt(cost), "commission": fmt(comm),
                            "commissionAsset": comm_asset, "time": now, "isBuyer": o.side == "BUY",
                            "isMaker": maker, "isBestMatch": True})
        self._report(o, "TRADE", now, last_qty=q, last_px=px, commission=comm, comm_asset=comm_asset,
                     trade_id=rec.id, maker=maker)
        self.emit_trade(o.symbol, rec)
        if o.status == "FILLED" and o.locked > 0:  # price improvement on a resting BUY: unlock the rest
            quote[0] += o.locked
            quote[1] -= o.locked
            o.locked = Decimal(0)
        self.on_fill(o)

    # -- public operations ----------------------------------------------------------------------
    def place(self, params: Mapping[str, str], test: bool = False, order_list_id: int = -1) -> Tuple[JSON, bool]:
        """Validate and execute a new order. Returns (response, got_filled). Raises BinanceFault."""
        with self.lock:
            st = self._symbol(params)
            spec = st.spec
            side = params.get("side")
            if not side:
                raise _missing("side")
            if side not in ("BUY", "SELL"):
                raise BinanceFault(-1117, "Invalid side.")
            otype = params.get("type")
            if not otype:
                raise _missing("type")
            if otype not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
                if otype in ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"):
                    raise BinanceFault(-1020, "This operation is not supported.")
                raise BinanceFault(-1116, "Invalid orderType.")
            tif = params.get("timeInForce", "")
            price = qty = quote_qty = None
            if otype == "LIMIT":
                if not tif:
                    raise _missing("timeInForce")
                if tif not in ("GTC", "IOC", "FOK"):
                    raise BinanceFault(-1115, "Invalid timeInForce.")
                price, qty = self._dec(params, "price"), self._dec(params, "quantity")
            elif otype == "LIMIT_MAKER":
                price, qty = self._dec(params, "price"), self._dec(params, "quantity")
                tif = "GTC"
            else:
                if params.get("price"):
                    raise BinanceFault(-1106, "Parameter 'price' sent when not required.")
                if tif:
                    raise BinanceFault(-1106, "Parameter 'timeInForce' sent when not required.")
                tif = "GTC"
                qty = self._dec(params, "quantity", required=False)
                quote_qty = self._dec(params, "quoteOrderQty", required=False)
                if (qty is None) == (quote_qty is None):
                    raise BinanceFault(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were "
                                              "empty/null!" if qty is None else
                                       "Mandatory parameter 'quantity' or 'quoteOrderQty' must be sent alone.")
            cid = params.get("newClientOrderId")
            if cid is not None and not _CLIENT_ID_RE.match(cid):
                raise BinanceFault(-1100, "Illegal characters found in parameter 'newClientOrderId'; legal range "
                                          "is '^[a-zA-Z0-9-_]{1,36}$'.")
            ref_px = price if price is not None else st.last
            self._check_filters(st, price, qty)
            if price is None and qty is not None:
                if qty * ref_px < spec.min_notional:
                    raise BinanceFault(-1013, "Filter failure: NOTIONAL")
            if quote_qty is not None and quote_qty < spec.min_notional:
                raise BinanceFault(-1013, "Filter failure: NOTIONAL")
            if cid is not None and any(o.is_open and o.client_order_id == cid for o in self.orders.values()):
                raise BinanceFault(-2010, "Duplicate order sent.")
            with self.market.lock:
                fills = self._match(st, side, price, qty, quote_qty)
            if otype == "LIMIT_MAKER" and fills:
                raise BinanceFault(-2010, "Order would immediately match and take.")
            fill_qty = sum((q for _, q in fills), Decimal(0))
            fill_cost = sum((p * q for p, q in fills), Decimal(0))
            if tif == "FOK" and qty is not None and fill_qty < qty:
                fills, fill_qty, fill_cost = [], Decimal(0), Decimal(0)
            # Balance check: what the fills cost plus what a resting remainder locks.
            rests = otype in ("LIMIT", "LIMIT_MAKER") and tif == "GTC"
            if side == "BUY":
                need = fill_cost + ((qty - fill_qty) * price if rests and qty is not None and price is not None
                                    else Decimal(0))
                have = self._bal(spec.quote)[0]
            else:
                need = qty if qty is not None else fill_qty
                have = self._bal(spec.base)[0]
            if need > have:
                raise BinanceFault(-2010, "Account has insufficient balance for requested action.")
            if test:
                return {}, False
            now = self.clock.now_ms()
            if cid is None:
                cid = f"fake{self.next_auto_cid:018d}"
                self.next_auto_cid += 1
            o = Order(spec.symbol, self.next_order_id, cid, side, otype, tif, price or Decimal(0),
                      qty if qty is not None else Decimal(0), quote_qty or Decimal(0), now, update_time=now)
            self.next_order_id += 1
            o.order_list_id = order_list_id
            self.orders[o.order_id] = o
            if rests:
                o.working_time = now
            self._report(o, "NEW", now)
            for px, q in fills:
                self._apply_fill(o, st, px, q, now, maker=False)
            if fills:
                self._book_delta(spec.symbol, "a" if side == "BUY" else "b", [(px, -q) for px, q in fills])
            if quote_qty is not None:
                o.orig_qty = o.executed_qty
                if o.executed_qty > 0:
                    o.status = "FILLED"
            expired = False
            if o.is_open:
                if rests:
                    remaining = o.orig_qty - o.executed_qty
                    if side == "BUY":
                        o.locked = remaining * o.price
                        b = self._bal(spec.quote)
                    else:
                        o.locked = remaining
                        b = self._bal(spec.base)
                    b[0] -= o.locked
                    b[1] += o.locked
                    self._book_delta(spec.symbol, "b" if side == "BUY" else "a", [(o.price, remaining)])
                else:
                    o.status = "EXPIRED"
                    expired = True
                    reason = {"IOC": "UNFILLED_IOC_QUANTITY_EXPIRED", "FOK": "UNFILLED_FOK_ORDER_EXPIRED"}
                    self._report(o, "EXPIRED", now, expiry=reason.get(tif, "INSUFFICIENT_LIQUIDITY"))
            if fills or rests or expired:
                self._position([spec.base, spec.quote], now)
            return self._response(o, params.get("newOrderRespType")), bool(fills)

    def _response(self, o: Order, resp_type: Optional[str]) -> JSON:
        if resp_type is None:
            resp_type = "FULL" if o.type in ("LIMIT", "MARKET") else "ACK"
        out: JSON = {"symbol": o.symbol, "orderId": o.order_id, "orderListId": o.order_list_id,
                     "clientOrderId": o.client_order_id, "transactTime": o.time}
        if resp_type in ("RESULT", "FULL"):
            out.update({"price": fmt(o.price), "origQty": fmt(o.orig_qty), "executedQty": fmt(o.executed_qty),
                        "origQuoteOrderQty": fmt(o.orig_quote_qty), "cummulativeQuoteQty": fmt(o.cum_quote),
                        "status": o.status, "timeInForce": o.time_in_force, "type": o.type, "side": o.side,
                        "workingTime": o.working_time if o.working_time >= 0 else o.time,
                        "selfTradePreventionMode": "NONE"})
            if o.stop_price:
                out["stopPrice"] = fmt(o.stop_price)
            if o.order_list_id >= 0 and o.working_time < 0:
                out["workingTime"] = -1
        if resp_type == "FULL":
            out["fills"] = list(o.fills)
        return out

    def find(self, params: Mapping[str, str], for_cancel: bool = False) -> Order:
        st = self._symbol(params)
        oid_raw, cid = params.get("orderId"), params.get("origClientOrderId")
        if not oid_raw and not cid:
            raise BinanceFault(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        unknown = BinanceFault(-2011, "Unknown order sent.") if for_cancel else \
            BinanceFault(-2013, "Order does not exist.")
        found: Optional[Order] = None
        if oid_raw:
            try:
                found = self.orders.get(int(oid_raw))
            except ValueError:
                raise _missing("orderId") from None
            if found is not None and cid and found.client_order_id != cid:
                raise BinanceFault(-2039, "Client order ID is not correct for this order ID.")
        else:
            matches = [o for o in self.orders.values() if o.client_order_id == cid and o.symbol == st.spec.symbol]
            matches.sort(key=lambda o: (o.is_open, o.order_id))
            found = matches[-1] if matches else None
        if found is None or found.symbol != st.spec.symbol or (for_cancel and not found.is_open):
            raise unknown
        return found

    def query(self, params: Mapping[str, str]) -> JSON:
        with self.lock:
            return self.find(params).as_query()

    def cancel(self, params: Mapping[str, str]) -> JSON:
        with self.lock:
            o = self.find(params, for_cancel=True)
            return self._cancel(o, params.get("newClientOrderId"))

    def _cancel(self, o: Order, new_cid: Optional[str]) -> JSON:
        now = self.clock.now_ms()
        orig = o.client_order_id
        cancel_id = new_cid or f"cancel{self.next_auto_cid:016d}"
        self.next_auto_cid += 1
        if o.type in ("LIMIT", "LIMIT_MAKER") and o.working_time >= 0 and o.price > 0 and o.is_open:
            self._book_delta(o.symbol, "b" if o.side == "BUY" else "a", [(o.price, o.executed_qty - o.orig_qty)])
        o.status, o.update_time = "CANCELED", now
        spec = self.market.specs[o.symbol]
        asset = spec.quote if o.side == "BUY" else spec.base
        b = self._bal(asset)
        b[0] += o.locked
        b[1] -= o.locked
        o.locked = Decimal(0)
        self._report(o, "CANCELED", now, cid=cancel_id, orig_cid=orig)
        self._position([asset], now)
        out = {"symbol": o.symbol, "origClientOrderId": orig, "orderId": o.order_id, "orderListId": o.order_list_id,
               "clientOrderId": cancel_id, "transactTime": now}
        q = o.as_query()
        for k in ("price", "origQty", "executedQty", "origQuoteOrderQty", "cummulativeQuoteQty", "status",
                  "timeInForce", "type", "side", "selfTradePreventionMode"):
            out[k] = q[k]
        return out

    def cancel_all(self, params: Mapping[str, str]) -> List[JSON]:
        with self.lock:
            st = self._symbol(params)
            return [self._cancel(o, None) for o in list(self.orders.values())
                    if o.is_open and o.symbol == st.spec.symbol]

    def open_orders(self, symbol: Optional[str]) -> List[JSON]:
        with self.lock:
            if symbol is not None and symbol not in self.market.state:
                raise BinanceFault(-1121, "Invalid symbol.")
            return [o.as_query() for o in self.orders.values() if o.is_open and symbol in (None, o.symbol)]

    def all_orders(self, symbol: str) -> List[JSON]:
        with self.lock:
            return [o.as_query() for o in self.orders.values() if o.symbol == symbol]

    def my_trades(self, params: Mapping[str, str]) -> List[JSON]:
        with self.lock:
            st = self._symbol(params)
            oid = params.get("orderId")
            return [t for t in self.trades if t["symbol"] == st.spec.symbol and (not oid or str(t["orderId"]) == oid)]

    def account(self, omit_zero: bool = False) -> JSON:
        with self.lock:
            bals = [{"asset": a, "free": fmt(f), "locked": fmt(lk)} for a, (f, lk) in sorted(self.balances.items())
                    if not (omit_zero and f == 0 and lk == 0)]
            rate = fmt(COMMISSION_RATE)
            return {"makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
                    "commissionRates": {"maker": rate, "taker": rate, "buyer": fmt(Decimal(0)),
                                        "seller": fmt(Decimal(0))},
                    "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
                    "requireSelfTradePrevention": False, "preventSor": False, "updateTime": self.clock.now_ms(),
                    "accountType": "SPOT", "balances": bals, "permissions": ["SPOT"], "uid": 354937868}

    # -- test controls --------------------------------------------------------------------------
    def fill(self, symbol: str, ref: object, qty: Optional[Decimal], price: Optional[Decimal]) -> JSON:
        """Execute ``qty`` (default: all that is left) of a resting order as maker at ``price`` (default: its own)."""
        with self.lock:
            key = "orderId" if isinstance(ref, int) else "origClientOrderId"
            o = self.find({"symbol": symbol, key: str(ref)}, for_cancel=True)
            remaining = o.orig_qty - o.executed_qty
            q = remaining if qty is None else min(Decimal(qty), remaining)
            now = self.clock.now_ms()
            st = self.market.state[symbol]
            self._apply_fill(o, st, Decimal(price) if price is not None else o.price, q, now, maker=True)
            self._position([st.spec.base, st.spec.quote], now)
            return o.as_query()

    def cross_resting(self, symbol: str) -> None:
        """Simulated market: fill resting orders the moving book now crosses."""
        with self.lock:
            st = self.market.state[symbol]
            with self.market.lock:
                bid, _ = st.best_bid()
                ask, _ = st.best_ask()
            for o in list(self.orders.values()):
                if o.is_open and o.symbol == symbol and o.working_time >= 0 and \
                        ((o.side == "BUY" and 0 < ask <= o.price) or (o.side == "SELL" and bid >= o.price > 0)):
                    self.fill(symbol, o.order_id, None, None)

    def set_balance(self, asset: str, free: Decimal, locked: Optional[Decimal] = None) -> None:
        with self.lock:
            b = self._bal(asset)
            b[0] = Decimal(free)
            if locked is not None:
                b[1] = Decimal(locked)
            self._position([asset], self.clock.now_ms())

    def deposit(self, asset: str, delta: Decimal) -> None:
        with self.lock:
            now = self.clock.now_ms()
            self._bal(asset)[0] += Decimal(delta)
            self.emit_user({"e": "balanceUpdate", "E": now, "a": asset, "d": fmt(Decimal(delta)), "T": now})
            self._position([asset], now)

    def balance(self, asset: str) -> Tuple[Decimal, Decimal]:
        with self.lock:
            f, lk = self._bal(asset)
            return f, lk
