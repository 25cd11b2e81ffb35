"""The futures account of the fake (``FakeBinance(product="usdm"|"coinm")``): orders, algo
(conditional) orders, positions (one-way and hedge mode), leverage, margin type, a wallet, mark
prices and the user-data events they cause.  Simple matching: MARKET fills at the mark price; a
LIMIT order that crosses the mark price fills at it (GTX: rejected ``-5022``), else it rests and
fills at its price when :meth:`FuturesEngine.set_mark_price` crosses it; algo orders trigger on
the mark price.  Thread-safe: one lock.  Events go to every callable in ``fake.futures_events``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ._util import JSON, BinanceFault, Clock, fmt

__all__ = ["FuturesEngine", "FOrder", "CONDITIONAL", "TAKER_FEE"]

CONDITIONAL = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
TAKER_FEE = Decimal("0.0004")
_ZERO = Decimal(0)
_OPEN = ("NEW", "PARTIALLY_FILLED")


def _missing(name: str) -> BinanceFault:
    return BinanceFault(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def _dec(p: Mapping[str, str], name: str, required: bool = False) -> Optional[Decimal]:
    raw = p.get(name)
    if raw in (None, ""):
        if required:
            raise _missing(name)
        return None
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        raise BinanceFault(-1100, f"Illegal characters found in parameter '{name}'.") from None


@dataclass
class FOrder:
    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    position_side: str
    time_in_force: str
    price: Decimal
    qty: Decimal
    reduce_only: bool
    time: int
    status: str = "NEW"
    executed: Decimal = _ZERO
    cum_quote: Decimal = _ZERO
    avg: Decimal = _ZERO
    update_time: int = 0
    stop_price: Decimal = _ZERO

    def as_json(self) -> JSON:
        return {"orderId": self.order_id, "symbol": self.symbol, "status": self.status,
                "clientOrderId": self.client_order_id, "price": fmt(self.price, 2), "avgPrice": fmt(self.avg, 2),
                "origQty": fmt(self.qty, 3), "executedQty": fmt(self.executed, 3), "cumQty": fmt(self.executed, 3),
                "cumQuote": fmt(self.cum_quote, 5), "timeInForce": self.time_in_force, "type": self.type,
                "reduceOnly": self.reduce_only, "closePosition": False, "side": self.side,
                "positionSide": self.position_side, "stopPrice": fmt(self.stop_price, 2),
                "workingType": "CONTRACT_PRICE", "priceProtect": False, "origType": self.type, "priceMatch": "NONE",
                "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0, "time": self.time,
                "updateTime": self.update_time or self.time}


@dataclass
class AlgoOrder:
    algo_id: int
    client_algo_id: str
    symbol: str
    side: str
    type: str
    position_side: str
    qty: Decimal
    price: Decimal
    trigger: Decimal
    close_position: bool
    reduce_only: bool
    time: int
    status: str = "NEW"
    actual_order_id: Optional[int] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> JSON:
        return {"algoId": self.algo_id, "clientAlgoId": self.client_algo_id, "algoType": "CONDITIONAL",
                "orderType": self.type, "symbol": self.symbol, "side": self.side, "positionSide": self.position_side,
                "timeInForce": "GTC", "quantity": fmt(self.qty, 3), "algoStatus": self.status,
                "triggerPrice": fmt(self.trigger, 2), "price": fmt(self.price, 2), "icebergQuantity": None,
                "selfTradePreventionMode": "EXPIRE_MAKER", "workingType": "CONTRACT_PRICE", "priceMatch": "NONE",
                "closePosition": self.close_position, "priceProtect": False, "reduceOnly": self.reduce_only,
                "activatePrice": "", "callbackRate": "", "createTime": self.time, "updateTime": self.time,
                "triggerTime": 0, "goodTillDate": 0,
                "actualOrderId": "" if self.actual_order_id is None else str(self.actual_order_id)}


class FuturesEngine:
    """One futures account.  ``product`` ``"usdm"`` (margin in USDT) or ``"coinm"`` (margin in the base coin,
    quantities in contracts of ``contract_size`` USD)."""

    def __init__(self, product: str, clock: Clock, marks: Mapping[str, Decimal], wallet: Decimal) -> None:
        self.lock = threading.RLock()
        self.product = product
        self.clock = clock
        self.mark: Dict[str, Decimal] = dict(marks)
        self.orders: Dict[int, FOrder] = {}
        self.algos: Dict[int, AlgoOrder] = {}
        self.positions: Dict[Tuple[str, str], List[Decimal]] = {}  # (symbol, side) -> [amount, entry]
        self.leverage: Dict[str, int] = {}
        self.margin_type: Dict[str, str] = {}
        self.dual = False
        self.wallet: Dict[str, Decimal] = {}
        self.initial_wallet = wallet
        self.trades: List[JSON] = []
        self.income: List[JSON] = []
        self.countdown: Dict[str, int] = {}  # symbol -> deadline ms
        self.listen_key: Optional[str] = None
        self._ids = 1
        self.events: List[Callable[[JSON], Any]] = []

    # -- helpers -----------------------------------------------------------------------------
    def _next(self) -> int:
        self._ids += 1
        return self._ids

    def asset_of(self, symbol: str) -> str:
        if self.product == "coinm":
            return symbol.split("USD")[0] or symbol
        return "USDT"

    def _wallet(self, asset: str) -> Decimal:
        return self.wallet.setdefault(asset, self.initial_wallet)

    def _emit(self, event: JSON) -> None:
        for cb in list(self.events):
            cb(event)

    def _check_symbol(self, p: Mapping[str, str]) -> str:
        sym = p.get("symbol")
        if not sym:
            raise _missing("symbol")
        if sym not in self.mark:
            raise BinanceFault(-1121, "Invalid symbol.")
        return sym

    def _position_side(self, p: Mapping[str, str]) -> str:
        side = p.get("positionSide") or "BOTH"
        if side not in ("BOTH", "LONG", "SHORT"):
            raise BinanceFault(-4060, "Invalid position side.")
        if (side == "BOTH") == self.dual:
            raise BinanceFault(-4061, "Order's position side does not match user's setting.")
        if self.dual and p.get("reduceOnly") in ("true", "True"):
            raise BinanceFault(-1106, "Parameter 'reduceOnly' sent when not required.")
        return side

    def check_countdown(self) -> None:
        now = self.clock.now_ms()
        with self.lock:
            for sym, deadline in list(self.countdown.items()):
                if now >= deadline:
                    del self.countdown[sym]
                    self._cancel_all(sym)

    # -- orders ------------------------------------------------------------------------------
    def place(self, p: Mapping[str, str]) -> JSON:
        sym = self._check_symbol(p)
        kind = p.get("type") or ""
        if kind in CONDITIONAL:
            raise BinanceFault(-4120, "Order type not supported for this endpoint. Please use the Algo Order API "
                                      "endpoints instead.")
        if kind not in ("LIMIT", "MARKET"):
            raise BinanceFault(-1116, "Invalid orderType.")
        side = p.get("side") or ""
        if side not in ("BUY", "SELL"):
            raise BinanceFault(-1117, "Invalid side.")
        qty = _dec(p, "quantity", True)
        assert qty is not None
        price = _dec(p, "price", kind == "LIMIT") or _ZERO
        tif = p.get("timeInForce") or ("GTC" if kind == "LIMIT" else "GTC")
        with self.lock:
            pos_side = self._position_side(p)
            cid = p.get("newClientOrderId") or f"auto-{self._ids + 1}"
            if any(o.client_order_id == cid and o.status in _OPEN for o in self.orders.values()):
                raise BinanceFault(-4116, "ClientOrderId is duplicated.")
            now = self.clock.now_ms()
            o = FOrder(sym, self._next(), cid, side, kind, pos_side, tif, price, qty,
                       p.get("reduceOnly") in ("true", "True"), now)
            mark = self.mark[sym]
            crosses = kind == "MARKET" or (price >= mark if side == "BUY" else price <= mark)
            if crosses and tif == "GTX":
                raise BinanceFault(-5022, "Due to the order could not be executed as maker, the Post Only order will "
                                          "be rejected. The order will not be recorded in the order history")
            self.orders[o.order_id] = o
            self._order_event(o, "NEW")
            if crosses:
                self._fill(o, mark)
            elif tif in ("IOC", "FOK"):
                o.status = "EXPIRED"
                self._order_event(o, "EXPIRED")
            return o.as_json()

    def _order_event(self, o: FOrder, exec_type: str, last_qty: Decimal = _ZERO, last_price: Decimal = _ZERO,
                     fee: Decimal = _ZERO, pnl: Decimal = _ZERO) -> None:
        now = self.clock.now_ms()
        o.update_time = now
        self._emit({"e": "ORDER_TRADE_UPDATE", "E": now, "T": now, "o": {
            "s": o.symbol, "c": o.client_order_id, "S": o.side, "o": o.type, "f": o.time_in_force,
            "q": fmt(o.qty, 3), "p": fmt(o.price, 2), "ap": fmt(o.avg, 2), "sp": fmt(o.stop_price, 2),
            "x": exec_type, "X": o.status, "i": o.order_id, "l": fmt(last_qty, 3), "z": fmt(o.executed, 3),
            "L": fmt(last_price, 2), "N": self.asset_of(o.symbol), "n": fmt(fee), "T": now, "t": 0, "b": "0",
            "a": "0", "m": False, "R": o.reduce_only, "wt": "CONTRACT_PRICE", "ot": o.type, "ps": o.position_side,
            "cp": False, "rp": fmt(pnl), "pP": False, "si": 0, "ss": 0, "V": "EXPIRE_MAKER", "pm": "NONE",
            "gtd": 0}})

    def _fill(self, o: FOrder, price: Decimal) -> None:
        qty = o.qty - o.executed
        o.executed += qty
        o.cum_quote += qty * price
        o.avg = price
        o.status = "FILLED"
        asset = self.asset_of(o.symbol)
        notional = qty * price if self.product == "usdm" else qty * Decimal(100) / price
        fee = notional * TAKER_FEE
        pnl = self._apply_position(o.symbol, o.position_side, qty if o.side == "BUY" else -qty, price)
        self.wallet[asset] = self._wallet(asset) + pnl - fee
        now = self.clock.now_ms()
        trade = {"symbol": o.symbol, "id": self._next(), "orderId": o.order_id, "side": o.side,
                 "price": fmt(price, 2), "qty": fmt(qty, 3), "realizedPnl": fmt(pnl), "marginAsset": asset,
                 "quoteQty": fmt(qty * price, 5), "commission": fmt(fee), "commissionAsset": asset, "time": now,
                 "positionSide": o.position_side, "buyer": o.side == "BUY", "maker": False}
        self.trades.append(trade)
        if pnl:
            self.income.append({"symbol": o.symbol, "incomeType": "REALIZED_PNL", "income": fmt(pnl),
                                "asset": asset, "info": "", "time": now, "tranId": self._next(), "tradeId": ""})
        self.income.append({"symbol": o.symbol, "incomeType": "COMMISSION", "income": fmt(-fee), "asset": asset,
                            "info": "", "time": now, "tranId": self._next(), "tradeId": str(trade["id"])})
        self._emit({"e": "TRADE_LITE", "E": now, "T": now, "s": o.symbol, "q": fmt(qty, 3), "p": fmt(o.price, 2),
                    "m": False, "c": o.client_order_id, "S": o.side, "L": fmt(price, 2), "l": fmt(qty, 3),
                    "t": trade["id"], "i": o.order_id})
        self._order_event(o, "TRADE", qty, price, fee, pnl)
        amt, entry = self.positions.get((o.symbol, o.position_side), [_ZERO, _ZERO])
        self._emit({"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {
            "m": "ORDER", "B": [{"a": asset, "wb": fmt(self._wallet(asset)), "cw": fmt(self._wallet(asset)),
                                 "bc": "0"}],
            "P": [{"s": o.symbol, "pa": fmt(amt, 3), "ep": fmt(entry), "bep": fmt(entry), "cr": "0",
                   "up": fmt(self._upnl(o.symbol, amt, entry)), "mt": self.margin_type.get(o.symbol, "cross").lower(),
                   "iw": "0", "ps": o.position_side}]}})

    def _apply_position(self, sym: str, side: str, delta: Decimal, price: Decimal) -> Decimal:
        amt, entry = self.positions.get((sym, side), [_ZERO, _ZERO])
        pnl = _ZERO
        new = amt + delta
        if amt == 0 or (amt > 0) == (delta > 0):  # opening / increasing
            entry = (amt * entry + delta * price) / new if new else _ZERO
        else:  # reducing (and maybe flipping)
            closed = min(abs(delta), abs(amt))
            sign = Decimal(1) if amt > 0 else Decimal(-1)
            if self.product == "usdm":
                pnl = (price - entry) * closed * sign
            else:
                pnl = closed * Decimal(100) * (1 / entry - 1 / price) * sign
            if new == 0:
                entry = _ZERO
            elif (new > 0) != (amt > 0):
                entry = price
        self.positions[(sym, side)] = [new, entry]
        return pnl

    def _upnl(self, sym: str, amt: Decimal, entry: Decimal) -> Decimal:
        if not amt or not entry:
            return _ZERO
        mark = self.mark[sym]
        if self.product == "usdm":
            return (mark - entry) * amt
        return amt * Decimal(100) * (1 / entry - 1 / mark)

    def _find(self, p: Mapping[str, str]) -> FOrder:
        oid, cid = p.get("orderId"), p.get("origClientOrderId")
        if not oid and not cid:
            raise BinanceFault(-1102, "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty/null!")
        for o in self.orders.values():
            if (oid and str(o.order_id) == oid) or (not oid and o.client_order_id == cid):
                return o
        raise BinanceFault(-2013, "Order does not exist.")

    def query(self, p: Mapping[str, str]) -> JSON:
        with self.lock:
            return self._find(p).as_json()

    def cancel(self, p: Mapping[str, str]) -> JSON:
        with self.lock:
            try:
                o = self._find(p)
            except BinanceFault:
                raise BinanceFault(-2011, "Unknown order sent.") from None
            if o.status not in _OPEN:
                raise BinanceFault(-2011, "Unknown order sent.")
            o.status = "CANCELED"
            self._order_event(o, "CANCELED")
            return o.as_json()

    def _cancel_all(self, sym: str) -> None:
        for o in self.orders.values():
            if o.symbol == sym and o.status in _OPEN:
                o.status = "CANCELED"
                self._order_event(o, "CANCELED")

    def cancel_all(self, p: Mapping[str, str]) -> JSON:
        sym = self._check_symbol(p)
        with self.lock:
            self._cancel_all(sym)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def modify(self, p: Mapping[str, str]) -> JSON:
        with self.lock:
            o = self._find(p)
            if o.type != "LIMIT":
                raise BinanceFault(-5025, "Only limit order is supported.")
            if o.status not in _OPEN:
                raise BinanceFault(-2013, "Order does not exist.")
            qty, price = _dec(p, "quantity", True), _dec(p, "price", True)
            assert qty is not None and price is not None
            if qty == o.qty and price == o.price:
                raise BinanceFault(-5027, "No need to modify the order.")
            o.qty, o.price = qty, price
            self._order_event(o, "AMENDMENT")
            mark = self.mark[o.symbol]
            if price >= mark if o.side == "BUY" else price <= mark:
                self._fill(o, mark)
            return o.as_json()

    def countdown_cancel(self, p: Mapping[str, str]) -> JSON:
        sym = self._check_symbol(p)
        ms = int(p.get("countdownTime") or "0")
        with self.lock:
            if ms <= 0:
                self.countdown.pop(sym, None)
            else:
                self.countdown[sym] = self.clock.now_ms() + ms
        return {"symbol": sym, "countdownTime": str(ms)}

    # -- algo orders -------------------------------------------------------------------------
    def place_algo(self, p: Mapping[str, str]) -> JSON:
        sym = self._check_symbol(p)
        if p.get("algoType") != "CONDITIONAL":
            raise BinanceFault(-1102, "Mandatory parameter 'algoType' was not sent, was empty/null, or malformed.")
        kind = p.get("type") or ""
        if kind not in CONDITIONAL:
            raise BinanceFault(-1116, "Invalid orderType.")
        close = p.get("closePosition") in ("true", "True")
        qty = _dec(p, "quantity", not close) or _ZERO
        if close and p.get("quantity"):
            raise BinanceFault(-4137, "Quantity must be zero with closePosition equals true")
        trigger = _dec(p, "triggerPrice", kind != "TRAILING_STOP_MARKET") or _dec(p, "activatePrice") or \
            self.mark[sym]
        side = p.get("side") or ""
        with self.lock:
            pos_side = self._position_side(p)
            mark = self.mark[sym]
            if self._triggers(kind, side, trigger, mark):
                raise BinanceFault(-2021, "Order would immediately trigger.")
            a = AlgoOrder(self._next(), p.get("clientAlgoId") or f"auto-{self._ids}", sym, side, kind, pos_side, qty,
                          _dec(p, "price") or _ZERO, trigger, close, p.get("reduceOnly") in ("true", "True"),
                          self.clock.now_ms())
            self.algos[a.algo_id] = a
            self._algo_event(a)
            return a.as_json()

    @staticmethod
    def _triggers(kind: str, side: str, trigger: Decimal, mark: Decimal) -> bool:
        if kind.startswith("TAKE_PROFIT"):
            return mark <= trigger if side == "BUY" else mark >= trigger
        return mark >= trigger if side == "BUY" else mark <= trigger

    def _algo_event(self, a: AlgoOrder) -> None:
        now = self.clock.now_ms()
        self._emit({"e": "ALGO_UPDATE", "T": now, "E": now, "o": {
            "caid": a.client_algo_id, "aid": a.algo_id, "at": "CONDITIONAL", "o": a.type, "s": a.symbol,
            "S": a.side, "ps": a.position_side, "f": "GTC", "q": fmt(a.qty, 3), "X": a.status,
            "ai": "" if a.actual_order_id is None else str(a.actual_order_id), "ap": "0", "aq": "0", "act": "",
            "tp": fmt(a.trigger, 2), "p": fmt(a.price, 2), "V": "EXPIRE_MAKER", "wt": "CONTRACT_PRICE",
            "pm": "NONE", "cp": a.close_position, "pP": False, "R": a.reduce_only, "tt": 0, "gtd": 0}})

    def _find_algo(self, p: Mapping[str, str]) -> AlgoOrder:
        aid, cid = p.get("algoId"), p.get("clientAlgoId")
        if not aid and not cid:
            raise BinanceFault(-1102, "Param 'algoId' or 'clientAlgoId' must be sent, but both were empty/null!")
        for a in self.algos.values():
            if (aid and str(a.algo_id) == aid) or (not aid and a.client_algo_id == cid):
                return a
        raise BinanceFault(-2013, "Order does not exist.")

    def query_algo(self, p: Mapping[str, str]) -> JSON:
        with self.lock:
            return self._find_algo(p).as_json()

    def cancel_algo(self, p: Mapping[str, str]) -> JSON:
        with self.lock:
            a = self._find_algo(p)
            if a.status != "NEW":
                raise BinanceFault(-2011, "Unknown order sent.")
            a.status = "CANCELED"
            self._algo_event(a)
            return {"algoId": a.algo_id, "clientAlgoId": a.client_algo_id, "code": "200", "msg": "success"}

    def cancel_all_algo(self, p: Mapping[str, str]) -> JSON:
        sym = self._check_symbol(p)
        with self.lock:
            for a in self.algos.values():
                if a.symbol == sym and a.status == "NEW":
                    a.status = "CANCELED"
                    self._algo_event(a)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    # -- mark price ----------------------------------------------------------------------------
    def set_mark_price(self, symbol: str, price: Decimal) -> None:
        """Move the mark price: resting LIMIT orders it crosses fill at their price, algo orders it
        triggers place their order (MARKET, or LIMIT at their price for STOP/TAKE_PROFIT)."""
        self.check_countdown()
        with self.lock:
            self.mark[symbol] = price
            for o in list(self.orders.values()):
                if o.symbol == symbol and o.status in _OPEN and o.type == "LIMIT" and \
                        (price <= o.price if o.side == "BUY" else price >= o.price):
                    self._fill(o, o.price)
            for a in list(self.algos.values()):
                if a.symbol != symbol or a.status != "NEW" or not self._triggers(a.type, a.side, a.trigger, price):
                    continue
                a.status = "TRIGGERED"
                self._algo_event(a)
                qty = a.qty
                if a.close_position:
                    amt = self.positions.get((symbol, a.position_side), [_ZERO, _ZERO])[0]
                    qty = abs(amt)
                limit = a.type in ("STOP", "TAKE_PROFIT")
                params = {"symbol": symbol, "side": a.side, "type": "LIMIT" if limit else "MARKET",
                          "quantity": str(qty), "positionSide": a.position_side,
                          "newClientOrderId": a.client_algo_id}
                if limit:
                    params.update(price=str(a.price), timeInForce="GTC")
                if qty > 0:
                    a.actual_order_id = int(self.place(params)["orderId"])
                a.status = "FINISHED"
                self._algo_event(a)

    # -- account -------------------------------------------------------------------------------
    def position_rows(self, symbol: Optional[str] = None) -> List[JSON]:
        with self.lock:
            rows = []
            for (sym, side), (amt, entry) in sorted(self.positions.items()):
                if symbol not in (None, sym):
                    continue
                mark = self.mark[sym]
                notional = amt * mark if self.product == "usdm" else amt * Decimal(100) / mark
                rows.append({"symbol": sym, "positionSide": side, "positionAmt": fmt(amt, 3),
                             "entryPrice": fmt(entry), "breakEvenPrice": fmt(entry), "markPrice": fmt(mark),
                             "unRealizedProfit": fmt(self._upnl(sym, amt, entry)), "liquidationPrice": "0",
                             "isolatedMargin": "0", "notional": fmt(notional), "marginAsset": self.asset_of(sym),
                             "isolatedWallet": "0", "initialMargin": fmt(abs(notional) / self.leverage.get(sym, 20)),
                             "maintMargin": "0", "positionInitialMargin": "0", "openOrderInitialMargin": "0",
                             "adl": 0, "bidNotional": "0", "askNotional": "0", "updateTime": self.clock.now_ms(),
                             "leverage": str(self.leverage.get(sym, 20)),
                             "marginType": self.margin_type.get(sym, "cross").lower()})
            return rows

    def balances(self) -> List[JSON]:
        with self.lock:
            assets = {self.asset_of(s) for s in self.mark} | set(self.wallet)
            out = []
            for asset in sorted(assets):
                bal = self._wallet(asset)
                out.append({"accountAlias": "SgsR", "asset": asset, "balance": fmt(bal), "crossWalletBalance":
                            fmt(bal), "crossUnPnl": "0.00000000", "availableBalance": fmt(bal),
                            "maxWithdrawAmount": fmt(bal), "marginAvailable": True,
                            "updateTime": self.clock.now_ms()})
            return out

    def account(self) -> JSON:
        bals = self.balances()
        total = sum((Decimal(b["balance"]) for b in bals), _ZERO)
        positions = [{k: r[k] for k in ("symbol", "positionSide", "positionAmt", "unRealizedProfit", "isolatedMargin",
                                        "notional", "isolatedWallet", "initialMargin", "maintMargin", "updateTime")}
                     for r in self.position_rows()]
        return {"totalInitialMargin": "0", "totalMaintMargin": "0", "totalWalletBalance": fmt(total),
                "totalUnrealizedProfit": "0", "totalMarginBalance": fmt(total), "availableBalance": fmt(total),
                "maxWithdrawAmount": fmt(total), "assets": [{"asset": b["asset"], "walletBalance": b["balance"],
                                                             "availableBalance": b["availableBalance"]}
                                                            for b in bals], "positions": positions}

    def set_leverage(self, p: Mapping[str, str]) -> JSON:
        sym = self._check_symbol(p)
        try:
            lev = int(p.get("leverage") or "")
        except ValueError:
            raise _missing("leverage") from None
        if not 1 <= lev <= 125:
            raise BinanceFault(-4028, f"Leverage {lev} is not valid")
        with self.lock:
            self.leverage[sym] = lev
        self._emit({"e": "ACCOUNT_CONFIG_UPDATE", "E": self.clock.now_ms(), "T": self.clock.now_ms(),
                    "ac": {"s": sym, "l": lev}})
        return {"leverage": lev, "maxNotionalValue": "1000000", "symbol": sym}

    def set_margin_type(self, p: Mapping[str, str]) -> JSON:
        sym = self._check_symbol(p)
        kind = p.get("marginType") or ""
        if kind not in ("ISOLATED", "CROSSED"):
            raise BinanceFault(-1130, "Data sent for parameter 'marginType' is not valid.")
        with self.lock:
            if self.margin_type.get(sym, "CROSSED") == kind:
                raise BinanceFault(-4046, "No need to change margin type.")
            if any(o.symbol == sym and o.status in _OPEN for o in self.orders.values()):
                raise BinanceFault(-4047, "Margin type cannot be changed if there exists open orders.")
            if any(s == sym and v[0] for (s, _), v in self.positions.items()):
                raise BinanceFault(-4048, "Margin type cannot be changed if there exists position.")
            self.margin_type[sym] = kind
        return {"code": 200, "msg": "success"}

    def set_dual(self, p: Mapping[str, str]) -> JSON:
        dual = (p.get("dualSidePosition") or "").lower()
        if dual not in ("true", "false"):
            raise _missing("dualSidePosition")
        with self.lock:
            if (dual == "true") == self.dual:
                raise BinanceFault(-4059, "No need to change position side.")
            if any(o.status in _OPEN for o in self.orders.values()):
                raise BinanceFault(-4067, "Position side cannot be changed if there exists open orders.")
            if any(v[0] for v in self.positions.values()):
                raise BinanceFault(-4068, "Position side cannot be changed if there exists position.")
            self.dual = dual == "true"
        return {"code": 200, "msg": "success"}
