"""User-data parsers and gap reconciliation: recorded payloads in, events and REST plans out."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binance_conn import errors
from binance_conn._core import userdata
from binance_conn._core.userdata import (
    OrderTracker,
    Reconciliation,
    RestQuery,
    parse_execution_report,
    parse_user_event,
)
from binance_conn._core.wsapi import UserDataEvent, WsApiProtocol
from binance_conn.enums import ExecutionType, OrderSide, OrderStatus, OrderType, TimeInForce
from binance_conn.events import (
    BalanceUpdate,
    EventStreamTerminated,
    ExternalLockUpdate,
    Fill,
    OrderListUpdate,
    OrderUpdate,
)

FIXTURES = Path(__file__).parent / "fixtures" / "user_data"
EX = "binance"


def payload(name: str) -> Dict[str, Any]:
    """The unwrapped event of a recorded WS API frame, via the protocol (as the I/O layer does)."""
    msg = WsApiProtocol().receive_text((FIXTURES / f"{name}.json").read_text(), 0.0)
    assert isinstance(msg, UserDataEvent)
    return msg.payload


# -- parsers ----------------------------------------------------------------------------------


def test_execution_report_new_maps_every_field() -> None:
    u = parse_execution_report(payload("execution_report_new"), EX)
    assert u.exchange == EX and u.symbol == "ETHBTC" and u.order_id == 4293153
    assert u.client_order_id == "mUvoqJxFIILMdfAW5iGSOW" and u.orig_client_order_id is None
    assert u.side is OrderSide.BUY and u.order_type is OrderType.LIMIT and u.time_in_force is TimeInForce.GTC
    assert u.execution_type is ExecutionType.NEW and u.status is OrderStatus.NEW
    assert u.price == Decimal("0.10264410") and u.quantity == Decimal("1.00000000")
    assert u.stop_price == Decimal(0) and u.iceberg_quantity == Decimal(0)
    assert u.filled_quantity == 0 and u.last_fill_price == 0 and u.last_fill_quantity == 0
    assert u.order_list_id == -1 and u.reject_reason == "NONE"
    assert u.commission == Decimal("0") and u.commission_asset is None
    assert u.transaction_time == 1499405658657 and u.trade_id is None and u.execution_id == 8641984
    assert u.is_on_book is True and u.is_maker is False
    assert u.creation_time == 1499405658657 and u.working_time == 1499405658657
    assert u.cumulative_quote_quantity == 0 and u.last_quote_quantity == 0 and u.quote_order_quantity == 0
    assert u.self_trade_prevention_mode == "NONE" and u.expiry_reason is None
    assert u.event_time == 1499405658658 and u.is_reconciled is False and u.fills == ()
    for name in ("price", "quantity", "filled_quantity", "last_fill_price", "last_fill_quantity", "commission"):
        assert type(getattr(u, name)) is Decimal, name


def test_execution_report_trade_has_its_fill() -> None:
    u = parse_execution_report(payload("execution_report_trade"), EX)
    assert u.execution_type is ExecutionType.TRADE and u.status is OrderStatus.PARTIALLY_FILLED
    assert u.last_fill_price == Decimal("0.10264400") and u.last_fill_quantity == Decimal("0.40000000")  # L, l
    assert u.filled_quantity == Decimal("0.40000000") and u.quantity == Decimal("1.00000000")  # z, q
    assert u.cumulative_quote_quantity == Decimal("0.04105760") and u.last_quote_quantity == Decimal("0.04105760")
    assert u.commission == Decimal("0.00040000") and u.commission_asset == "ETH"
    assert u.trade_id == 77 and u.is_maker is True and u.transaction_time == 1499405658699
    assert u.self_trade_prevention_mode == "EXPIRE_MAKER" and u.expiry_reason == "NONE"
    assert u.fills == (
        Fill(77, Decimal("0.10264400"), Decimal("0.40000000"), Decimal("0.00040000"), "ETH", 1499405658699, True),
    )


def test_execution_report_cancel_carries_original_client_id() -> None:
    u = parse_execution_report(payload("execution_report_canceled"), EX)
    assert u.status is OrderStatus.CANCELED and u.execution_type is ExecutionType.CANCELED
    assert u.client_order_id == "cancelMyOrder1" and u.orig_client_order_id == "mUvoqJxFIILMdfAW5iGSOW"
    assert u.is_on_book is False and u.working_time is None and u.fills == ()


def test_execution_report_unknown_enum_values_pass_through() -> None:
    ev = dict(payload("execution_report_new"), x="AMENDED_SOMEHOW", o="FANCY_ORDER", X="NEW", g=5)
    u = parse_execution_report(ev, EX)
    assert u.execution_type == "AMENDED_SOMEHOW" and u.order_type == "FANCY_ORDER" and u.order_list_id == 5


def test_outbound_account_position_one_event_per_asset() -> None:
    events = parse_user_event(payload("outbound_account_position"), EX)
    assert events == (
        BalanceUpdate(EX, "ETH", 1564034571105, free=Decimal("10000.000000"), locked=Decimal("0.000000"),
                      kind="outboundAccountPosition", update_time=1564034571073),
        BalanceUpdate(EX, "BTC", 1564034571105, free=Decimal("1.50000000"), locked=Decimal("0.25000000"),
                      kind="outboundAccountPosition", update_time=1564034571073),
    )  # fmt: skip
    assert all(e.delta is None for e in events)


def test_balance_update() -> None:
    (b,) = parse_user_event(payload("balance_update"), EX)
    assert b == BalanceUpdate(
        EX, "BTC", 1573200697110, delta=Decimal("100.00000000"), kind="balanceUpdate", update_time=1573200697068
    )
    assert isinstance(b, BalanceUpdate) and b.free is None and b.locked is None


def test_list_status() -> None:
    (lst,) = parse_user_event(payload("list_status"), EX)
    assert isinstance(lst, OrderListUpdate)
    assert (lst.symbol, lst.order_list_id, lst.contingency_type) == ("ETHBTC", 2, "OCO")
    assert (lst.list_status_type, lst.list_order_status, lst.reject_reason) == ("EXEC_STARTED", "EXECUTING", "NONE")
    assert lst.list_client_order_id == "F4QN4G8DlFATFlIUQ0cjdD" and lst.transaction_time == 1564035303625
    assert lst.orders == (("ETHBTC", 17, "AJYsMjErWJesZvqlJCTUgL"), ("ETHBTC", 18, "bfYPSQdLoqAJeNrOr9adzq"))
    assert lst.event_time == 1564035303637 and lst.exchange == EX


def test_control_and_lock_events_are_typed() -> None:
    (term,) = parse_user_event(payload("event_stream_terminated"), EX)
    assert isinstance(term, EventStreamTerminated) and term.exchange == EX
    (lock,) = parse_user_event(payload("external_lock_update"), EX)
    assert isinstance(lock, ExternalLockUpdate) and type(lock.delta) is Decimal


def test_unknown_event_type_gives_nothing() -> None:
    assert parse_user_event({"e": "somethingNew", "E": 1}, EX) == ()


def test_dispatch_execution_report() -> None:
    (u,) = parse_user_event(payload("execution_report_new"), EX)
    assert isinstance(u, OrderUpdate)


def test_malformed_execution_report_raises_key_error() -> None:
    with pytest.raises(KeyError):
        parse_user_event({"e": "executionReport", "s": "X"}, EX)


@given(
    st.decimals(min_value=0, max_value=10**9, places=8, allow_nan=False),
    st.decimals(min_value=0, max_value=10**6, places=8, allow_nan=False),
)
def test_decimals_survive_exactly(price: Decimal, qty: Decimal) -> None:
    ev = dict(payload("execution_report_trade"), L=format(price, "f"), l=format(qty, "f"), p=format(price, "f"))
    u = parse_execution_report(ev, EX)
    assert u.last_fill_price == price and u.price == price and u.last_fill_quantity == qty
    assert u.fills[0].price == price and u.fills[0].quantity == qty


# -- REST shapes (section 7) ------------------------------------------------------------------


def rest_order(order_id: int, status: str, executed: str, *, symbol: str = "BTCUSDT", **extra: Any) -> Dict[str, Any]:
    base = {
        "symbol": symbol,
        "orderId": order_id,
        "orderListId": -1,
        "clientOrderId": f"c{order_id}",
        "price": "100.00",
        "origQty": "1.00000000",
        "executedQty": executed,
        "cummulativeQuoteQty": str(Decimal(executed) * 100),
        "status": status,
        "timeInForce": "GTC",
        "type": "LIMIT",
        "side": "BUY",
        "stopPrice": "0.0",
        "icebergQty": "0.0",
        "time": 1_000,
        "updateTime": 2_000 + order_id,
        "isWorking": True,
        "workingTime": 1_000,
        "origQuoteOrderQty": "0.000000",
        "selfTradePreventionMode": "NONE",
    }
    base.update(extra)
    return base


def rest_trade(trade_id: int, order_id: int, qty: str, *, symbol: str = "BTCUSDT") -> Dict[str, Any]:
    return {
        "symbol": symbol, "id": trade_id, "orderId": order_id, "orderListId": -1, "price": "100.00",
        "qty": qty, "quoteQty": str(Decimal(qty) * 100), "commission": "0.001", "commissionAsset": "BNB",
        "time": 1_500 + trade_id, "isBuyer": True, "isMaker": False, "isBestMatch": True,
    }  # fmt: skip


def placed(
    order_id: int, *, symbol: str = "BTCUSDT", status: str = "NEW", executed: str = "0.00000000"
) -> Dict[str, Any]:
    """A RESULT placement response."""
    return {
        "symbol": symbol, "orderId": order_id, "orderListId": -1, "clientOrderId": f"c{order_id}",
        "transactTime": 1_000, "price": "100.00", "origQty": "1.00000000", "executedQty": executed,
        "cummulativeQuoteQty": "0", "status": status, "timeInForce": "GTC", "type": "LIMIT", "side": "BUY",
    }  # fmt: skip


class FakeRest:
    """Answers reconciliation queries from a dict of orders and trades; records every query."""

    def __init__(self, orders: List[Dict[str, Any]], trades: Optional[List[Dict[str, Any]]] = None) -> None:
        self.orders = {(o["symbol"], o["orderId"]): o for o in orders}
        self.trades = trades or []
        self.queries: List[RestQuery] = []
        self.fail_kinds: Dict[str, BaseException] = {}

    def answer(self, q: RestQuery) -> Any:
        if q.kind in self.fail_kinds:
            raise self.fail_kinds[q.kind]
        p = q.params
        if q.path == "/api/v3/openOrders":
            return [
                o
                for o in self.orders.values()
                if o["symbol"] == p["symbol"] and not userdata.is_final_status(o["status"])
            ]
        if q.path == "/api/v3/order":
            found = self.orders.get((p["symbol"], p["orderId"]))
            if found is None:
                raise errors.NotFoundError("Order does not exist.", binance_code=-2013)
            return found
        assert q.path == "/api/v3/myTrades"
        return [t for t in self.trades if t["symbol"] == p["symbol"] and t["orderId"] == p["orderId"]]

    def run(self, rec: Reconciliation) -> List[OrderUpdate]:
        while True:
            batch = rec.next_queries()
            if not batch:
                return rec.finish()
            for q in batch:
                self.queries.append(q)
                assert q.method == "GET"
                try:
                    rec.feed(q, json.loads(json.dumps(self.answer(q))))
                except errors.BinanceError as exc:
                    rec.fail(q, exc)


def gap(tracker: OrderTracker, rest: FakeRest) -> List[OrderUpdate]:
    rec = tracker.begin_reconcile()
    return rest.run(rec)


# -- reconciliation ---------------------------------------------------------------------------


def test_order_filled_during_gap_gives_one_reconciled_update_with_missed_fills() -> None:
    t = OrderTracker(EX)
    t.track_placed(placed(1))
    rest = FakeRest(
        [rest_order(1, "FILLED", "1.00000000", isWorking=False)],
        [rest_trade(10, 1, "0.40000000"), rest_trade(11, 1, "0.60000000"), rest_trade(12, 2, "5")],
    )
    (u,) = gap(t, rest)
    assert u.is_reconciled and u.status is OrderStatus.FILLED and u.execution_type is ExecutionType.TRADE
    assert u.filled_quantity == Decimal("1") and u.quantity == Decimal("1")
    assert [f.trade_id for f in u.fills] == [10, 11]
    assert sum(f.quantity for f in u.fills) == Decimal("1")
    assert u.fills[0] == Fill(10, Decimal("100.00"), Decimal("0.40000000"), Decimal("0.001"), "BNB", 1510, False)
    assert u.last_fill_quantity == Decimal("0.60000000") and u.trade_id == 11
    assert u.exchange == EX and u.client_order_id == "c1" and u.event_time == 2001
    assert [q.path for q in rest.queries] == ["/api/v3/openOrders", "/api/v3/order", "/api/v3/myTrades"]
    assert rest.queries[2].params == {"symbol": "BTCUSDT", "orderId": 1}
    assert ("BTCUSDT", 1) not in t  # final: reported, then forgotten
    assert gap(t, FakeRest([])) == []


def test_partially_filled_during_gap_reports_only_unseen_fills() -> None:
    t = OrderTracker(EX)
    t.track_placed(placed(1))
    live = parse_execution_report(
        dict(payload("execution_report_trade"), s="BTCUSDT", i=1, c="c1", t=10, z="0.40000000", l="0.40000000"), EX
    )
    t.observe(live)
    rest = FakeRest(
        [rest_order(1, "PARTIALLY_FILLED", "0.70000000")],
        [rest_trade(10, 1, "0.40000000"), rest_trade(11, 1, "0.30000000")],
    )
    (u,) = gap(t, rest)
    assert u.status is OrderStatus.PARTIALLY_FILLED and u.filled_quantity == Decimal("0.70000000")
    assert [f.trade_id for f in u.fills] == [11]
    assert [q.path for q in rest.queries] == ["/api/v3/openOrders", "/api/v3/myTrades"]  # open: no GET order
    tracked = t.get("BTCUSDT", 1)
    assert tracked is not None and tracked.filled == Decimal("0.70000000") and tracked.trade_ids == {10, 11}
    # A second gap with nothing new: nothing reported.
    assert gap(t, rest) == []


def test_canceled_during_gap() -> None:
    t = OrderTracker(EX)
    t.track_placed(placed(1))
    rest = FakeRest([rest_order(1, "CANCELED", "0.00000000", isWorking=False)])
    (u,) = gap(t, rest)
    assert u.status is OrderStatus.CANCELED and u.execution_type is ExecutionType.CANCELED and u.fills == ()
    assert u.last_fill_price == 0 and u.last_fill_quantity == 0
    assert [q.path for q in rest.queries] == ["/api/v3/openOrders", "/api/v3/order"]  # no fills to fetch
    assert len(t) == 0


def test_unchanged_orders_give_nothing_and_cost_one_query_per_symbol() -> None:
    t = OrderTracker(EX)
    for i in range(5):
        t.track_placed(placed(i, symbol="BTCUSDT"))
        t.track_placed(placed(100 + i, symbol="ETHBTC"))
    rest = FakeRest(
        [rest_order(i, "NEW", "0.00000000") for i in range(5)]
        + [rest_order(100 + i, "NEW", "0.00000000", symbol="ETHBTC") for i in range(5)]
    )
    rec = t.begin_reconcile()
    assert rec.first_phase_weight == 12
    assert rest.run(rec) == []
    assert rec.weight_spent == 12
    assert sorted(q.params["symbol"] for q in rest.queries) == ["BTCUSDT", "ETHBTC"]
    assert len(t) == 10


def test_never_the_all_symbols_open_orders() -> None:
    t = OrderTracker(EX)
    for i, sym in enumerate(["A", "B", "C", "A"]):
        t.track_placed(placed(i, symbol=sym))
    rest = FakeRest([])
    rest.run(t.begin_reconcile())
    opens = [q for q in rest.queries if q.path == "/api/v3/openOrders"]
    assert len(opens) == 3 and all("symbol" in q.params and q.weight == 6 for q in opens)


def test_plan_weight() -> None:
    t = OrderTracker(EX)
    for i in range(3):
        t.track_placed(placed(i, symbol="BTCUSDT"))
    t.track_placed(placed(9, symbol="ETHBTC"))
    rec = t.begin_reconcile()
    assert rec.symbols == ["BTCUSDT", "ETHBTC"]
    assert rec.estimated_weight == 2 * 6 + 4 * (4 + 5)
    rest = FakeRest(
        [
            rest_order(0, "FILLED", "1.00000000"),  # missing from open list, filled: 4 + 5
            rest_order(1, "CANCELED", "0.00000000"),  # missing, canceled: 4
            rest_order(2, "PARTIALLY_FILLED", "0.50000000"),  # open, moved: 5
            rest_order(9, "NEW", "0.00000000", symbol="ETHBTC"),  # open, unchanged: 0
        ],
        [rest_trade(1, 0, "1.00000000"), rest_trade(2, 2, "0.50000000")],
    )
    updates = rest.run(rec)
    assert rec.weight_spent == 2 * 6 + 2 * 4 + 2 * 5 == sum(q.weight for q in rest.queries)
    assert rec.weight_spent <= rec.estimated_weight
    assert {(u.order_id, str(u.status)) for u in updates} == {(0, "FILLED"), (1, "CANCELED"), (2, "PARTIALLY_FILLED")}
    assert all(u.is_reconciled for u in updates)


def test_empty_tracker_needs_no_queries() -> None:
    rec = OrderTracker(EX).begin_reconcile()
    assert rec.next_queries() == [] and rec.finish() == [] and rec.estimated_weight == 0


def test_live_events_newer_than_rest_win() -> None:
    t = OrderTracker(EX)
    t.track_placed(placed(1))
    rec = t.begin_reconcile()
    (q,) = rec.next_queries()
    rec.feed(q, [rest_order(1, "PARTIALLY_FILLED", "0.30000000")])
    # Meanwhile the resubscribed stream already delivered a later state.
    t.observe(parse_execution_report(
        dict(payload("execution_report_trade"), s="BTCUSDT", i=1, c="c1", t=5, z="0.60000000"), EX
    ))  # fmt: skip
    assert rec.next_queries() == []  # REST qty is behind: no trades query
    assert rec.finish() == []


def test_order_unknown_to_exchange_is_forgotten() -> None:
    t = OrderTracker(EX)
    t.track_placed(placed(1))
    rest = FakeRest([])
    assert gap(t, rest) == []
    assert len(t) == 0 and rest.queries[-1].path == "/api/v3/order"


def test_failed_open_orders_falls_back_to_per_order_queries() -> None:
    t = OrderTracker(EX)
    t.track_placed(placed(1))
    t.track_placed(placed(2))
    rest = FakeRest([rest_order(1, "NEW", "0"), rest_order(2, "CANCELED", "0")])
    rest.fail_kinds["open_orders"] = errors.UnknownStatusError("backend timeout")
    rec = t.begin_reconcile()
    (u,) = rest.run(rec)
    assert u.order_id == 2 and u.status is OrderStatus.CANCELED
    assert [q.path for q in rest.queries].count("/api/v3/order") == 2 and len(rec.failed) == 1


def test_failed_trades_query_still_reports_state_and_keeps_order() -> None:
    t = OrderTracker(EX)
    t.track_placed(placed(1))
    rest = FakeRest([rest_order(1, "PARTIALLY_FILLED", "0.5")], [rest_trade(1, 1, "0.5")])
    rest.fail_kinds["my_trades"] = errors.RateLimitError("slow down")
    (u,) = gap(t, rest)
    assert u.filled_quantity == Decimal("0.5") and u.fills == ()


def test_track_placed_full_response_remembers_fills() -> None:
    t = OrderTracker(EX)
    resp = placed(1, status="PARTIALLY_FILLED", executed="0.4")
    resp["fills"] = [{"price": "100", "qty": "0.4", "commission": "0", "commissionAsset": "BNB", "tradeId": 56}]
    t.track_placed(resp)
    tracked = t.get("BTCUSDT", 1)
    assert tracked is not None and tracked.trade_ids == {56} and tracked.status == "PARTIALLY_FILLED"
    t.track_placed(placed(2, status="FILLED", executed="1"))  # already final: nothing to reconcile
    t.track_placed({"symbol": "BTCUSDT", "orderId": 3, "clientOrderId": "x", "transactTime": 1})  # ACK
    t.track_placed({"code": -2010})  # not an order: ignored
    assert t.open_orders() == [("BTCUSDT", 1), ("BTCUSDT", 3)]


def test_observe_tracks_orders_seen_open_and_forgets_final_ones() -> None:
    t = OrderTracker(EX)
    new = parse_execution_report(payload("execution_report_new"), EX)
    t.observe(new)
    assert ("ETHBTC", 4293153) in t
    t.observe(parse_execution_report(payload("execution_report_trade"), EX))
    tracked = t.get("ETHBTC", 4293153)
    assert tracked is not None and tracked.trade_ids == {77}
    t.observe(parse_execution_report(payload("execution_report_canceled"), EX))
    assert len(t) == 0
    t.observe(parse_execution_report(payload("execution_report_canceled"), EX))  # late duplicate
    assert len(t) == 0


def test_out_of_order_live_update_does_not_regress() -> None:
    t = OrderTracker(EX)
    base = payload("execution_report_trade")
    t.observe(parse_execution_report(dict(base, z="0.8", t=2), EX))
    t.observe(parse_execution_report(dict(base, z="0.4", t=1), EX))
    tracked = t.get("ETHBTC", 4293153)
    assert tracked is not None and tracked.filled == Decimal("0.8") and tracked.trade_ids == {1, 2}


def test_memory_is_bounded_oldest_first() -> None:
    t = OrderTracker(EX, max_orders=3)
    for i in range(5):
        t.track_placed(placed(i))
    assert t.open_orders() == [("BTCUSDT", 2), ("BTCUSDT", 3), ("BTCUSDT", 4)]
    with pytest.raises(ValueError):
        OrderTracker(EX, max_orders=0)


def test_bounded_eviction_prefers_final_entries() -> None:
    t = OrderTracker(EX, max_orders=2)
    t.track_placed(placed(1))
    t.track_placed(placed(2))
    # Force a final entry to linger (as if reported but not yet dropped) to check eviction order.
    entry = t.get("BTCUSDT", 2)
    assert entry is not None
    entry.status = "FILLED"
    t.track_placed(placed(3))
    assert ("BTCUSDT", 1) in t and ("BTCUSDT", 2) not in t and ("BTCUSDT", 3) in t


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from(["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED"])),
        max_size=120,
    ),
    st.integers(1, 10),
)
def test_tracker_never_exceeds_cap_nor_keeps_final_orders(ops: List[Any], cap: int) -> None:
    t = OrderTracker(EX, max_orders=cap)
    for order_id, status in ops:
        t.track_placed(placed(order_id, status=status))
    assert len(t) <= cap
    assert all(not userdata.is_final_status(t.get(*k).status) for k in t.open_orders())  # type: ignore[union-attr]


@settings(max_examples=60)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=5), st.integers(0, 5))
def test_reconciled_fills_are_exactly_the_missed_ones(fill_counts: List[int], seen: int) -> None:
    """Any split of an order's execution into trades: the reconciled fills are the unseen ones, once."""
    t = OrderTracker(EX)
    t.track_placed(placed(1))
    trades = [rest_trade(i + 1, 1, f"0.{n}") for i, n in enumerate(fill_counts)]
    total = sum((Decimal(tr["qty"]) for tr in trades), Decimal(0))
    seen = min(seen, len(trades))
    base = payload("execution_report_trade")
    for tr in trades[:seen]:
        filled = sum((Decimal(x["qty"]) for x in trades[: tr["id"]]), Decimal(0))
        t.observe(parse_execution_report(dict(base, s="BTCUSDT", i=1, t=tr["id"], z=str(filled)), EX))
    rest = FakeRest([rest_order(1, "PARTIALLY_FILLED", str(total))], trades)
    updates = gap(t, rest)
    if seen == len(trades):
        assert updates == []
    else:
        (u,) = updates
        assert [f.trade_id for f in u.fills] == [tr["id"] for tr in trades[seen:]]
        assert u.filled_quantity == total


