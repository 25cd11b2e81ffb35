"""The hub's event codec (``_core/codec.py``): every event class of ``binance_conn.events`` survives
bytes and back exactly -- equal, same types (Decimal with its exponent, enum members, plain ``str``
for a value Binance added later, tuples, NamedTuples, nested events, None)."""

from __future__ import annotations

import json
import typing
from decimal import Decimal
from enum import Enum
from typing import Any, Iterator, List, Tuple

import pytest
from _stream_samples import AGG, AVG, BLOCK, BOOK, DIFF, KLINE, MINI, REF, ROLLING, TICKER, TRADE

from binance_conn import events as ev
from binance_conn._core import codec
from binance_conn._core import streams as s
from binance_conn._core.payloads import parser_for
from binance_conn.enums import BookState, ConnectionState, GapState, OrderSide

SAMPLES = [(s.trade("bnbbtc"), TRADE), (s.agg_trade("bnbbtc"), AGG), (s.block_trade("bnbbtc"), BLOCK),
           (s.book_ticker("bnbusdt"), BOOK), (s.depth("bnbbtc"), DIFF), (s.kline("bnbbtc", "1m"), KLINE),
           (s.kline("bnbbtc", "1m", "+08:00"), KLINE), (s.mini_ticker("bnbbtc"), MINI), (s.ticker("bnbbtc"), TICKER),
           (s.rolling_ticker("bnbbtc", "1h"), ROLLING), (s.avg_price("btcusdt"), AVG),
           (s.reference_price("bazusd"), REF)]


def parsed_samples() -> List[ev.Event]:
    out = []
    for name, payload in SAMPLES:
        info = s.parse(name)
        fn, is_array = parser_for(info)
        assert fn is not None and not is_array, name
        out.append(fn(payload, info.symbol, "binance"))
    return out


def _value(tp: Any, i: int, variant: int) -> Any:
    """A value of annotated type ``tp``: variant 0 the 'plain' form, 1 the awkward one (None where
    optional, exponent-keeping Decimals, the plain-str fallback of an enum field)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is str:
        return f"s{i}-é"
    if tp is bool:
        return bool((i + variant) % 2)
    if tp is int:
        return 2**53 + i if variant else i
    if tp is Decimal:
        return [Decimal("1.00"), Decimal("0.00000001"), Decimal("1E+3"), Decimal("-12.3400")][(i + variant) % 4]
    if origin is typing.Union:
        rest = [a for a in args if a is not type(None)]
        if variant and type(None) in args:
            return None
        enums = [a for a in rest if isinstance(a, type) and issubclass(a, Enum)]
        if enums:
            members = list(enums[0])
            return "NEW_VALUE_FROM_BINANCE" if variant else members[i % len(members)]
        return _value(rest[0], i, variant)
    if origin is tuple:
        if args[-1] is Ellipsis:
            return tuple(_value(args[0], i + k, variant) for k in range(2))
        return tuple(_value(a, i + k, variant) for k, a in enumerate(args))
    if isinstance(tp, type) and issubclass(tp, tuple):
        hints = typing.get_type_hints(tp, vars(ev))
        return tp(*(_value(hints[f], i + k, variant) for k, f in enumerate(tp._fields)))
    if isinstance(tp, type) and issubclass(tp, ev.Event):
        return built(tp, variant)
    raise AssertionError(f"no sample value for {tp!r}")


def built(cls: type, variant: int) -> Any:
    hints = typing.get_type_hints(cls, vars(ev))
    obj = object.__new__(cls)
    for i, name in enumerate(cls.__slots__):
        object.__setattr__(obj, name, _value(hints[name], i, variant))
    return obj


def every_event() -> Iterator[Tuple[str, Any]]:
    for name, cls in sorted(codec.event_classes().items()):
        yield f"{name}-plain", built(cls, 0)
        yield f"{name}-awkward", built(cls, 1)
    for e in parsed_samples():
        yield f"sample-{type(e).__name__}", e
    yield "connection", ev.ConnectionEvent("binance", "market", ConnectionState.RECONNECTING, "dropped", 1)
    yield "gap", ev.GapEvent("binance", "btcusdt@trade", "BTCUSDT", "trade", 7, 10, 20, "reconnect",
                             GapState.FILLED, 5, 11, None)
    yield "book", ev.OrderBook("binance", "BTCUSDT", BookState.SYNCED, 9, None,
                               ((Decimal("100.10"), Decimal("0.5")),), ((Decimal("100.2"), Decimal("1E-8")),))


def assert_same(a: Any, b: Any, path: str = "") -> None:
    """Equal and the same type, all the way down."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, ev.Event):
        for name in type(a).__slots__:
            assert_same(getattr(a, name), getattr(b, name), f"{path}.{name}")
    elif isinstance(a, tuple):
        assert len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{k}]")
    elif isinstance(a, Decimal):
        assert a.as_tuple() == b.as_tuple(), f"{path}: {a!r} != {b!r}"  # same digits and exponent
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


CASES = list(every_event())


def test_every_event_class_is_covered() -> None:
    names = {type(e).__name__ for _, e in CASES}
    assert names >= set(codec.event_classes())
    assert len(codec.event_classes()) >= 30  # every class of events.py, nested ones included


@pytest.mark.parametrize("label,event", CASES, ids=[c[0] for c in CASES])
def test_round_trip_is_exact(label: str, event: Any) -> None:
    raw = codec.dumps(event)
    back = codec.loads(raw)
    assert back == event
    assert_same(event, back, label)
    assert json.loads(raw)["_t"] == type(event).__name__


def test_enum_fallback_and_members() -> None:
    e = built(ev.Liquidation, 0)
    assert isinstance(e.side, OrderSide)
    back = codec.loads(codec.dumps(e.replace(side="SOMETHING_NEW")))
    assert back.side == "SOMETHING_NEW" and type(back.side) is str


def test_decoder_tolerates_other_releases() -> None:
    data = codec.encode(parsed_samples()[0])
    data["field_of_a_later_release"] = 1
    del data["is_backfilled"]
    back = codec.decode(data)
    assert back.trade_id == 12345 and back.is_backfilled is None


@pytest.mark.parametrize("raw", [b"not json", b"[1,2]", b'{"_t":"Nope"}', b'{"x":1}',
                                 b'{"_t":"Trade","price":1.5}', b'{"_t":"Trade","price":"abc"}'])
def test_bad_input_raises_codec_error(raw: bytes) -> None:
    with pytest.raises(codec.CodecError):
        codec.loads(raw)


def test_non_event_refused() -> None:
    with pytest.raises(codec.CodecError):
        codec.encode(object())  # type: ignore[arg-type]
