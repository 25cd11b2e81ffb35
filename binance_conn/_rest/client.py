"""RestClient: signed, clock-synced, rate-limit aware Binance spot REST.

The only module that imports ``requests``/``urllib3`` and the only place their
exceptions become :mod:`binance_conn.errors` (``_send``).  Decisions come from
the sans-I/O core: :mod:`._core.signing` (payloads, signatures),
:mod:`._core.clock` (server offset), :mod:`._core.ratelimit` via
:mod:`._limiter` (shared weight budget, ban gate), :mod:`._core.retry` (retry or
not), :mod:`._core.numbers` (parameter text, filters).

Per call nothing is stored on the client except aggregated counters (weight,
order counts, the clock offset); every request builds its own prepared request
from settings merged once at construction (proxies from config and the
environment, CA bundle), then goes through ``Session.send``.  That also skips
the per-call environment scan of ``Session.request``.

Deadlines: ``timeout`` is the TOTAL time of a call (connect, send, headers and
body of every attempt, the backoff between retries, waits for weight and a
clock sync it needs).  Each attempt's socket timeouts are capped by what is
left, and :mod:`.deadline`'s readers never wait past the deadline however slowly
a server trickles its answer, so a call returns within ``timeout`` plus a few
milliseconds; no thread is involved.  Retries are counted in one place:
:func:`._core.retry.classify` (``retry.attempts``); tenacity only sleeps.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import random
import threading
import time
from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional, Tuple, Type, Union
from urllib.parse import quote, urlsplit

import requests
import simplejson
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from tenacity import Retrying, retry_if_exception_type

from .._api import AccountApi, MarketDataApi, TradingApi
from .._core import catalog, products
from .._core.clock import ServerClock
from .._core.endpoints import Endpoint
from .._core.ratelimit import endpoint_weight, parse_count_headers
from .._core.retry import Decision, FailureKind, classify
from .._core.signing import rest_query, signer_from_auth
from .._core.timing import MILLISECOND, format_recv_window, recv_window, time_unit_headers
from .._io.netenv import resolve_trust
from .._io.recorder import NO_TAP, Tap
from .._version import __version__
from ..errors import (
    BinanceError,
    ConnectionError,
    IPBannedError,
    NotFoundError,
    RateLimitError,
    UnknownStatusError,
    ValidationError,
    error_from_response,
)
from .deadline import CallLimit, DeadlineAdapter, limit_calls
from .encode import encode_params
from .endpoints import RestEndpoints
from .limiter import WeightLimiterRegistry
from .scrub import scrubbed
from .shared import LimiterInfo, limiter_for, order_counter
from .tls import TrustAdapter, connect_failure

__all__ = ["RestClient"]

_log = logging.getLogger("binance_conn.rest")
_DEBUG = logging.DEBUG
# One decoder for every response: Decimal for JSON floats (simplejson's use_decimal).
_DECODER = simplejson.JSONDecoder(parse_float=Decimal)
_monotonic = time.monotonic
Timeout = Union[float, Tuple[float, float], None]


class _Retry(Exception):
    """Internal: an attempt failed in a way the retry policy allows to repeat."""

    def __init__(self, error: BinanceError) -> None:
        super().__init__(str(error))
        self.error = error


class _Stopped(Exception):
    """Internal: the stop event was set during a backoff sleep, or the deadline leaves no room for one."""


class _Call:
    """Per-call state; lives on the calling thread's stack only."""

    __slots__ = ("method", "path", "pairs", "names", "query", "signed", "timeout", "rid", "weight",
                 "client_order_id", "id_param", "symbol", "attempt", "maybe_executed", "resynced", "deadline",
                 "abort", "keyed")

    def __init__(self, method: str, path: str, pairs: List[Tuple[str, str]], signed: bool,
                 timeout: Tuple[float, float], rid: str, deadline: float,
                 abort: Optional[threading.Event], keyed: bool = False, id_param: Optional[str] = None) -> None:
        self.method = method
        self.path = path
        self.pairs = pairs
        self.names = {k: v for k, v in pairs}
        self.query = rest_query(pairs)
        self.signed = signed
        self.timeout = timeout  # (connect per attempt, total)
        self.deadline = deadline  # monotonic instant by which the whole call ends
        self.abort = abort  # set: cut the call now (the connector's prober during stop())
        self.rid = rid
        self.weight = endpoint_weight(method, path, self.names)
        self.id_param = id_param or "newClientOrderId"  # listClientOrderId for an order list
        self.client_order_id = self.names.get(self.id_param)
        self.symbol = self.names.get("symbol")
        self.attempt = 0
        self.maybe_executed = False
        self.resynced = False
        self.keyed = signed or keyed  # the X-MBX-APIKEY header goes out


