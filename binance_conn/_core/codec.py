"""Events <-> JSON bytes, exactly (the hub's wire format in Redis Streams).

Theory of operation.  Every event class of :mod:`binance_conn.events` is a ``__slots__`` class
whose fields are annotated; the annotations are the schema.  For each class one field plan is
built once, on first use: per field an encoder and a decoder picked from its type --

* ``str``/``int``/``bool``: as is (JSON keeps them apart: ``True`` stays a bool);
* ``Decimal``: its ``str()`` (``Decimal(str(d))`` has the same value *and* exponent, so
  ``"1.00"`` comes back as ``Decimal("1.00")``, not ``Decimal("1")``);
* ``Union[SomeEnum, str]``: the value; decoded to the member when there is one, else the plain
  ``str`` (as the parsers do: a value Binance added later stays a ``str``);
* ``Optional[X]``: ``null`` or X's form;  ``Tuple[X, ...]`` and fixed tuples: JSON arrays;
* a ``NamedTuple`` (``ListOrder``, ``IndexComponent``, ``ContractBracket``): an array of its
  fields; a nested event (``Fill``, ``MarginCallPosition``): an object like a top-level one.

An encoded event is one JSON object: ``{"_t": "<class name>", "<field>": value, ...}``.  Names,
not positions: a consumer on another release decodes what it knows (a field it does not know is
ignored, one it misses is None).  Pure functions, no I/O; any thread.

Errors (:mod:`binance_conn.errors`, no events) cross as ``{"_t": "__error__", "type": <class name>,
"message", "code", "binance_code", "details", "attrs"}`` (:func:`dumps_error`): the JSON scalars of
``details`` and of the instance (``retry_after``, ``temporary``, ``field`` ...), never a stack, a raw
response body, a ``ValidationError``'s ``value`` or the ``__cause__``'s text (only its type, in
``details["cause"]``); credentials in URLs and signature / key query parameters are masked.  Decoded:
an instance of the same class (an unknown name: :class:`~binance_conn.BinanceError`) with
``details["origin"] == "hub"``.
"""

from __future__ import annotations

import json
import re
import typing
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Callable, Dict, Optional, Tuple, Type, Union

from .. import errors as errors_mod
from .. import events as events_mod
from ..errors import BinanceError
from ..events import Event

__all__ = ["CodecError", "decode", "dumps", "dumps_error", "encode", "encode_error", "event_classes", "loads"]

Enc = Optional[Callable[[Any], Any]]  # None: the value as is (no call on the hot path)
Dec = Optional[Callable[[Any], Any]]
_Plan = Tuple[Tuple[str, Enc, Dec], ...]

_TAG = "_t"
_set = object.__setattr__
_new = object.__new__


class CodecError(ValueError):
    """Bytes that are no encoded event (unknown type tag, bad JSON, a bad value)."""


def event_classes() -> Dict[str, Type[Event]]:
    """Every concrete event class of :mod:`binance_conn.events`, by name."""
    out: Dict[str, Type[Event]] = {}
    for name in dir(events_mod):
        obj = getattr(events_mod, name)
        if isinstance(obj, type) and issubclass(obj, Event) and obj is not Event:
            out[obj.__name__] = obj
    return out


_CLASSES = event_classes()
_PLANS: Dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls, vars(events_mod))
        slots: Tuple[str, ...] = cls.__slots__  # type: ignore[attr-defined]
        plan = tuple((name,) + _codec(hints[name]) for name in slots)
        _PLANS[cls] = plan
    return plan


def _optional(enc: Enc, dec: Dec) -> Tuple[Enc, Dec]:
    if enc is None and dec is None:
        return None, None
    e = enc or _identity
    d = dec or _identity
    return (lambda v: None if v is None else e(v)), (lambda v: None if v is None else d(v))


def _identity(v: Any) -> Any:
    return v


def _decimal(v: Any) -> Decimal:
    if not isinstance(v, str):
        raise CodecError(f"a Decimal must be encoded as a string, got {type(v).__name__}")
    try:
        return Decimal(v)
    except InvalidOperation:
        raise CodecError(f"bad Decimal {v!r}") from None


def _enum_dec(enum: Type[Enum]) -> Callable[[Any], Any]:
    members = enum._value2member_map_
    return lambda v: members.get(v, v)


def _codec(tp: Any) -> Tuple[Enc, Dec]:
    """The (encoder, decoder) of one annotated type; None means 'as is'."""
    if tp in (str, int, bool, float, type(None)):
        return None, None
    if tp is Decimal:
        return str, _decimal
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union:
        rest = [a for a in args if a is not type(None)]
        enums = [a for a in rest if isinstance(a, type) and issubclass(a, Enum)]
        if enums and all(a is str or a in enums for a in rest) and len(enums) == 1:
            pair: Tuple[Enc, Dec] = (_enum_value, _enum_dec(enums[0]))
            return _optional(*pair) if len(rest) < len(args) else pair
        if len(rest) == 1 and len(args) == 2:
            return _optional(*_codec(rest[0]))
        raise TypeError(f"no codec for {tp!r}")
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item_enc, item_dec = _codec(args[0])
            if item_enc is None and item_dec is None:
                return list, tuple
            e, d = item_enc or _identity, item_dec or _identity
            return (lambda v: [e(x) for x in v]), (lambda v: tuple(d(x) for x in v))
        parts = [_codec(a) for a in args]
        encs = [p[0] or _identity for p in parts]
        decs = [p[1] or _identity for p in parts]
        return (lambda v: [f(x) for f, x in zip(encs, v)]), (lambda v: tuple(f(x) for f, x in zip(decs, v)))
    if isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields"):  # a NamedTuple
        hints = typing.get_type_hints(tp, vars(events_mod))
        parts = [_codec(hints[f]) for f in tp._fields]
        encs = [p[0] or _identity for p in parts]
        decs = [p[1] or _identity for p in parts]
        named: Any = tp
        return (lambda v: [f(x) for f, x in zip(encs, v)]), (lambda v: named(*(f(x) for f, x in zip(decs, v))))
    if isinstance(tp, type) and issubclass(tp, Event):
        return encode, decode
    raise TypeError(f"no codec for {tp!r}")


