"""The futures REST client: ``RestClient(cfg)`` with a USD-M or COIN-M config gives one of these.

:meth:`RestEndpoints.__new__ <binance_conn._rest.endpoints.RestEndpoints.__new__>` (this module
registers :func:`futures_class` there when it loads: ``binance_conn.rest`` imports it) looks at
``config.exchange.product`` and builds the futures variant of the class asked for
(``RestClient`` -> :class:`FuturesRestClient`; a subclass such as the connector's
``TrackingRestClient`` -> a cached ``Futures<Name>`` subclass of both), so ``bc.RestClient(cfg)``
and ``conn.rest`` speak ``/fapi`` or ``/dapi`` without a second entry point.  The futures
methods (:class:`binance_conn._api.FuturesApi`) come first in the MRO; a spot endpoint method
the futures API lacks (``new_oco``, ``avg_price`` ...) raises :class:`ValidationError` naming
the method instead of sending a spot path to the futures host.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Optional, Type

from .._api.futures import FuturesApi
from .._core import products
from .._core.endpoints import Endpoint
from ..errors import ValidationError
from .client import RestClient
from .endpoints import RestEndpoints

__all__ = ["FuturesRestClient", "futures_class"]

_PRODUCT_NAMES = {"usdm": "USD-M futures", "coinm": "COIN-M futures"}


class FuturesRestClient(FuturesApi, RestClient):  # type: ignore[misc]  # futures signatures differ
    """:class:`binance_conn.rest.RestClient` for USD-M (``/fapi``) and COIN-M (``/dapi``) futures.

    Same contract as the spot client (thread-safe, total deadlines, retries only for safe calls,
    client ids on every placement, ``UnknownStatusError`` + :meth:`reconcile_order`); futures
    weights from :mod:`binance_conn._core.spec_futures`, a 2,400/min budget until exchangeInfo's
    ``rateLimits`` say otherwise, the ORDERS limits kept in :attr:`order_limits`, and errors mapped
    with the futures code table (``-4120``, ``-2019``, ``-5022`` ...).
    """

    _is_futures = True

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        product = config.exchange.product
        self._product_spec = products.spec_of(product)
        self._futures_product = product
        self.order_limits: Dict[str, int] = {}
        """ORDERS limits per window (``{"10S": 300, "1M": 1200}``) from exchangeInfo's ``rateLimits``."""
        super().__init__(config, *args, **kwargs)

    def __repr__(self) -> str:
        return (f"FuturesRestClient(exchange={self._exchange!r}, product={self._futures_product!r}, "
                f"base={self._base!r}, signed={self._signer is not None})")

    def _call(self, endpoint: Endpoint, params: Optional[Dict[str, Any]] = None, *, timeout: Any = None,
              client_order_id: Optional[str] = None, symbol: Optional[str] = None) -> Any:
        path = endpoint.path or ""
        if not path.startswith(("/fapi/", "/dapi/")):
            raise ValidationError("method", endpoint.name,
                                  f"{endpoint.name} is a spot endpoint ({endpoint.http} {path}); not available on "
                                  f"{_PRODUCT_NAMES.get(self._futures_product, 'futures')}")
        return super()._call(endpoint, params, timeout=timeout, client_order_id=client_order_id, symbol=symbol)

    def _exchange_info_request(self, params: Dict[str, Any], timeout: Any) -> Any:
        return RestClient._exchange_info_request(self, params, timeout)

    def _exchange_info(self, symbol: Optional[str]) -> Any:
        return self._cached_exchange_info({}, None)  # futures exchangeInfo takes no parameters

    def _cached_exchange_info(self, params: Any, timeout: Any) -> Any:
        data = super()._cached_exchange_info(params, timeout)
        limits: Dict[str, int] = {}
        for item in data.get("rateLimits", ()) if isinstance(data, dict) else ():
            if isinstance(item, dict) and item.get("rateLimitType") == "ORDERS":
                try:
                    letter = str(item["interval"])[0].upper()
                    limits[f"{int(item['intervalNum'])}{letter}"] = int(item["limit"])
                except (KeyError, ValueError, TypeError, IndexError):
                    continue
        if limits:
            self.order_limits = limits
        return data

    def probe(self, timeout: float, path: Optional[str] = None, params: Any = None) -> Any:
        """``GET path`` (default ``/fapi/v1/ping`` / ``/dapi/v1/ping``) for a liveness prober (see RestClient)."""
        return super().probe(timeout, path or self._product_spec.ping_path, params)


_CLASSES: Dict[type, type] = {RestClient: FuturesRestClient}
_LOCK = threading.Lock()


def futures_class(cls: Type[Any]) -> Type[Any]:
    """The futures variant of a RestClient class (created once per class)."""
    with _LOCK:
        made = _CLASSES.get(cls)
        if made is None:
            made = _CLASSES[cls] = type("Futures" + cls.__name__, (cls, FuturesRestClient),
                                        {"__module__": cls.__module__, "__doc__": cls.__doc__})
        return made


RestEndpoints._futures_factory = futures_class  # RestClient(cfg) with a futures config -> the futures variant
