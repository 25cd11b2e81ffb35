"""FakeBinance: the public facade that starts the loopback servers and exposes market, account,
fault and assertion controls. Every public method is safe to call from any thread."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from decimal import Decimal
from typing import Any, Callable, Deque, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

from ._auth import DEFAULT_API_KEY, DEFAULT_API_SECRET, KeyStore
from ._books import BooksMixin
from ._engine import Engine
from ._futures_rest import FuturesFakeMixin
from ._futures_streams import FuturesStreamsMixin, futures_defaults
from ._futures_user import FuturesUserMixin
from ._futures_wsapi import handle_futures_api
from ._limits import AttemptLimiter, OrderCounter, WeightLimiter
from ._market import DEFAULT_SYMBOLS, KNOWN_SYMBOLS, Market, SymbolSpec
from ._orderlists import Trading
from ._replay import start_replay
from ._rest import RestApp, RestServer
from ._streams import StreamsMixin
from ._timeunit import user_event_to_micros
from ._tls import DEFAULT_HOSTS as DEFAULT_TLS_HOSTS
from ._tls import TlsFiles, make_tls_files
from ._tradegen import TradesMixin
from ._util import JSON, Clock, FaultRule, Waiter, dumps
from ._ws import Session, WsServer, handle_control
from ._wsapi import handle_api

__all__ = ["FakeBinance", "FaultRule"]

log = logging.getLogger(__name__)

DEFAULT_BALANCES: Dict[str, Decimal] = {"USDT": Decimal("100000"), "BTC": Decimal("10"), "ETH": Decimal("100"),
                                        "BNB": Decimal("1000"), "LTC": Decimal("1000")}


class FakeBinance(BooksMixin, TradesMixin, StreamsMixin, FuturesFakeMixin, FuturesStreamsMixin,
                  FuturesUserMixin):
    """A loopback Binance spot exchange: REST on ``rest_url``, streams on ``ws_url``, WebSocket API on
    ``ws_api_url``. Use as a context manager (or :meth:`start` / :meth:`stop`); exit joins every thread.

    Args:
        symbols: symbol names (known ones get realistic filters, see ``KNOWN_SYMBOLS``) or ``SymbolSpec``s.
        market_rate: simulated events per second per symbol (random walk); 0 = a still market (tests).
        ping_interval / pong_timeout: server ping period and pong deadline, seconds (Binance: 20 / 60).
        max_lifetime: connection lifetime, seconds (24 h); ``shutdown_notice`` seconds before the close
            (at most half the lifetime) the connection gets a ``serverShutdown`` event.
        max_incoming_per_second: frames a stream connection may send per second (pings, pongs, control
            messages all count); more closes it with 1008 and counts a ``rate_violations``.
        rate_window: "sliding" (strict: any 1 s window) or "fixed" (per wall-clock second).
        max_streams: streams per connection (1024).
        connection_attempts_limit / connection_window: WebSocket handshakes per window (300 / 300 s),
            beyond which handshakes get HTTP 429.
        weight_limit: REQUEST_WEIGHT per minute shared by REST and the WebSocket API (6000; futures 2400); over it:
            429 + Retry-After; ``ban_after`` more over-limit requests in that window: 418 for ``ban_seconds``.
        order_limit_10s / order_limit_1d: unfilled order counts (50 / 160000), over them -1015.
        api_key / api_secret: the HMAC pair accepted out of the box (also :meth:`register_key`).
        balances: starting free balances per asset.
        control_error_style: "flat" (``{"code","msg","id"}`` as the reference shows) or "nested"
            (``{"error":{"code","msg"},"id"}``) for stream control-message errors.
        seed: random seed of the simulated market (reproducible books and walks).
        max_log: REST request records kept in ``request_log`` (oldest dropped first).
        tls: serve https (REST) and wss (streams, WebSocket API) with a certificate for ``127.0.0.1``,
            ``::1`` and ``localhost`` from a throwaway CA made at :meth:`start` (needs ``cryptography``);
            clients trust :attr:`ca_file` (removed at :meth:`stop`).  Default: plain http/ws.
        tls_hosts: the names and addresses on the certificate (give others to test hostname checks).
        book_depth: levels per side the simulated books are seeded and re-centred with (20).
        depth_batching: publish diff depth as Binance does, ``@depth@100ms`` every 100 ms and ``@depth`` every
            1000 ms (merged ``U``..``u``); default False: every book change at once on every depth stream.
        trade_history: trades kept per symbol for REST history (older ids are gone, as if archived).
        product: ``"spot"`` (default), ``"usdm"`` (USD-M futures: ``/fapi``, routed streams ``/public``,
            ``/market``, ``/private``, listenKey user data) or ``"coinm"`` (COIN-M: ``/dapi``, ``dstream``).
    """

    def __init__(
        self,
        symbols: Optional[Sequence[Union[str, SymbolSpec]]] = None,
        *,
        market_rate: float = 0.0,
        ping_interval: float = 20.0,
        pong_timeout: float = 60.0,
        max_lifetime: float = 24 * 3600.0,
        shutdown_notice: float = 5.0,
        max_incoming_per_second: int = 5,
        rate_window: str = "sliding",
        max_streams: int = 1024,
        connection_attempts_limit: int = 300,
        connection_window: float = 300.0,
        weight_limit: Optional[int] = None,
        ban_after: int = 3,
        ban_seconds: float = 120.0,
        order_limit_10s: int = 50,
        order_limit_1d: int = 160000,
        api_key: str = DEFAULT_API_KEY,
        api_secret: str = DEFAULT_API_SECRET,
        balances: Optional[Mapping[str, Union[str, int, Decimal]]] = None,
        control_error_style: str = "flat",
        seed: Optional[int] = None,
        max_log: int = 100_000,
        tls: bool = False,
        tls_hosts: Sequence[str] = DEFAULT_TLS_HOSTS,
        book_depth: int = 20,
        depth_batching: bool = False,
        trade_history: int = 100_000,
        product: str = "spot",
    ) -> None:
        if product not in ("spot", "usdm", "coinm"):
            raise ValueError("product must be 'spot', 'usdm' or 'coinm'")
        self.product = product
        specs = [s if isinstance(s, SymbolSpec) else KNOWN_SYMBOLS.get(s.upper()) or SymbolSpec.guess(s)
                 for s in (symbols if symbols is not None else DEFAULT_SYMBOLS)]
        self.market_rate = float(market_rate)
        self.ping_interval = float(ping_interval)
        self.pong_timeout = float(pong_timeout)
        self.max_lifetime = float(max_lifetime)
        self.shutdown_notice = float(shutdown_notice)
        self.max_incoming_per_second = int(max_incoming_per_second)
        if rate_window not in ("sliding", "fixed"):
            raise ValueError("rate_window must be 'sliding' or 'fixed'")
        self.rate_window = rate_window
        self.max_streams = int(max_streams)
        futures_defaults(self, max_incoming_per_second == 5, ping_interval == 20.0, pong_timeout == 60.0)
        self.control_error_style = control_error_style
        self.api_key = api_key
        self.api_secret = api_secret
        self.clock = Clock()
        self.keys = KeyStore()
        self.keys.register_hmac(api_key, api_secret)
        self.market = Market(specs, self.clock.now_ms(), seed, book_depth, trade_history)
        bal = {k: Decimal(v) for k, v in (balances if balances is not None else DEFAULT_BALANCES).items()}
        for s in specs:
            bal.setdefault(s.base, Decimal(0))
            bal.setdefault(s.quote, Decimal(0))
        self.engine = Engine(self.market, self.clock, bal)
        self.engine.emit_user = self._emit_user
        self.engine.emit_trade = self._emit_trade_rec
        self.engine.emit_book = lambda sym, b, a: self._book_update(sym, b, a, 0, max(1, len(b) + len(a)))
        self.trading = Trading(self)  # order lists, cancel-replace, amend, cancel-all, SOR (_orderlists.py)
        self.weights = WeightLimiter(weight_limit or (6000 if product == "spot" else 2400), ban_seconds, ban_after)
        self.orders_counter = OrderCounter(order_limit_10s, order_limit_1d)
        self.attempts = AttemptLimiter(connection_attempts_limit, connection_window)
        self._lock = threading.Lock()
        self._waiter = Waiter()
        self._stopping = threading.Event()
        self._faults: List[FaultRule] = []
        self._delays: List[FaultRule] = []
        self._ws_faults: List[FaultRule] = []
        self._refuse_until = 0.0
        self._refuse_status = 503
        self._requests: Deque[JSON] = deque(maxlen=max_log)
        self._sessions: Dict[int, Session] = {}
        self._conn_log: Dict[int, Session] = {}
        self._handshakes: Deque[JSON] = deque(maxlen=max_log)
        self._conn_seq = 0
        self._violations = 0
        self._rest: Optional[RestServer] = None
        self._ws: Optional[WsServer] = None
        self._threads: List[threading.Thread] = []
        self._started = False
        self.tls = bool(tls)
        self.tls_hosts = tuple(tls_hosts)
        self._tls: Optional[TlsFiles] = None
        self._init_books(depth_batching)
        self._init_trades()
        self._init_futures()  # futures account (_futures_rest.py); idle on spot
        self._init_futures_user()  # listenKeys and the /private route (_futures_user.py)

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> FakeBinance:
        """Bind both servers on 127.0.0.1 (port 0) and start serving. Returns self. Not re-startable."""
        if self._started:
            return self
        self._started = True
        self._stopping.clear()
        server_ctx = None
        if self.tls:
            self._tls = make_tls_files(self.tls_hosts)
            server_ctx = self._tls.server_context()
        self._rest = RestServer(self, server_ctx)
        self._ws = WsServer(self, server_ctx)
        rest_thread = threading.Thread(target=self._rest.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True, name="fake-binance-rest")
        rest_thread.start()
        self._threads.append(rest_thread)
        self._ws.start()
        if self.market_rate > 0:
            t = threading.Thread(target=self._market_loop, daemon=True, name="fake-binance-market")
            t.start()
            self._threads.append(t)
        self._start_books()
        log.info("FakeBinance started: rest %s ws %s", self.rest_url, self.ws_url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection (close frame 1001), stop both servers, join every thread."""
        if not self._started or self._stopping.is_set():
            return
        self._stopping.set()
        deadline = time.monotonic() + timeout
        self.stop_trades()
        self._stop_books()
        for s in self._open_sessions():
            s.frozen.clear()
            s.request_close(1001, "Server stopping", reason="server stopped")
        # A client that reads nothing can leave a writer blocked in send(): give the close handshakes a
        # moment, then cut whatever is left so every thread can be joined.
        self.wait_until(lambda: not self._open_sessions(), min(1.0, timeout / 4))
        for s in self._open_sessions():
            s.abort("server stopped")
        if self._ws is not None:
            self._ws.close(deadline)
        if self._rest is not None:
            self._rest.close(deadline)
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if self._tls is not None:
            self._tls.cleanup()
        self._forget_limits()
        self._waiter.notify()

    def _forget_limits(self) -> None:
        """This server is gone: a later fake on the same port must not inherit its weight or a ban it gave
        (the client's process-wide limiter is keyed by scheme://host:port)."""
        from binance_conn._rest.limiter import DEFAULT_REGISTRY

        parts = urlsplit(self.rest_url)
        for host in ("127.0.0.1", "localhost"):
            DEFAULT_REGISTRY.forget(f"{parts.scheme}://{host}:{parts.port}")

    close = stop

    def __enter__(self) -> FakeBinance:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def rest_url(self) -> str:
        if self._rest is None:
            raise RuntimeError("start() the fake first")
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._rest.server_address[1]}"

    @property
    def ws_url(self) -> str:
        if self._ws is None:
            raise RuntimeError("start() the fake first")
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self._ws.port}"

    @property
    def ws_api_url(self) -> str:
        return self.ws_url

    @property
    def ca_file(self) -> str:
        """PEM file of the throwaway CA that signed the fake's certificate (``tls=True``, once started)."""
        if self._tls is None:
            raise RuntimeError("ca_file exists only for FakeBinance(tls=True) once started")
        return self._tls.ca_file

    def url_for(self, host: str) -> "Tuple[str, str]":
        """``(rest_url, ws_url)`` with ``host`` instead of ``127.0.0.1`` (e.g. ``localhost``, or a name
        the certificate does not carry to test hostname checks)."""
        return (self.rest_url.replace("127.0.0.1", host, 1), self.ws_url.replace("127.0.0.1", host, 1))

    def config_builder(self) -> Any:
        """A ``binance_conn.config.ConfigBuilder`` pointed at this fake, with its HMAC test key pair."""
        from binance_conn.config import ConfigBuilder

        preset = {"usdm": "binance-usdm", "coinm": "binance-coinm"}.get(self.product, "binance")
        builder = (ConfigBuilder().with_exchange(preset).with_rest_url(self.rest_url).with_ws_url(self.ws_url)
                   .with_ws_api_url(self.ws_api_url).with_api_key(self.api_key).with_api_secret(self.api_secret))
        return builder.with_ca_bundle(self.ca_file) if self._tls is not None else builder

    # -- account ------------------------------------------------------------------------------------
    def register_key(self, api_key: str, public_key_pem: Optional[Union[str, bytes]] = None, *,
                     secret: Optional[str] = None) -> str:
        """Accept ``api_key`` with an Ed25519/RSA public key (PEM) or an HMAC ``secret``; returns the key type."""
        if secret is not None:
            self.keys.register_hmac(api_key, secret)
            return "HMAC"
        if public_key_pem is None:
            raise ValueError("give public_key_pem or secret")
        pem = public_key_pem.decode() if isinstance(public_key_pem, bytes) else public_key_pem
        return self.keys.register_public(api_key, pem)

    def revoke_key(self, api_key: str) -> None:
        """Forget a key; WS API sessions using it get ``{"id":null,"status":401,"error":-2015}`` and lose
        their user-data subscriptions."""
        self.keys.revoke(api_key)
        for s in self._open_sessions("api"):
            with s.lock:
                ended = [sid for sid, k in s.user_subs.items() if k == api_key]
                for sid in ended:
                    del s.user_subs[sid]
                hit = bool(ended) or s.logon_key == api_key
                if s.logon_key == api_key:
                    s.logon_key = None
            if hit:
                s.enqueue(dumps({"id": None, "status": 401, "error": {
                    "code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}}))
        self._waiter.notify()

    def set_balance(self, asset: str, free: Union[str, int, Decimal], locked: Optional[Union[str, Decimal]] = None
                    ) -> None:
        """Set a balance; emits ``outboundAccountPosition`` to user-data subscribers."""
        self.engine.set_balance(asset, Decimal(free), Decimal(locked) if locked is not None else None)

    def deposit(self, asset: str, delta: Union[str, int, Decimal]) -> None:
        """Add ``delta`` to a free balance; emits ``balanceUpdate`` then ``outboundAccountPosition``."""
        self.engine.deposit(asset, Decimal(delta))

    def balance(self, asset: str) -> Tuple[Decimal, Decimal]:
        """(free, locked) of ``asset``."""
        return self.engine.balance(asset)

    def fill_order(self, symbol: str, order: Union[int, str], qty: Optional[Union[str, Decimal]] = None,
                   price: Optional[Union[str, Decimal]] = None) -> JSON:
        """Execute ``qty`` (default: the rest) of a resting order, by orderId (int) or clientOrderId (str),
        at ``price`` (default: its limit price). Emits executionReport TRADE and outboundAccountPosition."""
        out = self.engine.fill(symbol, order, Decimal(qty) if qty is not None else None,
                               Decimal(price) if price is not None else None)
        return out

    def best_prices(self, symbol: str) -> Tuple[Decimal, Decimal]:
        """(best bid, best ask) of the simulated book: place orders relative to these."""
        with self.market.lock:
            st = self.market.get(symbol)
            return st.best_bid()[0], st.best_ask()[0]

    def orders(self, symbol: Optional[str] = None, open_only: bool = False) -> List[JSON]:
        """Orders known to the engine (GET /api/v3/order shape)."""
        with self.engine.lock:
            return [o.as_query() for o in self.engine.orders.values()
                    if symbol in (None, o.symbol) and (o.is_open or not open_only)]

    def _place_order(self, params: Dict[str, str]) -> JSON:
        self.orders_counter.add()
        result, filled = self.engine.place(params)
        if filled:
            self.orders_counter.filled()
        return result

    # -- REST faults ----------------------------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int = 500, code: int = -1000,
                  msg: str = "An unknown error occurred while processing the request.",
                  retry_after: Optional[int] = None,
                  path: Optional[str] = None, method: Optional[str] = None,
                  raw_body: Optional[Union[str, bytes]] = None, drop: bool = False) -> None:
        """Answer the next ``n`` REST requests (matching ``path``/``method`` if given) with ``status`` and
        ``{"code","msg"}`` (or ``raw_body`` verbatim, e.g. ``"<html>"``; or ``drop`` the TCP connection with no
        response). The request is not executed."""
        body = raw_body.encode() if isinstance(raw_body, str) else raw_body
        with self._lock:
            self._faults.append(FaultRule(n, status, code, msg, retry_after, path, method, body, drop))

    def fail_next_ws_api(self, n: int = 1, status: int = 400, code: int = -1000,
                         msg: str = "An unknown error occurred while processing the request.",
                         method: Optional[str] = None, retry_after: Optional[int] = None, drop: bool = False) -> None:
        """Answer the next ``n`` WebSocket API requests (of ``method``, e.g. "userDataStream.subscribe.signature",
        if given) with ``{"status": status, "error": {"code", "msg"}}``, or ``drop`` the connection (no reply).
        The request is not executed."""
        with self._lock:
            self._ws_faults.append(FaultRule(n, status, code, msg, retry_after, None, method, None, drop))

    def _take_ws_fault(self, method: str) -> Optional[FaultRule]:
        with self._lock:
            for r in self._ws_faults:
                if r.remaining > 0 and r.method in (None, method):
                    r.remaining -= 1
                    return r
            return None

    def delay_responses(self, seconds: float, count: int = 1, path: Optional[str] = None,
                        method: Optional[str] = None) -> None:
        """Hold the next ``count`` REST responses for ``seconds`` AFTER executing the request (so an order
        placed by a timed-out call does exist). Cut short by :meth:`stop`."""
        with self._lock:
            self._delays.append(FaultRule(count, path=path, method=method, delay=seconds))

    def _take_fault(self, method: str, path: str) -> Optional[FaultRule]:
        with self._lock:
            for r in self._faults:
                if r.matches(method, path):
                    r.remaining -= 1
                    return r
            return None

    def _take_delay(self, method: str, path: str) -> float:
        with self._lock:
            for r in self._delays:
                if r.matches(method, path):
                    r.remaining -= 1
                    return r.delay
            return 0.0

    def skew_clock(self, ms: int) -> None:
        """Run the server clock ``ms`` ahead (negative: behind) of wall time."""
        self.clock.skew(ms)

    def set_clock(self, ms: Optional[int]) -> None:
        """Pin the server clock at epoch ``ms`` (None: back to wall time + skew)."""
        self.clock.pin(ms)

    def now_ms(self) -> int:
        """The server clock, epoch ms."""
        return self.clock.now_ms()

    def reset_limits(self) -> None:
        """Clear used weight, 429 strikes and any 418 ban."""
        self.weights.reset()

    def rate_limits(self) -> List[JSON]:
        """The ``rateLimits`` of exchangeInfo for this fake's configuration."""
        return [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": self.weights.limit},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
             "limit": self.orders_counter.limit_10s},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": self.orders_counter.limit_1d},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 300000},
        ]

    def _rest_app(self) -> RestApp:
        assert self._rest is not None
        return self._rest.app

    # -- WebSocket faults -------------------------------------------------------------------------------
    def drop_connections(self, path_prefix: Optional[str] = None) -> int:
        """Cut every open WebSocket's TCP connection abruptly (no close frame). Returns how many."""
        sessions = self._open_sessions(path_prefix=path_prefix)
        for s in sessions:
            s.abort("dropped by test")
        return len(sessions)

    def close_connections(self, code: int = 1000, reason: str = "", path_prefix: Optional[str] = None) -> int:
        """Close every open WebSocket with a close frame (``code``). Returns how many."""
        sessions = self._open_sessions(path_prefix=path_prefix)
        for s in sessions:
            s.frozen.clear()
            s.request_close(code, reason, reason=f"closed by test ({code})")
        return len(sessions)

    def freeze(self, path_prefix: Optional[str] = None) -> None:
        """Half-open link on the currently open WebSockets: send nothing (data, pings, pongs), keep TCP open.
        New connections are not frozen."""
        for s in self._open_sessions(path_prefix=path_prefix):
            s.frozen.set()

    def resume(self) -> None:
        """Undo :meth:`freeze` (data published meanwhile is lost, as on a real half-open link)."""
        for s in self._open_sessions():
            s.frozen.clear()

    def refuse_handshakes(self, seconds: float, status: int = 503) -> None:
        """Answer WebSocket handshakes with HTTP ``status`` for the next ``seconds``."""
        with self._lock:
            self._refuse_until = time.monotonic() + seconds
            self._refuse_status = status
            self._refuse_retry_after = 1

    def _handshake_refusal(self, path: Optional[str] = None) -> Optional[Tuple[int, str]]:
        refusal = self._handshake_verdict()
        with self._lock:
            self._handshakes.append({"time": time.monotonic(), "path": path,
                                     "status": refusal[0] if refusal is not None else 101})
        return refusal

    def _handshake_verdict(self) -> Optional[Tuple[int, str]]:
        if self._stopping.is_set():
            return 503, "Server stopping\n"
        with self._lock:
            if time.monotonic() < self._refuse_until:
                return self._refuse_status, "Handshake refused by test\n"
        if not self.attempts.attempt():
            return 429, "Too many connection attempts\n"
        return None

    @property
    def handshake_log(self) -> List[JSON]:
        """One record per WebSocket handshake request, refused ones included: ``time`` (monotonic),
        ``path``, ``status`` (101 when accepted, else the HTTP status answered)."""
        with self._lock:
            return [dict(h) for h in self._handshakes]

    def send_malformed(self, text: str = '{"e":"trade","E":', path_prefix: Optional[str] = None,
                       kind: Optional[str] = "stream") -> int:
        """Send ``text`` (not valid JSON by default) to every open stream connection (``kind="api"``: WebSocket
        API connections; None: all). Returns how many."""
        sessions = self._open_sessions(kind, path_prefix)
        for s in sessions:
            s.outq.put(("raw", text))
        return len(sessions)

    def set_max_lifetime(self, seconds: float) -> None:
        """Change the maximum connection lifetime, for open connections too (measured from their opening)."""
        self.max_lifetime = float(seconds)

    def send_server_shutdown(self) -> int:
        """Send the ``serverShutdown`` event to every open connection now (the connection stays open)."""
        sessions = self._open_sessions()
        for s in sessions:
            self._send_server_shutdown(s)
        return len(sessions)

    def _send_server_shutdown(self, s: Session) -> None:
        ev = {"e": "serverShutdown", "E": self.clock.now_ms()}
        if s.kind == "api":
            s.enqueue(dumps({"event": ev}))
        elif s.combined:
            s.enqueue(dumps({"stream": "!serverShutdown", "data": ev}))
        else:
            s.enqueue(dumps(ev))

    def terminate_user_streams(self) -> int:
        """End every user-data subscription with ``eventStreamTerminated``. Returns how many ended."""
        n = 0
        for s in self._open_sessions("api"):
            with s.lock:
                ended = list(s.user_subs)
                s.user_subs.clear()
                s.logon_subs.clear()
            for sid in ended:
                s.enqueue(dumps({"subscriptionId": sid, "event": {"e": "eventStreamTerminated",
                                                                    "E": self.clock.now_ms()}}))
            n += len(ended)
        self._waiter.notify()
        return n

    def push_user_event(self, event: JSON) -> int:
        """Send a raw user-data event (or a docs frame ``{"subscriptionId": 0, "event": {...}}``: its ``event``)
        to every user-data subscription, each under its own subscription id. Returns how many got it."""
        return self._emit_user(event["event"] if "event" in event and "e" not in event else event)

    # -- logs and waits -----------------------------------------------------------------------------------
    @property
    def request_log(self) -> List[JSON]:
        """Copies of every REST request record: time, method, path, params, headers, status, body, dropped."""
        with self._lock:
            return [dict(r) for r in self._requests]

    @property
    def connection_log(self) -> List[JSON]:
        """One record per WebSocket connection ever accepted: id, path, kind, opened_at, closed_at,
        close_reason, streams (every stream subscribed over its life), messages_received, messages_sent."""
        with self._lock:
            sessions = sorted(self._conn_log.values(), key=lambda s: s.id)
        return [{"id": s.id, "path": s.path, "kind": s.kind, "opened_at": s.opened_at, "closed_at": s.closed_at,
                 "close_reason": s.close_reason, "streams": list(s.ever_streams), "messages_received": s.received,
                 "messages_sent": s.sent, "rate_violation": s.violated} for s in sessions]

    @property
    def rate_violations(self) -> int:
        """How many connections were closed for sending more than ``max_incoming_per_second`` frames."""
        with self._lock:
            return self._violations

    def open_connections(self, kind: Optional[str] = None, path_prefix: Optional[str] = None) -> int:
        return len(self._open_sessions(kind, path_prefix))

    def subscribed_streams(self) -> List[str]:
        """Union of the streams subscribed on the open connections."""
        out: set[str] = set()
        for s in self._open_sessions("stream"):
            with s.lock:
                out |= s.streams
        return sorted(out)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait (no fixed sleep) until ``predicate()`` is true; False on timeout."""
        return self._waiter.wait_for(predicate, timeout)

    replay = start_replay  # replay(path, speed=1.0): serve a recording (Connector.record) to the clients (_replay.py)
    def wait_for_connections(self, n: int, timeout: float = 5.0, path_prefix: Optional[str] = None) -> bool:
        """Wait until at least ``n`` WebSocket connections (path starting with ``path_prefix``) are open."""
        return self.wait_until(lambda: len(self._open_sessions(path_prefix=path_prefix)) >= n, timeout)

    def wait_for_subscriptions(self, streams: Iterable[str], timeout: float = 5.0) -> bool:
        """Wait until every stream in ``streams`` is subscribed on some open connection."""
        want = set(streams)
        return self.wait_until(lambda: want <= set(self.subscribed_streams()), timeout)

    def wait_for_user_subscriptions(self, n: int = 1, timeout: float = 5.0) -> bool:
        """Wait until at least ``n`` user-data subscriptions are active."""
        return self.wait_until(lambda: self.user_subscription_count() >= n, timeout)

    def user_subscription_count(self) -> int:
        return sum(len(s.user_subs) for s in self._open_sessions("api"))

    def wait_for_requests(self, path: str, n: int = 1, timeout: float = 5.0, method: Optional[str] = None) -> bool:
        """Wait until ``n`` REST requests to ``path`` (and ``method``) have been logged."""
        def count() -> int:
            with self._lock:
                return sum(1 for r in self._requests if r["path"] == path and method in (None, r["method"]))
        return self.wait_until(lambda: count() >= n, timeout)

    # -- internal hooks used by the servers ----------------------------------------------------------
    def _log_request(self, record: JSON) -> None:
        with self._lock:
            self._requests.append(record)
        self._waiter.notify()

    def _next_conn_id(self) -> int:
        with self._lock:
            self._conn_seq += 1
            return self._conn_seq

    def _session_opened(self, s: Session) -> None:
        with self._lock:
            self._sessions[s.id] = s
            self._conn_log[s.id] = s
        if s.kind == "api":
            try:
                self.weights.charge(2)  # connecting to the WebSocket API costs 2 weight
            except Exception:  # noqa: BLE001 - over the limit: the requests will be refused
                pass
        self._waiter.notify()

    def _session_closed(self, s: Session) -> None:
        with self._lock:
            self._sessions.pop(s.id, None)
        if self._ws is not None:
            self._ws.prune()
        self._waiter.notify()

    def _rate_violation(self, s: Session) -> None:
        with self._lock:
            self._violations += 1
        log.warning("connection %s (%s) exceeded %s incoming messages per second", s.id, s.path,
                    self.max_incoming_per_second)

    def _open_sessions(self, kind: Optional[str] = None, path_prefix: Optional[str] = None) -> List[Session]:
        if self._ws is not None:
            # A connection cut during its handshake (after registration, before the 101 went out)
            # never runs its session: unregister it now, not only when another session closes.
            self._ws.prune()
        with self._lock:
            sessions = list(self._sessions.values())
        return [s for s in sessions if kind in (None, s.kind)
                and (path_prefix is None or s.path.startswith(path_prefix))]

    def _ws_control(self, s: Session, text: str) -> Optional[str]:
        reply, added, removed = handle_control(s, text, list(self.market.state), self.max_streams,
                                               self.control_error_style)
        if added or removed:
            self._waiter.notify()
        return reply

    def _ws_api(self, s: Session, text: str) -> List[str]:
        return handle_api(self, s, text) if self.product == "spot" else handle_futures_api(self, s, text)

    def _emit_user(self, event: JSON) -> int:
        n = 0
        for s in self._open_sessions("api"):
            with s.lock:
                subs = list(s.user_subs)
            shown = user_event_to_micros(event) if s.micros else event  # /ws-api/v3?timeUnit=MICROSECOND
            for sid in subs:
                s.enqueue(dumps({"subscriptionId": sid, "event": shown}))
            n += len(subs)
        return n
