"""What the REST client needs to know per product (spot, USD-M, COIN-M): a few fixed paths and the
default request-weight budget.  Plain values; the endpoint tables are in :mod:`.catalog`."""

from __future__ import annotations

from typing import Dict, Mapping, NamedTuple, Optional

from . import spec_futures

__all__ = ["ProductSpec", "SPOT", "USDM", "COINM", "spec_of"]


class ProductSpec(NamedTuple):
    product: str
    """``"spot"``, ``"usdm"`` or ``"coinm"`` (the error-code table and endpoint catalog to use)."""
    time_path: str
    ping_path: str
    order_path: str
    """Single orders (place, cancel, query): a retried cancel answered "Unknown order" is resolved here."""
    exchange_info_path: str
    weight_limits: Optional[Mapping[str, int]]
    """The REQUEST_WEIGHT budget before exchangeInfo says otherwise (None: the limiter's spot default)."""


SPOT = ProductSpec("spot", "/api/v3/time", "/api/v3/ping", "/api/v3/order", "/api/v3/exchangeInfo", None)
USDM = ProductSpec("usdm", "/fapi/v1/time", "/fapi/v1/ping", "/fapi/v1/order", "/fapi/v1/exchangeInfo",
                   spec_futures.DEFAULT_WEIGHT_LIMITS)
COINM = ProductSpec("coinm", "/dapi/v1/time", "/dapi/v1/ping", "/dapi/v1/order", "/dapi/v1/exchangeInfo",
                    spec_futures.DEFAULT_WEIGHT_LIMITS)
_BY_PRODUCT: Dict[str, ProductSpec] = {"spot": SPOT, "usdm": USDM, "coinm": COINM}


def spec_of(product: str) -> ProductSpec:
    """The spec of a product name (spot for an unknown one)."""
    return _BY_PRODUCT.get(product, SPOT)