def test_order_from_rest_shape() -> None:
    u = userdata.order_from_rest(
        rest_order(4, "NEW", "0.0", cummulativeQuoteQty="-1.00000000", expiryReason="NONE", orderListId=7), EX
    )
    assert u.is_reconciled and u.cumulative_quote_quantity is None and u.order_list_id == 7
    assert u.time_in_force is TimeInForce.GTC and u.stop_price == 0 and u.is_on_book is True
    assert u.creation_time == 1_000 and u.event_time == 2_004 and u.expiry_reason == "NONE"


def test_rest_query_repr() -> None:
    q = RestQuery("/api/v3/order", {"symbol": "X", "orderId": 1}, 4, "order", "X", 1)
    assert "GET /api/v3/order" in repr(q) and "weight=4" in repr(q)


def test_is_final_status() -> None:
    assert userdata.is_final_status(OrderStatus.FILLED) and userdata.is_final_status("EXPIRED_IN_MATCH")
    assert not userdata.is_final_status("NEW") and not userdata.is_final_status("PENDING_NEW")


def test_fill_from_rest_accepts_mapping() -> None:
    m: Mapping[str, Any] = rest_trade(3, 1, "2.5")
    f = userdata.fill_from_rest(m)
    assert f.trade_id == 3 and f.quantity == Decimal("2.5") and f.is_maker is False


def test_gap_fill_reported_even_when_live_stream_moved_on() -> None:
    """Trade 11 happened in the gap, trade 12 live after the resubscribe but before finish()."""
    t = OrderTracker(EX)
    t.track_placed(placed(1, status="PARTIALLY_FILLED", executed="0.4"))
    t.observe(
        parse_execution_report(dict(payload("execution_report_trade"), s="BTCUSDT", i=1, c="c1", t=10, z="0.4"), EX)
    )
    rec = t.begin_reconcile()
    (q,) = rec.next_queries()
    rec.feed(q, [rest_order(1, "PARTIALLY_FILLED", "0.7")])
    (q,) = rec.next_queries()
    assert q.kind == "my_trades"
    rec.feed(q, [rest_trade(10, 1, "0.4"), rest_trade(11, 1, "0.3")])
    t.observe(
        parse_execution_report(dict(payload("execution_report_trade"), s="BTCUSDT", i=1, c="c1", t=12, z="1.0"), EX)
    )
    (u,) = rec.finish()
    assert [f.trade_id for f in u.fills] == [11]
    assert u.filled_quantity == Decimal("1.0") and u.status is OrderStatus.PARTIALLY_FILLED  # not regressed
