"""The one abstract call every typed method goes through."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict, Optional, Union

from .._core.endpoints import Endpoint

__all__ = ["ApiBase", "Number", "JSON", "params_of"]

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


class ApiBase:
    """Provides ``_call``; the REST client sends over HTTP, ``ws_api`` over the WebSocket API."""

    def _call(self, endpoint: Endpoint, params: Optional[Dict[str, Any]] = None, *,
              timeout: Any = None, client_order_id: Optional[str] = None,
              symbol: Optional[str] = None) -> Any:  # pragma: no cover - overridden
        """Send ``endpoint`` with Binance-named ``params``; return the parsed answer (REST body,
        or the WebSocket API ``result``), not yet decimalized.  ``client_order_id``/``symbol``
        identify a placed order for :class:`binance_conn.UnknownStatusError`."""
        raise NotImplementedError
