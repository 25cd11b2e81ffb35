"""Futures user-data event parsers (sans-I/O): the listenKey stream's payloads -> typed events.

binance-futures-reference.md section 7.3 (fUDS Event-* pages, SDK-U models), every field of each:

* ``ORDER_TRADE_UPDATE`` -> :class:`~binance_conn.events.OrderUpdate` (``o`` object; futures
  fields ``ps``, ``R``, ``rp``, ``ap``, ``ot``, ``wt``, ``cp``, ``AP``, ``cr``, ``pP``, ``b``,
  ``a``, ``pm``, ``gtd``, ``M``, COIN-M ``ma`` and top-level ``i``); a TRADE carries one ``Fill``.
* ``TRADE_LITE`` -> :class:`~binance_conn.events.TradeLite`.
* ``ACCOUNT_UPDATE`` -> one :class:`~binance_conn.events.BalanceUpdate` per ``a.B`` item and one
  :class:`~binance_conn.events.PositionUpdate` per ``a.P`` item (a delta: only what changed).
* ``MARGIN_CALL`` -> :class:`~binance_conn.events.MarginCall`.
* ``ACCOUNT_CONFIG_UPDATE`` -> :class:`~binance_conn.events.AccountConfigUpdate`.
* ``ALGO_UPDATE`` -> :class:`~binance_conn.events.AlgoOrderUpdate` (``T`` transaction time, ``E``
  event time: the SDK's labels; the English page swaps them, a doc slip -- conflict 7).
* ``listenKeyExpired`` -> its event time (``E`` as int or, as the doc sample shows, a string:
  conflict 7, both accepted); the session replaces the key, users see no event.

Value checks as the spot parsers (``_core/userevents.py``): prices and quantities finite, ids
and event times ints; a failure raises ``ValueError``/``KeyError`` and the payload is counted
as malformed, never delivered.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Tuple

from .. import enums
from ..enums import ExecutionType, OrderSide, OrderStatus, OrderType, TimeInForce
from ..events import (
    AccountConfigUpdate,
    AlgoOrderUpdate,
    BalanceUpdate,
    Fill,
    MarginCall,
    MarginCallPosition,
    OrderUpdate,
    PositionUpdate,
    TradeLite,
)
from .userevents import _int, _num, _opt_bool, _opt_int, _opt_num, _opt_str

__all__ = [
    "FUTURES_EVENT_TYPES",
    "IGNORED_EVENT_TYPES",
    "parse_order_trade_update",
    "parse_trade_lite",
    "parse_account_update",
    "parse_margin_call",
    "parse_account_config",
    "parse_algo_update",
    "listen_key_expired_time",
    "futures_event_key",
    "margin_type",
]

FUTURES_EVENT_TYPES = ("ORDER_TRADE_UPDATE", "TRADE_LITE", "ACCOUNT_UPDATE", "MARGIN_CALL",
                       "ACCOUNT_CONFIG_UPDATE", "ALGO_UPDATE", "listenKeyExpired")
"""The ``e`` values the futures session parses and acts on."""
IGNORED_EVENT_TYPES = ("STRATEGY_UPDATE", "GRID_UPDATE", "CONDITIONAL_ORDER_TRIGGER_REJECT")
"""Documented, counted, not delivered (grid strategies; the reject event is deprecated since 2025-12-15)."""


def margin_type(value: Any) -> Optional[str]:
    """``isolated``/``ISOLATED`` -> ``ISOLATED``; ``cross``/``crossed``/``CROSSED`` -> ``CROSSED``."""
    if not isinstance(value, str) or not value:
        return None
    up = value.upper()
    return "CROSSED" if up in ("CROSS", "CROSSED") else up


def _event_time(ev: Mapping[str, Any]) -> int:
    return _int(ev["E"], "E")


def parse_order_trade_update(ev: Mapping[str, Any], exchange: str) -> OrderUpdate:
    """``ORDER_TRADE_UPDATE`` -> ``OrderUpdate`` (``t == 0``: no trade, ``trade_id=None``)."""
    o = ev["o"]
    get = o.get
    execution_type = enums.coerce(ExecutionType, o["x"])
    last_price = _num(o["L"])
    last_qty = _num(o["l"])
    trade_id = _opt_int(get("t")) or None
    commission = _opt_num(get("n"))
    commission_asset = _opt_str(get("N"))
    transaction_time = _opt_int(get("T"))
    if transaction_time is None:
        transaction_time = _opt_int(ev.get("T"))
    is_maker = _opt_bool(get("m"))
    fills: Tuple[Fill, ...] = ()
    if execution_type == ExecutionType.TRADE and trade_id is not None:
        fills = (Fill(trade_id, last_price, last_qty, commission, commission_asset, transaction_time, is_maker),)
    tif = get("f")
    ot = get("ot")
    return OrderUpdate(
        exchange, o["s"], _int(o["i"], "o.i"), o["c"], enums.coerce(OrderSide, o["S"]),
        enums.coerce(OrderType, o["o"]), enums.coerce(OrderStatus, o["X"]), _num(o["p"]), _num(o["q"]),
        _num(o["z"]), last_price, last_qty, _event_time(ev), False, execution_type,
        enums.coerce(TimeInForce, tif) if isinstance(tif, str) else None,
        stop_price=_opt_num(get("sp")),
        commission=commission,
        commission_asset=commission_asset,
        transaction_time=transaction_time,
        trade_id=trade_id,
        is_maker=is_maker,
        self_trade_prevention_mode=_opt_str(get("V")),
        expiry_reason=_opt_str(get("er")),
        fills=fills,
        strategy_id=_opt_int(get("si")),
        strategy_type=_opt_int(get("ss")),
        position_side=_opt_str(get("ps")),
        reduce_only=_opt_bool(get("R")),
        realized_pnl=_opt_num(get("rp")),
        average_price=_opt_num(get("ap")),
        original_order_type=enums.coerce(OrderType, ot) if isinstance(ot, str) else None,
        working_type=_opt_str(get("wt")),
        close_position=_opt_bool(get("cp")),
        activation_price=_opt_num(get("AP")),
        callback_rate=_opt_num(get("cr")),
        price_protect=_opt_bool(get("pP")),
        bids_notional=_opt_num(get("b")),
        asks_notional=_opt_num(get("a")),
        price_match=_opt_str(get("pm")),
        good_till_date=_opt_int(get("gtd")),
        modify_id=_opt_int(get("M")),
        margin_asset=_opt_str(get("ma")),
        account_alias=_opt_str(ev.get("i")),
    )


def parse_trade_lite(ev: Mapping[str, Any], exchange: str) -> TradeLite:
    """``TRADE_LITE`` -> ``TradeLite``."""
    m = ev["m"]
    if type(m) is not bool:
        raise ValueError(f"m is not a bool: {m!r}")
    return TradeLite(exchange, ev["s"], _int(ev["i"], "i"), ev["c"], enums.coerce(OrderSide, ev["S"]),
                     _num(ev["p"]), _num(ev["q"]), _num(ev["L"]), _num(ev["l"]), _int(ev["t"], "t"), m,
                     _int(ev["T"], "T"), _event_time(ev))


def parse_account_update(ev: Mapping[str, Any], exchange: str
                         ) -> Tuple[Tuple[BalanceUpdate, ...], Tuple[PositionUpdate, ...]]:
    """``ACCOUNT_UPDATE`` -> (one ``BalanceUpdate`` per ``a.B`` item, one ``PositionUpdate`` per ``a.P`` item)."""
    event_time = _event_time(ev)
    tx = _opt_int(ev.get("T"))
    a = ev["a"]
    reason = _opt_str(a.get("m"))
    alias = _opt_str(ev.get("i"))
    balances = tuple(
        BalanceUpdate(exchange, b["a"], event_time, delta=_opt_num(b.get("bc")), kind="ACCOUNT_UPDATE",
                      update_time=tx, wallet_balance=_num(b["wb"]), cross_wallet_balance=_opt_num(b.get("cw")),
                      reason=reason, account_alias=alias)
        for b in a.get("B") or ())
    positions = tuple(
        PositionUpdate(exchange, p["s"], p.get("ps") or "BOTH", _num(p["pa"]), _num(p["ep"]), _num(p["up"]),
                       event_time, breakeven_price=_opt_num(p.get("bep")),
                       accumulated_realized=_opt_num(p.get("cr")), margin_type=margin_type(p.get("mt")),
                       isolated_wallet=_opt_num(p.get("iw")), reason=reason, transaction_time=tx,
                       account_alias=alias)
        for p in a.get("P") or ())
    return balances, positions


def parse_margin_call(ev: Mapping[str, Any], exchange: str) -> MarginCall:
    """``MARGIN_CALL`` -> ``MarginCall`` with one ``MarginCallPosition`` per ``p`` item."""
    positions = tuple(
        MarginCallPosition(p["s"], p.get("ps") or "BOTH", _num(p["pa"]), margin_type(p.get("mt")) or "",
                           _opt_num(p.get("iw")), _num(p["mp"]), _num(p["up"]), _num(p["mm"]))
        for p in ev.get("p") or ())
    return MarginCall(exchange, _event_time(ev), _opt_num(ev.get("cw")), positions, _opt_str(ev.get("i")))


def parse_account_config(ev: Mapping[str, Any], exchange: str) -> AccountConfigUpdate:
    """``ACCOUNT_CONFIG_UPDATE`` -> ``AccountConfigUpdate`` (``ac``: symbol + leverage; ``ai``: Multi-Assets)."""
    ac = ev.get("ac") or {}
    ai = ev.get("ai") or {}
    leverage = ac.get("l")
    if leverage is not None:
        leverage = _int(leverage, "ac.l")
    return AccountConfigUpdate(exchange, _event_time(ev), _opt_int(ev.get("T")), _opt_str(ac.get("s")), leverage,
                               _opt_bool(ai.get("j")), _opt_str(ev.get("i")))


def parse_algo_update(ev: Mapping[str, Any], exchange: str) -> AlgoOrderUpdate:
    """``ALGO_UPDATE`` -> ``AlgoOrderUpdate`` (``ai`` ``""`` before the trigger -> ``order_id=None``)."""
    o = ev["o"]
    get = o.get
    tif = get("f")
    return AlgoOrderUpdate(
        exchange, o["s"], _int(o["aid"], "o.aid"), o.get("caid") or "", o.get("at") or "",
        enums.coerce(OrderType, o["o"]), enums.coerce(OrderSide, o["S"]), o["X"], _num(o["q"]), _event_time(ev),
        transaction_time=_opt_int(ev.get("T")),
        position_side=_opt_str(get("ps")),
        time_in_force=enums.coerce(TimeInForce, tif) if isinstance(tif, str) else None,
        price=_opt_num(get("p")),
        trigger_price=_opt_num(get("tp")),
        order_id=_opt_str(get("ai")) if not isinstance(get("ai"), int) else str(get("ai")),
        average_price=_opt_num(get("ap")),
        filled_quantity=_opt_num(get("aq")),
        actual_order_type=_opt_str(get("act")) if get("act") not in ("0", 0) else None,
        self_trade_prevention_mode=_opt_str(get("V")),
        working_type=_opt_str(get("wt")),
        price_match=_opt_str(get("pm")),
        close_position=_opt_bool(get("cp")),
        price_protect=_opt_bool(get("pP")),
        reduce_only=_opt_bool(get("R")),
        trigger_time=_opt_int(get("tt")),
        good_till_date=_opt_int(get("gtd")),
        reason=_opt_str(get("rm")),
        is_activated=_opt_bool(get("ia")),
    )


def listen_key_expired_time(ev: Mapping[str, Any]) -> int:
    """``listenKeyExpired``'s ``E`` (an int, or a string of digits as the doc sample shows)."""
    value = ev["E"]
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return _int(value, "E")


def futures_event_key(payload: Mapping[str, Any]) -> Optional[Tuple[Any, ...]]:
    """The natural key of a raw futures user-data event (duplicates when two links overlap), or None."""
    kind = payload.get("e")
    o = payload.get("o")
    if kind == "ORDER_TRADE_UPDATE" and isinstance(o, Mapping):
        return (kind, o.get("i"), o.get("x"), o.get("X"), o.get("z"), o.get("t"), payload.get("E"))
    if kind == "ALGO_UPDATE" and isinstance(o, Mapping):
        return (kind, o.get("aid"), o.get("X"), o.get("ia"), payload.get("E"))
    if kind == "TRADE_LITE":
        return (kind, payload.get("i"), payload.get("t"))
    if kind in ("ACCOUNT_UPDATE", "ACCOUNT_CONFIG_UPDATE", "MARGIN_CALL"):
        return (kind, payload.get("E"), payload.get("T"))
    return None
