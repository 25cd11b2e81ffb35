"""User-data parsers, field by field (pure): conditional executionReport fields, types, value checks,
the new events (externalLockUpdate, eventStreamTerminated), ListOrder, and the delivery counters."""

from __future__ import annotations

import json
import pickle
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from binance_conn._core.userdata import (
    USER_EVENT_TYPES,
    OrderTracker,
    parse_execution_report,
    parse_external_lock,
    parse_list_status,
    parse_stream_terminated,
    parse_user_event,
    user_event_key,
)
from binance_conn._userdata.delivery import (
    BALANCE_TOPIC,
    EXTERNAL_LOCK_TOPIC,
    ORDER_LIST_TOPIC,
    ORDER_TOPIC,
    USER_TOPICS,
    UserEventDelivery,
)
from binance_conn.enums import ExecutionType
from binance_conn.events import (
    BalanceUpdate,
    EventStreamTerminated,
    ExternalLockUpdate,
    ListOrder,
    OrderListUpdate,
    OrderUpdate,
)

EX = "binance"
EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "spot_docs" / "examples.json"


def _doc(kind: str) -> Dict[str, Any]:
    for rec in json.loads(EXAMPLES.read_text()):
        if rec["doc"] == "user-data-stream.md" and rec["json"]["event"]["e"] == kind:
            return dict(rec["json"]["event"])
    raise LookupError(kind)


REPORT = _doc("executionReport")
# (key, docs example, attribute, expected value) for the table "Conditional Fields in Execution Report"
CONDITIONAL: List[Tuple[str, Any, str, Any]] = [
    ("d", 4, "trailing_delta", 4),
    ("D", 1668680518494, "trailing_time", 1668680518494),
    ("j", 1, "strategy_id", 1),
    ("J", 1000000, "strategy_type", 1000000),
    ("v", 3, "prevented_match_id", 3),
    ("A", "3.000000", "prevented_quantity", Decimal("3.000000")),
    ("B", "3.000000", "last_prevented_quantity", Decimal("3.000000")),
    ("u", 1, "trade_group_id", 1),
    ("U", 37, "counter_order_id", 37),
    ("Cs", "BTCUSDT", "counter_symbol", "BTCUSDT"),
    ("pl", "2.123456", "prevented_execution_quantity", Decimal("2.123456")),
    ("pL", "0.10000001", "prevented_execution_price", Decimal("0.10000001")),
    ("pY", "0.21234562", "prevented_execution_quote_quantity", Decimal("0.21234562")),
    ("W", 1668683798379, "working_time", 1668683798379),
    ("b", "ONE_PARTY_TRADE_REPORT", "match_type", "ONE_PARTY_TRADE_REPORT"),
    ("a", 1234, "allocation_id", 1234),
    ("k", "SOR", "working_floor", "SOR"),
    ("uS", True, "used_sor", True),
    ("gP", "PRIMARY_PEG", "peg_price_type", "PRIMARY_PEG"),
    ("gOT", "PRICE_LEVEL", "peg_offset_type", "PRICE_LEVEL"),
    ("gOV", 5, "peg_offset_value", 5),
    ("gp", "1.00000000", "pegged_price", Decimal("1.00000000")),
    ("eR", "INSUFFICIENT_LIQUIDITY", "expiry_reason", "INSUFFICIENT_LIQUIDITY"),
]
COND_KEYS = {c[0] for c in CONDITIONAL}
DECIMAL_KEYS = ["p", "q", "z", "l", "L", "n", "P", "F", "Z", "Y", "Q", "A", "B", "pl", "pL", "pY", "gp"]


def _bare() -> Dict[str, Any]:
    return {k: v for k, v in REPORT.items() if k not in COND_KEYS}


@pytest.mark.parametrize("key,value,attr,want", CONDITIONAL, ids=[c[0] for c in CONDITIONAL])
def test_each_conditional_field_alone(key: str, value: Any, attr: str, want: Any) -> None:
    u = parse_execution_report(dict(_bare(), **{key: value}), EX)
    got = getattr(u, attr)
    assert got == want and type(got) is type(want)
    for _, _, other, _ in CONDITIONAL:
        if other != attr:
            assert getattr(u, other) is None, other


def test_no_conditional_field_gives_none_everywhere() -> None:
    u = parse_execution_report(_bare(), EX)
    assert all(getattr(u, attr) is None for _, _, attr, _ in CONDITIONAL)


