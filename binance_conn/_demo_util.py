"""Small formatting helpers shared by the spot and futures demos (``python -m binance_conn.demo``)."""

from __future__ import annotations

from decimal import Decimal
from typing import List, Optional

__all__ = ["fmt_decimal", "percentile"]


def fmt_decimal(value: Optional[Decimal], places: int = 2) -> str:
    """A Decimal without its trailing zeros, keeping at least ``places`` decimals (never float)."""
    if value is None:
        return "-"
    text = f"{value:f}"
    if "." in text:
        whole, frac = text.split(".", 1)
        frac = frac.rstrip("0")
        if len(frac) < places:
            frac = frac.ljust(places, "0")
        return f"{whole}.{frac}" if frac else whole
    return f"{text}.{'0' * places}" if places else text


def percentile(values: List[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))]
