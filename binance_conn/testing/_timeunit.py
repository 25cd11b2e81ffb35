"""The opt-in microsecond time unit of the fake (rest-api.md, web-socket-streams.md,
web-socket-api.md "General API Information"; CHANGELOG 2024-12-17).

REST: the header ``X-MBX-TIME-UNIT: MICROSECOND`` (or ``microsecond``) turns the time
fields of ``/api/v3/time``, ``exchangeInfo``, ``trades``/``historicalTrades``,
``aggTrades``, ``klines``/``uiKlines``, ``avgPrice``, ``order`` (place, query, cancel),
``openOrders``, ``allOrders``, ``myTrades`` and ``account`` into epoch microseconds.
Streams: ``timeUnit=MICROSECOND`` in the connection URL turns ``E``, ``T`` and the kline's
``t``/``T`` of every event published as a dict.  WebSocket API: ``timeUnit=MICROSECOND``
on ``/ws-api/v3`` turns the ``time`` method's ``serverTime`` and the user-data events' times.  Timestamp parameters
(``startTime``, ``endTime``) are accepted in either unit, as Binance does.

Independent of the library (the fake never imports ``_core``).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, MutableMapping, Optional, Tuple

__all__ = ["wants_micros", "rest_to_micros", "event_to_micros", "user_event_to_micros", "normalize_time_params"]

_MICROS_ABOVE = 10**14


def wants_micros(value: Optional[str]) -> bool:
    """True for the header / URL parameter value ``MICROSECOND`` (any case)."""
    return value is not None and value.strip().upper() == "MICROSECOND"


def _us(value: Any) -> Any:
    return value * 1000 if isinstance(value, int) and not isinstance(value, bool) else value


def _keys(obj: Any, *names: str) -> Any:
    if isinstance(obj, dict):
        return {k: (_us(v) if k in names else v) for k, v in obj.items()}
    return obj


def _rows(rows: Any, key: Callable[[Any], Any]) -> Any:
    return [key(r) for r in rows] if isinstance(rows, list) else key(rows)


def _kline(row: Any) -> Any:
    if isinstance(row, list) and len(row) > 6:
        row = list(row)
        row[0], row[6] = _us(row[0]), _us(row[6])
    return row


def _order(order: Any) -> Any:
    return _keys(order, "time", "updateTime", "workingTime", "transactTime")


_REST: Dict[str, Callable[[Any], Any]] = {
    "/api/v3/exchangeInfo": lambda r: _keys(r, "serverTime"),
    "/api/v3/trades": lambda r: _rows(r, lambda t: _keys(t, "time")),
    "/api/v3/historicalTrades": lambda r: _rows(r, lambda t: _keys(t, "time")),
    "/api/v3/aggTrades": lambda r: _rows(r, lambda t: _keys(t, "T")),
    "/api/v3/klines": lambda r: _rows(r, _kline),
    "/api/v3/uiKlines": lambda r: _rows(r, _kline),
    "/api/v3/avgPrice": lambda r: _keys(r, "closeTime"),
    # orders and account (what the library's reconciliation compares with live events)
    "/api/v3/order": lambda r: _rows(r, _order),
    "/api/v3/openOrders": lambda r: _rows(r, _order),
    "/api/v3/allOrders": lambda r: _rows(r, _order),
    "/api/v3/myTrades": lambda r: _rows(r, lambda t: _keys(t, "time")),
    "/api/v3/account": lambda r: _keys(r, "updateTime"),
}


def rest_to_micros(path: str, result: Any, now_us: Callable[[], int]) -> Any:
    """``result`` of ``path`` with its time fields in microseconds (``serverTime`` read anew at
    µs precision from ``now_us``)."""
    if path == "/api/v3/time":
        return {"serverTime": now_us()}
    convert = _REST.get(path)
    return convert(result) if convert is not None else result


def event_to_micros(payload: Mapping[str, Any]) -> Dict[str, Any]:
    """A stream event with ``E``/``T`` (and a kline's ``t``/``T``) in microseconds."""
    out: Dict[str, Any] = _keys(dict(payload), "E", "T")
    k = out.get("k")
    if isinstance(k, dict):
        out["k"] = _keys(k, "t", "T")
    return out


def user_event_to_micros(event: Mapping[str, Any]) -> Dict[str, Any]:
    """A user-data event (user-data-stream.md) with its times in microseconds: ``E``, ``T``,
    ``O`` (order creation), ``W`` (working time) and an account position's ``u``.  (``t`` is a
    trade id, not a time.)"""
    names = ("E", "T", "O", "W", "u") if event.get("e") == "outboundAccountPosition" else ("E", "T", "O", "W")
    out: Dict[str, Any] = _keys(dict(event), *names)
    return out


def normalize_time_params(params: MutableMapping[str, str], names: Tuple[str, ...] = ("startTime", "endTime")) -> None:
    """``startTime``/``endTime`` given in microseconds -> milliseconds (the engine's unit)."""
    for name in names:
        raw = params.get(name)
        if raw and raw.isdigit() and int(raw) >= _MICROS_ABOVE:
            params[name] = str(int(raw) // 1000)
