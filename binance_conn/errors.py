"""The error tree and the one place Binance error responses become exceptions.

::

    Exception
    └── BinanceError                      .code .binance_code .message .details .is_retryable()
        ├── ValidationError (ValueError)  bad config or arguments: .field .value .constraint
        ├── ConnectionError (builtins.ConnectionError)   nothing known to be executed; .is_temporary()
        │   │                             WebSocket connects: .reason (details["reason"]), .retry_after
        │   ├── NotConnectedError         an operation that needs the stream while it is down
        │   ├── ProxyError                the proxy refused (407 auth, other status) or is unreachable
        │   └── TLSError                  untrusted certificate, hostname mismatch, handshake failure
        ├── InternalError                 an unexpected exception in a library thread (a bug); recovered
        ├── UnknownStatusError            5xx, read timeout, -1000/-1006/-1007: may have executed
        └── APIError                      Binance answered with an error code
            ├── RateLimitError            429, -1003, -1015, -1034, -1181; .retry_after (seconds)
            │   └── IPBannedError         418
            ├── AuthenticationError       -1002, -1022, -2014, -2015, HTTP 401
            ├── TimestampError            -1021
            ├── NotFoundError             -2013, -2011 "Unknown order", -1121 unknown symbol, -1125, -2016, -2043
            │   └── OrderArchivedError    -2026
            ├── OrderRejectedError        -2010, -1013, -1010: the new order was rejected
            │   ├── InsufficientBalanceError      "Account has insufficient balance ..."
            │   ├── FilterFailureError            "Filter failure: <FILTER>"; .filter
            │   ├── WouldTriggerImmediatelyError  "Order would trigger immediately."
            │   ├── WouldMatchImmediatelyError    "Order would immediately match and take." (LIMIT_MAKER)
            │   ├── DuplicateOrderError           "Duplicate order sent."
            │   ├── MarketClosedError             "Market is closed."
            │   ├── UnsupportedOrderError         -1014, "... orders are not supported for this symbol."
            │   ├── InvalidOrderError             "Price * QTY is zero or less." ...
            │   ├── TradingDisabledError          account / symbol / API not allowed to trade
            │   ├── InsufficientLiquidityError    -1112, "Order book liquidity is ..."
            │   └── AmendRejectedError            -2038
            ├── CancelRejectedError       -2011 other than "Unknown order sent."
            ├── CancelReplaceError        -2021 (409), -2022: .data .cancel_response .new_order_response
            ├── ParameterError            11xx request issues (server-side; ValidationError is pre-send)
            ├── UnsupportedOperationError -1020, SBE not available
            ├── ServiceUnavailableError   -1001, -1008, -1016: not processed, retry later
            ├── SessionError              FIX session rules
            ├── SubscriptionError         -2035, -2036, -2042, -1190, -1191
            └── WAFError                  HTTP 403: a WAF rule blocked the request

The table behind the mapping (every code and message of ``errors.md``) is
``_core/error_codes.py``; ``.code`` is the row's normalized string (e.g.
``"server_busy"``, ``"cancel_restricted"``) or the class's ``default_code``, and
``details["binance_name"]`` is Binance's symbolic name of the code.

``BinanceError.code`` is this library's stable normalized string (``"rate_limited"``,
``"ip_banned"``, ``"unknown_status"`` ...); ``binance_code`` is Binance's own integer
code or ``None``.  ``details`` always has ``exchange``, ``request_id`` and
``timestamp`` (int ms), plus ``http_status``/``binance_code`` where known.

For an HTTP response the status decides first for 418, 429 and 5xx (reference
section 4.3); otherwise the Binance code decides (section 5), then the status.
"""

from __future__ import annotations

import builtins
import copy
import re
import time
import traceback
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Type, Union

import simplejson

from ._core import error_codes as _codes

__all__ = [
    "BinanceError",
    "ValidationError",
    "ConnectionError",
    "NotConnectedError",
    "ProxyError",
    "TLSError",
    "InternalError",
    "UnknownStatusError",
    "APIError",
    "RateLimitError",
    "IPBannedError",
    "AuthenticationError",
    "TimestampError",
    "NotFoundError",
    "OrderRejectedError",
    "OrderArchivedError",
    "InsufficientBalanceError",
    "FilterFailureError",
    "WouldTriggerImmediatelyError",
    "WouldMatchImmediatelyError",
    "DuplicateOrderError",
    "MarketClosedError",
    "UnsupportedOrderError",
    "InvalidOrderError",
    "TradingDisabledError",
    "InsufficientLiquidityError",
    "AmendRejectedError",
    "CancelRejectedError",
    "CancelReplaceError",
    "ParameterError",
    "UnsupportedOperationError",
    "ServiceUnavailableError",
    "SessionError",
    "SubscriptionError",
    "WAFError",
    "error_from_response",
    "error_from_ws_api",
    "error_for_code",
    "parse_retry_after",
]

