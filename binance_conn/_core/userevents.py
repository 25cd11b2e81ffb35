"""User-data event parsers (sans-I/O): the unwrapped payloads of user-data-stream.md -> typed events.

Every event of the docs and every field of each, conditional ones included:

* ``executionReport`` -> :class:`~binance_conn.events.OrderUpdate` (case-sensitive keys:
  ``c``/``C``, ``l``/``L``, ``q``/``Q``, ``z``/``Z``, ``pl``/``pL`` differ; ``M`` is
  documented as "Ignore" and dropped); a TRADE carries its execution as one ``Fill``.
* ``outboundAccountPosition`` -> one :class:`~binance_conn.events.BalanceUpdate` per asset.
* ``balanceUpdate`` -> one ``BalanceUpdate`` with ``delta`` (``T``, the clear time, is ``update_time``).
* ``listStatus`` -> :class:`~binance_conn.events.OrderListUpdate`.
* ``externalLockUpdate`` -> :class:`~binance_conn.events.ExternalLockUpdate`.
* ``eventStreamTerminated`` -> :class:`~binance_conn.events.EventStreamTerminated`.

Value checks (cheap, like the market parsers'): every price and quantity must be a finite
number (``"NaN"``, ``"Infinity"`` and JSON's ``NaN`` literal are refused) and the order id,
order-list id and event time must be ints; a payload that fails raises ``ValueError``
(a missing key ``KeyError``), which the delivery counts as malformed and never delivers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping, Optional, Tuple

from .. import enums
from ..enums import ExecutionType, OrderSide, OrderStatus, OrderType, TimeInForce
from ..events import (
    BalanceUpdate,
    Event,
    EventStreamTerminated,
    ExternalLockUpdate,
    Fill,
    ListOrder,
    OrderListUpdate,
    OrderUpdate,
)

__all__ = [
    "USER_EVENT_TYPES",
    "parse_execution_report",
    "parse_account_position",
    "parse_balance_update",
    "parse_list_status",
    "parse_external_lock",
    "parse_stream_terminated",
    "parse_user_event",
    "user_event_key",
]

USER_EVENT_TYPES = (
    "executionReport",
    "outboundAccountPosition",
    "balanceUpdate",
    "listStatus",
    "externalLockUpdate",
    "eventStreamTerminated",
)
"""The ``e`` values of user-data-stream.md; any other type is counted as unknown."""


def _dec(value: Any) -> Optional[Decimal]:
    """An optional Decimal without value checks (REST shapes)."""
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _num(value: Any) -> Decimal:
    """A required finite Decimal (str, int or the Decimal of a JSON number)."""
    got = Decimal(value) if type(value) is not float else Decimal(str(value))
    if not got.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return got


def _opt_num(value: Any) -> Optional[Decimal]:
    if value is None or value == "":
        return None
    return _num(value)


def _int(value: Any, key: str) -> int:
    if type(value) is not int:
        raise ValueError(f"{key} is not an int: {value!r}")
    return value


def _opt_int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_bool(value: Any) -> Optional[bool]:
    return value if isinstance(value, bool) else None


def _list_id(value: Any) -> int:
    got = _opt_int(value)
    return -1 if got is None else got


def _opt_str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value != "" else None


def parse_execution_report(ev: Mapping[str, Any], exchange: str) -> OrderUpdate:
    """``executionReport`` -> ``OrderUpdate``; a TRADE carries its execution as one ``Fill``.

    ``C`` (original client order id of a canceled order) becomes ``orig_client_order_id``
    when non-empty; ``t == -1`` (no trade) becomes ``trade_id=None``.  Raises ``ValueError``
    for a non-finite price/quantity or a non-int order id, event time or order-list id.
    """
    get = ev.get
    execution_type = enums.coerce(ExecutionType, ev["x"])
    last_price = _num(ev["L"])
    last_qty = _num(ev["l"])
    trade_id = _opt_int(get("t"))
    if trade_id == -1:
        trade_id = None
    commission = _opt_num(get("n"))
    commission_asset = _opt_str(get("N"))
    transaction_time = _opt_int(get("T"))
    is_maker = _opt_bool(get("m"))
    fills: Tuple[Fill, ...] = ()
    if execution_type == ExecutionType.TRADE and trade_id is not None:
        fills = (Fill(trade_id, last_price, last_qty, commission, commission_asset, transaction_time, is_maker),)
    list_id = get("g")
    tif = get("f")
    return OrderUpdate(
        exchange,
        ev["s"],
        _int(ev["i"], "i"),
        ev["c"],
        enums.coerce(OrderSide, ev["S"]),
        enums.coerce(OrderType, ev["o"]),
        enums.coerce(OrderStatus, ev["X"]),
        _num(ev["p"]),
        _num(ev["q"]),
        _num(ev["z"]),
        last_price,
        last_qty,
        _int(ev["E"], "E"),
        False,
        execution_type,
        enums.coerce(TimeInForce, tif) if isinstance(tif, str) else None,
        _opt_num(get("P")),
        _opt_num(get("F")),
        -1 if list_id is None else _int(list_id, "g"),
        _opt_str(get("C")),
        _opt_str(get("r")),
        commission,
        commission_asset,
        transaction_time,
        trade_id,
        _opt_int(get("I")),
        _opt_bool(get("w")),
        is_maker,
        _opt_int(get("O")),
        _opt_num(get("Z")),
        _opt_num(get("Y")),
        _opt_num(get("Q")),
        _opt_int(get("W")),
        _opt_str(get("V")),
        _opt_str(get("eR")),
        fills,
        # conditional fields (user-data-stream.md "Conditional Fields in Execution Report")
        trailing_delta=_opt_int(get("d")),
        trailing_time=_opt_int(get("D")),
        strategy_id=_opt_int(get("j")),
        strategy_type=_opt_int(get("J")),
        prevented_match_id=_opt_int(get("v")),
        prevented_quantity=_opt_num(get("A")),
        last_prevented_quantity=_opt_num(get("B")),
        trade_group_id=_opt_int(get("u")),
        counter_order_id=_opt_int(get("U")),
        counter_symbol=_opt_str(get("Cs")),
        prevented_execution_quantity=_opt_num(get("pl")),
        prevented_execution_price=_opt_num(get("pL")),
        prevented_execution_quote_quantity=_opt_num(get("pY")),
        match_type=_opt_str(get("b")),
        allocation_id=_opt_int(get("a")),
        working_floor=_opt_str(get("k")),
        used_sor=_opt_bool(get("uS")),
        peg_price_type=_opt_str(get("gP")),
        peg_offset_type=_opt_str(get("gOT")),
        peg_offset_value=_opt_int(get("gOV")),
        pegged_price=_opt_num(get("gp")),
    )


def parse_account_position(ev: Mapping[str, Any], exchange: str) -> Tuple[BalanceUpdate, ...]:
    """``outboundAccountPosition`` -> one ``BalanceUpdate`` per asset (free/locked, update_time=u)."""
    event_time = _int(ev["E"], "E")
    update_time = _opt_int(ev.get("u"))
    return tuple(
        BalanceUpdate(
            exchange,
            b["a"],
            event_time,
            free=_num(b["f"]),
            locked=_num(b["l"]),
            kind="outboundAccountPosition",
            update_time=update_time,
        )
        for b in ev.get("B") or ()
    )


def parse_balance_update(ev: Mapping[str, Any], exchange: str) -> BalanceUpdate:
    """``balanceUpdate`` (deposit, withdrawal, transfer) -> ``BalanceUpdate(delta=d, update_time=T)``
    (``T`` is the docs' "Clear Time")."""
    return BalanceUpdate(
        exchange, ev["a"], _int(ev["E"], "E"), delta=_num(ev["d"]), kind="balanceUpdate",
        update_time=_opt_int(ev.get("T")),
    )


def parse_list_status(ev: Mapping[str, Any], exchange: str) -> OrderListUpdate:
    """``listStatus`` -> ``OrderListUpdate``; ``orders`` = one ``ListOrder(symbol, order_id, client_order_id)``
    per member."""
    return OrderListUpdate(
        exchange=exchange,
        symbol=ev["s"],
        order_list_id=_int(ev["g"], "g"),
        contingency_type=ev["c"],
        list_status_type=ev["l"],
        list_order_status=ev["L"],
        reject_reason=ev.get("r") or "NONE",
        list_client_order_id=ev["C"],
        transaction_time=ev["T"],
        orders=tuple(ListOrder(o["s"], _int(o["i"], "O.i"), o["c"]) for o in ev.get("O") or ()),
        event_time=_int(ev["E"], "E"),
    )


def parse_external_lock(ev: Mapping[str, Any], exchange: str) -> ExternalLockUpdate:
    """``externalLockUpdate`` -> ``ExternalLockUpdate(asset=a, delta=d, transaction_time=T, event_time=E)``."""
    asset = ev["a"]
    if not isinstance(asset, str):
        raise ValueError(f"a is not an asset: {asset!r}")
    return ExternalLockUpdate(exchange, asset, _num(ev["d"]), _int(ev["T"], "T"), _int(ev["E"], "E"))


def parse_stream_terminated(ev: Mapping[str, Any], exchange: str) -> EventStreamTerminated:
    """``eventStreamTerminated`` -> ``EventStreamTerminated(event_time=E)``."""
    return EventStreamTerminated(exchange, _int(ev["E"], "E"))


def parse_user_event(ev: Mapping[str, Any], exchange: str) -> Tuple[Event, ...]:
    """Any user-data payload -> its events; ``()`` for an unknown type (see :data:`USER_EVENT_TYPES`).
    Raises ``KeyError``/``ValueError`` on a malformed one."""
    kind = ev.get("e")
    if kind == "executionReport":
        return (parse_execution_report(ev, exchange),)
    if kind == "outboundAccountPosition":
        return parse_account_position(ev, exchange)
    if kind == "balanceUpdate":
        return (parse_balance_update(ev, exchange),)
    if kind == "listStatus":
        return (parse_list_status(ev, exchange),)
    if kind == "externalLockUpdate":
        return (parse_external_lock(ev, exchange),)
    if kind == "eventStreamTerminated":
        return (parse_stream_terminated(ev, exchange),)
    return ()


def user_event_key(payload: Mapping[str, Any]) -> Optional[Tuple[Any, ...]]:
    """The natural key of a raw user-data event (duplicates during a rollover overlap), or None.

    ``eventStreamTerminated`` has none: each subscription ends on its own."""
    kind = payload.get("e")
    if kind == "executionReport":
        return (kind, payload.get("i"), payload.get("I"), payload.get("x"), payload.get("z"), payload.get("E"))
    if kind == "outboundAccountPosition":
        return (kind, payload.get("u"), payload.get("E"))
    if kind == "balanceUpdate" or kind == "externalLockUpdate":
        return (kind, payload.get("a"), payload.get("d"), payload.get("T"), payload.get("E"))
    if kind == "listStatus":
        return (kind, payload.get("g"), payload.get("T"), payload.get("L"), payload.get("l"))
    return None
