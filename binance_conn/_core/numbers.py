"""Decimal-safe parameter formatting and exchange-filter arithmetic (sans-I/O).

Two jobs, both pure:

* :func:`format_param` turns a request parameter into the exact text that goes on
  the wire.  ``Decimal``/``int``/``str`` are sent without exponent or float noise
  (``Decimal('1E-8')`` -> ``0.00000001``); a ``float`` is refused with
  :class:`~binance_conn.errors.ValidationError` unless the caller opted in, in which
  case its shortest ``repr`` is used (``0.1`` -> ``"0.1"``, never
  ``0.1000000000000000055511151231257827``).  Reference section 11: "send decimals as
  strings without exponent notation"; too many decimals give ``-1111``.
* :class:`SymbolFilters` reads a symbol's ``filters`` from ``exchangeInfo`` and
  rounds / validates prices and quantities with the rules of section 11
  (``price % tickSize == 0``, ``qty % stepSize == 0``, min/max bounds, notional),
  skipping every rule whose bound is 0.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum
from typing import Any, Mapping, Optional, Sequence

from ..errors import ValidationError

__all__ = [
    "format_param",
    "format_decimal",
    "to_decimal",
    "RoundingMode",
    "SymbolFilters",
]

_ZERO = Decimal(0)


def format_decimal(value: Decimal) -> str:
    """Plain positional text of a finite Decimal, no exponent, trailing zeros kept as given.

    ``Decimal('1E-8')`` -> ``'0.00000001'``; ``Decimal('1.2300')`` -> ``'1.2300'``;
    ``Decimal('1E+3')`` -> ``'1000'``.
    """
    # format(..., "f") never uses exponent notation and keeps the exponent's digits.
    text = format(value, "f")
    if text.startswith("-0") and value == 0:
        text = text[1:]
    return text


def format_param(name: str, value: Any, *, allow_float: bool = False) -> str:
    """The wire text of one request parameter.

    Args:
        name: parameter name, used in the ``ValidationError`` field.
        value: ``str``, ``int``, ``Decimal``, ``bool``, a ``str`` enum, or a ``float``
            when ``allow_float`` is true.
        allow_float: convert floats via ``repr`` (shortest round-trip text) instead of
            refusing them.

    Raises:
        ValidationError: float not allowed, NaN/infinite Decimal, unsupported type.
    """
    tp = type(value)
    if tp is str:
        return value  # type: ignore[no-any-return]
    if tp is int:
        return str(value)
    if tp is bool:
        # Binance booleans are lower-case words (e.g. omitZeroBalances=true).
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValidationError(name, value, "must be a finite number")
        return format_decimal(value)
    if isinstance(value, str):  # str subclasses: enums of enums.py
        return str.__str__(value)
    if isinstance(value, float):
        if not allow_float:
            raise ValidationError(
                name,
                value,
                "float is not accepted (binary rounding); pass Decimal, str or int, "
                "or enable float conversion in the config",
            )
        if value != value or value in (float("inf"), float("-inf")):
            raise ValidationError(name, value, "must be a finite number")
        return format_decimal(Decimal(repr(value)))
    if isinstance(value, int):
        return str(int(value))
    raise ValidationError(name, value, "must be str, int or Decimal")


def to_decimal(name: str, value: Any, *, allow_float: bool = False) -> Decimal:
    """A Decimal from Decimal/int/str (or float via ``repr`` when allowed)."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise ValidationError(name, value, "must be a number")
    elif isinstance(value, (int, str)):
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise ValidationError(name, value, "must be a decimal number") from None
    elif isinstance(value, float):
        if not allow_float:
            raise ValidationError(name, value, "float is not accepted; pass Decimal, str or int")
        result = Decimal(repr(value))
    else:
        raise ValidationError(name, value, "must be str, int or Decimal")
    if not result.is_finite():
        raise ValidationError(name, value, "must be a finite number")
    return result


class RoundingMode(str, Enum):
    """How :meth:`SymbolFilters.round_price` snaps to the tick grid."""

    DOWN = "DOWN"
    """Towards zero (a passive BUY)."""
    UP = "UP"
    """Away from zero (a passive SELL)."""
    NEAREST = "NEAREST"
    """Half-up to the nearest tick."""