_RAW_LIMIT = 512
_BANNED_UNTIL = re.compile(r"banned until (\d{10,16})")


def _now_ms() -> int:
    return int(time.time() * 1000)


class BinanceError(Exception):
    """Base of every error raised by binance_conn.

    Args:
        message: human-readable text; never contains secrets.
        code: normalized library code; defaults to the class's ``default_code``.
        binance_code: Binance's integer error code, when the server sent one.
        http_status: HTTP (or WebSocket API) status, when known.
        exchange: the exchange name of the config that produced the error.
        request_id: the library's id of the request (also in its log records).
        details: extra fields merged into ``.details``.
        debug: when True the current stack is added to ``details["stack"]``.
    """

    default_code = "error"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        binance_code: Optional[int] = None,
        http_status: Optional[int] = None,
        exchange: Optional[str] = None,
        request_id: Optional[str] = None,
        details: Optional[Mapping[str, Any]] = None,
        debug: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.binance_code = binance_code
        d: Dict[str, Any] = {"exchange": exchange, "request_id": request_id, "timestamp": _now_ms()}
        if http_status is not None:
            d["http_status"] = http_status
        if binance_code is not None:
            d["binance_code"] = binance_code
        if details:
            d.update(details)
        if debug:
            d["stack"] = "".join(traceback.format_stack()[:-1])
        self.details = d

    @property
    def http_status(self) -> Optional[int]:
        """The HTTP status of the response that caused this error, if any."""
        value = self.details.get("http_status")
        return value if isinstance(value, int) else None

    @property
    def request_id(self) -> Optional[str]:
        value = self.details.get("request_id")
        return value if isinstance(value, str) else None

    @property
    def exchange(self) -> Optional[str]:
        value = self.details.get("exchange")
        return value if isinstance(value, str) else None

    def is_retryable(self) -> bool:
        """True when the same request may succeed if sent again (possibly after waiting)."""
        return self.retryable

    def __str__(self) -> str:
        text = self.message
        if self.binance_code is not None:
            text = f"{text} [binance code {self.binance_code}]"
        cause = self.__cause__
        if cause is not None:
            cause_text = str(cause)
            if cause_text and cause_text not in text:
                text = f"{text}: {type(cause).__name__}: {cause_text}"
        return text

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(code={self.code!r}, binance_code={self.binance_code!r}, message={self.message!r})"

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_rebuild_error, (type(self), self.__dict__.copy()))


def _rebuild_error(cls: Type[BinanceError], state: Dict[str, Any]) -> BinanceError:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("message", ""))
    err.__dict__.update(state)
    return err


class ValidationError(BinanceError, ValueError):
    """Bad configuration or bad arguments, detected before anything is sent.

    ``field`` names the offending field (``"rest.timeout"``, ``"quantity"`` ...),
    ``value`` is what was given (masked for secrets) and ``constraint`` says
    what was expected.
    """

    default_code = "validation"

    def __init__(self, field: str, value: Any, constraint: str, message: Optional[str] = None, **kw: Any) -> None:
        self.field = field
        self.value = value
        self.constraint = constraint
        if message is None:
            message = f"invalid {field}: {constraint} (got {value!r})"
        details = dict(kw.pop("details", None) or {})
        details.update({"field": field, "constraint": constraint})
        super().__init__(message, details=details, **kw)


