"""WebSocket API requests at ``/ws-api/v3`` (reference sections 8 and 10): the response envelope with
``rateLimits``, session logon (Ed25519 only), user-data subscriptions and a few order methods."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from ._account import ACCOUNT_WS_METHODS
from ._account import ws_handlers as account_ws_handlers
from ._auth import BAD_SIGNATURE, REJECTED_KEY, check_timestamp, ws_payload
from ._orderlists import WS_ORDER_METHODS, WS_WEIGHTS, ws_handlers
from ._rest_market import ws_market_route
from ._util import JSON, BinanceFault, dumps

if TYPE_CHECKING:
    from ._fake import FakeBinance
    from ._ws import Session

__all__ = ["handle_api"]

_WEIGHTS: Dict[str, int] = {
    "ping": 1, "time": 1, "exchangeInfo": 20, "session.logon": 2, "session.status": 2, "session.logout": 2,
    "session.subscriptions": 2, "userDataStream.subscribe": 2, "userDataStream.subscribe.signature": 2,
    "userDataStream.unsubscribe": 2, "order.place": 1, "order.test": 1, "order.cancel": 1, "order.status": 4,
    "openOrders.status": 6, "account.status": 20,
}
_ORDER_METHODS = ("order.place", "order.cancel") + WS_ORDER_METHODS
_WEIGHTS.update(WS_WEIGHTS)
# Account queries (_account): weight rules of the parameters (openOrders.status 6/80, myTrades 20/5 ...).
_WEIGHT_RULES: Dict[str, Callable[[Dict[str, Any]], int]] = {m: w for m, (_h, w) in ACCOUNT_WS_METHODS.items()}


def _str_params(params: Dict[str, Any]) -> Dict[str, str]:
    out = {}
    for k, v in params.items():
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif v is not None:
            out[k] = str(v)
    return out


def _authenticate(fake: FakeBinance, session: Session, params: Dict[str, Any], need_signature: bool) -> str:
    """Signature (section 3.2) or the logged-on session key; then the timestamp rule. Returns the api key."""
    if "signature" in params or need_signature or session.logon_key is None:
        api_key = params.get("apiKey")
        if not api_key:
            raise BinanceFault(-1102, "Mandatory parameter 'apiKey' was not sent, was empty/null, or malformed.")
        if fake.keys.kind(str(api_key)) is None:
            raise BinanceFault(*REJECTED_KEY, status=401)
        sig = params.get("signature")
        if not sig:
            raise BinanceFault(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        if not fake.keys.verify(str(api_key), ws_payload(params), str(sig)):
            raise BinanceFault(*BAD_SIGNATURE)
    else:
        api_key = session.logon_key
    check_timestamp(params, fake.clock.now_ms())
    return str(api_key)


def _session_result(fake: FakeBinance, session: Session, return_limits: bool) -> JSON:
    now = fake.clock.now_ms()
    return {"apiKey": session.logon_key, "authorizedSince": session.authorized_since,
            "connectedSince": int(session.opened_at * 1000), "returnRateLimits": return_limits, "serverTime": now,
            "userDataStream": bool(session.user_subs)}


def _subscribe(fake: FakeBinance, session: Session, api_key: str) -> JSON:
    with session.lock:
        if session.user_subs:  # one subscription per account per connection (single-account fake)
            raise BinanceFault(-2035, "User Data Stream subscription already active.")
        sub_id = session.next_sub_id
        session.next_sub_id += 1
        session.user_subs[sub_id] = api_key
    fake._waiter.notify()
    return {"subscriptionId": sub_id}


def handle_api(fake: FakeBinance, session: Session, text: str) -> List[str]:
    """One request frame -> the response frames (user-data events are queued separately)."""
    try:
        req = json.loads(text)
    except ValueError:
        return [dumps({"id": None, "status": 400, "error": {"code": -1135, "msg": "Invalid JSON request."}})]
    if not isinstance(req, dict):
        return [dumps({"id": None, "status": 400, "error": {"code": -1135, "msg": "Invalid JSON request."}})]
    req_id = req.get("id")
    method = str(req.get("method") or "")
    if method.startswith("v3/"):
        method = method[3:]
    params = req.get("params") or {}
    extra: List[str] = []
    return_limits = params.get("returnRateLimits", True) is not False if isinstance(params, dict) else True
    if "returnRateLimits=false" in session.path:
        return_limits = False
    orders_touched = False
    status = 200
    result: Any = None
    error: Optional[JSON] = None
    try:
        if not isinstance(params, dict):
            raise BinanceFault(-1135, "Invalid JSON request: params must be an object.")
        fault = fake._take_ws_fault(method)
        if fault is not None:
            if fault.drop:
                session.abort("dropped by test (ws-api fault)")
                return []
            raise BinanceFault(fault.code, fault.msg, status=fault.status, retry_after=fault.retry_after)
        rule = _WEIGHT_RULES.get(method)
        weight = rule(params) if rule is not None else _WEIGHTS.get(method)
        market = ws_market_route(fake, method, params)  # market-data methods: the REST handlers answer
        if market is not None:
            weight = market[0]
        if weight is None:
            raise BinanceFault(-1020, f"Unsupported method: {method}" if method else "Missing method.")
        fake.weights.charge(weight)
        result, orders_touched, extra = _dispatch(fake, session, method, params, return_limits)
        if method in _ORDER_METHODS:
            fake.weights.refund(weight)
    except BinanceFault as f:
        status = f.status
        error = f.body()
        if f.status in (418, 429):
            error["data"] = {"serverTime": fake.clock.now_ms(),
                             "retryAfter": fake.clock.now_ms() + 1000 * (f.retry_after or 1)}
    out: JSON = {"id": req_id, "status": status}
    if error is not None:
        out["error"] = error
    else:
        out["result"] = result
    if return_limits:
        limits = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                   "limit": fake.weights.limit, "count": fake.weights.used()}]
        if orders_touched:
            c10, cd = fake.orders_counter.counts()
            limits += [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                        "limit": fake.orders_counter.limit_10s, "count": c10},
                       {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1,
                        "limit": fake.orders_counter.limit_1d, "count": cd}]
        out["rateLimits"] = limits
    return extra + [dumps(out)]


def _dispatch(fake: FakeBinance, session: Session, method: str, params: Dict[str, Any],
              return_limits: bool) -> Tuple[Any, bool, List[str]]:
    now = fake.clock.now_ms
    market = ws_market_route(fake, method, params)
    if market is not None:
        return market[1](), False, []
    if method == "ping":
        return {}, False, []
    if method == "time":
        return {"serverTime": fake.clock.now_us() if session.micros else now()}, False, []
    if method == "exchangeInfo":
        return fake._rest_app().exchange_info(_str_params(params)), False, []
    if method == "session.logon":
        api_key = str(params.get("apiKey") or "")
        kind = fake.keys.kind(api_key) if api_key else None
        if api_key and kind is not None and kind != "ED25519":
            raise BinanceFault(-4056, f"{'HMAC_SHA256' if kind == 'HMAC' else 'RSA'} API key is not supported.")
        _authenticate(fake, session, params, need_signature=True)
        session.logon_key = api_key
        session.authorized_since = now()
        return _session_result(fake, session, return_limits), False, []
    if method == "session.status":
        return _session_result(fake, session, return_limits), False, []
    if method == "session.logout":
        extra = []
        with session.lock:
            ended = [sid for sid, key in session.user_subs.items() if key == session.logon_key and
                     sid in session.logon_subs]
            for sid in ended:
                del session.user_subs[sid]
                session.logon_subs.discard(sid)
            session.logon_key = None
            session.authorized_since = None
        for sid in ended:
            extra.append(dumps({"subscriptionId": sid, "event": {"e": "eventStreamTerminated", "E": now()}}))
        fake._waiter.notify()
        return _session_result(fake, session, return_limits), False, extra
    if method == "userDataStream.subscribe":
        if session.logon_key is None:
            raise BinanceFault(-1002, "You are not authorized to execute this request.", status=401)
        res = _subscribe(fake, session, session.logon_key)
        session.logon_subs.add(res["subscriptionId"])
        return res, False, []
    if method == "userDataStream.subscribe.signature":
        api_key = _authenticate(fake, session, params, need_signature=True)
        return _subscribe(fake, session, api_key), False, []
    if method == "userDataStream.unsubscribe":
        want = params.get("subscriptionId")
        with session.lock:
            if want is None:
                ended = list(session.user_subs)
            elif not isinstance(want, int) or want not in session.user_subs:
                raise BinanceFault(-2036, "User Data Stream subscription not active.")
            else:
                ended = [want]
            for sid in ended:
                del session.user_subs[sid]
                session.logon_subs.discard(sid)
        fake._waiter.notify()
        return {}, False, [dumps({"subscriptionId": sid, "event": {"e": "eventStreamTerminated", "E": now()}})
                           for sid in ended]
    if method == "session.subscriptions":
        with session.lock:
            return [{"subscriptionId": sid} for sid in sorted(session.user_subs)], False, []
    handlers: Dict[str, Callable[[Dict[str, str]], Any]] = {
        "order.place": lambda p: fake._place_order(p),
        "order.test": lambda p: fake.engine.place(p, test=True)[0],
        "order.cancel": lambda p: fake.engine.cancel(p),
        "order.status": lambda p: fake.engine.query(p),
        "openOrders.status": lambda p: fake.engine.open_orders(p.get("symbol") or None),
        "account.status": lambda p: fake.engine.account(p.get("omitZeroBalances") == "true"),
    }
    for name, handler in account_ws_handlers(fake).items():
        handlers.setdefault(name, handler)
    handlers.update(ws_handlers(fake.trading))
    _authenticate(fake, session, params, need_signature=False)
    sp = _str_params(params)
    for k in ("apiKey", "signature", "timestamp", "recvWindow"):
        sp.pop(k, None)
    return handlers[method](sp), method in _ORDER_METHODS or method == "order.test", []
