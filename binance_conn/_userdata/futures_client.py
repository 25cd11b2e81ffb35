"""``conn.ws_api`` on a futures connector (binance-futures-reference.md sections 1, 2.3, 3.3, 7.2, 8).

The futures WebSocket API (USD-M ``/ws-fapi/v1``, COIN-M ``/ws-dapi/v1``) has the spot envelope
and signing, but a different method set and **no user data**: the link is requests-only (the
session never sends ``userDataStream.subscribe`` on futures; user data is a listenKey stream).
The typed methods are the futures ones (:class:`binance_conn._api.FuturesApi`, first in the MRO,
as on ``conn.rest``): those whose endpoint has a futures WebSocket method (``new_order`` ->
``order.place``, or ``algoOrder.place`` for conditional types; ``modify_order``, ``cancel_order``,
``get_order``, ``positions``/``account``/``balance`` -> ``v2/account.*``, ``new_listen_key`` ...)
go over the link; the others are refused at once (``ValidationError``, field ``method``) instead of
reaching Binance.  The generic ``request(method, params, signed=...)`` sends anything.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from .._api.futures import FuturesApi
from .._core.endpoints import USER_STREAM, Endpoint
from .._core.wsapi_paths import FUTURES_WS_METHODS
from ..errors import ValidationError
from .client import WsApiClient

__all__ = ["FuturesWsApiClient", "make_ws_api_client"]


class FuturesWsApiClient(FuturesApi, WsApiClient):  # type: ignore[misc]  # futures signatures differ
    """``conn.ws_api`` of a ``binance-usdm*`` / ``binance-coinm*`` connector (requests only)."""

    def __init__(self, link: Callable[[], Any], product: str = "usdm", allow_float: bool = False) -> None:
        WsApiClient.__init__(self, link)
        self._futures_product = product
        self._allow_float = allow_float

    place_order = FuturesApi.new_order
    """``order.place`` (``algoOrder.place`` for conditional types): :meth:`new_order`."""

    def _call(self, endpoint: Endpoint, params: Optional[Dict[str, Any]] = None, *, timeout: Any = None,
              client_order_id: Optional[str] = None, symbol: Optional[str] = None) -> Any:
        method = endpoint.ws_method
        if method is None or method not in FUTURES_WS_METHODS:
            raise ValidationError("method", endpoint.name,
                                  "an endpoint the futures WebSocket API offers (use conn.rest)")
        if endpoint.security == USER_STREAM:  # userDataStream.*: apiKey, no signature (section 7.2)
            params = dict(params or {})
            params.setdefault("apiKey", self._link()._api_key)
        return WsApiClient._call(self, endpoint, params, timeout=timeout, client_order_id=client_order_id,
                                 symbol=symbol)

    def session_subscriptions(self, *, timeout: float = 10.0) -> Any:
        """Not on futures (no user-data subscriptions on the WebSocket API)."""
        raise ValidationError("method", "session.subscriptions", "a spot WebSocket API method (futures: none)")

    # listenKey over the WebSocket API (section 7.2; USER_STREAM: apiKey, no signature)
    def _user_stream(self, method: str, timeout: float) -> Any:
        key = self._link()._api_key
        if not key:
            raise ValidationError("api_key", None, f"required for {method}")
        return self.request(method, {"apiKey": key}, timeout=timeout)

    def start_user_stream(self, *, timeout: float = 10.0) -> str:
        """``userDataStream.start`` (weight 1): the account's listenKey (the same one while it lives)."""
        result = self._user_stream("userDataStream.start", timeout)
        return str(result["listenKey"])

    def keepalive_user_stream(self, *, timeout: float = 10.0) -> Any:
        """``userDataStream.ping`` (weight 1): extend the listenKey by 60 minutes."""
        return self._user_stream("userDataStream.ping", timeout)

    def close_user_stream(self, *, timeout: float = 10.0) -> Any:
        """``userDataStream.stop`` (weight 1): invalidate the listenKey (every consumer of the account loses it)."""
        return self._user_stream("userDataStream.stop", timeout)

    def __repr__(self) -> str:
        return "FuturesWsApiClient()"


def make_ws_api_client(config: Any, link: Callable[[], Any]) -> WsApiClient:
    """``conn.ws_api`` for ``config``'s product."""
    if getattr(config.exchange, "is_futures", False):
        return FuturesWsApiClient(link, config.exchange.product, bool(config.rest.allow_float))
    return WsApiClient(link)