class ConnectionError(BinanceError, builtins.ConnectionError):
    """A network failure after which nothing is known to have been executed."""

    default_code = "connection"
    retryable = True

    def __init__(self, message: str, *, temporary: bool = True, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.temporary = temporary

    def is_temporary(self) -> bool:
        """True when retrying later may succeed (refused, reset, timed out)."""
        return self.temporary

    @property
    def reason(self) -> Optional[str]:
        """The kind of a WebSocket connect failure (``details["reason"]``): ``"certificate"``,
        ``"hostname"``, ``"tls"``, ``"proxy_auth"``, ``"proxy_status"``, ``"proxy_down"``,
        ``"http_status"``, ``"refused"``, ``"timeout"``, ``"dns"``, ``"reset"``, ``"aborted"`` ...;
        ``None`` when not set."""
        value = self.details.get("reason")
        return value if isinstance(value, str) else None

    @property
    def retry_after(self) -> Optional[float]:
        """Seconds the server asked to wait before the next attempt (the ``Retry-After`` of a
        WebSocket handshake answered 429 or 418), or ``None``."""
        value = self.details.get("retry_after")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class NotConnectedError(ConnectionError):
    """An operation that truly needs a live stream connection was called while it is down."""

    default_code = "not_connected"


class ProxyError(ConnectionError):
    """The proxy in the way failed: it asked for credentials (407), answered another
    status, or could not be reached.  ``details["reason"]`` is ``"proxy_auth"``,
    ``"proxy_status"`` or ``"proxy_down"``; never an :class:`AuthenticationError`."""

    default_code = "proxy"


class TLSError(ConnectionError):
    """The TLS handshake failed: ``details["reason"]`` is ``"certificate"`` (untrusted or
    expired), ``"hostname"`` (the certificate names another host) or ``"tls"``.
    Retrying will not help until the configuration changes (``is_temporary()`` is False)."""

    default_code = "tls"

    def __init__(self, message: str, *, temporary: bool = False, **kw: Any) -> None:
        super().__init__(message, temporary=temporary, **kw)


class InternalError(BinanceError):
    """An unexpected exception in a thread the library started (a bug in binance_conn or in
    code it calls).  It was logged with its traceback; the component it hit (named in
    ``details["component"]``) was torn down and recovers through its normal reconnect path.
    The original exception is the ``__cause__``."""

    default_code = "internal"


class UnknownStatusError(BinanceError):
    """The request may or may not have been executed (5xx, read timeout, -1000/-1006/-1007).

    For an order placement ``client_order_id`` holds the id that was sent, so
    ``rest.reconcile_order(err)`` can find out what happened. Never re-send blindly.
    """

    default_code = "unknown_status"

    def __init__(
        self,
        message: str,
        *,
        client_order_id: Optional[str] = None,
        symbol: Optional[str] = None,
        method: Optional[str] = None,
        path: Optional[str] = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.client_order_id = client_order_id
        self.symbol = symbol
        self.method = method
        self.path = path


class APIError(BinanceError):
    """Binance answered with an error code not covered by a more specific class."""

    default_code = "api_error"

    def is_retryable(self) -> bool:
        return self.binance_code in (-1001, -1008)


class RateLimitError(APIError):
    """Too much weight, too many orders or connections; wait ``retry_after`` seconds."""

    default_code = "rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after: Optional[float] = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        if retry_after is not None:
            self.details["retry_after"] = retry_after

    def is_retryable(self) -> bool:
        return True


class IPBannedError(RateLimitError):
    """HTTP 418: the IP is banned (2 minutes up to 3 days) for ignoring 429s."""

    default_code = "ip_banned"


class AuthenticationError(APIError):
    """The key, signature, IP whitelist or permission was rejected."""

    default_code = "authentication"

    def is_retryable(self) -> bool:
        return False


class TimestampError(APIError):
    """-1021: the request's timestamp was outside recvWindow; resync and re-sign."""

    default_code = "timestamp"

    def is_retryable(self) -> bool:
        return True


class NotFoundError(APIError):
    """The order (or symbol) does not exist."""

    default_code = "not_found"

    def is_retryable(self) -> bool:
        return False


class OrderRejectedError(APIError):
    """The new order was rejected (insufficient balance, filter failure, duplicate id ...)."""

    default_code = "order_rejected"

    def is_retryable(self) -> bool:
        return False


# --------------------------------------------------------------------------- finer classes (errors.md)


class OrderArchivedError(NotFoundError):
    """-2026: the order was canceled or expired with nothing executed over 90 days ago and is archived."""

    default_code = "order_archived"


class InsufficientBalanceError(OrderRejectedError):
    """"Account has insufficient balance for requested action." (-2010 and friends)."""

    default_code = "insufficient_balance"


class FilterFailureError(OrderRejectedError):
    """"Filter failure: <FILTER>" (-1013): the order breaks a symbol or exchange filter.

    ``filter`` (also ``details["filter"]``) is the filter's name as Binance sends it,
    e.g. ``"PRICE_FILTER"``, ``"LOT_SIZE"``, ``"NOTIONAL"``, ``"MAX_NUM_ORDERS"``.
    """

    default_code = "filter_failure"

    def __init__(self, message: str, *, filter: Optional[str] = None, **kw: Any) -> None:  # noqa: A002
        super().__init__(message, **kw)
        self.filter = filter
        if filter is not None:
            self.details["filter"] = filter


class WouldTriggerImmediatelyError(OrderRejectedError):
    """"Order would trigger immediately.": the stop price is already crossed by the last price."""

    default_code = "would_trigger_immediately"


class WouldMatchImmediatelyError(OrderRejectedError):
    """"Order would immediately match and take.": a ``LIMIT_MAKER`` (post-only) order would take."""

    default_code = "would_match_immediately"


class DuplicateOrderError(OrderRejectedError):
    """"Duplicate order sent.": the client order id is already in use."""

    default_code = "duplicate_order"


class MarketClosedError(OrderRejectedError):
    """"Market is closed.": the symbol is not trading now."""

    default_code = "market_closed"


class UnsupportedOrderError(OrderRejectedError):
    """The symbol does not allow this kind of order (market, iceberg, stop, OCO, OPO, pegged,
    trailing, quote-quantity, cancel-replace ...) or the combination of type, time in force,
    stop price and iceberg quantity (-1014, "Unsupported order combination")."""

    default_code = "unsupported_order"


class InvalidOrderError(OrderRejectedError):
    """The matching engine found the order's own numbers inconsistent ("Price * QTY is zero or
    less.", "IcebergQty exceeds QTY.", OCO price relationship)."""

    default_code = "invalid_order"


class TradingDisabledError(OrderRejectedError):
    """Trading is not allowed here: the account is disabled (``.code`` ``"account_disabled"``), the
    symbol is not permitted for the account (``"symbol_not_permitted"``) or the server does not
    allow trading over this API (``"api_trading_disabled"``).  Not an :class:`AuthenticationError`:
    the key was accepted.  A human has to act."""

    default_code = "trading_disabled"


class InsufficientLiquidityError(OrderRejectedError):
    """The order book is too thin for the order (-1112 "No orders on book", "Order book liquidity
    is less than ..." for quote-quantity market orders, pegged orders with nothing to peg to)."""

    default_code = "insufficient_liquidity"


class AmendRejectedError(OrderRejectedError):
    """-2038: an order amend (keep priority) was rejected; ``.code`` ``"amend_not_supported"``,
    ``"no_change"``, ``"not_found"`` ... says why."""

    default_code = "amend_rejected"


class CancelRejectedError(APIError):
    """-2011 (other than "Unknown order sent.", which is :class:`NotFoundError`): the cancel was
    refused; ``.code`` ``"cancel_restricted"`` (``cancelRestrictions`` did not match the order's
    status), ``"invalid_cancel"`` (neither order id sent), or ``"cancel_rejected"``."""

    default_code = "cancel_rejected"

    def is_retryable(self) -> bool:
        return False


class CancelReplaceError(APIError):
    """-2021 (HTTP 409, partially failed) or -2022 (400, both failed) of a cancel-replace.

    ``data`` is Binance's ``data`` block with prices and quantities as ``Decimal``;
    ``cancel_response`` and ``new_order_response`` are its two halves (an order dict, an
    ``{"code", "msg"}`` error dict, or ``None``); ``new_order_placed`` is True when the new
    order exists (it must then be tracked), ``cancel_succeeded`` when the old one was canceled.
    ``cancel_error`` / ``new_order_error`` map an error half to its :class:`BinanceError`.
    """

    default_code = "cancel_replace_failed"

    def __init__(self, message: str, *, data: Optional[Mapping[str, Any]] = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.data: Optional[Dict[str, Any]] = dict(data) if isinstance(data, Mapping) else None

    def _half(self, key: str) -> Optional[Dict[str, Any]]:
        value = self.data.get(key) if self.data is not None else None
        return value if isinstance(value, dict) else None

    @property
    def cancel_response(self) -> Optional[Dict[str, Any]]:
        """The ``cancelResponse`` block: the canceled order, or the cancel's error object."""
        return self._half("cancelResponse")

    @property
    def new_order_response(self) -> Optional[Dict[str, Any]]:
        """The ``newOrderResponse`` block: the new order, its error object, or ``None`` (not attempted)."""
        return self._half("newOrderResponse")

    @property
    def new_order_placed(self) -> bool:
        """True when the new-order half succeeded (``newOrderResult`` is ``SUCCESS``)."""
        return self.data is not None and self.data.get("newOrderResult") == "SUCCESS"

    @property
    def cancel_succeeded(self) -> bool:
        """True when the cancel half succeeded (``cancelResult`` is ``SUCCESS``)."""
        return self.data is not None and self.data.get("cancelResult") == "SUCCESS"

    @property
    def cancel_error(self) -> Optional[BinanceError]:
        """The cancel half's error (e.g. :class:`NotFoundError`), or ``None`` when it succeeded."""
        return _half_error(self, self.cancel_response, "cancel")

    @property
    def new_order_error(self) -> Optional[BinanceError]:
        """The new-order half's error (e.g. :class:`WouldMatchImmediatelyError`), or ``None``."""
        return _half_error(self, self.new_order_response, "new order")

    def is_retryable(self) -> bool:
        return False

    def __str__(self) -> str:
        text = super().__str__()
        if self.data is None:
            return text
        parts = []
        for label, result, half in (("cancel", "cancelResult", self.cancel_response),
                                    ("new order", "newOrderResult", self.new_order_response)):
            part = f"{label} {self.data.get(result)}"
            if half is not None and isinstance(half.get("msg"), str):
                part += f" ({half['msg']})"
            parts.append(part)
        return f"{text}: " + ", ".join(parts)


def _half_error(parent: CancelReplaceError, half: Optional[Dict[str, Any]], label: str) -> Optional[BinanceError]:
    if half is None:
        return None
    code = half.get("code")
    msg = half.get("msg")
    if not isinstance(code, int) or isinstance(code, bool) or not isinstance(msg, str):
        return None
    cls, slug, extra = _classify(code, msg)
    return _build(cls, msg, binance_code=code, http_status=None, retry_after=None, exchange=parent.exchange,
                  request_id=parent.request_id, details={"cancel_replace_half": label}, debug=False,
                  code=slug, extra=extra)


class ParameterError(APIError):
    """Binance refused the request's parameters (the 11xx "request issues": illegal characters,
    missing, unknown, empty or malformed parameters, bad combinations, bad precision ...).

    Unlike :class:`ValidationError` (checked before sending), this came back from the server:
    the request must be fixed, re-sending it as it is cannot help.  ``details["binance_name"]``
    names the exact rule (``"ILLEGAL_CHARS"``, ``"MANDATORY_PARAM_EMPTY_OR_MALFORMED"`` ...).
    """

    default_code = "bad_parameter"

    def is_retryable(self) -> bool:
        return False


class UnsupportedOperationError(APIError):
    """-1020 "This operation is not supported.", and SBE requests the server cannot serve
    (-1153, -1155, -1161: ``.code`` ``"sbe_unsupported"``)."""

    default_code = "unsupported_operation"

    def is_retryable(self) -> bool:
        return False


class ServiceUnavailableError(APIError):
    """Binance did not process the request and says to try again later: -1001 DISCONNECTED
    (``.code`` ``"service_unavailable"``), -1008 SERVER_BUSY (``"server_busy"``), -1016
    SERVICE_SHUTTING_DOWN (``"service_shutting_down"``: reconnect, this server is going away).
    Retryable, with backoff."""

    default_code = "service_unavailable"
    retryable = True

    def is_retryable(self) -> bool:
        return True


class SessionError(APIError):
    """A FIX session rule was broken (comp id in use, logged out, sequence numbers, logon
    order, drop-copy vs order-entry session kinds)."""

    default_code = "session_error"

    def is_retryable(self) -> bool:
        return False


class SubscriptionError(APIError):
    """A subscription request was refused: ``.code`` ``"subscription_active"`` (-2035),
    ``"subscription_inactive"`` (-2036), ``"too_many_subscriptions"`` (-2042, -1191),
    ``"subscription_id_invalid"`` (-1190)."""

    default_code = "subscription_error"

    def is_retryable(self) -> bool:
        return False


class WAFError(APIError):
    """HTTP 403: a Binance WAF (Web Application Firewall) rule blocked the request: a rate
    limit violation or a security rule (e.g. SQL keywords in parameters).  The body is often
    an HTML page (``details["raw"]``, truncated).  Not retried automatically: slow down and
    check the request's content.  ``retry_after`` is the ``Retry-After`` header, if sent."""

    default_code = "waf_blocked"

    def __init__(self, message: str, *, retry_after: Optional[float] = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        if retry_after is not None:
            self.details["retry_after"] = retry_after

    def is_retryable(self) -> bool:
        return False

    def __str__(self) -> str:
        text = super().__str__()
        return text if "WAF" in text else f"blocked by Binance's WAF (HTTP 403): {text}"


# --------------------------------------------------------------------------- the code tables, resolved

_CLASSES: Dict[str, Type[BinanceError]] = {
    cls.__name__: cls
    for cls in (
        APIError, UnknownStatusError, RateLimitError, AuthenticationError, TimestampError, NotFoundError,
        OrderRejectedError, OrderArchivedError, InsufficientBalanceError, FilterFailureError,
        WouldTriggerImmediatelyError, WouldMatchImmediatelyError, DuplicateOrderError, MarketClosedError,
        UnsupportedOrderError, InvalidOrderError, TradingDisabledError, InsufficientLiquidityError,
        AmendRejectedError, CancelRejectedError, CancelReplaceError, ParameterError,
        UnsupportedOperationError, ServiceUnavailableError, SessionError, SubscriptionError,
    )
}

# Binance code -> (class, normalized code or None, Binance's symbolic name). KeyError here = typo in the table.
_CODE_TABLE: Dict[int, Tuple[Type[BinanceError], Optional[str], str]] = {
    spec.code: (_CLASSES[spec.kind], spec.slug, spec.name) for spec in _codes.CODES
}
_OVERLOADS: Dict[int, Tuple[Tuple[Type[BinanceError], ...], Type[BinanceError], Optional[str]]] = {
    code: (tuple(_CLASSES[name] for name in row.allowed), _CLASSES[row.fallback], row.slug)
    for code, row in _codes.OVERLOADED.items()
}
for _row in _codes.MESSAGES:
    _CLASSES[_row.kind]  # noqa: B018 - fail at import on a typo
del _row
# Futures (USD-M, COIN-M): the spot rows overridden by the futures ones; a code redefined by futures
# (-2021, -2022, -2026 ...) loses its spot message overloads.
_FUTURES_CODE_TABLE: Dict[int, Tuple[Type[BinanceError], Optional[str], str]] = {
    code: (_CLASSES[spec.kind], spec.slug, spec.name) for code, spec in _codes.FUTURES_BY_CODE.items()
}
_FUTURES_OVERLOADS = {code: row for code, row in _OVERLOADS.items()
                      if code not in {spec.code for spec in _codes.FUTURES_CODES}}


def _classify(binance_code: Optional[int], message: str, product: str = "spot"
              ) -> Tuple[Type[BinanceError], Optional[str], Dict[str, Any]]:
    """(class, normalized code or None for the class default, extra details) for a Binance code + message;
    ``product`` (``"spot"``, ``"usdm"``, ``"coinm"``) picks the code table."""
    if binance_code is None:
        return APIError, None, {}
    futures = product not in ("spot", "")
    entry = (_FUTURES_CODE_TABLE if futures else _CODE_TABLE).get(binance_code)
    if entry is None:
        return APIError, None, {}
    cls, slug, name = entry
    extra: Dict[str, Any] = {"binance_name": name}
    if binance_code == -1003 and "banned until" in message:
        return IPBannedError, None, extra
    if futures and binance_code in _codes.FUTURES_FILTERS:
        extra["filter"] = _codes.FUTURES_FILTERS[binance_code]
    overload = (_FUTURES_OVERLOADS if futures else _OVERLOADS).get(binance_code)
    if overload is None:
        return cls, slug, extra
    allowed, fallback, fallback_slug = overload
    found: Optional[Type[BinanceError]] = None
    found_slug: Optional[str] = None
    filt = _codes.filter_name(message)
    if filt is not None:
        found, found_slug = FilterFailureError, None
        extra["filter"] = filt
    else:
        row = _codes.match_message(message)
        if row is not None:
            found, found_slug = _CLASSES[row.kind], row.slug
    if found is None:
        return fallback, fallback_slug, extra
    if found is not OrderRejectedError and issubclass(found, allowed):
        return found, found_slug, extra
    return fallback, found_slug or found.default_code, extra


def error_for_code(binance_code: Optional[int], message: str = "", product: str = "spot") -> Type[BinanceError]:
    """The error class for a Binance code (and message, for the codes whose meaning depends on it);
    ``product`` ``"usdm"``/``"coinm"`` reads the futures table (-2021, -2022, -2026 differ from spot)."""
    return _classify(binance_code, message, product)[0]


def _header(headers: Optional[Mapping[str, str]], name: str) -> Optional[str]:
    if not headers:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    lname = name.lower()
    for key, val in headers.items():
        if key.lower() == lname:
            return val
    return None


def _epoch_ms(value: float) -> float:
    # An epoch instant in µs (time unit MICROSECOND) is > 1e14; in ms it stays below until year 5138.
    return value / 1000.0 if value >= 1e14 else value


def parse_retry_after(
    headers: Optional[Mapping[str, str]] = None,
    message: Optional[str] = None,
    retry_after_ms: Optional[Union[int, float]] = None,
    *,
    now_ms: Optional[int] = None,
) -> Optional[float]:
    """Seconds to wait, from (in order) a ``Retry-After`` header (seconds), a
    WebSocket API ``retryAfter`` epoch-ms value, or "banned until <ms>" in a -1003 message.

    Either instant may be in epoch microseconds (opt-in time unit ``MICROSECOND``): told
    apart by magnitude (> 1e14), as ``_core.timing.epoch_ms`` does."""
    raw = _header(headers, "Retry-After")
    if raw is not None:
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
    now = _now_ms() if now_ms is None else now_ms
    if retry_after_ms is not None:
        try:
            return max(0.0, (_epoch_ms(float(retry_after_ms)) - now) / 1000.0)
        except (TypeError, ValueError):
            pass
    if message:
        match = _BANNED_UNTIL.search(message)
        if match:
            return max(0.0, (_epoch_ms(int(match.group(1))) - now) / 1000.0)
    return None


def _truncate(text: str) -> str:
    return text if len(text) <= _RAW_LIMIT else text[:_RAW_LIMIT] + "...(truncated)"


def _parse_body(body: Union[bytes, str, Mapping[str, Any], None]) -> Tuple[Optional[Mapping[str, Any]], str]:
    if body is None:
        return None, ""
    if isinstance(body, Mapping):
        return body, ""
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else str(body)
    try:
        parsed = simplejson.loads(text)
    except ValueError:
        return None, text
    if isinstance(parsed, Mapping):
        return parsed, text
    return None, text


def _build(
    cls: Type[BinanceError],
    message: str,
    *,
    binance_code: Optional[int],
    http_status: Optional[int],
    retry_after: Optional[float],
    exchange: Optional[str],
    request_id: Optional[str],
    details: Optional[Dict[str, Any]],
    debug: bool,
    code: Optional[str] = None,
    extra: Optional[Dict[str, Any]] = None,
    data: Any = None,
) -> BinanceError:
    if extra:
        details = {**extra, **(details or {})}
    kw: Dict[str, Any] = {
        "code": code,
        "binance_code": binance_code,
        "http_status": http_status,
        "exchange": exchange,
        "request_id": request_id,
        "details": details,
        "debug": debug,
    }
    if issubclass(cls, (RateLimitError, WAFError)):
        return cls(message, retry_after=retry_after, **kw)
    if issubclass(cls, FilterFailureError):
        return cls(message, filter=(extra or {}).get("filter"), **kw)
    if issubclass(cls, CancelReplaceError):
        return cls(message, data=_decimalized(data), **kw)
    if issubclass(cls, ValidationError):  # pragma: no cover - never mapped from a response
        return cls("response", None, message)
    return cls(message, **kw)


def _decimalized(data: Any) -> Optional[Dict[str, Any]]:
    """A deep copy of a cancel-replace ``data`` block with prices and quantities as Decimal."""
    if not isinstance(data, Mapping):
        return None
    result: Dict[str, Any] = _decimalize(copy.deepcopy(dict(data)))
    return result


def _identity(obj: Any) -> Any:
    return obj


# ``_core.params.decimalize``, handed over by ``_core/params.py`` when it loads (it imports this
# module, so importing it from here would be a cycle; the package __init__ always loads it).
_decimalize: Callable[[Any], Any] = _identity


def _set_decimalizer(fn: Callable[[Any], Any]) -> None:
    global _decimalize
    _decimalize = fn


def _from_code(binance_code: int, message: str, data: Any, common: Dict[str, Any], product: str = "spot"
               ) -> BinanceError:
    cls, slug, extra = _classify(binance_code, message, product)
    return _build(cls, message, code=slug, extra=extra, data=data, **common)


_WAF_MESSAGE = ("HTTP 403: request blocked by Binance's WAF (Web Application Firewall): "
                "a rate limit violation or a security rule (avoid SQL keywords in parameters)")


def error_from_response(
    http_status: int,
    headers: Optional[Mapping[str, str]],
    body: Union[bytes, str, Mapping[str, Any], None],
    *,
    exchange: Optional[str] = None,
    request_id: Optional[str] = None,
    debug: bool = False,
    now_ms: Optional[int] = None,
    product: str = "spot",
) -> BinanceError:
    """Turn a failed (or unparseable) HTTP response into the right :class:`BinanceError`.

    The body is parsed once.  418 -> :class:`IPBannedError`, 429 ->
    :class:`RateLimitError`, 5xx -> :class:`UnknownStatusError`, 403 ->
    :class:`WAFError` (whatever the body, often an HTML page); otherwise the
    Binance code (and, for the overloaded codes, the message) picks the class
    from ``_core/error_codes.py``, then the HTTP status.  Another body that is not
    a Binance error object gives a plain :class:`BinanceError` (code
    ``"malformed_response"``) carrying the raw text, truncated.  ``product`` (``"usdm"``,
    ``"coinm"``) reads the futures code table, where some codes mean something else.
    """
    data, raw = _parse_body(body)
    binance_code: Optional[int] = None
    message = ""
    if data is not None:
        code_value = data.get("code")
        if isinstance(code_value, int) and not isinstance(code_value, bool):
            binance_code = code_value
        msg_value = data.get("msg")
        if isinstance(msg_value, str):
            message = msg_value
    details: Dict[str, Any] = {}
    if data is None and raw:
        details["raw"] = _truncate(raw)
    retry_after = parse_retry_after(headers, message, now_ms=now_ms)
    common: Dict[str, Any] = {
        "binance_code": binance_code,
        "http_status": http_status,
        "retry_after": retry_after,
        "exchange": exchange,
        "request_id": request_id,
        "details": details,
        "debug": debug,
    }
    if http_status == 403:
        return _build(WAFError, message or _WAF_MESSAGE, **common)
    if not message:
        message = f"HTTP {http_status}" + (f": {_truncate(raw)}" if raw else "")
    if http_status == 418:
        return _build(IPBannedError, message, **common)
    if http_status == 429:
        return _build(RateLimitError, message, **common)
    if http_status >= 500:
        return _build(UnknownStatusError, message, **common)
    if binance_code is not None:
        return _from_code(binance_code, message, data.get("data") if data is not None else None, common, product)
    if http_status == 401:
        return _build(AuthenticationError, message, **common)
    if data is None:
        return BinanceError(
            f"malformed response (HTTP {http_status}): {_truncate(raw)}",
            code="malformed_response",
            http_status=http_status,
            exchange=exchange,
            request_id=request_id,
            details=details,
            debug=debug,
        )
    return _build(APIError, message, **common)


def error_from_ws_api(
    status: Optional[int],
    error: Mapping[str, Any],
    *,
    exchange: Optional[str] = None,
    request_id: Optional[str] = None,
    debug: bool = False,
    now_ms: Optional[int] = None,
    product: str = "spot",
) -> BinanceError:
    """Map a WebSocket API error envelope (``status`` + ``error`` object, section 10).

    ``error.data.retryAfter`` is an epoch-ms timestamp; it becomes
    ``retry_after`` in seconds from now.
    """
    code_value = error.get("code")
    binance_code = code_value if isinstance(code_value, int) and not isinstance(code_value, bool) else None
    msg_value = error.get("msg")
    message = msg_value if isinstance(msg_value, str) else f"WebSocket API error (status {status})"
    data = error.get("data")
    retry_after_ms = data.get("retryAfter") if isinstance(data, Mapping) else None
    retry_after = parse_retry_after(None, message, retry_after_ms, now_ms=now_ms)
    common: Dict[str, Any] = {
        "binance_code": binance_code,
        "http_status": status,
        "retry_after": retry_after,
        "exchange": exchange,
        "request_id": request_id,
        "details": None,
        "debug": debug,
    }
    if status == 418:
        return _build(IPBannedError, message, **common)
    if status == 429:
        return _build(RateLimitError, message, **common)
    if status is not None and status >= 500:
        return _build(UnknownStatusError, message, **common)
    if status == 403:
        return _build(WAFError, message if isinstance(msg_value, str) else _WAF_MESSAGE, **common)
    if binance_code is not None:
        return _from_code(binance_code, message, data, common, product)
    if status == 401:
        return _build(AuthenticationError, message, **common)
    return _build(APIError, message, **common)
