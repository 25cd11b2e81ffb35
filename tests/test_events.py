"""Event value types: construction, immutability, equality/hash, replace, to_dict, pickling, Decimals."""

from __future__ import annotations

import copy
import inspect
import pickle
from decimal import Decimal
from typing import Any, Callable, Dict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binance_conn import events as ev
from binance_conn.enums import ConnectionState, ExecutionType, OrderSide, OrderStatus, OrderType, TimeInForce

D = Decimal
T0 = 1_700_000_000_000


def _fill(n: int = 1) -> ev.Fill:
    return ev.Fill(
        trade_id=n,
        price=D("100.10"),
        quantity=D("0.001"),
        commission=D("0.0000001"),
        commission_asset="BNB",
        time=T0 + n,
        is_maker=False,
    )


FACTORIES: Dict[str, Callable[[], ev.Event]] = {
    "ConnectionEvent": lambda: ev.ConnectionEvent("binance", "market", ConnectionState.CONNECTED, "started", T0),
    "Ticker": lambda: ev.Ticker(
        exchange="binance",
        symbol="BTCUSDT",
        last_price=D("43000.01"),
        open_price=D("42000.00"),
        high_price=D("43500.5"),
        low_price=D("41800"),
        volume=D("1234.5678"),
        quote_volume=D("53000000.12"),
        price_change_percent=D("2.381"),
        event_time=T0,
        price_change=D("1000.01"),
        weighted_avg_price=D("42900"),
        bid_price=D("43000.00"),
        bid_qty=D("0.5"),
        ask_price=D("43000.02"),
        ask_qty=D("0.7"),
        trade_count=98765,
    ),
    "MiniTicker": lambda: ev.MiniTicker(
        "binance", "ETHUSDT", D("2000.1"), D("1990"), D("2010"), D("1980"), D("1000"), D("2000000"), T0
    ),
    "BookTicker": lambda: ev.BookTicker(
        "binance", "BTCUSDT", 400900217, D("25.35"), D("31.21"), D("25.36"), D("40.66")
    ),
    "Trade": lambda: ev.Trade("binance", "BNBBTC", 12345, D("0.001"), D("100"), T0, True, T0 + 1),
    "AggTrade": lambda: ev.AggTrade("binance", "BNBBTC", 26129, D("0.01633102"), D("4.7"), 27781, 27781, T0, True, T0),
    "Kline": lambda: ev.Kline(
        "binance",
        "BTCUSDT",
        "1m",
        T0,
        T0 + 59_999,
        D("0.0010"),
        D("0.0025"),
        D("0.0015"),
        D("0.0020"),
        D("1000"),
        False,
        quote_volume=D("1.0000"),
        trade_count=100,
        event_time=T0 + 10,
    ),
    "DepthUpdate": lambda: ev.DepthUpdate(
        "binance",
        "BNBBTC",
        157,
        160,
        ((D("0.0024"), D("10")),),
        ((D("0.0026"), D("100")), (D("0.0027"), D("0"))),
        event_time=T0,
    ),
    "Fill": _fill,
    "OrderUpdate": lambda: ev.OrderUpdate(
        "binance",
        "ETHBTC",
        4293153,
        "mUvoqJxFIILMdfAW5iGSOW",
        OrderSide.BUY,
        OrderType.LIMIT,
        OrderStatus.PARTIALLY_FILLED,
        D("0.10264410"),
        D("1.00000000"),
        D("0.50000000"),
        D("0.10264410"),
        D("0.50000000"),
        T0,
        execution_type=ExecutionType.TRADE,
        time_in_force=TimeInForce.GTC,
        commission=D("0.0001"),
        commission_asset="BNB",
        trade_id=77,
        fills=(_fill(1), _fill(2)),
    ),
    "BalanceUpdate": lambda: ev.BalanceUpdate("binance", "ETH", T0, free=D("10000.000000"), locked=D("0.000000")),
    "OrderListUpdate": lambda: ev.OrderListUpdate(
        "binance",
        "ETHBTC",
        2,
        "OCO",
        "EXEC_STARTED",
        "EXECUTING",
        "NONE",
        "F4QN4G8DlFATFlIUQ0cjdD",
        T0,
        (("ETHBTC", 17, "AJYsMjErWJesZvqlJCTUgL"), ("ETHBTC", 18, "bfYPSQdLoqAAAAAAAAAAAA")),
        T0 + 1,
    ),
    "ExternalLockUpdate": lambda: ev.ExternalLockUpdate("binance", "NEO", D("10.00000000"), T0, T0 + 1),
    "EventStreamTerminated": lambda: ev.EventStreamTerminated("binance", T0),
}

