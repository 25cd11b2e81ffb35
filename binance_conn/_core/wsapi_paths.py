"""Where the WebSocket API lives per product, and what the futures one offers (sans-I/O tables).

Spot: ``/ws-api/v3`` (web-socket-api.md).  Futures (binance-futures-reference.md sections 1,
3.3, 7.2, 8): USD-M ``wss://ws-fapi.binance.com/ws-fapi/v1``, COIN-M
``wss://ws-dapi.binance.com/ws-dapi/v1``; same request/response envelope, same signing
(section 2.3: every param but ``signature`` sorted by name, ``k=v`` joined, signed like REST).

On futures the WebSocket API is requests-only: user data comes from a listenKey stream on
``/private`` (section 7.2: "events are not delivered on the WS API connection"; there is no
``userDataStream.subscribe``), so the connector never sends the spot subscription there.
"""

from __future__ import annotations

from typing import FrozenSet, Mapping

__all__ = ["WS_API_PATHS", "ws_api_path", "FUTURES_WS_METHODS", "FUTURES_WS_SIGNED", "FUTURES_WS_WEIGHTS"]

WS_API_PATHS: Mapping[str, str] = {"spot": "/ws-api/v3", "usdm": "/ws-fapi/v1", "coinm": "/ws-dapi/v1"}
"""The WebSocket API path of each product (``config.PRODUCTS``)."""


def ws_api_path(product: str) -> str:
    """The WebSocket API path of ``product`` (``"spot"`` for anything unknown)."""
    return WS_API_PATHS.get(product, WS_API_PATHS["spot"])


FUTURES_WS_WEIGHTS: Mapping[str, int] = {
    # section 3.3 "WS API (SDK-U)": placement/modify count on the order buckets (IP weight 0)
    "order.place": 0, "order.modify": 0, "algoOrder.place": 0,
    "order.cancel": 1, "order.status": 1, "algoOrder.cancel": 1,
    "account.position": 5, "account.balance": 5, "account.status": 5,
    "v2/account.position": 5, "v2/account.balance": 5, "v2/account.status": 5,
    "userDataStream.start": 1, "userDataStream.ping": 1, "userDataStream.stop": 1,
    "depth": 2, "ticker.price": 1, "ticker.book": 2,  # market data (depth: by limit, as REST)
    "session.logon": 0, "session.status": 0, "session.logout": 0,  # (unconfirmed on futures: spot's)
}
"""The futures WebSocket API methods the digest confirms, with their IP weights."""

FUTURES_WS_METHODS: FrozenSet[str] = frozenset(FUTURES_WS_WEIGHTS)

FUTURES_WS_SIGNED: FrozenSet[str] = frozenset({
    "order.place", "order.modify", "order.cancel", "order.status", "algoOrder.place", "algoOrder.cancel",
    "account.position", "account.balance", "account.status",
    "v2/account.position", "v2/account.balance", "v2/account.status", "session.logon",
})
"""Methods that need ``timestamp`` + ``signature`` (TRADE / USER_DATA); ``userDataStream.*``
are USER_STREAM (``apiKey`` only, section 7.2)."""
