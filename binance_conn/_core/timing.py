"""Time units and ``recvWindow`` (sans-I/O): what the wire says about time.

**Time unit** (rest-api.md / web-socket-streams.md / web-socket-api.md "General API
Information", CHANGELOG 2024-12-17).  Binance sends every time field in
milliseconds unless the client opts in to microseconds: the REST header
``X-MBX-TIME-UNIT: MICROSECOND``, the stream URL parameter ``timeUnit=MICROSECOND``
(``/stream?streams=btcusdt@trade&timeUnit=MICROSECOND``) and the WebSocket API URL
parameter of the same name (``/ws-api/v3?timeUnit=MICROSECOND``).  Request timestamps
(``timestamp``, ``startTime``, ``endTime``) may be given in either unit whatever
the choice; this library always signs with a millisecond ``timestamp``.

Internally every clock computation (server offset, liveness, rate-limit windows)
is in milliseconds: :func:`to_ms` converts a wire value of the configured unit.
Events and REST answers keep the wire values.

**recvWindow** (rest-api.md "Timing security", CHANGELOG 2025-08-12): milliseconds,
at most 60000, with up to three decimals (microsecond precision, ``6000.346``).
:func:`recv_window` validates a configured or per-call value (int, Decimal or str;
never a float) and returns it canonical: an ``int`` when whole, else a ``Decimal``
without trailing zeros, whose text (:func:`format_recv_window`) is what is sent and
signed.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Dict, Union

from ..errors import ValidationError

__all__ = [
    "MILLISECOND",
    "MICROSECOND",
    "TIME_UNITS",
    "TIME_UNIT_HEADER",
    "TIME_UNIT_PARAM",
    "time_unit",
    "per_ms",
    "to_ms",
    "epoch_ms",
    "with_time_unit",
    "time_unit_headers",
    "RecvWindow",
    "recv_window",
    "format_recv_window",
    "RECV_WINDOW_MAX",
]

MILLISECOND = "MILLISECOND"
MICROSECOND = "MICROSECOND"
TIME_UNITS = (MILLISECOND, MICROSECOND)
TIME_UNIT_HEADER = "X-MBX-TIME-UNIT"
TIME_UNIT_PARAM = "timeUnit"

RECV_WINDOW_MAX = 60000
RecvWindow = Union[int, Decimal]

# Epoch instants in microseconds are > 1e15 since 2001, in milliseconds < 1e14 until year 5138.
_MICROS_ABOVE = 10**14
_MILLI = Decimal("0.001")


def time_unit(fieldname: str, value: Any) -> str:
    """The canonical (upper-case) time unit, or ValidationError naming ``fieldname``.

    Accepts what Binance accepts: ``MILLISECOND``/``millisecond``/``MICROSECOND``/``microsecond``
    (any case, surrounding spaces ignored).
    """
    if isinstance(value, str):
        unit = value.strip().upper()
        if unit in TIME_UNITS:
            return unit
    raise ValidationError(fieldname, value, "must be MILLISECOND (default) or MICROSECOND")


def per_ms(unit: str) -> int:
    """Wire units per millisecond: 1 for MILLISECOND, 1000 for MICROSECOND."""
    return 1000 if unit == MICROSECOND else 1


def to_ms(value: Any, unit: str) -> float:
    """A wire time value of ``unit`` in (possibly fractional) milliseconds."""
    return float(value) / 1000.0 if unit == MICROSECOND else float(value)


def epoch_ms(value: Any) -> float:
    """An epoch instant of unknown unit (ms or µs, e.g. a ``retryAfter``) in milliseconds,
    told apart by magnitude (an epoch in µs is > 1e14; one in ms stays below until year 5138)."""
    number = float(value)
    return number / 1000.0 if abs(number) >= _MICROS_ABOVE else number


def with_time_unit(url: str, unit: str) -> str:
    """``url`` with ``timeUnit=<unit>`` appended for MICROSECOND; unchanged for the default unit.

    ``wss://h/stream?streams=a@trade`` -> ``wss://h/stream?streams=a@trade&timeUnit=MICROSECOND``;
    ``wss://h/ws-api/v3`` -> ``wss://h/ws-api/v3?timeUnit=MICROSECOND``.
    """
    if unit != MICROSECOND:
        return url
    return f"{url}{'&' if '?' in url else '?'}{TIME_UNIT_PARAM}={unit}"


def recv_window(fieldname: str, value: Any) -> RecvWindow:
    """A validated, canonical ``recvWindow``: milliseconds in (0, 60000], at most 3 decimals.

    Args:
        fieldname: named by the ValidationError (``"rest.recv_window"``, ``"recvWindow"``).
        value: ``int``, ``Decimal`` or ``str`` (``"5000.123"``); a ``float`` or ``bool`` is refused
            (binary rounding would change the text that is signed).

    Returns:
        an ``int`` when the value is whole (``Decimal("5000.000")`` -> ``5000``), else a ``Decimal``
        without trailing zeros (``"5000.500"`` -> ``Decimal("5000.5")``).
    """
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise ValidationError(fieldname, value,
                              "must be milliseconds (> 0, <= 60000, up to 3 decimals) as int, Decimal or str, not "
                              f"{type(value).__name__}")
    if isinstance(value, int):
        number = Decimal(value)
    else:
        try:
            number = Decimal(value.strip() if isinstance(value, str) else value)
        except (InvalidOperation, ValueError):
            raise ValidationError(fieldname, value, "must be a decimal number of milliseconds") from None
    if not number.is_finite():
        raise ValidationError(fieldname, value, "must be a finite number of milliseconds")
    if number <= 0 or number > RECV_WINDOW_MAX:
        raise ValidationError(fieldname, value, f"must be > 0 and <= {RECV_WINDOW_MAX} ms")
    if number != number.quantize(_MILLI):
        raise ValidationError(fieldname, value, "at most 3 decimal places (microsecond precision)")
    if number == number.to_integral_value():
        return int(number)
    return number.normalize()


def format_recv_window(value: RecvWindow) -> str:
    """The exact wire text of a canonical ``recvWindow``: ``5000``, ``5000.5``, ``6000.346``."""
    if isinstance(value, int):
        return str(value)
    return format(value, "f")


def time_unit_headers(unit: str) -> Dict[str, str]:
    """The REST headers selecting ``unit``: ``{"X-MBX-TIME-UNIT": "MICROSECOND"}``, or none for
    the default (a request without the header gets milliseconds)."""
    return {TIME_UNIT_HEADER: MICROSECOND} if unit == MICROSECOND else {}