# Market streams of web-socket-streams.md (streams branch).
FACTORIES.update({
    "AvgPrice": lambda: ev.AvgPrice("binance", "BTCUSDT", "5m", D("25776.86000000"), T0 - 1, T0),
    "RollingWindowTicker": lambda: ev.RollingWindowTicker(
        "binance", "BNBBTC", "1h", D("0.0015"), D("250.00"), D("0.0010"), D("0.0025"), D("0.0010"), D("0.0025"),
        D("0.0018"), D("10000"), D("18"), T0 - 3_600_000, T0, 0, 18150, 18151, T0,
    ),
    "ReferencePrice": lambda: ev.ReferencePrice("binance", "BAZUSD", D("1.00"), T0),
    "BlockTrade": lambda: ev.BlockTrade("binance", "BNBBTC", 582, D("0.052"), D("5838"), T0 - 1, True, T0),
    "GapEvent": lambda: ev.GapEvent("binance", "btcusdt@trade", "BTCUSDT", "trade", 1, 100, 149, "reconnect",
                                    "OPEN", T0),
    "OrderBook": lambda: ev.OrderBook("binance", "BTCUSDT", "SYNCED", 160, T0, ((D("0.0024"), D("10")),),
                                      ((D("0.0026"), D("100")),)),
})

# futures market streams (issue 14)
FACTORIES.update({
    "MarkPrice": lambda: ev.MarkPrice("binance", "BTCUSDT", D("11794.15"), D("11784.62"), D("11784.25"),
                                      D("0.00038167"), T0 + 3600, T0, D("11794.15")),
    "Liquidation": lambda: ev.Liquidation("binance", "BTCUSDT", OrderSide.SELL, OrderType.LIMIT, TimeInForce.IOC,
                                          D("0.014"), D("9910"), D("9910"), OrderStatus.FILLED, D("0.014"),
                                          D("0.014"), T0, T0),
    "ContinuousKline": lambda: ev.ContinuousKline("binance", "BTCUSDT", "PERPETUAL", "1m", T0, T0 + 59_999,
                                                  D("1"), D("2"), D("0.5"), D("1.5"), D("10"), False, D("15"), 3,
                                                  T0, 1, 3, D("5"), D("7.5")),
    "CompositeIndex": lambda: ev.CompositeIndex("binance", "DEFIUSDT", D("554.4"), "baseAsset",
                                                (ev.IndexComponent("BAL", "USDT", D("1.05"), D("0.0146"),
                                                                   D("24.3")),), T0),
    "ContractInfo": lambda: ev.ContractInfo("binance", "IOTAUSDT", "IOTAUSDT", "PERPETUAL", 4133404800000,
                                            1569398400000, "TRADING",
                                            (ev.ContractBracket(1, D(0), D(5000), D("0.01"), D(0), 21, 50),), T0),
    "AssetIndex": lambda: ev.AssetIndex("binance", "ADAUSD", D("0.27"), D("0.1"), D("0.1"), D("0.24"), D("0.30"),
                                        D("0.05"), D("0.05"), D("0.26"), D("0.28"), T0),
})


# Futures user data (issue 14).
FACTORIES.update({
    "PositionUpdate": lambda: ev.PositionUpdate("binance", "BTCUSDT", "LONG", D("20"), D("6563.665"),
                                                D("2850.212"), T0, D("6563.6"), D("0"), "ISOLATED", D("13200.7"),
                                                "ORDER", T0 - 1),
    "TradeLite": lambda: ev.TradeLite("binance", "BTCUSDT", 8886774, "z8hc", "BUY", D("0"), D("0.001"),
                                      D("64089.20"), D("0.040"), 109100866, False, T0 - 1, T0),
    "MarginCallPosition": lambda: ev.MarginCallPosition("ETHUSDT", "LONG", D("1.327"), "CROSSED", D("0"),
                                                        D("187.17127"), D("-1.166074"), D("1.614445")),
    "MarginCall": lambda: ev.MarginCall("binance", T0, D("3.16812045"), (FACTORIES["MarginCallPosition"](),)),
    "AccountConfigUpdate": lambda: ev.AccountConfigUpdate("binance", T0, T0 - 3, "BTCUSDT", 25),
    "AlgoOrderUpdate": lambda: ev.AlgoOrderUpdate("binance", "BNBUSDT", 2148719, "Q5xa", "CONDITIONAL",
                                                  "TAKE_PROFIT", "SELL", "CANCELED", D("0.01"), T0, T0 - 6),
})


