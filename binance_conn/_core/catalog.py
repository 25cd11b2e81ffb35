"""Every documented endpoint, gathered from the ``spec_*`` tables, with lookups.

``ALL``, ``BY_NAME``, ``BY_ROUTE`` and ``BY_WS_METHOD`` are spot's.  Futures tables
(:mod:`.spec_futures`) reuse spot method names, so they have their own per-product
catalogs (:func:`for_product`); their paths (``/fapi``, ``/dapi``) never collide with
spot's, so :func:`lookup` finds both (spot first).
"""

from __future__ import annotations

from typing import Dict, NamedTuple, Optional, Tuple

from . import spec_account, spec_futures, spec_market, spec_trading
from .endpoints import Endpoint

__all__ = ["ALL", "BY_NAME", "BY_ROUTE", "BY_WS_METHOD", "FUTURES_BY_ROUTE", "ProductCatalog", "lookup", "by_name",
           "for_product"]

ALL: Tuple[Endpoint, ...] = spec_market.ENDPOINTS + spec_trading.ENDPOINTS + spec_account.ENDPOINTS
BY_NAME: Dict[str, Endpoint] = {ep.name: ep for ep in ALL}
BY_ROUTE: Dict[Tuple[str, str], Endpoint] = {(ep.http, ep.path): ep for ep in ALL if ep.http and ep.path}
BY_WS_METHOD: Dict[str, Endpoint] = {ep.ws_method: ep for ep in ALL if ep.ws_method}


class ProductCatalog(NamedTuple):
    """The endpoints of one product with their lookups."""

    product: str
    all: Tuple[Endpoint, ...]
    by_name: Dict[str, Endpoint]
    by_route: Dict[Tuple[str, str], Endpoint]
    by_ws_method: Dict[str, Endpoint]


def _catalog(product: str, endpoints: Tuple[Endpoint, ...]) -> ProductCatalog:
    return ProductCatalog(product, endpoints, {ep.name: ep for ep in endpoints},
                          {(ep.http, ep.path): ep for ep in endpoints if ep.http and ep.path},
                          {ep.ws_method: ep for ep in endpoints if ep.ws_method})


_PRODUCTS: Dict[str, ProductCatalog] = {
    "spot": ProductCatalog("spot", ALL, BY_NAME, BY_ROUTE, BY_WS_METHOD),
    "usdm": _catalog("usdm", spec_futures.USDM),
    "coinm": _catalog("coinm", spec_futures.COINM),
}
FUTURES_BY_ROUTE: Dict[Tuple[str, str], Endpoint] = {**_PRODUCTS["usdm"].by_route, **_PRODUCTS["coinm"].by_route}


def lookup(method: str, path: str) -> Optional[Endpoint]:
    """The endpoint behind an HTTP method and path (spot, USD-M or COIN-M), or None when undocumented."""
    key = (method.upper(), path)
    ep = BY_ROUTE.get(key)
    return ep if ep is not None else FUTURES_BY_ROUTE.get(key)


def by_name(name: str) -> Endpoint:
    """The spot endpoint of a typed method (KeyError when unknown)."""
    return BY_NAME[name]


def for_product(product: str) -> ProductCatalog:
    """The catalog of ``"spot"``, ``"usdm"`` or ``"coinm"`` (KeyError for another product)."""
    return _PRODUCTS[product]
