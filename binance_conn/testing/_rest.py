"""The REST half of the fake: a threaded HTTP/1.1 keep-alive server on loopback and the
``/api/v3`` endpoints of reference sections 6 and 7, with weights, signatures and faults."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Set, Tuple
from urllib.parse import parse_qsl, urlsplit

from ._account import rest_routes as account_rest_routes
from ._auth import BAD_KEY_FORMAT, BAD_SIGNATURE, REJECTED_KEY, check_timestamp, rest_payload
from ._futures_books import futures_book_routes
from ._futures_rest import futures_order_paths, futures_routes
from ._futures_user import futures_user_routes
from ._market import KLINE_INTERVALS, Market
from ._orderlists import ORDER_PATHS as TRADING_ORDER_PATHS
from ._orderlists import rest_routes as trading_routes
from ._rest_market import market_routes
from ._timeunit import normalize_time_params, rest_to_micros, wants_micros
from ._util import JSON, BinanceFault, dumps, fmt

if TYPE_CHECKING:
    from ._fake import FakeBinance

__all__ = ["RestServer", "RestApp", "Reply"]

log = logging.getLogger(__name__)

Params = Dict[str, str]
# (status, headers, body, drop_connection)
Reply = Tuple[int, Dict[str, str], bytes, bool]


def _depth_weight(p: Params) -> int:
    limit = int(p.get("limit") or 100) if (p.get("limit") or "100").isdigit() else 100
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def _symbols_weight(single: int, many: int, p: Params) -> int:
    return single if p.get("symbol") else many


def _ticker24_weight(p: Params) -> int:
    if p.get("symbol"):
        return 2
    if p.get("symbols"):
        try:
            n = len(json.loads(p["symbols"]))
        except ValueError:
            return 2
        return 2 if n <= 20 else 40 if n <= 100 else 80
    return 80


class RestApp:
    """Routing, weights, auth and endpoint logic; independent of the HTTP plumbing."""

    def __init__(self, fake: FakeBinance) -> None:
        self.fake = fake
        f = fake
        self.replay: Optional[Callable[[str, str, Mapping[str, str]], Optional[Reply]]] = None
        # (method, path) -> (handler, weight(params), signed)
        self.routes: Dict[Tuple[str, str], Tuple[Callable[[Params], Any], Callable[[Params], int], bool]] = {
            ("GET", "/api/v3/ping"): (lambda p: {}, lambda p: 1, False),
            ("GET", "/api/v3/time"): (lambda p: {"serverTime": f.clock.now_ms()}, lambda p: 1, False),
            ("GET", "/api/v3/exchangeInfo"): (self.exchange_info, lambda p: 20, False),
            ("GET", "/api/v3/depth"): (self.depth, _depth_weight, False),
            ("GET", "/api/v3/trades"): (self.trades, lambda p: 25, False),
            ("GET", "/api/v3/historicalTrades"): (self.trades, lambda p: 25, False),
            ("GET", "/api/v3/aggTrades"): (self.agg_trades, lambda p: 4, False),
            ("GET", "/api/v3/klines"): (self.klines, lambda p: 2, False),
            ("GET", "/api/v3/uiKlines"): (self.klines, lambda p: 2, False),
            ("GET", "/api/v3/avgPrice"): (self.avg_price, lambda p: 2, False),
            ("GET", "/api/v3/ticker/24hr"): (self.ticker_24hr, _ticker24_weight, False),
            ("GET", "/api/v3/ticker/price"): (self.ticker_price, lambda p: _symbols_weight(2, 4, p), False),
            ("GET", "/api/v3/ticker/bookTicker"): (self.book_ticker, lambda p: _symbols_weight(2, 4, p), False),
            ("POST", "/api/v3/order"): (self.new_order, lambda p: 1, True),
            ("POST", "/api/v3/order/test"): (self.test_order,
                                             lambda p: 20 if p.get("computeCommissionRates") == "true" else 1, True),
            ("GET", "/api/v3/order"): (lambda p: f.engine.query(p), lambda p: 4, True),
            ("DELETE", "/api/v3/order"): (lambda p: f.engine.cancel(p), lambda p: 1, True),
            ("GET", "/api/v3/openOrders"): (lambda p: f.engine.open_orders(p.get("symbol") or None),
                                            lambda p: 6 if p.get("symbol") else 80, True),
            ("DELETE", "/api/v3/openOrders"): (lambda p: f.engine.cancel_all(p), lambda p: 1, True),
            ("GET", "/api/v3/allOrders"): (self.all_orders, lambda p: 20, True),
            ("GET", "/api/v3/account"): (lambda p: f.engine.account(p.get("omitZeroBalances") == "true"),
                                         lambda p: 20, True),
            ("GET", "/api/v3/myTrades"): (lambda p: f.engine.my_trades(p), lambda p: 5 if p.get("orderId") else 20,
                                          True),
            ("GET", "/api/v3/rateLimit/order"): (self.order_rate_limits, lambda p: 40, True),
        }
        # Account queries (_account): the documented shapes and paging; routes defined above stay.
        for key, route in account_rest_routes(fake).items():
            if key not in self.routes or key in (("GET", "/api/v3/allOrders"), ("GET", "/api/v3/myTrades")):
                self.routes[key] = route
        self.routes.update(market_routes(self))  # the rest of the market-data endpoints (_rest_market.py)
        for key, route in futures_book_routes(self).items():  # futures depth snapshots (_futures_books.py)
            self.routes.setdefault(key, route)
        self._order_paths = {("POST", "/api/v3/order"), ("DELETE", "/api/v3/order"),
                             ("DELETE", "/api/v3/openOrders")}
        self.routes.update(trading_routes(fake.trading))
        self._order_paths |= TRADING_ORDER_PATHS
        if fake.product != "spot":  # futures: /fapi or /dapi instead of /api/v3 (_futures_rest.py)
            self.routes = futures_routes(fake, self)
            self._order_paths = futures_order_paths("/dapi" if fake.product == "coinm" else "/fapi")
            self.routes.update(futures_user_routes(fake))  # listenKeys with expiry (_futures_user.py)

    # -- request pipeline ---------------------------------------------------------------------
    def handle(self, method: str, path: str, raw_query: str, raw_body: str, headers: Mapping[str, str]) -> Reply:
        f = self.fake
        params: Params = {}
        if method != "GET":
            params.update(parse_qsl(raw_body, keep_blank_values=True))
        params.update(parse_qsl(raw_query, keep_blank_values=True))  # the query string wins (3.1)
        out_headers: Dict[str, str] = {"Content-Type": "application/json;charset=UTF-8"}
        replayed = self.replay(method, path, params) if self.replay is not None else None
        if replayed is not None:  # FakeBinance.replay(): the recorded response (_replay.py)
            return replayed
        fault = f._take_fault(method, path)
        if fault is not None:
            if fault.drop:
                return 0, {}, b"", True
            if fault.retry_after is not None:
                out_headers["Retry-After"] = str(fault.retry_after)
            body = fault.raw_body if fault.raw_body is not None else \
                dumps({"code": fault.code, "msg": fault.msg}).encode()
            if fault.raw_body is not None:
                out_headers["Content-Type"] = "text/html"
            out_headers.update(self._weight_headers(f.weights.used()))
            return fault.status, out_headers, body, False
        route = self.routes.get((method, path))
        if route is None:
            status, payload = 404, {"code": -1000, "msg": f"Unknown endpoint {method} {path}."}
            return status, out_headers, dumps(payload).encode(), False
        handler, weight_fn, signed = route
        weight = weight_fn(params)
        is_order = (method, path) in self._order_paths
        try:
            try:
                out_headers.update(self._weight_headers(f.weights.charge(weight)))
            finally:
                if "X-MBX-USED-WEIGHT-1M" not in out_headers:
                    out_headers.update(self._weight_headers(f.weights.used()))
            if signed:
                self._authenticate(raw_query, raw_body if method != "GET" else "", headers, params)
            if method == "POST" and path == "/api/v3/order":
                c10, cd = f.orders_counter.add()
                out_headers["X-MBX-ORDER-COUNT-10S"] = str(c10)
                out_headers["X-MBX-ORDER-COUNT-1D"] = str(cd)
            normalize_time_params(params)  # startTime/endTime may come in µs
            result = handler(params)
            if wants_micros(headers.get("x-mbx-time-unit")):  # X-MBX-TIME-UNIT: MICROSECOND
                result = rest_to_micros(path, result, f.clock.now_us)
            if is_order:  # successful placement / cancel costs weight 0 since 2026-04-02
                f.weights.refund(weight)
                out_headers.update(self._weight_headers(f.weights.used()))
            return 200, out_headers, dumps(result).encode(), False
        except BinanceFault as fault_:
            if fault_.retry_after is not None:
                out_headers["Retry-After"] = str(fault_.retry_after)
            return fault_.status, out_headers, dumps(fault_.body()).encode(), False

    @staticmethod
    def _weight_headers(used: int) -> Dict[str, str]:
        return {"X-MBX-USED-WEIGHT-1M": str(used), "X-MBX-USED-WEIGHT": str(used)}

    def _authenticate(self, raw_query: str, raw_body: str, headers: Mapping[str, str], params: Params) -> None:
        f = self.fake
        api_key = headers.get("x-mbx-apikey")
        if not api_key:
            raise BinanceFault(*BAD_KEY_FORMAT, status=401)
        if f.keys.kind(api_key) is None:
            raise BinanceFault(*REJECTED_KEY, status=401)
        payload, sig = rest_payload(raw_query, raw_body)
        if not sig:
            raise BinanceFault(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        if not f.keys.verify(api_key, payload, sig):
            raise BinanceFault(*BAD_SIGNATURE)
        params.pop("signature", None)
        check_timestamp(params, f.clock.now_ms())

    # -- endpoints ------------------------------------------------------------------------------
    def _sym(self, p: Params) -> str:
        sym = p.get("symbol")
        if not sym:
            raise BinanceFault(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if sym not in self.fake.market.state:
            raise BinanceFault(-1121, "Invalid symbol.")
        return sym

    def _sym_list(self, p: Params) -> List[str]:
        m = self.fake.market
        if p.get("symbol"):
            return [self._sym(p)]
        if p.get("symbols"):
            try:
                syms = json.loads(p["symbols"])
            except ValueError:
                raise BinanceFault(-1100, "Illegal characters found in parameter 'symbols'.") from None
            if not isinstance(syms, list) or not all(isinstance(s, str) for s in syms):
                raise BinanceFault(-1100, "Illegal characters found in parameter 'symbols'.")
            if len(set(syms)) != len(syms):
                raise BinanceFault(-1151, "Symbol is present multiple times in the list.")
            for s in syms:
                if s not in m.state:
                    raise BinanceFault(-1121, "Invalid symbol.")
            return list(syms)
        return list(m.state)

    @staticmethod
    def _limit(p: Params, default: int, maximum: int) -> int:
        raw = p.get("limit")
        if not raw:
            return default
        try:
            return max(1, min(int(raw), maximum))
        except ValueError:
            raise BinanceFault(-1100, "Illegal characters found in parameter 'limit'.") from None

    def exchange_info(self, p: Params) -> JSON:
        f = self.fake
        syms = self._sym_list(p) if (p.get("symbol") or p.get("symbols")) else list(f.market.state)
        return {"timezone": "UTC", "serverTime": f.clock.now_ms(), "rateLimits": f.rate_limits(),
                "exchangeFilters": [], "symbols": [symbol_info(f.market, s) for s in syms]}

    def depth(self, p: Params) -> JSON:
        sym = self._sym(p)
        return self.fake._snapshot(sym, self._limit(p, 100, 5000))

    def trades(self, p: Params) -> List[JSON]:
        m = self.fake.market
        sym = self._sym(p)
        limit = self._limit(p, 500, 1000)
        with m.lock:
            st = m.state[sym]
            recs = st.trades_from(int(p["fromId"]), limit) if p.get("fromId") else st.recent_trades(limit)
        return [{"id": r.id, "price": fmt(r.price), "qty": fmt(r.qty), "quoteQty": fmt(r.price * r.qty),
                 "time": r.time, "isBuyerMaker": r.buyer_maker, "isBestMatch": True} for r in recs]

    def agg_trades(self, p: Params) -> List[JSON]:
        m = self.fake.market
        sym = self._sym(p)
        limit = self._limit(p, 500, 1000)
        with m.lock:
            recs = list(m.state[sym].trades)[-limit:]
        return [{"a": r.agg_id, "p": fmt(r.price), "q": fmt(r.qty), "f": r.id, "l": r.id, "T": r.time,
                 "m": r.buyer_maker, "M": True} for r in recs]

    def klines(self, p: Params) -> List[List[Any]]:
        sym = self._sym(p)
        interval = p.get("interval")
        if not interval:
            raise BinanceFault(-1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.")
        if interval not in KLINE_INTERVALS:
            raise BinanceFault(-1120, "Invalid interval.")
        end = int(p["endTime"]) if p.get("endTime") else None
        return self.fake.market.klines(sym, interval, self._limit(p, 500, 1000), self.fake.clock.now_ms(), end)

    def avg_price(self, p: Params) -> JSON:
        m = self.fake.market
        sym = self._sym(p)
        with m.lock:
            return {"mins": 5, "price": fmt(m.state[sym].last), "closeTime": self.fake.clock.now_ms()}

    def ticker_24hr(self, p: Params) -> Any:
        m = self.fake.market
        mini = p.get("type") == "MINI"
        if p.get("type") not in (None, "", "FULL", "MINI"):
            raise BinanceFault(-1139, "Invalid ticker type.")
        out = [m.ticker_24hr(s, self.fake.clock.now_ms(), mini) for s in self._sym_list(p)]
        return out[0] if p.get("symbol") else out

    def ticker_price(self, p: Params) -> Any:
        m = self.fake.market
        with m.lock:
            out = [{"symbol": s, "price": fmt(m.state[s].last)} for s in self._sym_list(p)]
        return out[0] if p.get("symbol") else out

    def book_ticker(self, p: Params) -> Any:
        m = self.fake.market
        out = []
        with m.lock:
            for s in self._sym_list(p):
                bt = m.book_ticker_payload(m.state[s])
                out.append({"symbol": s, "bidPrice": bt["b"], "bidQty": bt["B"], "askPrice": bt["a"],
                            "askQty": bt["A"]})
        return out[0] if p.get("symbol") else out

    def new_order(self, p: Params) -> JSON:
        result, filled = self.fake.engine.place(p)
        if filled:
            self.fake.orders_counter.filled()
        return result

    def test_order(self, p: Params) -> JSON:
        self.fake.engine.place(p, test=True)
        if p.get("computeCommissionRates") == "true":
            rate = "0.00100000"
            zero = "0.00000000"
            return {"standardCommissionForOrder": {"maker": rate, "taker": rate},
                    "specialCommissionForOrder": {"maker": zero, "taker": zero},
                    "taxCommissionForOrder": {"maker": zero, "taker": zero},
                    "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB",
                                 "discount": zero}}
        return {}

    def all_orders(self, p: Params) -> List[JSON]:
        return self.fake.engine.all_orders(self._sym(p))

    def order_rate_limits(self, p: Params) -> List[JSON]:
        c10, cd = self.fake.orders_counter.counts()
        return [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                 "limit": self.fake.orders_counter.limit_10s, "count": c10},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1,
                 "limit": self.fake.orders_counter.limit_1d, "count": cd}]


def symbol_info(m: Market, sym: str) -> JSON:
    s = m.specs[sym]
    return {
        "symbol": sym, "status": "TRADING", "baseAsset": s.base, "baseAssetPrecision": 8, "quoteAsset": s.quote,
        "quotePrecision": 8, "quoteAssetPrecision": 8, "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"], "icebergAllowed": False, "ocoAllowed": False,
        "otoAllowed": False, "opoAllowed": False, "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": False,
        "cancelReplaceAllowed": False, "amendAllowed": False, "pegInstructionsAllowed": False,
        "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": fmt(s.min_price), "maxPrice": fmt(s.max_price),
             "tickSize": fmt(s.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": fmt(s.min_qty), "maxQty": fmt(s.max_qty),
             "stepSize": fmt(s.step_size)},
            {"filterType": "NOTIONAL", "minNotional": fmt(s.min_notional), "applyMinToMarket": True,
             "maxNotional": fmt(s.max_notional), "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RestServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("rest: " + format, *args)

    def _handle(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        raw_body = body.decode("latin-1")
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, out_headers, payload, drop = self.server.app.handle(self.command, parts.path, parts.query, raw_body,
                                                                    headers)
        params = dict(parse_qsl(raw_body if self.command != "GET" else "", keep_blank_values=True))
        params.update(parse_qsl(parts.query, keep_blank_values=True))
        fake._log_request({"time": time.time(), "method": self.command, "path": parts.path, "params": params,
                           "headers": headers, "status": status, "body": payload, "dropped": drop})
        delay = fake._take_delay(self.command, parts.path)
        if delay > 0:
            fake._stopping.wait(delay)
        if drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(status)
        for k, v in out_headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PUT = _handle


class RestServer(ThreadingHTTPServer):
    """Thread per connection (daemon threads), every one tracked and joined by :meth:`close`."""

    daemon_threads = True

    def __init__(self, fake: FakeBinance, ssl_context: Optional[ssl.SSLContext] = None) -> None:
        self.fake = fake
        self.app = RestApp(fake)
        self.ssl_context = ssl_context
        self._lock = threading.Lock()
        self._conn_threads: Set[threading.Thread] = set()
        self._socks: Set[socket.socket] = set()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        t = threading.Thread(target=self._serve_one, args=(request, client_address), daemon=True,
                             name="fake-binance-rest-conn")
        with self._lock:
            self._conn_threads.add(t)
            self._socks.add(request)
        t.start()

    def _serve_one(self, request: Any, client_address: Any) -> None:
        try:
            if self.ssl_context is not None:  # https: the TLS handshake in this connection's thread
                raw = request
                raw.settimeout(10.0)
                request = self.ssl_context.wrap_socket(raw, server_side=True)  # takes over raw's descriptor
                request.settimeout(None)
                with self._lock:
                    self._socks.discard(raw)
                    self._socks.add(request)
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - a client vanishing mid-request is normal here
            log.debug("rest connection error", exc_info=True)
        finally:
            self.shutdown_request(request)
            with self._lock:
                self._socks.discard(request)
                self._conn_threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("rest handler error", exc_info=True)

    def close(self, deadline: float) -> None:
        """Stop accepting, cut keep-alive connections, join every connection thread."""
        self.shutdown()
        self.server_close()
        with self._lock:
            socks, threads = list(self._socks), list(self._conn_threads)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