def test_gap_event_counts_missing_ids_and_order_book_exposes_its_top() -> None:
    gap = FACTORIES["GapEvent"]()
    assert gap.missing == 50 and gap.replace(kind="kline").missing is None
    book = FACTORIES["OrderBook"]()
    assert book.best_bid == (D("0.0024"), D("10")) and book.best_ask == (D("0.0026"), D("100")) and book.is_synced
    assert ev.OrderBook("binance", "BTCUSDT", "SYNCING", 0, None).best_bid is None


def _event_classes() -> list:
    return [
        obj
        for _, obj in inspect.getmembers(ev, inspect.isclass)
        if issubclass(obj, ev.Event) and obj is not ev.Event and obj.__module__ == ev.__name__
    ]


def test_every_event_class_has_a_factory() -> None:
    assert {c.__name__ for c in _event_classes()} == set(FACTORIES)


def test_all_names_exist() -> None:
    for name in ev.__all__:
        assert hasattr(ev, name), name


@pytest.fixture(params=sorted(FACTORIES))
def event(request: pytest.FixtureRequest) -> ev.Event:
    return FACTORIES[request.param]()


def test_construction_sets_every_slot(event: ev.Event) -> None:
    for name in type(event).__slots__:
        getattr(event, name)  # AttributeError if a slot was left unset
    assert not hasattr(event, "__dict__")


def test_exchange_first_on_every_delivered_event(event: ev.Event) -> None:
    if isinstance(event, (ev.Fill, ev.MarginCallPosition)):
        pytest.skip("Fill / MarginCallPosition are parts of other events, not delivered events")
    assert type(event).__slots__[0] == "exchange"
    assert event.exchange == "binance"  # type: ignore[attr-defined]


def test_setattr_raises(event: ev.Event) -> None:
    for name in type(event).__slots__:
        before = getattr(event, name)
        with pytest.raises(AttributeError):
            setattr(event, name, before)
        assert getattr(event, name) is before
    with pytest.raises(AttributeError):
        event.brand_new_attribute = 1  # type: ignore[attr-defined]


def test_delattr_raises(event: ev.Event) -> None:
    for name in type(event).__slots__:
        with pytest.raises(AttributeError):
            delattr(event, name)
        getattr(event, name)


def test_equality_and_hash(event: ev.Event) -> None:
    factory = FACTORIES[type(event).__name__]
    twin = factory()
    assert twin is not event
    assert twin == event
    assert hash(twin) == hash(event)
    assert len({event, twin}) == 1
    assert event != object()
    assert (event == "x") is False


def test_inequality_on_any_field(event: ev.Event) -> None:
    for name in type(event).__slots__:
        value = getattr(event, name)
        other = "__different__" if not isinstance(value, str) else value + "_x"
        changed = event.replace(**{name: other})
        assert changed != event, name


def test_different_classes_with_same_values_are_not_equal() -> None:
    a = ev.Trade("binance", "X", 1, D(1), D(1), 1, True, 1)

    class Trade2(ev.Trade):
        __slots__ = ()

    b = Trade2("binance", "X", 1, D(1), D(1), 1, True, 1)
    assert a != b


def test_replace(event: ev.Event) -> None:
    name = type(event).__slots__[1]
    new_value = getattr(event, name)
    changed = event.replace(**{name: "CHANGED"})
    assert type(changed) is type(event)
    assert getattr(changed, name) == "CHANGED"
    assert getattr(event, name) == new_value  # original untouched
    for other in type(event).__slots__[2:]:
        assert getattr(changed, other) is getattr(event, other)
    assert event.replace() == event
    with pytest.raises(TypeError):
        event.replace(no_such_field=1)
    with pytest.raises(AttributeError):
        changed.__setattr__(name, "again")


