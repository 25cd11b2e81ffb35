"""The one abstract call every typed method goes through."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional, Union

from .._core.endpoints import Endpoint

__all__ = ["ApiBase", "Number", "JSON", "params_of", "placed_orders"]

Number = Union[Decimal, int, str]
"""A price or quantity argument: sent as written, never through float."""
JSON = Any


def params_of(**kw: Any) -> Dict[str, Any]:
    """Binance-named parameters with ``None`` values left out and ``symbol`` upper-cased."""
    out = {k: v for k, v in kw.items() if v is not None}
    sym = out.get("symbol")
    if isinstance(sym, str):
        out["symbol"] = sym.upper()
    return out


def placed_orders(result: Any) -> List[Mapping[str, Any]]:
    """The single-order answers inside a placement's answer: the order itself, an order list's
    ``orderReports``, a cancel-replace's ``newOrderResponse``, or the entries of a list (SOR
    over the WebSocket API)."""
    if isinstance(result, list):
        return [item for item in result if isinstance(item, Mapping)]
    if not isinstance(result, Mapping):
        return []
    reports = result.get("orderReports")
    if isinstance(reports, list):
        return [item for item in reports if isinstance(item, Mapping)]
    new_order = result.get("newOrderResponse")
    if "cancelResult" in result or "newOrderResult" in result:
        return [new_order] if isinstance(new_order, Mapping) and "orderId" in new_order else []
    return [result]


class ApiBase:
    """Provides ``_call``; the REST client sends over HTTP, ``ws_api`` over the WebSocket API."""

    def _call(self, endpoint: Endpoint, params: Optional[Dict[str, Any]] = None, *,
              timeout: Any = None, client_order_id: Optional[str] = None,
              symbol: Optional[str] = None) -> Any:  # pragma: no cover - overridden
        """Send ``endpoint`` with Binance-named ``params``; return the parsed answer (REST body,
        or the WebSocket API ``result``), not yet decimalized.  ``client_order_id``/``symbol``
        identify a placed order for :class:`binance_conn.UnknownStatusError`."""
        raise NotImplementedError

    def _placed(self, result: Any) -> None:
        """Hook called with the (decimalized) answer of every order placement (a single order,
        an order list, a cancel-replace, an SOR order).  No-op here; ``conn.ws_api`` overrides it
        to track the placed orders for reconciliation."""
