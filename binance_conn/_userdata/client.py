"""The WebSocket API facade (``conn.ws_api``): requests over the user-data session's connection.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional

from .._api import AccountApi, MarketDataApi, TradingApi
from .._api.base import placed_orders
from .._core.endpoints import Endpoint
from ..errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from .session import UserDataLink

__all__ = ["WsApiClient"]

_log = logging.getLogger("binance_conn.user_data")


class WsApiClient(MarketDataApi, TradingApi, AccountApi):
    """``conn.ws_api``: WebSocket API requests over the connector's user-data session.

    Every method blocks the calling thread only (any thread, concurrently) and
    opens the session on first use while the connector runs.
    """

    def __init__(self, link: Callable[[], "UserDataLink"]) -> None:
        self._link = link

    def request(self, method: str, params: Optional[Mapping[str, Any]] = None, *, signed: bool = False,
                timeout: float = 10.0) -> Any:
        """Send ``method`` (e.g. ``"time"``, ``"account.status"``) and return its ``result``.

        ``signed`` adds ``apiKey``, ``timestamp``, ``recvWindow`` and the section 3.2
        signature (omitted once an Ed25519 session is logged on).

        Raises:
            ValidationError: the exchange has no WebSocket API (``binance-data``; field ``exchange``),
                raised at once, before any connection is opened.
            NotConnectedError: the connector is not running or the link is not up within ``timeout``.
            UnknownStatusError: no answer within ``timeout`` (the request may have run).
            ConnectionError: the connection was lost with the request in flight.
            BinanceError: the error Binance answered, mapped (``retry_after`` in seconds).
        """
        return self._link().request(method, params, signed=signed, timeout=timeout)

    def _call(self, endpoint: Endpoint, params: Optional[Dict[str, Any]] = None, *, timeout: Any = None,
              client_order_id: Optional[str] = None, symbol: Optional[str] = None) -> Any:
        """The typed methods' way out (:mod:`binance_conn._api`): one documented endpoint as its
        WebSocket API method."""
        if endpoint.ws_method is None:
            raise ValidationError("method", endpoint.name, "an endpoint the WebSocket API offers (use conn.rest)")
        return self._link().request(endpoint.ws_method, params, signed=endpoint.signed,
                                    timeout=10.0 if timeout is None else float(timeout),
                                    client_order_id=client_order_id, symbol=symbol)

    place_order = TradingApi.new_order
    """``order.place``: :meth:`new_order` under its historical WebSocket API name."""

    def _placed(self, result: Any) -> None:
        """Track the placed orders (single, order-list reports, cancel-replace's new order, SOR
        entries) for reconciliation of the user-data stream."""
        link = self._link()
        for order in placed_orders(result):
            link.track_placed(order)

    # WebSocket-API-only session methods (web-socket-api.md "Session Authentication" and
    # "User Data Stream requests"; no REST twin, so not in the endpoint table).

    def session_status(self, *, timeout: float = 10.0) -> Dict[str, Any]:
        """``session.status`` (weight 2): this connection's ``apiKey`` and ``authorizedSince``
        (None unless logged on), ``connectedSince``, ``returnRateLimits``, ``serverTime`` and
        ``userDataStream`` (a user data subscription is active).  Any thread; blocks for one request."""
        result: Dict[str, Any] = self._link().request("session.status", None, timeout=timeout)
        return result

    def session_subscriptions(self, *, timeout: float = 10.0) -> List[Dict[str, Any]]:
        """``session.subscriptions`` (weight 2): the user data subscriptions active on this
        connection, ``[{"subscriptionId": 0}, ...]``.  Any thread; blocks for one request."""
        result: List[Dict[str, Any]] = self._link().request("session.subscriptions", None, timeout=timeout)
        return result

    def __repr__(self) -> str:
        return "WsApiClient()"
