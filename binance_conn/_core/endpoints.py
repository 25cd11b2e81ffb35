"""The declarative description of Binance spot endpoints (rest-api.md, web-socket-api.md).

One :class:`Endpoint` per documented endpoint: HTTP method and path, the
WebSocket API method that does the same thing, the security type, the request
weight rule and the documented parameters.  The tables live in the
``spec_*`` modules (by area) and are gathered by :mod:`.catalog`; the typed
methods (:mod:`binance_conn._api`), the REST client (signing, weight
reservation, order-id handling) and the WebSocket API client all read them, so
one entry is the single source of truth for one endpoint.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Optional, Tuple, Union

__all__ = ["NONE", "MARKET_DATA", "USER_STREAM", "USER_DATA", "TRADE", "SIGNED_SECURITY", "Weight",
           "Endpoint", "count_symbols"]

# Security types (rest-api.md "Endpoint security type").
NONE = "NONE"
MARKET_DATA = "MARKET_DATA"  # API key only
USER_STREAM = "USER_STREAM"  # API key only
USER_DATA = "USER_DATA"  # signed
TRADE = "TRADE"  # signed
SIGNED_SECURITY = frozenset({USER_DATA, TRADE})

Weight = Union[int, Callable[[Mapping[str, Any]], int]]
"""A fixed request weight, or a rule of the (Binance-named) parameters."""


class Endpoint(NamedTuple):
    """One documented endpoint.

    ``name`` is the typed method's name (``klines``, ``new_order`` ...).
    ``ws_method`` is the WebSocket API method doing the same, or None.
    ``params`` are the documented parameter names (Binance spelling), ``required``
    the mandatory ones.  ``places_order`` marks calls that create orders: they
    always carry a client order id, are never re-sent blindly, and an unknown
    outcome raises :class:`binance_conn.UnknownStatusError` carrying that id.
    ``order_id_param`` names the client-id parameter the library fills in
    (``newClientOrderId``, or ``listClientOrderId`` for order lists).
    """

    name: str
    http: Optional[str]
    path: Optional[str]
    security: str
    weight: Weight = 1
    ws_method: Optional[str] = None
    params: Tuple[str, ...] = ()
    required: Tuple[str, ...] = ()
    places_order: bool = False
    order_id_param: Optional[str] = None
    ws_weight: Optional[Weight] = None

    @property
    def signed(self) -> bool:
        """True when the request carries timestamp, recvWindow and a signature."""
        return self.security in SIGNED_SECURITY

    @property
    def needs_key(self) -> bool:
        """True when the request carries the API key (every security type but NONE)."""
        return self.security != NONE

    def weight_of(self, params: Optional[Mapping[str, Any]] = None) -> int:
        """The REST request weight for these (Binance-named) parameters."""
        w = self.weight
        return w if isinstance(w, int) else int(w(params or {}))

    def ws_weight_of(self, params: Optional[Mapping[str, Any]] = None) -> int:
        """The WebSocket API request weight (the REST rule unless documented otherwise)."""
        w = self.weight if self.ws_weight is None else self.ws_weight
        return w if isinstance(w, int) else int(w(params or {}))


def count_symbols(params: Mapping[str, Any]) -> Optional[int]:
    """How many symbols a request names: 1 for ``symbol``, the length of ``symbols``
    (a list or its JSON text), None when neither is given."""
    if params.get("symbol") is not None:
        return 1
    symbols = params.get("symbols")
    if symbols is None:
        return None
    if isinstance(symbols, (list, tuple)):
        return len(symbols)
    text = str(symbols).strip()
    return text.count(",") + 1 if text not in ("", "[]") else 0
