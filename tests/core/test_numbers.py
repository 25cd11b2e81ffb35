"""_core.numbers: wire formatting of numbers and section-11 filter arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest

from binance_conn._core.numbers import RoundingMode, SymbolFilters, format_param, to_decimal
from binance_conn.enums import OrderSide
from binance_conn.errors import ValidationError


@pytest.mark.parametrize(
    "value, text",
    [
        (Decimal("0.00000001"), "0.00000001"),
        (Decimal("1E-8"), "0.00000001"),
        (Decimal("1E+3"), "1000"),
        (Decimal("1.2300"), "1.2300"),
        (Decimal("-0"), "0"),
        (12, "12"),
        ("0.1", "0.1"),
        (True, "true"),
        (OrderSide.BUY, "BUY"),
    ],
)
def test_format_param(value: object, text: str) -> None:
    assert format_param("x", value) == text


def test_float_rejected_by_default() -> None:
    with pytest.raises(ValidationError) as info:
        format_param("quantity", 0.1)
    assert info.value.field == "quantity"
    assert isinstance(info.value, ValueError)


def test_float_opt_in_uses_repr() -> None:
    assert format_param("price", 0.1, allow_float=True) == "0.1"
    assert format_param("price", 1e-05, allow_float=True) == "0.00001"
    assert format_param("price", 0.1 + 0.2, allow_float=True) == "0.30000000000000004"


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), object(), None])
def test_bad_values(bad: object) -> None:
    with pytest.raises(ValidationError):
        format_param("x", bad, allow_float=True)


def test_to_decimal() -> None:
    assert to_decimal("q", "1.5") == Decimal("1.5")
    assert to_decimal("q", 2) == Decimal(2)
    with pytest.raises(ValidationError):
        to_decimal("q", "abc")
    with pytest.raises(ValidationError):
        to_decimal("q", 1.5)
    assert to_decimal("q", 1.5, allow_float=True) == Decimal("1.5")


INFO = {
    "symbol": "BTCUSDT",
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000",
         "tickSize": "0.01000000"},
        {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
        {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "100.00000000",
         "stepSize": "0.00000000"},
        {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
         "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
    ],
}


def test_filters_parse_and_round() -> None:
    f = SymbolFilters.from_symbol_info(INFO)
    assert f.tick_size == Decimal("0.01")
    assert f.round_price(Decimal("123.456")) == Decimal("123.46")
    assert str(f.round_price(Decimal("123.456"), RoundingMode.DOWN)) == "123.45"
    assert str(f.round_price(Decimal("123.451"), RoundingMode.UP)) == "123.46"
    # quantities round DOWN and carry no extra decimals
    assert str(f.round_quantity(Decimal("0.123456789"))) == "0.12345"
    assert str(f.round_quantity(Decimal("1"))) == "1.00000"
    # market step 0 -> falls back to LOT_SIZE step
    assert str(f.round_quantity(Decimal("0.123456789"), is_market=True)) == "0.12345"


def test_filters_step_greater_than_one() -> None:
    f = SymbolFilters("X", tick_size=Decimal("10"), step_size=Decimal("5"))
    assert f.round_price(Decimal("1234")) == Decimal("1230")
    assert f.round_quantity(Decimal("12")) == Decimal("10")


def test_filters_zero_disables() -> None:
    f = SymbolFilters("X")
    assert f.round_price(Decimal("1.23456789")) == Decimal("1.23456789")
    f.validate(price=Decimal("0.000000001"), quantity=Decimal("123456789"))


@pytest.mark.parametrize(
    "kwargs, field, words",
    [
        ({"price": Decimal("100.001"), "quantity": Decimal("1")}, "price", "tickSize"),
        ({"price": Decimal("0.001"), "quantity": Decimal("10000")}, "price", "minPrice"),
        ({"price": Decimal("2000000"), "quantity": Decimal("1")}, "price", "maxPrice"),
        ({"price": Decimal("100"), "quantity": Decimal("0.000001")}, "quantity", "minQty"),
        ({"price": Decimal("100"), "quantity": Decimal("0.000015")}, "quantity", "stepSize"),
        ({"price": Decimal("100"), "quantity": Decimal("10000")}, "quantity", "maxQty"),
        ({"price": Decimal("100"), "quantity": Decimal("0.01")}, "notional", ">= 5"),
        ({"price": Decimal("-1"), "quantity": Decimal("1")}, "price", "> 0"),
        ({"stop_price": Decimal("1.001"), "quantity": Decimal("1")}, "stop_price", "tickSize"),
        ({"quantity": Decimal("101"), "is_market": True}, "quantity", "MARKET_LOT_SIZE"),
        ({"quantity": Decimal("0.01"), "is_market": True, "reference_price": Decimal("100")}, "notional", ""),
    ],
)
def test_validate_rejects(kwargs: dict, field: str, words: str) -> None:
    f = SymbolFilters.from_symbol_info(INFO)
    with pytest.raises(ValidationError) as info:
        f.validate(**kwargs)
    assert info.value.field == field
    assert words in info.value.constraint


def test_validate_accepts() -> None:
    f = SymbolFilters.from_symbol_info(INFO)
    f.validate(price=Decimal("100.01"), quantity=Decimal("0.05"))
    # max notional does not apply to MARKET when applyMaxToMarket is false
    f.validate(quantity=Decimal("99"), is_market=True, reference_price=Decimal("1000000"))


def test_filters_immutable() -> None:
    f = SymbolFilters.from_symbol_info(INFO)
    with pytest.raises(AttributeError):
        f.tick_size = Decimal(1)  # type: ignore[misc]
    assert "BTCUSDT" in repr(f)