def _dec(raw: Mapping[str, Any], key: str) -> Decimal:
    value = raw.get(key)
    if value is None:
        return _ZERO
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return _ZERO


def _snap(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    if step <= 0:
        return value
    units = (value / step).to_integral_value(rounding=rounding)
    result = units * step
    # Quantize to the step's own exponent so no extra decimals are sent (section 11):
    # stepSize "0.00100000" -> 3 decimals.
    exponent = step.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < 0:
        return result.quantize(Decimal(1).scaleb(exponent))
    return result


class SymbolFilters:
    """The price/quantity/notional rules of one symbol (reference section 11).

    Built from one ``symbols[i]`` object of ``exchangeInfo`` with :meth:`from_symbol_info`.
    Immutable after construction; safe to share between threads.  A bound of 0 means
    the rule is disabled, as Binance defines it.
    """

    __slots__ = (
        "symbol",
        "min_price",
        "max_price",
        "tick_size",
        "min_qty",
        "max_qty",
        "step_size",
        "market_min_qty",
        "market_max_qty",
        "market_step_size",
        "min_notional",
        "max_notional",
        "apply_min_to_market",
        "apply_max_to_market",
        "raw",
    )

    def __init__(
        self,
        symbol: str,
        *,
        min_price: Decimal = _ZERO,
        max_price: Decimal = _ZERO,
        tick_size: Decimal = _ZERO,
        min_qty: Decimal = _ZERO,
        max_qty: Decimal = _ZERO,
        step_size: Decimal = _ZERO,
        market_min_qty: Decimal = _ZERO,
        market_max_qty: Decimal = _ZERO,
        market_step_size: Decimal = _ZERO,
        min_notional: Decimal = _ZERO,
        max_notional: Decimal = _ZERO,
        apply_min_to_market: bool = True,
        apply_max_to_market: bool = False,
        raw: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.symbol = symbol
        self.min_price = min_price
        self.max_price = max_price
        self.tick_size = tick_size
        self.min_qty = min_qty
        self.max_qty = max_qty
        self.step_size = step_size
        self.market_min_qty = market_min_qty
        self.market_max_qty = market_max_qty
        self.market_step_size = market_step_size
        self.min_notional = min_notional
        self.max_notional = max_notional
        self.apply_min_to_market = apply_min_to_market
        self.apply_max_to_market = apply_max_to_market
        self.raw = tuple(raw)

    @classmethod
    def from_symbol_info(cls, info: Mapping[str, Any]) -> "SymbolFilters":
        """Parse the ``filters`` list of one exchangeInfo symbol object."""
        kw: dict[str, Any] = {}
        filters = info.get("filters") or ()
        for flt in filters:
            kind = flt.get("filterType")
            if kind == "PRICE_FILTER":
                kw["min_price"] = _dec(flt, "minPrice")
                kw["max_price"] = _dec(flt, "maxPrice")
                kw["tick_size"] = _dec(flt, "tickSize")
            elif kind == "LOT_SIZE":
                kw["min_qty"] = _dec(flt, "minQty")
                kw["max_qty"] = _dec(flt, "maxQty")
                kw["step_size"] = _dec(flt, "stepSize")
            elif kind == "MARKET_LOT_SIZE":
                kw["market_min_qty"] = _dec(flt, "minQty")
                kw["market_max_qty"] = _dec(flt, "maxQty")
                kw["market_step_size"] = _dec(flt, "stepSize")
            elif kind == "MIN_NOTIONAL":
                kw["min_notional"] = _dec(flt, "minNotional")
                kw["apply_min_to_market"] = bool(flt.get("applyToMarket", True))
            elif kind == "NOTIONAL":
                kw["min_notional"] = _dec(flt, "minNotional")
                kw["max_notional"] = _dec(flt, "maxNotional")
                kw["apply_min_to_market"] = bool(flt.get("applyMinToMarket", False))
                kw["apply_max_to_market"] = bool(flt.get("applyMaxToMarket", False))
        return cls(str(info.get("symbol", "")), raw=tuple(filters), **kw)

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, "raw"):
            raise AttributeError("SymbolFilters is immutable")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return (
            f"SymbolFilters({self.symbol!r}, tick_size={format_decimal(self.tick_size)}, "
            f"step_size={format_decimal(self.step_size)}, min_notional={format_decimal(self.min_notional)})"
        )

    # -- rounding ----------------------------------------------------------------------

    def round_price(self, price: Decimal, mode: RoundingMode = RoundingMode.NEAREST) -> Decimal:
        """Snap ``price`` to a multiple of ``tickSize`` (unchanged when tickSize is 0)."""
        rounding = {
            RoundingMode.DOWN: ROUND_FLOOR,
            RoundingMode.UP: ROUND_CEILING,
            RoundingMode.NEAREST: ROUND_HALF_UP,
        }[RoundingMode(mode)]
        return _snap(price, self.tick_size, rounding)

    def round_quantity(self, quantity: Decimal, *, is_market: bool = False) -> Decimal:
        """Round ``quantity`` **down** to the step (never more than the balance allows)."""
        step = self.step_size
        if is_market and self.market_step_size > 0:
            step = self.market_step_size
        return _snap(quantity, step, ROUND_DOWN)

    # -- validation --------------------------------------------------------------------

    def validate(
        self,
        *,
        price: Optional[Decimal] = None,
        quantity: Optional[Decimal] = None,
        stop_price: Optional[Decimal] = None,
        is_market: bool = False,
        reference_price: Optional[Decimal] = None,
    ) -> None:
        """Raise :class:`ValidationError` if Binance would reject the order's numbers.

        Args:
            price: limit price (None for MARKET).
            quantity: base quantity.
            stop_price: stop price; PRICE_FILTER applies to it too.
            is_market: MARKET order: MARKET_LOT_SIZE applies, notional uses
                ``reference_price`` and the ``applyToMarket`` flags.
            reference_price: price used for a MARKET order's notional check, if known.
        """
        for field, value in (("price", price), ("stop_price", stop_price)):
            if value is None:
                continue
            if value <= 0:
                raise ValidationError(field, value, "must be > 0")
            if self.min_price > 0 and value < self.min_price:
                raise ValidationError(field, value, f"PRICE_FILTER: must be >= minPrice {self.min_price}")
            if self.max_price > 0 and value > self.max_price:
                raise ValidationError(field, value, f"PRICE_FILTER: must be <= maxPrice {self.max_price}")
            if self.tick_size > 0 and value % self.tick_size != 0:
                raise ValidationError(
                    field, value, f"PRICE_FILTER: must be a multiple of tickSize {self.tick_size}"
                )
        if quantity is not None:
            if quantity <= 0:
                raise ValidationError("quantity", quantity, "must be > 0")
            checks = [("LOT_SIZE", self.min_qty, self.max_qty, self.step_size)]
            if is_market:
                checks.append(("MARKET_LOT_SIZE", self.market_min_qty, self.market_max_qty, self.market_step_size))
            for name, lo, hi, step in checks:
                if lo > 0 and quantity < lo:
                    raise ValidationError("quantity", quantity, f"{name}: must be >= minQty {lo}")
                if hi > 0 and quantity > hi:
                    raise ValidationError("quantity", quantity, f"{name}: must be <= maxQty {hi}")
                if step > 0 and quantity % step != 0:
                    raise ValidationError("quantity", quantity, f"{name}: must be a multiple of stepSize {step}")
        notional_price = reference_price if is_market else price
        if quantity is not None and notional_price is not None:
            notional = notional_price * quantity
            check_min = self.min_notional > 0 and (not is_market or self.apply_min_to_market)
            check_max = self.max_notional > 0 and (not is_market or self.apply_max_to_market)
            if check_min and notional < self.min_notional:
                raise ValidationError(
                    "notional", notional, f"NOTIONAL: price*quantity must be >= {self.min_notional}"
                )
            if check_max and notional > self.max_notional:
                raise ValidationError(
                    "notional", notional, f"NOTIONAL: price*quantity must be <= {self.max_notional}"
                )
