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
            ├── RateLimitError            429, -1003, -1015, -1034; .retry_after (seconds)
            │   └── IPBannedError         418
            ├── AuthenticationError       -1002, -1022, -2014, -2015, HTTP 401
            ├── TimestampError            -1021
            ├── NotFoundError             -2013, -2011 "Unknown order", -2026, -1121 unknown symbol
            └── OrderRejectedError        -2010, -1013 filter failures, other new-order rejections

``BinanceError.code`` is this library's stable normalized string (``"rate_limited"``,
``"ip_banned"``, ``"unknown_status"`` ...); ``binance_code`` is Binance's own integer
code or ``None``.  ``details`` always has ``exchange``, ``request_id`` and
``timestamp`` (int ms), plus ``http_status``/``binance_code`` where known.

For an HTTP response the status decides first for 418, 429 and 5xx (reference
section 4.3); otherwise the Binance code decides (section 5), then the status.
"""

from __future__ import annotations

import builtins
import re
import time
import traceback
from typing import Any, Dict, Mapping, Optional, Tuple, Type, Union

import simplejson

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


# Binance code -> class (reference section 5). Codes not listed give APIError.
_CODE_CLASSES: Dict[int, Type[BinanceError]] = {
    -1000: UnknownStatusError,
    -1006: UnknownStatusError,
    -1007: UnknownStatusError,
    -1002: AuthenticationError,
    -1022: AuthenticationError,
    -2014: AuthenticationError,
    -2015: AuthenticationError,
    -1003: RateLimitError,
    -1015: RateLimitError,
    -1034: RateLimitError,
    -1021: TimestampError,
    -2013: NotFoundError,
    -2026: NotFoundError,
    -1121: NotFoundError,
    -2010: OrderRejectedError,
    -1014: OrderRejectedError,
    -2038: OrderRejectedError,
}


def error_for_code(binance_code: Optional[int], message: str = "") -> Type[BinanceError]:
    """The error class for a Binance code (and message, for the codes whose meaning depends on it)."""
    if binance_code is None:
        return APIError
    if binance_code == -2011:
        return NotFoundError if "unknown order" in message.lower() else APIError
    if binance_code == -1013:
        return OrderRejectedError if message.startswith("Filter failure") else APIError
    if binance_code == -1003 and "banned until" in message:
        return IPBannedError
    return _CODE_CLASSES.get(binance_code, APIError)


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
) -> BinanceError:
    kw: Dict[str, Any] = {
        "binance_code": binance_code,
        "http_status": http_status,
        "exchange": exchange,
        "request_id": request_id,
        "details": details,
        "debug": debug,
    }
    if issubclass(cls, RateLimitError):
        return cls(message, retry_after=retry_after, **kw)
    if issubclass(cls, ValidationError):  # pragma: no cover - never mapped from a response
        return cls("response", None, message)
    return cls(message, **kw)


def error_from_response(
    http_status: int,
    headers: Optional[Mapping[str, str]],
    body: Union[bytes, str, Mapping[str, Any], None],
    *,
    exchange: Optional[str] = None,
    request_id: Optional[str] = None,
    debug: bool = False,
    now_ms: Optional[int] = None,
) -> BinanceError:
    """Turn a failed (or unparseable) HTTP response into the right :class:`BinanceError`.

    The body is parsed once.  418 -> :class:`IPBannedError`, 429 ->
    :class:`RateLimitError`, 5xx -> :class:`UnknownStatusError`; otherwise the
    Binance code picks the class, then the HTTP status.  A body that is not a
    Binance error object gives a plain :class:`BinanceError` (code
    ``"malformed_response"``) carrying the raw text, truncated.
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
    if not message:
        message = f"HTTP {http_status}" + (f": {_truncate(raw)}" if raw else "")
    if http_status == 418:
        return _build(IPBannedError, message, **common)
    if http_status == 429:
        return _build(RateLimitError, message, **common)
    if http_status >= 500:
        return _build(UnknownStatusError, message, **common)
    if binance_code is not None:
        return _build(error_for_code(binance_code, message), message, **common)
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
    if binance_code is not None:
        return _build(error_for_code(binance_code, message), message, **common)
    if status == 401:
        return _build(AuthenticationError, message, **common)
    return _build(APIError, message, **common)
