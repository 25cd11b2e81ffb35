"""Request parameters as the REST client sends them (pure; no I/O)."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Tuple

import simplejson

from .._core.numbers import format_param
from .._core.params import check_client_order_id, new_client_order_id
from .._core.timing import format_recv_window, recv_window

__all__ = ["encode_params"]


def encode_params(params: Optional[Mapping[str, Any]], id_param: Optional[str], allow_float: bool
                  ) -> List[Tuple[str, str]]:
    """``(name, text)`` pairs in the caller's order, ``None`` values left out.

    ``id_param`` is the client id an order placement always carries (the endpoint table's
    ``order_id_param``: ``newClientOrderId``, or ``listClientOrderId`` for an order list):
    generated when the caller sent none, validated otherwise.

    Raises:
        ValidationError: a float without ``allow_float``, a bad recvWindow or client id.
    """
    pairs: List[Tuple[str, str]] = []
    if params:
        for name, value in params.items():
            if isinstance(value, (list, tuple)):  # symbols=["BTCUSDT","BNBUSDT"]: a JSON array's text
                pairs.append((name, simplejson.dumps([format_param(name, v, allow_float=allow_float) for v in value],
                                                     separators=(",", ":"))))
            elif value is not None:  # a per-call recvWindow: validated and sent canonical, as the configured one
                pairs.append((name, format_recv_window(recv_window(name, value)) if name == "recvWindow"
                              else format_param(name, value, allow_float=allow_float)))
    if id_param is not None:
        cid = next((v for k, v in pairs if k == id_param), None)
        if cid is None:
            pairs.append((id_param, new_client_order_id()))
        else:
            check_client_order_id(cid, id_param)
    return pairs
