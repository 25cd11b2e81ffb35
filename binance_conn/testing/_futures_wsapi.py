"""The futures WebSocket API of ``FakeBinance(product="usdm"|"coinm")`` at ``/ws-fapi/v1`` / ``/ws-dapi/v1``
(binance-futures-reference.md sections 1, 2.3, 3.3, 7.2, 8): the spot envelope (``id``, ``status``,
``result`` | ``error``, ``rateLimits``) and signing, the futures method set, no user-data subscription.

Orders go to the fake's futures engine when one is installed (``fake.futures``, with ``place``,
``cancel``, ``modify``, ``query``, ``positions``, ``balances``, ``account``: the REST helper's), else to
:class:`MiniFuturesEngine` below (LIMIT rests, MARKET fills at the simulated best price and moves
the position) -- the seam is :func:`engine_of`.
"""

from __future__ import annotations

import json
import secrets
import threading
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from ._util import JSON, BinanceFault, dumps
from ._wsapi import _authenticate, _str_params

if TYPE_CHECKING:
    from ._fake import FakeBinance
    from ._ws import Session

__all__ = ["FUTURES_API_PATHS", "api_path", "handle_futures_api", "MiniFuturesEngine", "engine_of"]

FUTURES_API_PATHS = {"spot": "/ws-api/v3", "usdm": "/ws-fapi/v1", "coinm": "/ws-dapi/v1"}

_WEIGHTS: Dict[str, int] = {
    "order.place": 0, "order.modify": 0, "order.cancel": 1, "order.status": 1,
    "algoOrder.place": 0, "algoOrder.cancel": 1,
    "account.position": 5, "account.balance": 5, "account.status": 5,
    "userDataStream.start": 1, "userDataStream.ping": 1, "userDataStream.stop": 1,
    "session.logon": 0, "session.status": 0, "session.logout": 0, "ping": 0, "time": 0,
}
_ORDER_METHODS = ("order.place", "order.modify", "order.cancel", "algoOrder.place", "algoOrder.cancel")
_CONDITIONAL = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")


def api_path(product: str) -> str:
    """The WebSocket API path the fake serves for ``product``."""
    return FUTURES_API_PATHS.get(product, "/ws-api/v3")


def _d(text: str) -> str:
    return format(Decimal(text).normalize(), "f")


