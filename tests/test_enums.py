"""str-based enums: comparison with strings, str()/format(), coerce() pass-through, is_final."""

from __future__ import annotations

import json
import pickle
from enum import Enum
from typing import Type

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binance_conn import enums
from binance_conn.enums import (
    BookState,
    ConnectionState,
    ExecutionType,
    GapState,
    KlineInterval,
    OrderSide,
    OrderStatus,
    OrderType,
    OverflowPolicy,
    TimeInForce,
    coerce,
)

ALL_ENUMS = [
    ConnectionState,
    OverflowPolicy,
    OrderSide,
    OrderType,
    OrderStatus,
    TimeInForce,
    ExecutionType,
    KlineInterval,
    GapState,
    BookState,
]


def test_all_enums_listed() -> None:
    exported = {getattr(enums, n) for n in enums.__all__ if isinstance(getattr(enums, n), type)}
    assert exported == set(ALL_ENUMS)


def test_order_side_is_a_string() -> None:
    assert OrderSide.BUY == "BUY"
    assert "SELL" == OrderSide.SELL
    assert OrderSide.BUY != "SELL"
    assert isinstance(OrderSide.BUY, str)
    assert str(OrderSide.BUY) == "BUY"
    assert f"{OrderSide.BUY}" == "BUY"
    assert f"{OrderSide.BUY:>5}" == "  BUY"
    assert "%s" % OrderSide.SELL == "SELL"
    assert "{}".format(OrderSide.SELL) == "SELL"
    assert OrderSide.BUY + "!" == "BUY!"
    assert {"BUY": 1}[OrderSide.BUY] == 1  # same hash as the plain string
    assert json.dumps({"side": OrderSide.BUY}) == '{"side": "BUY"}'


@pytest.mark.parametrize("cls", ALL_ENUMS)
def test_every_member_equals_and_formats_as_its_value(cls: Type[Enum]) -> None:
    assert len(cls) > 0
    for member in cls:
        assert isinstance(member, str)
        assert member == member.value
        assert str(member) == member.value
        assert f"{member}" == member.value
        assert hash(member) == hash(member.value)
        assert cls(member.value) is member
        assert pickle.loads(pickle.dumps(member)) is member


@pytest.mark.parametrize("cls", ALL_ENUMS)
def test_coerce_returns_the_member(cls: Type[Enum]) -> None:
    for member in cls:
        got = coerce(cls, member.value)  # type: ignore[type-var]
        assert got is member


@pytest.mark.parametrize(
    "cls, value",
    [
        (OrderType, "PEGGED_LIMIT"),
        (OrderStatus, "PENDING_SOMETHING"),
        (ExecutionType, "AMENDMENT"),
        (TimeInForce, "GTD"),
        (OrderSide, "buy"),  # wire values are case-sensitive
        (KlineInterval, "2M"),
        (ConnectionState, ""),
    ],
)
def test_coerce_passes_unknown_values_through_as_plain_str(cls: Type[Enum], value: str) -> None:
    got = coerce(cls, value)  # type: ignore[type-var]
    assert got == value
    assert type(got) is str
    assert not isinstance(got, Enum)


@given(st.text(max_size=30))
def test_coerce_never_raises(value: str) -> None:
    got = coerce(OrderStatus, value)
    assert got == value
    assert isinstance(got, OrderStatus) or type(got) is str


def test_binance_values_present() -> None:
    assert {m.value for m in OrderType} >= {
        "LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER",
    }  # fmt: skip
    assert {m.value for m in OrderStatus} >= {
        "NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH",
    }  # fmt: skip
    assert {m.value for m in TimeInForce} >= {"GTC", "IOC", "FOK"}
    assert {m.value for m in ConnectionState} >= {"CONNECTED", "DISCONNECTED", "RECONNECTING"}
    assert {m.value for m in OverflowPolicy} == {"DROP_OLDEST", "BLOCK"}


@pytest.mark.parametrize(
    "status, final",
    [
        (OrderStatus.NEW, False),
        (OrderStatus.PENDING_NEW, False),
        (OrderStatus.PARTIALLY_FILLED, False),
        (OrderStatus.PENDING_CANCEL, False),
        (OrderStatus.FILLED, True),
        (OrderStatus.CANCELED, True),
        (OrderStatus.REJECTED, True),
        (OrderStatus.EXPIRED, True),
        (OrderStatus.EXPIRED_IN_MATCH, True),
    ],
)
def test_is_final(status: OrderStatus, final: bool) -> None:
    assert status.is_final is final


def test_every_status_has_an_is_final_answer() -> None:
    assert {s for s in OrderStatus if s.is_final} | {s for s in OrderStatus if not s.is_final} == set(OrderStatus)
    assert sum(s.is_final for s in OrderStatus) == 5


def test_kline_intervals_are_case_sensitive() -> None:
    assert KlineInterval("1m") is KlineInterval.M1
    assert KlineInterval("1M") is KlineInterval.MO1
    assert KlineInterval.M1 != KlineInterval.MO1
    with pytest.raises(ValueError):
        KlineInterval("1H")


def test_unknown_value_via_constructor_raises_but_coerce_does_not() -> None:
    with pytest.raises(ValueError):
        OrderType("PEGGED_LIMIT")
    assert coerce(OrderType, "PEGGED_LIMIT") == "PEGGED_LIMIT"
