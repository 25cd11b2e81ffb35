"""A RestClient that reports the orders it placed (the connector feeds them to the user-data
session's order tracker, so a user-data gap also covers REST placements)."""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping, Optional

from .._api.base import placed_orders
from . import futures as _futures  # noqa: F401 - registers the futures variants of RestClient
from .client import RestClient

__all__ = ["TrackingRestClient"]

_log = logging.getLogger("binance_conn.rest")


class TrackingRestClient(RestClient):
    """A :class:`RestClient` that tells an observer about every order it placed (typed
    placements: single orders, order lists, cancel-replace, SOR; and raw ``POST /api/v3/order``
    answers), so a user-data gap also covers REST placements."""

    order_observer: Optional[Callable[[Any], None]] = None

    def request(self, method: str, path: str, params: Optional[Mapping[str, Any]] = None,
                signed: bool = False, timeout: Any = None) -> Any:
        result = super().request(method, path, params, signed, timeout)
        observer = self.order_observer
        if observer is not None and path == self._product_spec.order_path and method.upper() == "POST":
            try:
                observer(result)
            except Exception:  # pragma: no cover - tracking must never break a placement
                _log.exception("order tracking failed")
        return result

    def _placed(self, result: Any) -> None:
        observer = self.order_observer
        if observer is None:
            return
        for order in placed_orders(result):
            try:
                observer(order)
            except Exception:  # pragma: no cover - tracking must never break a placement
                _log.exception("order tracking failed")
