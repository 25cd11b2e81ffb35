"""Retry classification: may this failed request be sent again? (sans-I/O)

One pure function, :func:`classify`, in the spirit of urllib3's ``Retry``: it
looks at the request (method, path, which identifying params it has) and the
failure (what went wrong and, for an HTTP answer, status and Binance code) and
answers with a :class:`Decision`.  tenacity in ``rest.py`` only executes it.

Rules (reference sections 4.3 and 5):

* Only **safe** requests are retried: ``GET``, and ``DELETE`` of a *known*
  order (``orderId`` or ``origClientOrderId`` given: cancelling twice cannot
  cancel anything else).  Retried on: a connection that could not be made, a
  read timeout, a dropped connection, any 5xx, ``-1001``, ``-1008`` and ``-1016`` (service shutting down).
* An order placement (``POST /api/v3/order`` and friends) is **never** re-sent:
  when nothing went out (refused connection, connect timeout) the failure is a
  plain connection error; when it may have executed (read timeout, dropped
  connection after sending, 5xx, ``-1000``/``-1006``/``-1007``, unparseable
  success body) the answer is :attr:`Decision.UNKNOWN`.
* ``-1021`` asks for :attr:`Decision.RESYNC` (re-measure the clock, re-sign,
  send once more): the server refused the request before processing it, so
  re-sending is safe even for an order.
* 429/418 are never retried here: the ban gate makes later calls fail fast.
"""

from __future__ import annotations

from enum import Enum
from typing import Container, FrozenSet, Optional

__all__ = [
    "FailureKind",
    "Decision",
    "RETRYABLE_CODES",
    "UNKNOWN_CODES",
    "is_safe",
    "is_order_placement",
    "outcome_unknown",
    "classify",
]


class FailureKind(str, Enum):
    """What went wrong with one attempt."""

    CONNECT = "connect"
    """No connection was made (refused, DNS, connect timeout, TLS/proxy): nothing was sent."""
    READ_TIMEOUT = "read_timeout"
    """Sent, but no answer in time: it may have executed."""
    CONNECTION_LOST = "connection_lost"
    """The connection dropped after the request went out: it may have executed."""
    HTTP = "http"
    """The server answered with an error status (see ``http_status`` / ``binance_code``)."""
    MALFORMED = "malformed"
    """A success status with a body that is not JSON: it probably executed."""


class Decision(str, Enum):
    """What to do after a failed attempt."""

    RETRY = "retry"
    """Send the same request again after a backoff delay."""
    RESYNC = "resync"
    """Re-measure the server clock, re-sign with a new timestamp, send once more."""
    UNKNOWN = "unknown"
    """Do not re-send: the outcome is unknown (raise ``UnknownStatusError``)."""
    FAIL = "fail"
    """Raise the error as it is."""


RETRYABLE_CODES: FrozenSet[int] = frozenset({-1001, -1008, -1016})
"""Binance codes that mean "not processed, try again" (DISCONNECTED, SERVER_BUSY)."""

UNKNOWN_CODES: FrozenSet[int] = frozenset({-1000, -1006, -1007})
"""Binance codes after which execution status is unknown (UNKNOWN, UNEXPECTED_RESP, TIMEOUT)."""

_PLACEMENT_PATHS: FrozenSet[str] = frozenset(
    {
        "/api/v3/order",
        "/api/v3/order/oco",
        "/api/v3/order/cancelReplace",
        "/api/v3/order/amend/keepPriority",
        "/api/v3/sor/order",
    }
)


def is_order_placement(method: str, path: str) -> bool:
    """True for requests that create or change an order (never re-sent blindly)."""
    m = method.upper()
    if m not in ("POST", "PUT"):
        return False
    return path in _PLACEMENT_PATHS or path.startswith("/api/v3/orderList/")


def is_safe(method: str, path: str, params: Optional[Container[str]] = None) -> bool:
    """True when sending the request twice has the same effect as once."""
    m = method.upper()
    if m in ("GET", "HEAD"):
        return True
    if m == "DELETE" and params is not None:
        if path == "/api/v3/order":
            return "orderId" in params or "origClientOrderId" in params
        if path == "/api/v3/orderList":
            return "orderListId" in params or "listClientOrderId" in params
    return False


def outcome_unknown(kind: FailureKind, http_status: Optional[int] = None, binance_code: Optional[int] = None) -> bool:
    """True when the failed attempt may nevertheless have been executed."""
    if kind in (FailureKind.READ_TIMEOUT, FailureKind.CONNECTION_LOST, FailureKind.MALFORMED):
        return True
    if kind is FailureKind.HTTP:
        if http_status in (418, 429):
            return False
        if http_status is not None and http_status >= 500:
            # A 5xx carrying a "definitely not processed" code is still unknown for
            # spot: the reference says 5XX = execution status UNKNOWN (4.3).
            return True
        return binance_code in UNKNOWN_CODES
    return False


def _retryable(kind: FailureKind, http_status: Optional[int], binance_code: Optional[int]) -> bool:
    if kind is not FailureKind.HTTP:
        return True
    if http_status in (418, 429):
        return False
    if http_status is not None and http_status >= 500:
        return True
    return binance_code in RETRYABLE_CODES or binance_code in UNKNOWN_CODES


def classify(
    method: str,
    path: str,
    params: Optional[Container[str]],
    kind: FailureKind,
    *,
    http_status: Optional[int] = None,
    binance_code: Optional[int] = None,
    resynced: bool = False,
    attempt: int = 1,
    max_attempts: int = 3,
) -> Decision:
    """Decide what follows a failed attempt.

    Args:
        method: HTTP method.
        path: URL path, e.g. ``/api/v3/order``.
        params: the request's parameter names (``in`` is all that is used).
        kind: what went wrong.
        http_status: status of an error answer (``kind == HTTP``).
        binance_code: Binance error code of an error answer.
        resynced: a ``-1021`` resync was already spent on this call.
        attempt: 1-based number of the attempt that failed.
        max_attempts: the retry budget (config ``retry.attempts``).
    """
    if kind is FailureKind.HTTP and binance_code == -1021:
        return Decision.FAIL if resynced else Decision.RESYNC
    safe = is_safe(method, path, params)
    if safe:
        if attempt < max_attempts and _retryable(kind, http_status, binance_code):
            return Decision.RETRY
        return Decision.FAIL
    if outcome_unknown(kind, http_status, binance_code):
        return Decision.UNKNOWN
    return Decision.FAIL