def test_trade_prevention_report() -> None:
    # CHANGELOG: x=TRADE_PREVENTION has l, L, Y zero and the prevented execution in pl, pL, pY
    ev = dict(REPORT, x="TRADE_PREVENTION", X="EXPIRED", l="0", L="0", Y="0", pl="2.123456", pL="0.10000001",
              pY="0.21234562", A="3.000000", B="3.000000", u=1, U=37, Cs="BTCUSDT", eR="NONE", t=-1)
    u = parse_execution_report(ev, EX)
    assert u.execution_type is ExecutionType.TRADE_PREVENTION and u.fills == ()
    assert (u.last_fill_quantity, u.last_fill_price, u.last_quote_quantity) == (0, 0, 0)
    assert u.prevented_execution_quantity == Decimal("2.123456")
    assert u.prevented_execution_price == Decimal("0.10000001")
    assert u.prevented_execution_quote_quantity == Decimal("0.21234562") and u.trade_id is None
    assert u.prevented_match_id == 3 and u.counter_symbol == "BTCUSDT"


@pytest.mark.parametrize("key", DECIMAL_KEYS)
@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "sNaN", float("nan"), float("inf")])
def test_non_finite_decimal_is_refused(key: str, bad: Any) -> None:
    with pytest.raises(ValueError):
        parse_execution_report(dict(REPORT, **{key: bad}), EX)


# (a null "g" reads as absent: order_list_id -1, see the test below)
NOT_INTS = ("4293153", 1.0, Decimal(7), True, None, [1])


@pytest.mark.parametrize("key,bad", [(k, b) for k in ("i", "E", "g") for b in NOT_INTS if not (k == "g" and b is None)])
def test_non_int_ids_are_refused(key: str, bad: Any) -> None:
    with pytest.raises(ValueError):
        parse_execution_report(dict(REPORT, **{key: bad}), EX)


def test_missing_order_list_id_defaults_to_minus_one() -> None:
    ev = dict(REPORT)
    del ev["g"]
    assert parse_execution_report(ev, EX).order_list_id == -1
    assert parse_execution_report(dict(REPORT, g=None), EX).order_list_id == -1


def test_decimal_values_keep_their_text() -> None:
    u = parse_execution_report(dict(REPORT, p=Decimal("0.10264410"), q="1.00000000", gp="0.00000001"), EX)
    assert str(u.price) == "0.10264410" and str(u.quantity) == "1.00000000" and str(u.pegged_price) == "1E-8"


