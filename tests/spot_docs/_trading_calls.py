"""Shared by the trading docs tests: one typed call per trading endpoint, a scripted WebSocket
API link, and the check that an answer is the docs' JSON with every amount a Decimal."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Callable, Dict, List, Optional, Tuple

from binance_conn._core import catalog, spec_trading
from binance_conn._core.wsapi import Response, WsApiProtocol

ROUTES: Dict[str, str] = {f"{ep.http} {ep.path}": ep.name for ep in spec_trading.ENDPOINTS}
WS_METHODS: Dict[str, str] = {str(ep.ws_method): ep.name for ep in spec_trading.ENDPOINTS}

CALLS: Dict[str, Callable[[Any], Any]] = {
    "new_order": lambda c: c.new_order("BTCUSDT", "SELL", "MARKET", quantity="10"),
    "test_order": lambda c: c.test_order("BTCUSDT", "SELL", "LIMIT", quantity="0.1", price="23416.1",
                                         time_in_force="GTC", compute_commission_rates=True),
    "cancel_order": lambda c: c.cancel_order("LTCBTC", order_id=4),
    "cancel_open_orders": lambda c: c.cancel_open_orders("BTCUSDT"),
    "cancel_replace": lambda c: c.cancel_replace("BTCUSDT", "BUY", "LIMIT", "STOP_ON_FAILURE", cancel_order_id=9,
                                                 quantity="0.04", price="0.02", time_in_force="GTC"),
    "amend_order": lambda c: c.amend_order("BTCUSDT", "5", order_id=33),
    "new_oco": lambda c: c.new_oco("LTCBTC", "BUY", "0.624363", "0.036435", "0.960664"),
    "new_order_list_oco": lambda c: c.new_order_list_oco(
        "LTCBTC", "SELL", "5", "LIMIT_MAKER", "STOP_LOSS_LIMIT", above_price="3", below_price="1",
        below_stop_price="1", below_time_in_force="GTC", below_iceberg_qty="1"),
    "new_order_list_oto": lambda c: c.new_order_list_oto(
        "LTCBTC", "LIMIT", "SELL", "1", "1", "MARKET", "BUY", "5", working_time_in_force="GTC"),
    "new_order_list_otoco": lambda c: c.new_order_list_otoco(
        "LTCBTC", "LIMIT", "SELL", "1", "1", "BUY", "5", "LIMIT_MAKER", pending_below_type="STOP_LOSS_LIMIT",
        working_time_in_force="GTC", pending_above_price="3", pending_below_price="1", pending_below_stop_price="6",
        pending_below_time_in_force="IOC"),
    "new_order_list_opo": lambda c: c.new_order_list_opo(
        "BTCUSDT", "LIMIT", "BUY", "102264", "0.0006", "MARKET", "SELL", working_time_in_force="GTC"),
    "new_order_list_opoco": lambda c: c.new_order_list_opoco(
        "BTCUSDT", "LIMIT", "BUY", "102496", "0.0017", "SELL", "LIMIT_MAKER", pending_below_type="STOP_LOSS_LIMIT",
        working_time_in_force="GTC", pending_above_price="104261", pending_below_price="101613",
        pending_below_stop_price="10100", pending_below_time_in_force="GTC"),
    "cancel_order_list": lambda c: c.cancel_order_list("LTCBTC", order_list_id=0),
    "new_sor_order": lambda c: c.new_sor_order("BTCUSDT", "BUY", "LIMIT", "0.5", price="31000", time_in_force="GTC"),
    "test_sor_order": lambda c: c.test_sor_order("BTCUSDT", "BUY", "LIMIT", "0.1", price="0.1", time_in_force="GTC",
                                                 compute_commission_rates=True),
}
assert set(CALLS) == {ep.name for ep in spec_trading.ENDPOINTS}

_DECIMAL_TEXT = re.compile(r"^-?[0-9]+\.[0-9]+$")


def assert_decimals(doc: Any, got: Any, where: str = "") -> None:
    """``got`` is ``doc`` with every decimal string (``"0.00100000"``) a Decimal of that value."""
    if isinstance(doc, dict):
        assert isinstance(got, dict) and set(got) == set(doc), where
        for key, value in doc.items():
            assert_decimals(value, got[key], f"{where}.{key}")
    elif isinstance(doc, list):
        assert isinstance(got, list) and len(got) == len(doc), where
        for i, (a, b) in enumerate(zip(doc, got)):
            assert_decimals(a, b, f"{where}[{i}]")
    elif isinstance(doc, str) and _DECIMAL_TEXT.match(doc):
        assert isinstance(got, Decimal) and got == Decimal(doc), f"{where}: {got!r} is not Decimal({doc})"
    else:
        assert got == doc and type(got) is type(doc), f"{where}: {got!r} != {doc!r}"


class ScriptedLink:
    """Stands in for the user-data link behind ``WsApiClient``: frames are built and answers
    classified by the real :class:`WsApiProtocol`; ``answer(request_frame)`` scripts the reply
    (a frame dict without id, or None for no answer -> like a timeout)."""

    def __init__(self, answer: Callable[[Dict[str, Any]], Optional[Dict[str, Any]]]) -> None:
        self.proto = WsApiProtocol(api_key="k" * 64, sign=lambda payload: "0" * 64)
        self.answer = answer
        self.sent: List[Dict[str, Any]] = []
        self.tracked: List[Any] = []
        self.ids: List[Tuple[Optional[str], Optional[str]]] = []

    def request(self, method: str, params: Any = None, *, signed: bool = False, timeout: float = 10.0,
                client_order_id: Optional[str] = None, symbol: Optional[str] = None) -> Any:
        from binance_conn.errors import UnknownStatusError

        rid, text = self.proto.request(method, params, signed=signed, now=0.0)
        frame = json.loads(text)
        self.sent.append(frame)
        self.ids.append((client_order_id, symbol))
        reply = self.answer(frame)
        if reply is None:
            raise UnknownStatusError(f"no answer to {method}", client_order_id=client_order_id, symbol=symbol,
                                     method=method, details={"client_order_id": client_order_id})
        msg = self.proto.receive_text(json.dumps(dict(reply, id=rid)), 0.0)
        assert isinstance(msg, Response)
        if msg.error is not None:
            raise msg.error
        return msg.result

    def track_placed(self, response: Any) -> None:
        self.tracked.append(response)


def endpoint_of(name: str) -> Any:
    return catalog.BY_NAME[name]