def test_to_dict(event: ev.Event) -> None:
    d = event.to_dict()
    assert list(d) == list(type(event).__slots__)
    for name, value in d.items():
        assert value is getattr(event, name)
    d[next(iter(d))] = "mutated"
    assert event.to_dict() != d  # a new dict each time
    assert type(event)(**event.to_dict()) == event


def test_pickle_round_trip(event: ev.Event) -> None:
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(event, protocol=proto))
        assert type(back) is type(event)
        assert back == event
        assert hash(back) == hash(event)
        with pytest.raises(AttributeError):
            setattr(back, type(back).__slots__[0], "x")


def test_copy_returns_same_immutable_object(event: ev.Event) -> None:
    assert copy.copy(event) is event
    assert copy.deepcopy(event) is event


def test_repr_shows_class_and_fields(event: ev.Event) -> None:
    r = repr(event)
    assert r.startswith(type(event).__name__ + "(")
    for name in type(event).__slots__:
        assert f"{name}=" in r


def _decimals(value: Any) -> list:
    if isinstance(value, Decimal):
        return [value]
    if isinstance(value, tuple):
        return [d for item in value for d in _decimals(item)]
    if isinstance(value, ev.Event):
        return [d for v in value.to_dict().values() for d in _decimals(v)]
    return []


def test_decimal_fields_stay_decimal_through_pickle(event: ev.Event) -> None:
    back = pickle.loads(pickle.dumps(event))
    before = _decimals(event)
    after = _decimals(back)
    assert after == before
    assert all(type(d) is Decimal for d in after)
    assert [str(d) for d in after] == [str(d) for d in before]  # exponent preserved ("0.10264410")


def test_no_float_anywhere_in_samples(event: ev.Event) -> None:
    def walk(v: Any) -> None:
        assert not isinstance(v, float), (type(event).__name__, v)
        if isinstance(v, tuple):
            for x in v:
                walk(x)
        if isinstance(v, ev.Event):
            for x in v.to_dict().values():
                walk(x)

    walk(event)


def test_sequences_are_tuples_even_when_given_lists() -> None:
    ou = ev.OrderUpdate(
        "binance", "X", 1, "c", "BUY", "LIMIT", "NEW", D(1), D(1), D(0), D(0), D(0), T0, fills=[_fill()]
    )
    assert isinstance(ou.fills, tuple)
    ol = FACTORIES["OrderListUpdate"]().to_dict()
    ol["orders"] = [("X", 1, "a")]
    assert isinstance(ev.OrderListUpdate(**ol).orders, tuple)
    depth = ev.DepthUpdate("binance", "X", 1, 2, [(D(1), D(2))], [])
    assert isinstance(depth.bids, tuple) and isinstance(depth.asks, tuple)
    hash(depth)


def test_enum_fields_compare_to_strings() -> None:
    ou = FACTORIES["OrderUpdate"]()
    assert ou.side == "BUY" and ou.order_type == "LIMIT" and ou.status == "PARTIALLY_FILLED"
    ce = FACTORIES["ConnectionEvent"]()
    assert ce.state == "CONNECTED"


def test_order_update_defaults() -> None:
    ou = ev.OrderUpdate("binance", "X", 1, "c", "BUY", "LIMIT", "NEW", D(1), D(1), D(0), D(0), D(0), T0)
    assert ou.is_reconciled is False
    assert ou.fills == ()
    assert ou.order_list_id == -1
    assert ou.execution_type is None


def test_balance_update_two_kinds() -> None:
    pos = FACTORIES["BalanceUpdate"]()
    assert pos.kind == "outboundAccountPosition" and pos.delta is None and pos.free == D("10000")
    delta = ev.BalanceUpdate("binance", "BTC", T0, delta=D("100.00000000"), kind="balanceUpdate")
    assert delta.free is None and delta.locked is None and delta.delta == D("100")


_decimal_text = st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=-(10**12), max_value=10**12)


@given(price=_decimal_text, qty=_decimal_text)
def test_decimal_round_trip_property(price: Decimal, qty: Decimal) -> None:
    trade = ev.Trade("binance", "BTCUSDT", 1, price, qty, T0, False, T0)
    back = pickle.loads(pickle.dumps(trade))
    assert type(back.price) is Decimal and type(back.quantity) is Decimal
    assert str(back.price) == str(price) and str(back.quantity) == str(qty)
    assert back == trade and hash(back) == hash(trade)
    assert trade.replace(price=price).price is price