class MiniFuturesEngine:
    """A minimal one-account futures engine (one-way mode): orders, positions, a USDT balance."""

    def __init__(self, fake: FakeBinance) -> None:
        self.fake = fake
        self.lock = threading.Lock()
        self.orders: Dict[int, JSON] = {}
        self.positions: Dict[str, Decimal] = {}
        self.entry: Dict[str, Decimal] = {}
        self.wallet = Decimal("10000")
        self.next_id = 1000
        self.algos: Dict[int, JSON] = {}

    def place_algo(self, p: Dict[str, str]) -> JSON:
        """``algoOrder.place`` (section 8.2): a CONDITIONAL order, stored NEW (never triggered here)."""
        if p.get("algoType") != "CONDITIONAL":
            raise BinanceFault(-1102, "Mandatory parameter 'algoType' was not sent, was empty/null, or malformed.")
        symbol = (p.get("symbol") or "").upper()
        if symbol not in self.fake.market.state:
            raise BinanceFault(-1121, "Invalid symbol.")
        if p.get("type") not in _CONDITIONAL or p.get("side") not in ("BUY", "SELL"):
            raise BinanceFault(-1116, "Invalid orderType.")
        if p.get("type") != "TRAILING_STOP_MARKET" and not p.get("triggerPrice"):
            raise BinanceFault(-1102, "Mandatory parameter 'triggerPrice' was not sent, was empty/null, or malformed.")
        now = self.fake.clock.now_ms()
        with self.lock:
            self.next_id += 1
            aid = self.next_id
            algo: JSON = {
                "algoId": aid, "clientAlgoId": p.get("clientAlgoId") or f"fake-algo-{aid}", "algoType": "CONDITIONAL",
                "orderType": p["type"], "symbol": symbol, "side": p["side"],
                "positionSide": p.get("positionSide", "BOTH"), "timeInForce": p.get("timeInForce", "GTC"),
                "quantity": _d(p.get("quantity") or "0"), "algoStatus": "NEW",
                "triggerPrice": _d(p.get("triggerPrice") or "0"), "price": _d(p.get("price") or "0"),
                "icebergQuantity": None, "selfTradePreventionMode": p.get("selfTradePreventionMode", "NONE"),
                "workingType": p.get("workingType", "CONTRACT_PRICE"), "priceMatch": p.get("priceMatch", "NONE"),
                "closePosition": p.get("closePosition") == "true", "priceProtect": p.get("priceProtect") == "true",
                "reduceOnly": p.get("reduceOnly") == "true", "activatePrice": p.get("activatePrice", ""),
                "callbackRate": p.get("callbackRate", ""), "createTime": now, "updateTime": now, "triggerTime": 0,
                "goodTillDate": int(p.get("goodTillDate") or 0),
            }
            self.algos[aid] = algo
            return dict(algo)

    def cancel_algo(self, p: Dict[str, str]) -> JSON:
        with self.lock:
            if p.get("algoId"):
                algo = self.algos.get(int(p["algoId"]))
            else:
                algo = next((a for a in self.algos.values() if a["clientAlgoId"] == p.get("clientAlgoId")), None)
            if algo is None or algo["algoStatus"] != "NEW":
                raise BinanceFault(-2011, "Unknown order sent.")
            algo["algoStatus"] = "CANCELED"
            return {"algoId": algo["algoId"], "clientAlgoId": algo["clientAlgoId"], "code": "200", "msg": "success"}

    def _find(self, p: Dict[str, str]) -> JSON:
        if p.get("orderId"):
            order = self.orders.get(int(p["orderId"]))
        else:
            cid = p.get("origClientOrderId")
            if not cid:
                raise BinanceFault(-1102, "Param 'orderId' or 'origClientOrderId' must be sent.")
            order = next((o for o in self.orders.values() if o["clientOrderId"] == cid), None)
        if order is None or order["symbol"] != p.get("symbol", "").upper():
            raise BinanceFault(-2013, "Order does not exist.")
        return order

    def place(self, p: Dict[str, str]) -> JSON:
        symbol = (p.get("symbol") or "").upper()
        if symbol not in self.fake.market.state:
            raise BinanceFault(-1121, "Invalid symbol.")
        otype = p.get("type", "")
        if otype in _CONDITIONAL:
            raise BinanceFault(-4120, "Order type not supported for this endpoint. Please use the Algo Order API "
                                      "endpoints instead.")
        if otype not in ("LIMIT", "MARKET") or p.get("side") not in ("BUY", "SELL") or not p.get("quantity"):
            raise BinanceFault(-1102, "Mandatory parameter was not sent, was empty/null, or malformed.")
        if otype == "LIMIT" and (not p.get("price") or not p.get("timeInForce")):
            raise BinanceFault(-1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
        now = self.fake.clock.now_ms()
        with self.lock:
            self.next_id += 1
            oid = self.next_id
            order: JSON = {
                "orderId": oid, "symbol": symbol, "status": "NEW",
                "clientOrderId": p.get("newClientOrderId") or f"fake-{oid}",
                "price": _d(p.get("price") or "0"), "avgPrice": "0", "origQty": _d(p["quantity"]),
                "executedQty": "0", "cumQty": "0", "cumQuote": "0", "timeInForce": p.get("timeInForce", "GTC"),
                "type": otype, "origType": otype, "reduceOnly": p.get("reduceOnly") == "true",
                "closePosition": False, "side": p["side"], "positionSide": p.get("positionSide", "BOTH"),
                "stopPrice": "0", "workingType": "CONTRACT_PRICE", "priceProtect": False,
                "priceMatch": p.get("priceMatch", "NONE"),
                "selfTradePreventionMode": p.get("selfTradePreventionMode", "EXPIRE_MAKER"),
                "goodTillDate": int(p.get("goodTillDate") or 0), "updateTime": now, "time": now,
            }
            if otype == "MARKET":
                bid, ask = self.fake.best_prices(symbol)
                self._fill(order, ask if p["side"] == "BUY" else bid)
            self.orders[oid] = order
            return dict(order)

    def _fill(self, order: JSON, price: Decimal) -> None:
        qty = Decimal(order["origQty"])
        order.update(status="FILLED", executedQty=_d(order["origQty"]), cumQty=_d(order["origQty"]),
                     avgPrice=_d(str(price)), cumQuote=_d(str(price * qty)))
        signed = qty if order["side"] == "BUY" else -qty
        sym = order["symbol"]
        old = self.positions.get(sym, Decimal(0))
        new = old + signed
        if new == 0:
            self.entry.pop(sym, None)
        elif old == 0 or (old > 0) != (new > 0):
            self.entry[sym] = price
        elif abs(new) > abs(old):
            self.entry[sym] = (self.entry[sym] * abs(old) + price * qty) / abs(new)
        self.positions[sym] = new

    def cancel(self, p: Dict[str, str]) -> JSON:
        with self.lock:
            order = self._find(p)
            if order["status"] not in ("NEW", "PARTIALLY_FILLED"):
                raise BinanceFault(-2011, "Unknown order sent.")
            order.update(status="CANCELED", updateTime=self.fake.clock.now_ms())
            return dict(order)

    def modify(self, p: Dict[str, str]) -> JSON:
        with self.lock:
            order = self._find(p)
            if order["type"] != "LIMIT" or order["status"] != "NEW":
                raise BinanceFault(-2013, "Order does not exist.")
            if not p.get("quantity") or not p.get("price"):
                raise BinanceFault(-1102, "Mandatory parameter 'quantity' and 'price' must be sent.")
            if _d(p["quantity"]) == order["origQty"] and _d(p["price"]) == order["price"]:
                raise BinanceFault(-5027, "No need to modify the order.")
            order.update(origQty=_d(p["quantity"]), price=_d(p["price"]), updateTime=self.fake.clock.now_ms())
            return dict(order)

    def query(self, p: Dict[str, str]) -> JSON:
        with self.lock:
            return dict(self._find(p))

    def _position_rows(self, symbol: Optional[str]) -> List[JSON]:
        rows: List[JSON] = []
        for sym, amt in sorted(self.positions.items()):
            if symbol and sym != symbol.upper():
                continue
            bid, ask = self.fake.best_prices(sym)
            mark = (bid + ask) / 2
            entry = self.entry.get(sym, Decimal(0))
            rows.append({"symbol": sym, "positionSide": "BOTH", "positionAmt": _d(str(amt)),
                         "entryPrice": _d(str(entry)), "breakEvenPrice": _d(str(entry)),
                         "markPrice": _d(str(mark)), "unRealizedProfit": _d(str((mark - entry) * amt)),
                         "liquidationPrice": "0", "isolatedMargin": "0", "notional": _d(str(mark * amt)),
                         "marginAsset": "USDT", "isolatedWallet": "0", "initialMargin": "0", "maintMargin": "0",
                         "positionInitialMargin": "0", "openOrderInitialMargin": "0", "adl": 0,
                         "bidNotional": "0", "askNotional": "0", "updateTime": self.fake.clock.now_ms()})
        return rows

    def position_rows(self, symbol: Optional[str] = None) -> List[JSON]:
        with self.lock:
            return self._position_rows(symbol)

    def balances(self) -> List[JSON]:
        w = _d(str(self.wallet))
        return [{"accountAlias": "SgsR", "asset": "USDT", "balance": w, "crossWalletBalance": w, "crossUnPnl": "0",
                 "availableBalance": w, "maxWithdrawAmount": w, "marginAvailable": True,
                 "updateTime": self.fake.clock.now_ms()}]

    def account(self) -> JSON:
        w = _d(str(self.wallet))
        with self.lock:
            positions = self._position_rows(None)
        return {"totalInitialMargin": "0", "totalMaintMargin": "0", "totalWalletBalance": w,
                "totalUnrealizedProfit": "0", "totalMarginBalance": w, "availableBalance": w, "maxWithdrawAmount": w,
                "assets": self.balances(), "positions": positions}


_ENGINE_API = ("place", "cancel", "modify", "query", "place_algo", "cancel_algo", "position_rows", "balances",
               "account")


def engine_of(fake: FakeBinance) -> Any:
    """The futures engine orders go to: the fake's own (``fake.futures``, the one its futures REST uses, so
    REST and the WebSocket API see the same orders and positions) if installed, else ours.  Both take
    Binance params as ``{name: str}``: ``place``/``cancel``/``modify``/``query``/``place_algo``/``cancel_algo``,
    and ``position_rows(symbol=None)``, ``balances()``, ``account()``."""
    engine = getattr(fake, "futures", None)
    if engine is not None and all(hasattr(engine, n) for n in _ENGINE_API):
        return engine
    mini = getattr(fake, "_futures_ws_engine", None)
    if mini is None:
        mini = MiniFuturesEngine(fake)
        fake._futures_ws_engine = mini  # type: ignore[attr-defined]
    return mini


def _listen_key(fake: FakeBinance, session: Session, params: Dict[str, Any], method: str) -> JSON:
    api_key = str(params.get("apiKey") or session.logon_key or "")
    if not api_key:
        raise BinanceFault(-1102, "Mandatory parameter 'apiKey' was not sent, was empty/null, or malformed.")
    if fake.keys.kind(api_key) is None:
        raise BinanceFault(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
    if hasattr(fake, "_listen_key_create"):  # the fake's listenKey store (REST and streams share it)
        own = {"userDataStream.start": "_listen_key_create", "userDataStream.ping": "_listen_key_keepalive",
               "userDataStream.stop": "_listen_key_delete"}[method]
        answer: JSON = getattr(fake, own)({})
        return answer
    keys: Dict[str, str] = fake.__dict__.setdefault("_futures_ws_listen_keys", {})
    if method == "userDataStream.stop":
        keys.pop(api_key, None)
        return {}
    if method == "userDataStream.ping" and api_key not in keys:
        raise BinanceFault(-1125, "This listenKey does not exist.")
    key = keys.setdefault(api_key, secrets.token_hex(32))
    return {"listenKey": key}


def _dispatch(fake: FakeBinance, session: Session, method: str, params: Dict[str, Any]) -> Any:
    now = fake.clock.now_ms
    if method == "ping":
        return {}
    if method == "time":
        return {"serverTime": now()}
    if method.startswith("userDataStream."):
        return _listen_key(fake, session, params, method)
    if method == "session.logon":
        api_key = str(params.get("apiKey") or "")
        kind = fake.keys.kind(api_key) if api_key else None
        if api_key and kind is not None and kind != "ED25519":
            raise BinanceFault(-4056, f"{'HMAC_SHA256' if kind == 'HMAC' else 'RSA'} API key is not supported.")
        _authenticate(fake, session, params, need_signature=True)
        session.logon_key = api_key
        session.authorized_since = now()
        return {"apiKey": api_key, "authorizedSince": now(), "connectedSince": int(session.opened_at * 1000),
                "returnRateLimits": True, "serverTime": now()}
    if method in ("session.status", "session.logout"):
        if method == "session.logout":
            session.logon_key = None
            session.authorized_since = None
        return {"apiKey": session.logon_key, "authorizedSince": session.authorized_since,
                "connectedSince": int(session.opened_at * 1000), "returnRateLimits": True, "serverTime": now()}
    _authenticate(fake, session, params, need_signature=False)
    sp = _str_params(params)
    for k in ("apiKey", "signature", "timestamp", "recvWindow"):
        sp.pop(k, None)
    engine = engine_of(fake)
    handlers: Dict[str, Callable[[Dict[str, str]], Any]] = {
        "order.place": engine.place, "order.cancel": engine.cancel, "order.modify": engine.modify,
        "order.status": engine.query, "algoOrder.place": engine.place_algo, "algoOrder.cancel": engine.cancel_algo,
        "account.position": lambda q: engine.position_rows(q.get("symbol") or None),
        "account.balance": lambda q: engine.balances(), "account.status": lambda q: engine.account(),
    }
    handler = handlers.get(method)
    if handler is None:
        raise BinanceFault(-1020, f"Unsupported method: {method}")
    countdown = getattr(engine, "check_countdown", None)  # the fake's engine: countdown cancel runs first
    if countdown is not None:
        countdown()
    return handler(sp)


def handle_futures_api(fake: FakeBinance, session: Session, text: str) -> List[str]:
    """One futures WebSocket API request frame -> its response frame."""
    try:
        req = json.loads(text)
    except ValueError:
        req = None
    if not isinstance(req, dict):
        return [dumps({"id": None, "status": 400, "error": {"code": -1135, "msg": "Invalid JSON request."}})]
    req_id = req.get("id")
    method = str(req.get("method") or "")
    if method.startswith("v2/"):  # v2/account.* : same answers here (section 3.3)
        method = method[3:]
    params = req.get("params") or {}
    status, result, error = 200, None, None
    orders = False
    try:
        if not isinstance(params, dict):
            raise BinanceFault(-1135, "Invalid JSON request: params must be an object.")
        fault = fake._take_ws_fault(method)
        if fault is not None:
            if fault.drop:
                session.abort("dropped by test (ws-api fault)")
                return []
            raise BinanceFault(fault.code, fault.msg, status=fault.status, retry_after=fault.retry_after)
        weight = _WEIGHTS.get(method)
        if weight is None:
            raise BinanceFault(-1020, f"Unsupported method: {method}" if method else "Missing method.")
        fake.weights.charge(weight)
        orders = method in _ORDER_METHODS
        result = _dispatch(fake, session, method, params)
    except BinanceFault as f:
        status, error = f.status, f.body()
    out: JSON = {"id": req_id, "status": status}
    if error is not None:
        out["error"] = error
    else:
        out["result"] = result
    limits: List[JSON] = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                           "limit": fake.weights.limit, "count": fake.weights.used()}]
    if orders:
        limits.append({"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200, "count": 1})
    out["rateLimits"] = limits
    return [dumps(out)]