def _enum_value(v: Any) -> Any:
    return v.value if isinstance(v, Enum) else v


def encode(event: Event) -> Dict[str, Any]:
    """``event`` as a JSON-able dict (``{"_t": class name, field: value ...}``).

    Raises:
        CodecError: ``event`` is no event of :mod:`binance_conn.events`.
    """
    cls = type(event)
    if _CLASSES.get(cls.__name__) is not cls:
        raise CodecError(f"not an event class of binance_conn.events: {cls.__name__}")
    out: Dict[str, Any] = {_TAG: cls.__name__}
    for name, enc, _ in _plan(cls):
        value = getattr(event, name)
        out[name] = value if enc is None or value is None else enc(value)
    return out


def decode(data: Dict[str, Any]) -> Any:
    """The event of a dict made by :func:`encode` (fields it does not know ignored, missing ones None).

    Raises:
        CodecError: no or an unknown type tag, or a bad value.
    """
    if not isinstance(data, dict):
        raise CodecError(f"an encoded event is a JSON object, got {type(data).__name__}")
    cls = _CLASSES.get(data.get(_TAG))  # type: ignore[arg-type]
    if cls is None:
        if data.get(_TAG) == _ERROR_TAG:
            return decode_error(data)
        raise CodecError(f"unknown event type {data.get(_TAG)!r}")
    obj = _new(cls)
    get = data.get
    try:
        for name, _, dec in _plan(cls):
            value = get(name)
            _set(obj, name, value if dec is None or value is None else dec(value))
    except CodecError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise CodecError(f"bad {cls.__name__} field: {exc}") from None
    return obj


def dumps(event: Event) -> bytes:
    """``event`` as compact UTF-8 JSON."""
    return json.dumps(encode(event), separators=(",", ":"), ensure_ascii=False).encode()


def loads(raw: Union[bytes, str]) -> Any:
    """The event of :func:`dumps`'s bytes.

    Raises:
        CodecError: not JSON, or not an encoded event.
    """
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CodecError(f"not JSON: {exc}") from None
    return decode(data)


# ---------------------------------------------------------------------------- errors
_ERROR_TAG = "__error__"
_SCALARS = (str, int, float, bool, type(None))
_NOT_IN_DETAILS = frozenset({"stack", "raw"})
_NOT_IN_ATTRS = frozenset({"value", "data", "message", "code", "binance_code", "details"})
_NONE_ATTRS = ("value", "data")  # attributes of some classes that are not carried: None when decoded
_TEXT_LIMIT = 512
_SECRET = re.compile(r"(?i)(://[^/@\s:]*:)[^/@\s]*@|((?:signature|apikey|api_key|secret|password|token|listenkey)=)"
                     r"[^&\s]+")


def _mask(text: str) -> str:
    text = _SECRET.sub(lambda m: f"{m.group(1)}***@" if m.group(1) else f"{m.group(2)}***", text)
    return text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT] + "..."


def _carried(items: Any, left_out: "frozenset[str]") -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in items:
        if key in left_out or key.startswith("_") or not isinstance(value, _SCALARS):
            continue
        out[key] = _mask(value) if isinstance(value, str) else value
    return out


def encode_error(err: BinanceError) -> Dict[str, Any]:
    """``err`` as a JSON-able dict (module doc): class name, message, code, scalar details and attributes."""
    details = _carried(err.details.items(), _NOT_IN_DETAILS)
    cause = err.__cause__
    if cause is not None:
        details["cause"] = type(cause).__name__
    return {_TAG: _ERROR_TAG, "type": type(err).__name__, "message": _mask(str(err.message)), "code": err.code,
            "binance_code": err.binance_code, "details": details, "attrs": _carried(vars(err).items(), _NOT_IN_ATTRS)}


def dumps_error(err: BinanceError) -> bytes:
    """``err`` as compact UTF-8 JSON (:func:`loads` gives it back as the same class)."""
    return json.dumps(encode_error(err), separators=(",", ":"), ensure_ascii=False).encode()


def decode_error(data: Dict[str, Any]) -> BinanceError:
    """The error of a dict made by :func:`encode_error` (``details["origin"] == "hub"``).

    Raises:
        CodecError: a field of the wrong type.
    """
    found = getattr(errors_mod, str(data.get("type")), None)
    cls = found if isinstance(found, type) and issubclass(found, BinanceError) else BinanceError
    message, code, binance_code = data.get("message"), data.get("code"), data.get("binance_code")
    details, attrs = data.get("details") or {}, data.get("attrs") or {}
    if not isinstance(message, str) or not isinstance(code, str) or not isinstance(details, dict) \
            or not isinstance(attrs, dict) or not (binance_code is None or type(binance_code) is int):
        raise CodecError("bad encoded error")
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    params = getattr(cls.__init__, "__annotations__", {})
    for name in _NONE_ATTRS:  # ValidationError.value, CancelReplaceError.data
        if name in params:
            setattr(err, name, None)
    for key, value in attrs.items():
        if isinstance(key, str) and key not in _NOT_IN_ATTRS and isinstance(value, _SCALARS):
            setattr(err, key, value)
    err.message, err.code, err.binance_code = message, code, binance_code
    err.details = dict(details, origin="hub")
    return err