@pytest.mark.parametrize("kind,change", [
    ("balanceUpdate", {"d": "NaN"}), ("balanceUpdate", {"E": "1"}),
    ("outboundAccountPosition", {"B": [{"a": "ETH", "f": "Infinity", "l": "0"}]}),
    ("externalLockUpdate", {"d": "-Infinity"}), ("externalLockUpdate", {"T": None}), ("externalLockUpdate", {"a": 5}),
    ("listStatus", {"g": 2.0}), ("listStatus", {"O": [{"s": "ETHBTC", "i": "17", "c": "x"}]}),
    ("eventStreamTerminated", {"E": "soon"}),
], ids=repr)
def test_other_events_value_checks(kind: str, change: Dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        parse_user_event(dict(_doc(kind), **change), EX)


def test_external_lock_update() -> None:
    ev = parse_external_lock(_doc("externalLockUpdate"), EX)
    assert ev == ExternalLockUpdate(EX, "NEO", Decimal("10.00000000"), 1581557507268, 1581557507324)
    assert (ev.asset, ev.transaction_time, ev.event_time) == ("NEO", 1581557507268, 1581557507324)
    assert type(ev.delta) is Decimal and pickle.loads(pickle.dumps(ev)) == ev
    unlock = parse_external_lock(dict(_doc("externalLockUpdate"), d="-2.5"), EX)
    assert unlock.delta == Decimal("-2.5")


def test_event_stream_terminated() -> None:
    assert parse_stream_terminated(_doc("eventStreamTerminated"), EX) == EventStreamTerminated(EX, 1728973001334)


def test_list_status_members_are_named() -> None:
    lst = parse_list_status(_doc("listStatus"), EX)
    first = lst.orders[0]
    assert isinstance(first, ListOrder) and first == ("ETHBTC", 17, "AJYsMjErWJesZvqlJCTUgL")
    assert (first.symbol, first.order_id, first.client_order_id) == ("ETHBTC", 17, "AJYsMjErWJesZvqlJCTUgL")
    assert pickle.loads(pickle.dumps(lst)) == lst
    # plain tuples given to the constructor become ListOrder too
    members = (("ETHBTC", 1, "a"),)
    built = OrderListUpdate(EX, "ETHBTC", 2, "OCO", "EXEC_STARTED", "EXECUTING", "NONE", "x", 1, members, 2)
    assert type(built.orders[0]) is ListOrder and built.orders[0].order_id == 1


def test_order_update_positional_construction_unchanged() -> None:
    u = OrderUpdate(EX, "BTCUSDT", 1, "c", "BUY", "LIMIT", "NEW", Decimal(1), Decimal(2), Decimal(0), Decimal(0),
                    Decimal(0), 5)
    assert u.trailing_delta is None and u.pegged_price is None and u.used_sor is None and u.fills == ()
    assert u.replace(used_sor=True).used_sor is True


def test_every_type_has_a_parser_and_the_rest_give_nothing() -> None:
    for kind in USER_EVENT_TYPES:
        assert parse_user_event(_doc(kind), EX), kind
    assert parse_user_event({"e": "notAnEvent", "E": 1}, EX) == ()


def test_natural_keys() -> None:
    lock = _doc("externalLockUpdate")
    assert user_event_key(lock) == ("externalLockUpdate", "NEO", "10.00000000", 1581557507268, 1581557507324)
    assert user_event_key(dict(lock, d="11")) != user_event_key(lock)
    assert user_event_key(_doc("eventStreamTerminated")) is None


# -- delivery counters (no sockets: a recording dispatcher) ------------------------------------------


class _Dispatcher:
    def __init__(self) -> None:
        self.published: List[Tuple[str, Any]] = []

    def publish(self, topic: str, event: Any, stop: Any = None) -> None:
        self.published.append((topic, event))


def _delivery() -> Tuple[UserEventDelivery, _Dispatcher]:
    disp = _Dispatcher()
    tracker = OrderTracker(EX)
    return UserEventDelivery(EX, disp, threading.Event(), tracker, threading.Lock()), disp  # type: ignore[arg-type]


def test_delivery_routes_and_counts_every_type() -> None:
    d, disp = _delivery()
    d.publish([_doc(k) for k in USER_EVENT_TYPES] + [{"e": "brandNew", "E": 1}, {"e": 5}, {"E": 1}])
    assert [t for t, _ in disp.published] == [ORDER_TOPIC, BALANCE_TOPIC, BALANCE_TOPIC, ORDER_LIST_TOPIC,
                                              EXTERNAL_LOCK_TOPIC]
    assert isinstance(disp.published[-1][1], ExternalLockUpdate) and isinstance(disp.published[1][1], BalanceUpdate)
    counts = d.counts()
    assert counts["events_by_type"] == dict.fromkeys(USER_EVENT_TYPES, 1)
    assert counts["unknown_events"] == 3 and counts["last_unknown_event"] == "None"
    assert counts["stream_terminations"] == 1 and d.events == 5 and d.malformed == 0
    assert EXTERNAL_LOCK_TOPIC in USER_TOPICS


def test_delivery_counts_malformed_and_delivers_the_rest() -> None:
    d, disp = _delivery()
    d.publish([dict(REPORT, p="NaN"), dict(REPORT, i="1"), dict(_doc("externalLockUpdate"), d="x"), REPORT])
    assert [t for t, _ in disp.published] == [ORDER_TOPIC]
    assert d.malformed == 3 and d.counts()["events_by_type"]["executionReport"] == 1
    assert d.counts()["last_malformed_event"].startswith("externalLockUpdate: ")


def test_reconciled_update_carries_the_rest_conditional_fields() -> None:
    from binance_conn._core.userdata import order_from_rest

    order = {"symbol": "BTCUSDT", "orderId": 7, "clientOrderId": "x", "price": "1.0", "origQty": "2",
             "executedQty": "0", "status": "EXPIRED", "type": "LIMIT", "side": "BUY", "timeInForce": "GTC",
             "time": 1, "updateTime": 2, "isWorking": False, "trailingDelta": 10, "trailingTime": -1,
             "strategyId": 37463720, "strategyType": 1000000, "preventedMatchId": 0, "preventedQuantity": "1.200000",
             "usedSor": True, "workingFloor": "SOR", "pegPriceType": "PRIMARY_PEG", "pegOffsetType": "PRICE_LEVEL",
             "pegOffsetValue": 5, "peggedPrice": "87523.83710000", "expiryReason": "INSUFFICIENT_LIQUIDITY"}
    u = order_from_rest(order, EX)
    assert (u.trailing_delta, u.trailing_time, u.strategy_id, u.strategy_type) == (10, None, 37463720, 1000000)
    assert u.prevented_match_id == 0 and u.prevented_quantity == Decimal("1.200000")
    assert u.used_sor is True and u.working_floor == "SOR" and u.expiry_reason == "INSUFFICIENT_LIQUIDITY"
    assert (u.peg_price_type, u.peg_offset_type, u.peg_offset_value) == ("PRIMARY_PEG", "PRICE_LEVEL", 5)
    assert u.pegged_price == Decimal("87523.83710000") and u.is_reconciled
    assert order_from_rest(dict(order, trailingTime=1668680518494), EX).trailing_time == 1668680518494
    plain = order_from_rest({k: v for k, v in order.items() if k in ("symbol", "orderId", "status")}, EX)
    assert plain.trailing_delta is None and plain.pegged_price is None and plain.used_sor is None
