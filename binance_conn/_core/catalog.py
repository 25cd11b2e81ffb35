"""Every documented spot endpoint, gathered from the ``spec_*`` tables, with lookups."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from . import spec_account, spec_market, spec_trading
from .endpoints import Endpoint

__all__ = ["ALL", "BY_NAME", "BY_ROUTE", "BY_WS_METHOD", "lookup", "by_name"]

ALL: Tuple[Endpoint, ...] = spec_market.ENDPOINTS + spec_trading.ENDPOINTS + spec_account.ENDPOINTS
BY_NAME: Dict[str, Endpoint] = {ep.name: ep for ep in ALL}
BY_ROUTE: Dict[Tuple[str, str], Endpoint] = {(ep.http, ep.path): ep for ep in ALL if ep.http and ep.path}
BY_WS_METHOD: Dict[str, Endpoint] = {ep.ws_method: ep for ep in ALL if ep.ws_method}


def lookup(method: str, path: str) -> Optional[Endpoint]:
    """The endpoint behind an HTTP method and path, or None when undocumented."""
    return BY_ROUTE.get((method.upper(), path))


def by_name(name: str) -> Endpoint:
    """The endpoint of a typed method (KeyError when unknown)."""
    return BY_NAME[name]