class RestClient(LimiterInfo, RestEndpoints, MarketDataApi, TradingApi, AccountApi):
    """Thread-safe Binance spot REST client (README "REST").

    Works standalone (a cron job's whole use) and is the object behind
    ``Connector.rest``.  Every method may be called from any thread,
    concurrently; a call blocks its caller for at most its ``timeout``
    (``rest.timeout``, default 10 s) IN TOTAL: connecting, sending, the answer's
    headers and body, every retry and the backoff between them, waits for request
    weight and a clock sync it needs (see the module docstring).  The client
    starts no thread.

    Args:
        config: a built :class:`binance_conn.Config`.
        session: a ``requests.Session`` to use (tests mount adapters on it); by
            default the client makes one with a pooled ``HTTPAdapter`` sized
            ``rest.pool_size``.  An injected session is not closed by :meth:`close`.
        limiter_registry: where the per-host weight limiter lives; default
            :data:`binance_conn._limiter.DEFAULT_REGISTRY` (shared by every client
            of the process, as Binance counts weight per IP).
        stop_event: set it to cut backoff sleeps and weight waits short (the
            Connector passes its stop event).
    """

    _product_spec: products.ProductSpec = products.SPOT  # futures: _rest/futures.py (RestEndpoints.__new__)
    tap: Tap = NO_TAP  # the connector's recording switch (_io/recorder.py)

    def __init__(self, config: Any, session: Optional[requests.Session] = None, *,
                 limiter_registry: Optional[WeightLimiterRegistry] = None,
                 stop_event: Optional[threading.Event] = None) -> None:
        self._config = config
        rc = config.rest
        self._exchange: str = config.exchange.name
        self._base: str = config.exchange.rest_url.rstrip("/")
        self._timeout: Tuple[float, float] = (float(rc.connect_timeout), float(rc.timeout))
        self._recv_window = format_recv_window(recv_window("rest.recv_window", rc.recv_window))
        self._data_only = bool(getattr(config.exchange, "market_data_only", False))  # binance-data
        self._allow_float = bool(rc.allow_float)
        self._debug = bool(config.debug)
        self._signer = signer_from_auth(config.auth)  # parse keys once, never on the hot path
        self._owns_session = session is None
        # Deadline-aware reads need our own adapter (an injected session keeps its adapters:
        # per-attempt timeouts still never exceed the time left).
        # TLS trust as the WebSocket resolves it (config context / CA bundle, else the CA variables).
        trust = resolve_trust(getattr(config, "tls", None))
        if session is None:
            session = requests.Session()
            size = max(1, int(rc.pool_size))  # max_retries=0: retries are ours, counted once
            adapter: HTTPAdapter = (
                TrustAdapter(trust.context, pool_connections=4, pool_maxsize=size, max_retries=0)
                if trust.context is not None else DeadlineAdapter(pool_connections=4, pool_maxsize=size, max_retries=0))
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self._session = session
        proxies = {"http": rc.proxy, "https": rc.proxy} if rc.proxy else {}
        # Environment (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE...) merged ONCE for our one host.
        verify = session.verify if trust.source == "default" else trust.verify
        merged = session.merge_environment_settings(self._base, proxies, False, verify, session.cert)
        if trust.context is not None and self._owns_session:
            merged["verify"] = True  # the adapter's context decides; never a CA path loaded into it
        elif isinstance(merged["verify"], str) and not os.path.exists(merged["verify"]):
            merged["verify"] = session.verify  # a variable naming a missing path: ignored, as for the WebSocket
        self._send_kw: Dict[str, Any] = {"proxies": merged["proxies"], "verify": merged["verify"],
                                         "cert": merged["cert"], "stream": False, "allow_redirects": False}
        headers = dict(session.headers)
        headers.update({"User-Agent": rc.user_agent or f"binance_conn/{__version__}", "Accept": "application/json",
                        **time_unit_headers(getattr(config.exchange, "time_unit", MILLISECOND))})
        self._headers = headers
        api_key = config.auth.api_key
        self._signed_headers = dict(headers, **({"X-MBX-APIKEY": api_key} if api_key else {}))
        parts = urlsplit(self._base)
        self._host, self._port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        self._limiter = limiter_for(config, limiter_registry, f"{parts.scheme}://{parts.netloc}", self._product_spec)
        if config.rate_limit.weight_limit is not None:
            self._limiter.set_limits({"1M": int(config.rate_limit.weight_limit)}, pin=True)
        self._limit_enabled = bool(config.rate_limit.enabled)
        self._max_wait = float(config.rate_limit.max_wait)
        self._clock = ServerClock(float(rc.time_sync_interval))
        self._sync_lock = threading.Lock()
        self._lock = threading.Lock()  # guards the small aggregated state below
        self._orders = order_counter(config)  # shared through Redis under with_shared_limits
        self._inflight = 0
        self._idle = threading.Condition(threading.Lock())
        self._own_stop = stop_event is None
        self._stop = stop_event if stop_event is not None else threading.Event()
        self._backoff = config.retry.backoff.policy()
        self._attempts = max(1, int(config.retry.attempts))
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex()
        self._xinfo: Dict[Any, Tuple[float, Any]] = {}
        self._xinfo_ttl = float(rc.exchange_info_ttl)

    # ---------------------------------------------------------------- public state

    @property
    def used_weight(self) -> Dict[str, int]:
        """Snapshot ``{"1M": n}`` of this IP's request weight in the current windows,
        from ``X-MBX-USED-WEIGHT-*`` headers. Never blocks."""
        return self._limiter.used_weight(self._server_now())

    @property
    def weight_limits(self) -> Dict[str, int]:
        """The request-weight limits the client-side limiter enforces per window, e.g. ``{"1M": 6000}``."""
        return self._limiter.limits

    def _server_now(self) -> float:
        # Weight windows are aligned on the server's clock (reference 4.1).
        return time.time() + self._clock.offset_ms / 1000.0

    @property
    def order_count(self) -> Dict[str, int]:
        """Snapshot ``{"10S": n, "1D": m}`` of unfilled order counts (``X-MBX-ORDER-COUNT-*``)."""
        return self._orders.snapshot(self._server_now())  # the counter locks itself

    @property
    def ban_state(self) -> Tuple[str, float]:
        """``(kind, seconds left)``: ``"ip_banned"`` (HTTP 418), ``"rate_limited"`` (429) or ``""``
        while calls may go out (this IP's gate: every client of the host, or the fleet when shared)."""
        return self._limiter.gate_state(time.time())

    @property
    def inflight(self) -> int:
        """Number of calls under way right now."""
        return self._inflight

    @property
    def clock_offset_ms(self) -> int:
        """Current estimate of ``server time - local time`` in ms."""
        return self._clock.offset_ms

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Block until no call is in flight or ``timeout`` passes; True when idle."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._inflight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
            return True

    def close(self) -> None:
        """Release the connection pool (of a session this client created); interrupt waits.
        Idempotent; the client still works afterwards (a new pool is made on demand)."""
        if self._own_stop:
            self._stop.set()
            self._stop = threading.Event()
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> "RestClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RestClient(exchange={self._exchange!r}, base={self._base!r}, signed={self._signer is not None})"

    # ---------------------------------------------------------------- generic request

    def request(self, method: str, path: str, params: Optional[Mapping[str, Any]] = None,
                signed: bool = False, timeout: Timeout = None) -> Any:
        """Call any endpoint and return its parsed JSON (JSON floats as Decimal).

        Args:
            method: ``GET``, ``POST``, ``PUT`` or ``DELETE``.
            path: e.g. ``/api/v3/ticker/price``.
            params: values may be ``str``, ``int``, ``Decimal``, ``bool`` or enums;
                ``None`` values are left out; floats raise ``ValidationError``
                unless the config allows them.
            signed: add ``timestamp``/``recvWindow`` and the signature.
            timeout: total deadline (s) of this call, or ``(connect, total)``; default
                ``rest.timeout``.  Everything the call does ends within it.

        Raises:
            BinanceError: the subclass for what went wrong (README "Errors"); a call cut at
                its deadline raises ``ConnectionError`` (``UnknownStatusError`` for an
                order that may have been sent).
        """
        return self._execute(method.upper(), path, params, signed, timeout)

    def _call(self, endpoint: Endpoint, params: Optional[Dict[str, Any]] = None, *, timeout: Any = None,
              client_order_id: Optional[str] = None, symbol: Optional[str] = None) -> Any:
        """The typed methods' way out (:mod:`binance_conn._api`): one documented endpoint over HTTP."""
        assert endpoint.http is not None and endpoint.path is not None, endpoint.name
        if self._data_only and endpoint.needs_key:
            self._config.exchange.require_account_access(f"{endpoint.name} ({endpoint.security})")
        keyed = endpoint.needs_key and not endpoint.signed  # MARKET_DATA / USER_STREAM: key, no signature
        if keyed and "X-MBX-APIKEY" not in self._signed_headers:
            raise ValidationError("api_key", None, f"{endpoint.path} ({endpoint.security}) needs an API key")
        return self._execute(endpoint.http, endpoint.path, params, endpoint.signed, timeout, keyed=keyed)

    def probe(self, timeout: float, path: str = "/api/v3/ping", params: Optional[Mapping[str, Any]] = None) -> Any:
        """``GET path`` for a liveness prober: at most ``timeout`` seconds in total, and cut
        at once when the client's stop event is set (``Connector.stop()``), so a server
        that trickles or withholds its answer never holds a prober thread past ``stop()``.
        Any thread; blocks up to ``timeout``.
        """
        return self._execute("GET", path, params, False, timeout, abort=self._stop)

    def _execute(self, method: str, path: str, params: Optional[Mapping[str, Any]], signed: bool,
                 timeout: Timeout, *, deadline: Optional[float] = None,
                 abort: Optional[threading.Event] = None, keyed: bool = False) -> Any:
        if signed and self._data_only:  # before anything is counted or sent
            self._config.exchange.require_account_access(f"the signed request {method} {path}")
        rid = f"{self._id_prefix}-{next(self._ids)}"
        with self._idle:
            self._inflight += 1
        try:
            limits = self._call_timeout(timeout)
            end = _monotonic() + limits[1]
            if deadline is not None and deadline < end:  # a nested call (clock sync) shares its caller's
                end = deadline
            ep = catalog.lookup(method, path)
            id_param = ep.order_id_param if ep is not None and ep.places_order else None
            pairs = encode_params(params, id_param, self._allow_float)
            call = _Call(method, path, pairs, signed, limits, rid, end, abort, keyed, id_param)
            try:
                return self._attempt(call)
            except _Retry as sig:
                return self._retry(call, sig.error)
        finally:
            with self._idle:
                self._inflight -= 1
                if not self._inflight:
                    self._idle.notify_all()

    def _call_timeout(self, timeout: Timeout) -> Tuple[float, float]:
        if timeout is None:
            return self._timeout
        if isinstance(timeout, tuple):
            return (float(timeout[0]), float(timeout[1]))
        if timeout <= 0:
            raise ValidationError("timeout", timeout, "must be > 0")
        return (min(self._timeout[0], float(timeout)), float(timeout))

    def _retry(self, call: _Call, first: BinanceError) -> Any:
        """Retry a safe call with tenacity: exponential backoff with jitter, interruptible.

        The attempt budget is counted in one place only, :func:`classify` (``attempt <
        max_attempts``): it raises the error instead of ``_Retry`` once ``retry.attempts``
        are spent, so tenacity never stops on a count of its own.  A backoff that would
        end past the call's deadline is not slept: the last error is raised at once.
        """
        last = [first]

        def attempt() -> Any:
            try:
                return self._attempt(call)
            except _Retry as sig:
                last[0] = sig.error
                raise

        def sleep(seconds: float) -> None:
            if seconds >= call.deadline - _monotonic():
                raise _Stopped()  # no time left for another attempt after this wait
            if self._stop.wait(seconds) or (call.abort is not None and call.abort.is_set()):
                raise _Stopped()

        def wait(state: Any) -> float:  # tenacity attempt n (1-based) follows overall retry n
            return float(self._backoff.delay(int(state.attempt_number), random.random()))

        if _log.isEnabledFor(logging.WARNING):
            _log.warning("retrying %s %s after %s error", call.method, call.path, first.code,
                         extra={"request_id": call.rid, "exchange": self._exchange, "error_code": first.code})
        try:
            sleep(self._backoff.delay(0, random.random()))
            retrying = Retrying(wait=wait, sleep=sleep, retry=retry_if_exception_type(_Retry), reraise=True)
            return retrying(attempt)
        except (_Retry, _Stopped):
            raise last[0] from last[0].__cause__
        except NotFoundError as error:
            if error.binance_code == -2011 and call.maybe_executed and call.path == self._product_spec.order_path:
                return self._cancel_outcome(call, error)
            raise

    def _cancel_outcome(self, call: _Call, error: NotFoundError) -> Any:
        # A retried cancel answered "Unknown order" after an attempt that may have
        # gone through: the order's real state is the answer, not NotFoundError.
        names = call.names
        try:
            oid = names.get("orderId")
            return self.get_order(str(names.get("symbol")), order_id=int(oid) if oid is not None else None,
                                  client_order_id=names.get("origClientOrderId"))
        except NotFoundError:
            raise error from None

    # ---------------------------------------------------------------- one attempt

    def _attempt(self, call: _Call) -> Any:
        call.attempt += 1
        while True:
            error, kind = self._attempt_once(call)
            if error is None:
                return kind  # the parsed body
            decision = classify(call.method, call.path, call.names, kind, http_status=error.http_status,
                                binance_code=error.binance_code, resynced=call.resynced,
                                attempt=call.attempt, max_attempts=self._attempts)
            if kind in (FailureKind.READ_TIMEOUT, FailureKind.CONNECTION_LOST, FailureKind.MALFORMED) or (
                isinstance(error, UnknownStatusError)
            ):
                call.maybe_executed = True
            if decision is Decision.RESYNC and call.signed:
                call.resynced = True
                self._clock.invalidate()
                self._sync_clock(False, call.deadline)
                continue
            if decision is Decision.RETRY:
                raise _Retry(error)
            if decision is Decision.UNKNOWN and not isinstance(error, UnknownStatusError):
                unknown = UnknownStatusError(
                    f"{call.method} {call.path}: outcome unknown ({error.message})",
                    binance_code=error.binance_code, http_status=error.http_status, exchange=self._exchange,
                    request_id=call.rid, debug=self._debug)
                unknown.__cause__ = error.__cause__ or error
                error = unknown
            if isinstance(error, UnknownStatusError):
                error.client_order_id = call.client_order_id
                error.symbol = call.symbol
                error.method = call.method
                error.path = call.path
                if call.client_order_id is not None:
                    error.details["client_order_id"] = call.client_order_id
                    if call.id_param == "listClientOrderId":
                        error.details["list_client_order_id"] = call.client_order_id
                if _log.isEnabledFor(logging.WARNING):
                    _log.warning("%s %s outcome unknown", call.method, call.path,
                                 extra={"request_id": call.rid, "exchange": self._exchange,
                                        "client_order_id": call.client_order_id})
            raise error

    def _attempt_once(self, call: _Call) -> Tuple[Optional[BinanceError], Any]:
        """Send once. Returns ``(None, body)`` or ``(error, FailureKind)``; raises
        only for fail-fast conditions (ban gate, weight wait, missing credentials)."""
        now = time.time()
        gate = self._limiter.gate_error(now, exchange=self._exchange, request_id=call.rid)
        if gate is not None:
            try:  # fail fast; dropping the local avoids an error -> traceback -> frame cycle per call
                raise gate
            finally:
                del gate
        url = self._base + call.path
        if call.signed:
            if self._signer is None:
                raise ValidationError("auth", None, f"{call.path} is a signed endpoint: configure an API key and "
                                      "secret or private key")
            if self._clock.needs_sync(int(now * 1000)):
                self._sync_clock(False, call.deadline)
            query = call.query
            extra = f"timestamp={int(time.time() * 1000) + self._clock.offset_ms}"
            if "recvWindow" not in call.names:
                extra = f"recvWindow={self._recv_window}&{extra}"
            query = f"{query}&{extra}" if query else extra
            signature = self._signer.sign(query)
            if self._signer.is_base64:
                signature = quote(signature, safe="")
            url = f"{url}?{query}&signature={signature}"  # signature last, over exactly these bytes
            headers = self._signed_headers
        else:
            if call.query:
                url = f"{url}?{call.query}"
            headers = self._signed_headers if call.keyed else self._headers
        reserved_at = 0.0
        if self._limit_enabled:
            max_wait = min(self._max_wait, max(0.0, call.deadline - _monotonic()))
            reserved_at = self._limiter.acquire(call.weight, max_wait=max_wait, now=self._server_now,
                                                wait=self._stop.wait, exchange=self._exchange, request_id=call.rid)
        used: Optional[Dict[str, int]] = None
        try:
            response, failure = self._send(call, url, headers)
            if response is not None:
                used = parse_count_headers(response.headers)
        finally:
            if self._limit_enabled:
                self._limiter.complete(call.weight, reserved_at, self._server_now(), used)
            elif used:
                self._limiter.observe(used, now + self._clock.offset_ms / 1000.0, self._server_now())
        if response is None:
            assert failure is not None
            return failure
        return self._handle(call, response)

    def _send(self, call: _Call, url: str, headers: Mapping[str, str]
              ) -> Tuple[Optional[requests.Response], Optional[Tuple[BinanceError, FailureKind]]]:
        """The one boundary where requests/urllib3 exceptions become library errors."""
        prep = requests.PreparedRequest()
        prep.method = call.method
        prep.url = url
        prep.headers = CaseInsensitiveDict(headers)
        prep.body = None
        unexpected: Optional[BaseException] = None
        left = call.deadline - _monotonic()
        if left <= 0.0 or (call.abort is not None and call.abort.is_set()):
            return None, self._failure(call, FailureKind.CONNECT, self._cut_text(call), None)
        # Socket timeouts never exceed the time left (rounded up to 10 ms: an untouched
        # budget passes the configured values through); the deadline-aware readers do the rest.
        left = math.ceil(left * 100.0) / 100.0
        timeout = (min(call.timeout[0], left), min(call.timeout[1], left))
        kind, text = FailureKind.CONNECTION_LOST, "connection lost"
        cause: Optional[BaseException] = None
        try:
            with limit_calls(CallLimit(call.deadline, call.abort)):
                return self._session.send(prep, timeout=timeout, **self._send_kw), None
        except requests.exceptions.ConnectTimeout as exc:
            kind, text, cause = FailureKind.CONNECT, "connect timeout", exc
        except requests.exceptions.ReadTimeout as exc:
            kind, text, cause = FailureKind.READ_TIMEOUT, "read timeout", exc
        except (requests.exceptions.ProxyError, requests.exceptions.SSLError) as exc:
            kind, text, cause = FailureKind.CONNECT, "could not connect", exc
            named = connect_failure(exc, self._host, self._port)
            if named is not None:
                return None, self._failure(call, kind, named[1], cause, cls=named[0], details=named[2])
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            reason: Any = exc.args[0] if exc.args else None
            if isinstance(reason, urllib3.exceptions.MaxRetryError):
                reason = reason.reason
            if isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)):
                kind, text = FailureKind.CONNECT, "connection refused or unreachable"
            elif isinstance(reason, urllib3.exceptions.ReadTimeoutError):  # the body timed out
                kind, text = FailureKind.READ_TIMEOUT, "read timeout"
            else:
                kind, text = FailureKind.CONNECTION_LOST, "connection lost"
            cause = exc
        except requests.exceptions.RequestException as exc:
            unexpected = scrubbed(exc)
        if unexpected is not None:
            # Raised outside the except block: the original (its text and prepared request carry
            # the signed URL) must not ride along as __context__.
            err = BinanceError(f"{call.method} {call.path}: request failed ({type(unexpected).__name__})",
                               code="request_error", exchange=self._exchange, request_id=call.rid)
            raise err from unexpected
        if kind is FailureKind.READ_TIMEOUT and (
            _monotonic() >= call.deadline - 0.002 or (call.abort is not None and call.abort.is_set())
        ):
            text = self._cut_text(call)
        return None, self._failure(call, kind, text, cause)

    def _cut_text(self, call: _Call) -> str:
        if call.abort is not None and call.abort.is_set():
            return "aborted: the client is stopping"
        return f"no complete answer within the call's {call.timeout[1]:g} s deadline"

    def _failure(self, call: _Call, kind: FailureKind, text: str, cause: Optional[BaseException], *,
                 cls: Type[ConnectionError] = ConnectionError, details: Optional[Dict[str, Any]] = None,
                 ) -> Tuple[BinanceError, FailureKind]:
        temporary = (details or {}).get("reason") not in ("certificate", "hostname", "tls", "proxy_auth")
        error = cls(f"{call.method} {call.path}: {text}", temporary=temporary, exchange=self._exchange,
                    request_id=call.rid, debug=self._debug, details=details)
        if cause is not None:
            error.__cause__ = scrubbed(cause)
        if _log.isEnabledFor(logging.INFO):
            _log.info("%s %s failed: %s", call.method, call.path, text,
                      extra={"request_id": call.rid, "exchange": self._exchange, "failure": kind.value})
        return error, kind

    def _handle(self, call: _Call, response: requests.Response) -> Tuple[Optional[BinanceError], Any]:
        status = response.status_code
        content = response.content
        self.tap.rest(call.method, call.path, call.pairs, response)
        if _log.isEnabledFor(_DEBUG):
            _log.debug("%s %s -> %s", call.method, call.path, status,
                       extra={"request_id": call.rid, "exchange": self._exchange, "http_status": status})
        if status < 400:
            if call.method != "GET":
                counts = parse_count_headers(response.headers, "x-mbx-order-count-")
                if counts:
                    self._orders.observe(counts, self._server_now())  # locks itself; Redis outside any lock
            try:
                return None, _DECODER.decode(content.decode("utf-8"))
            except ValueError:
                err = BinanceError(f"malformed response (HTTP {status}): {content[:200]!r}",
                                   code="malformed_response", http_status=status, exchange=self._exchange,
                                   request_id=call.rid, debug=self._debug)
                return err, FailureKind.MALFORMED
        error = error_from_response(status, response.headers, content, exchange=self._exchange, request_id=call.rid,
                                    debug=self._debug, product=self._product_spec.product)
        if isinstance(error, RateLimitError) and status in (418, 429) and error.binance_code != -1015:
            # -1015 (too many orders) is per account, not per IP: other calls may go on.
            self._limiter.trip(time.time(), error.retry_after, banned=isinstance(error, IPBannedError),
                               message=error.message, binance_code=error.binance_code, http_status=status)
        if _log.isEnabledFor(logging.INFO):
            _log.info("%s %s -> HTTP %s %s", call.method, call.path, status, error.binance_code,
                      extra={"request_id": call.rid, "exchange": self._exchange, "http_status": status,
                             "binance_code": error.binance_code})
        return error, FailureKind.HTTP

    # ---------------------------------------------------------------- clock

    def sync_clock(self, force: bool = False) -> int:
        """Measure the server-clock offset now (``GET /api/v3/time``, round-trip midpoint).

        Called automatically at the first signed call, every ``rest.time_sync_interval``
        and after ``-1021``. Blocks for one request; concurrent callers share it.
        Returns the offset in ms.
        """
        return self._sync_clock(force, None)

    def _sync_clock(self, force: bool, deadline: Optional[float]) -> int:
        """:meth:`sync_clock` within the deadline of the call that needs it."""
        before = self._clock.synced_at
        with self._sync_lock:
            if not force and self._clock.synced_at != before and self._clock.is_synced:
                return self._clock.offset_ms  # another thread just did it
            if not force and not self._clock.needs_sync(int(time.time() * 1000)):
                return self._clock.offset_ms
            sent = int(time.time() * 1000)
            data = self._execute("GET", self._product_spec.time_path, None, False, None, deadline=deadline)
            received = int(time.time() * 1000)
            offset = self._clock.update(sent, int(data["serverTime"]), received)
        if _log.isEnabledFor(logging.INFO):
            _log.info("server clock offset %d ms (rtt %s ms)", offset, self._clock.rtt_ms,
                      extra={"exchange": self._exchange, "offset_ms": offset})
        return offset
