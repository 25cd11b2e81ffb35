"""Immutable event values delivered to subscribers.

Every event is a plain ``__slots__`` class whose ``__setattr__`` raises: as
immutable as a frozen dataclass but several times cheaper to build, which
matters on the stream hot path.  One event object is shared by all subscribers
of its stream, so immutability is what makes that sharing safe.

Conventions (README "Streams and events"): ``exchange`` comes first on every event; prices and
quantities are :class:`decimal.Decimal`; sequences are tuples; ``symbol`` is
upper case; ``*_time`` fields are integer epoch milliseconds as Binance sends
them; ``side``/``order_type``/``status``/``state`` are ``str`` enums, or plain
``str`` for a value Binance added after this release.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple, Type, TypeVar, Union

from .enums import (
    BookState,
    ConnectionState,
    ExecutionType,
    GapState,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)

__all__ = [
    "GapEvent",
    "OrderBook",
    "Event",
    "ConnectionEvent",
    "Ticker",
    "MiniTicker",
    "BookTicker",
    "Trade",
    "AggTrade",
    "Kline",
    "DepthUpdate",
    "OrderUpdate",
    "Fill",
    "BalanceUpdate",
    "OrderListUpdate",
    "PriceLevel",
    "ListOrder",
    "ExternalLockUpdate",
    "EventStreamTerminated",
    "AvgPrice",
    "RollingWindowTicker",
    "ReferencePrice",
    "BlockTrade",
    "MarkPrice",
    "Liquidation",
    "ContinuousKline",
    "IndexComponent",
    "CompositeIndex",
    "ContractBracket",
    "ContractInfo",
    "AssetIndex",
    "PositionUpdate",
    "TradeLite",
    "MarginCall",
    "MarginCallPosition",
    "AccountConfigUpdate",
    "AlgoOrderUpdate",
]

PriceLevel = Tuple[Decimal, Decimal]
"""One order-book level: ``(price, quantity)``."""


class ListOrder(NamedTuple):
    """One member of an order list (``listStatus`` ``O`` item): a plain tuple with names."""

    symbol: str
    order_id: int
    client_order_id: str

_set = object.__setattr__

T = TypeVar("T", bound="Event")


def _rebuild(cls: Type[T], values: Tuple[Any, ...]) -> T:
    obj = object.__new__(cls)
    for name, value in zip(cls.__slots__, values):
        _set(obj, name, value)
    return obj


class Event:
    """Base of every event: immutable, comparable, hashable, picklable."""

    __slots__: Tuple[str, ...] = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable (tried to set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable (tried to delete {name!r})")

    def _values(self) -> Tuple[Any, ...]:
        return tuple(getattr(self, n) for n in self.__slots__)

    def __repr__(self) -> str:
        body = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({body})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__,) + self._values())

    def __reduce__(self) -> Tuple[Callable[..., Any], Tuple[Any, ...]]:
        return (_rebuild, (type(self), self._values()))

    def __copy__(self: T) -> T:
        return self

    def __deepcopy__(self: T, memo: Dict[int, Any]) -> T:
        return self

    def to_dict(self) -> Dict[str, Any]:
        """The fields as a new ``dict`` (values are shared, not copied)."""
        return {n: getattr(self, n) for n in self.__slots__}

    def replace(self: T, **changes: Any) -> T:
        """A copy with ``changes`` applied; unknown field names raise ``TypeError``."""
        unknown = set(changes) - set(self.__slots__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {sorted(unknown)}")
        values = tuple(changes.get(n, getattr(self, n)) for n in self.__slots__)
        return _rebuild(type(self), values)


class ConnectionEvent(Event):
    """A change of a session's link: CONNECTED, DISCONNECTED or RECONNECTING."""

    __slots__ = ("exchange", "session", "state", "reason", "timestamp")
    exchange: str
    session: str
    state: Union[ConnectionState, str]
    reason: str
    timestamp: int

    def __init__(
        self,
        exchange: str,
        session: str,
        state: Union[ConnectionState, str],
        reason: str,
        timestamp: int,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "session", session)
        _set(self, "state", state)
        _set(self, "reason", reason)
        _set(self, "timestamp", timestamp)


class Ticker(Event):
    """24 h rolling-window statistics of one symbol (``<symbol>@ticker``)."""

    __slots__ = (
        "exchange",
        "symbol",
        "last_price",
        "open_price",
        "high_price",
        "low_price",
        "volume",
        "quote_volume",
        "price_change",
        "price_change_percent",
        "weighted_avg_price",
        "bid_price",
        "bid_qty",
        "ask_price",
        "ask_qty",
        "trade_count",
        "event_time",
        "prev_close_price",
        "last_qty",
        "open_time",
        "close_time",
        "first_trade_id",
        "last_trade_id",
    )
    exchange: str
    symbol: str
    last_price: Decimal
    open_price: Decimal
    high_price: Decimal
    low_price: Decimal
    volume: Decimal
    quote_volume: Decimal
    price_change: Optional[Decimal]
    price_change_percent: Decimal
    weighted_avg_price: Optional[Decimal]
    bid_price: Optional[Decimal]
    bid_qty: Optional[Decimal]
    ask_price: Optional[Decimal]
    ask_qty: Optional[Decimal]
    trade_count: Optional[int]
    event_time: int
    prev_close_price: Optional[Decimal]
    last_qty: Optional[Decimal]
    open_time: Optional[int]
    close_time: Optional[int]
    first_trade_id: Optional[int]
    last_trade_id: Optional[int]

    def __init__(
        self,
        exchange: str,
        symbol: str,
        last_price: Decimal,
        open_price: Decimal,
        high_price: Decimal,
        low_price: Decimal,
        volume: Decimal,
        quote_volume: Decimal,
        price_change_percent: Decimal,
        event_time: int,
        price_change: Optional[Decimal] = None,
        weighted_avg_price: Optional[Decimal] = None,
        bid_price: Optional[Decimal] = None,
        bid_qty: Optional[Decimal] = None,
        ask_price: Optional[Decimal] = None,
        ask_qty: Optional[Decimal] = None,
        trade_count: Optional[int] = None,
        prev_close_price: Optional[Decimal] = None,
        last_qty: Optional[Decimal] = None,
        open_time: Optional[int] = None,
        close_time: Optional[int] = None,
        first_trade_id: Optional[int] = None,
        last_trade_id: Optional[int] = None,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "last_price", last_price)
        _set(self, "open_price", open_price)
        _set(self, "high_price", high_price)
        _set(self, "low_price", low_price)
        _set(self, "volume", volume)
        _set(self, "quote_volume", quote_volume)
        _set(self, "price_change", price_change)
        _set(self, "price_change_percent", price_change_percent)
        _set(self, "weighted_avg_price", weighted_avg_price)
        _set(self, "bid_price", bid_price)
        _set(self, "bid_qty", bid_qty)
        _set(self, "ask_price", ask_price)
        _set(self, "ask_qty", ask_qty)
        _set(self, "trade_count", trade_count)
        _set(self, "event_time", event_time)
        _set(self, "prev_close_price", prev_close_price)
        _set(self, "last_qty", last_qty)
        _set(self, "open_time", open_time)
        _set(self, "close_time", close_time)
        _set(self, "first_trade_id", first_trade_id)
        _set(self, "last_trade_id", last_trade_id)


class MiniTicker(Event):
    """24 h mini ticker (``<symbol>@miniTicker``)."""

    __slots__ = (
        "exchange",
        "symbol",
        "close_price",
        "open_price",
        "high_price",
        "low_price",
        "volume",
        "quote_volume",
        "event_time",
    )
    exchange: str
    symbol: str
    close_price: Decimal
    open_price: Decimal
    high_price: Decimal
    low_price: Decimal
    volume: Decimal
    quote_volume: Decimal
    event_time: int

    def __init__(
        self,
        exchange: str,
        symbol: str,
        close_price: Decimal,
        open_price: Decimal,
        high_price: Decimal,
        low_price: Decimal,
        volume: Decimal,
        quote_volume: Decimal,
        event_time: int,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "close_price", close_price)
        _set(self, "open_price", open_price)
        _set(self, "high_price", high_price)
        _set(self, "low_price", low_price)
        _set(self, "volume", volume)
        _set(self, "quote_volume", quote_volume)
        _set(self, "event_time", event_time)


class BookTicker(Event):
    """Best bid/ask of one symbol (``<symbol>@bookTicker``)."""

    __slots__ = ("exchange", "symbol", "update_id", "bid_price", "bid_qty", "ask_price", "ask_qty", "event_time",
                 "transaction_time")
    exchange: str
    symbol: str
    update_id: int
    bid_price: Decimal
    bid_qty: Decimal
    ask_price: Decimal
    ask_qty: Decimal
    event_time: Optional[int]
    """Futures only (``E``); None on spot."""
    transaction_time: Optional[int]
    """Futures only (``T``); None on spot."""

    def __init__(
        self,
        exchange: str,
        symbol: str,
        update_id: int,
        bid_price: Decimal,
        bid_qty: Decimal,
        ask_price: Decimal,
        ask_qty: Decimal,
        event_time: Optional[int] = None,
        transaction_time: Optional[int] = None,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "update_id", update_id)
        _set(self, "bid_price", bid_price)
        _set(self, "bid_qty", bid_qty)
        _set(self, "ask_price", ask_price)
        _set(self, "ask_qty", ask_qty)
        _set(self, "event_time", event_time)
        _set(self, "transaction_time", transaction_time)


class Trade(Event):
    """One trade (``<symbol>@trade``)."""

    __slots__ = (
        "exchange",
        "symbol",
        "trade_id",
        "price",
        "quantity",
        "trade_time",
        "is_buyer_maker",
        "event_time",
        "is_backfilled",
    )
    exchange: str
    symbol: str
    trade_id: int
    price: Decimal
    quantity: Decimal
    trade_time: int
    is_buyer_maker: bool
    event_time: int

    is_backfilled: bool
    def __init__(
        self,
        exchange: str,
        symbol: str,
        trade_id: int,
        price: Decimal,
        quantity: Decimal,
        trade_time: int,
        is_buyer_maker: bool,
        event_time: int,
        is_backfilled: bool = False,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "trade_id", trade_id)
        _set(self, "price", price)
        _set(self, "quantity", quantity)
        _set(self, "trade_time", trade_time)
        _set(self, "is_buyer_maker", is_buyer_maker)
        _set(self, "event_time", event_time)
        _set(self, "is_backfilled", is_backfilled)


class AggTrade(Event):
    """An aggregated trade (``<symbol>@aggTrade``)."""

    __slots__ = (
        "exchange",
        "symbol",
        "agg_trade_id",
        "price",
        "quantity",
        "first_trade_id",
        "last_trade_id",
        "trade_time",
        "is_buyer_maker",
        "event_time",
        "is_backfilled",
        "normal_quantity",
    )
    exchange: str
    symbol: str
    agg_trade_id: int
    price: Decimal
    quantity: Decimal
    first_trade_id: int
    last_trade_id: int
    trade_time: int
    is_buyer_maker: bool
    event_time: int

    is_backfilled: bool
    normal_quantity: Optional[Decimal]
    """USD-M futures only (``nq``): the quantity without RPI orders; None elsewhere."""
    def __init__(
        self,
        exchange: str,
        symbol: str,
        agg_trade_id: int,
        price: Decimal,
        quantity: Decimal,
        first_trade_id: int,
        last_trade_id: int,
        trade_time: int,
        is_buyer_maker: bool,
        event_time: int,
        is_backfilled: bool = False,
        normal_quantity: Optional[Decimal] = None,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "agg_trade_id", agg_trade_id)
        _set(self, "price", price)
        _set(self, "quantity", quantity)
        _set(self, "first_trade_id", first_trade_id)
        _set(self, "last_trade_id", last_trade_id)
        _set(self, "trade_time", trade_time)
        _set(self, "is_buyer_maker", is_buyer_maker)
        _set(self, "event_time", event_time)
        _set(self, "is_backfilled", is_backfilled)
        _set(self, "normal_quantity", normal_quantity)


class Kline(Event):
    """One candlestick update (``<symbol>@kline_<interval>``)."""

    __slots__ = (
        "exchange",
        "symbol",
        "interval",
        "open_time",
        "close_time",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "is_closed",
        "quote_volume",
        "trade_count",
        "event_time",
        "first_trade_id",
        "last_trade_id",
        "taker_buy_base_volume",
        "taker_buy_quote_volume",
        "timezone",
        "is_backfilled",
    )
    exchange: str
    symbol: str
    interval: str
    open_time: int
    close_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    is_closed: bool
    quote_volume: Optional[Decimal]
    trade_count: Optional[int]
    event_time: Optional[int]
    first_trade_id: Optional[int]
    last_trade_id: Optional[int]
    taker_buy_base_volume: Optional[Decimal]
    taker_buy_quote_volume: Optional[Decimal]
    timezone: Optional[str]

    is_backfilled: bool
    def __init__(
        self,
        exchange: str,
        symbol: str,
        interval: str,
        open_time: int,
        close_time: int,
        open: Decimal,
        high: Decimal,
        low: Decimal,
        close: Decimal,
        volume: Decimal,
        is_closed: bool,
        quote_volume: Optional[Decimal] = None,
        trade_count: Optional[int] = None,
        event_time: Optional[int] = None,
        first_trade_id: Optional[int] = None,
        last_trade_id: Optional[int] = None,
        taker_buy_base_volume: Optional[Decimal] = None,
        taker_buy_quote_volume: Optional[Decimal] = None,
        timezone: Optional[str] = None,
        is_backfilled: bool = False,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "interval", interval)
        _set(self, "open_time", open_time)
        _set(self, "close_time", close_time)
        _set(self, "open", open)
        _set(self, "high", high)
        _set(self, "low", low)
        _set(self, "close", close)
        _set(self, "volume", volume)
        _set(self, "is_closed", is_closed)
        _set(self, "quote_volume", quote_volume)
        _set(self, "trade_count", trade_count)
        _set(self, "event_time", event_time)
        _set(self, "first_trade_id", first_trade_id)
        _set(self, "last_trade_id", last_trade_id)
        _set(self, "taker_buy_base_volume", taker_buy_base_volume)
        _set(self, "taker_buy_quote_volume", taker_buy_quote_volume)
        _set(self, "timezone", timezone)
        _set(self, "is_backfilled", is_backfilled)


class DepthUpdate(Event):
    """A diff-depth update (``<symbol>@depth@100ms``); a partial book has ``first_update_id == final_update_id``."""

    __slots__ = (
        "exchange",
        "symbol",
        "first_update_id",
        "final_update_id",
        "bids",
        "asks",
        "event_time",
        "previous_update_id",
        "transaction_time",
    )
    exchange: str
    symbol: str
    first_update_id: int
    final_update_id: int
    bids: Tuple[PriceLevel, ...]
    asks: Tuple[PriceLevel, ...]
    event_time: Optional[int]
    previous_update_id: Optional[int]
    """Futures only (``pu``): the previous event's ``final_update_id``; None on spot."""
    transaction_time: Optional[int]
    """Futures only (``T``): the matching engine's time of the update; None on spot."""

    def __init__(
        self,
        exchange: str,
        symbol: str,
        first_update_id: int,
        final_update_id: int,
        bids: Tuple[PriceLevel, ...],
        asks: Tuple[PriceLevel, ...],
        event_time: Optional[int] = None,
        previous_update_id: Optional[int] = None,
        transaction_time: Optional[int] = None,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "first_update_id", first_update_id)
        _set(self, "final_update_id", final_update_id)
        _set(self, "bids", tuple(bids))  # tuple(t) is t: free for the parser's tuples
        _set(self, "asks", tuple(asks))
        _set(self, "event_time", event_time)
        _set(self, "previous_update_id", previous_update_id)
        _set(self, "transaction_time", transaction_time)


class Fill(Event):
    """One execution of an order (from ``myTrades`` or an ``executionReport`` TRADE)."""

    __slots__ = ("trade_id", "price", "quantity", "commission", "commission_asset", "time", "is_maker")
    trade_id: int
    price: Decimal
    quantity: Decimal
    commission: Optional[Decimal]
    commission_asset: Optional[str]
    time: Optional[int]
    is_maker: Optional[bool]

    def __init__(
        self,
        trade_id: int,
        price: Decimal,
        quantity: Decimal,
        commission: Optional[Decimal] = None,
        commission_asset: Optional[str] = None,
        time: Optional[int] = None,
        is_maker: Optional[bool] = None,
    ) -> None:
        _set(self, "trade_id", trade_id)
        _set(self, "price", price)
        _set(self, "quantity", quantity)
        _set(self, "commission", commission)
        _set(self, "commission_asset", commission_asset)
        _set(self, "time", time)
        _set(self, "is_maker", is_maker)


class OrderUpdate(Event):
    """An order's state change (user data ``executionReport``, or a reconciliation).

    ``is_reconciled`` is True when the connector built this event from REST
    queries after a user-data gap instead of receiving it live; ``fills`` then
    holds the executions missed during the gap.

    The fields after ``fills`` are the conditional fields of ``executionReport``
    (user-data-stream.md); each is None unless Binance sent it: trailing stops
    ``trailing_delta`` (``d``, BIPS) and ``trailing_time`` (``D``); ``strategy_id``
    (``j``) and ``strategy_type`` (``J``) when given at placement; orders expired by
    self-trade prevention ``prevented_match_id`` (``v``), ``prevented_quantity``
    (``A``), ``last_prevented_quantity`` (``B``), ``trade_group_id`` (``u``),
    ``counter_order_id`` (``U``), ``counter_symbol`` (``Cs``),
    ``prevented_execution_quantity``/``_price``/``_quote_quantity`` (``pl``/``pL``/``pY``:
    what ``l``/``L``/``Y`` would have been without STP); allocations ``match_type``
    (``b``), ``allocation_id`` (``a``), ``working_floor`` (``k``, e.g. ``"SOR"``);
    ``used_sor`` (``uS``); pegged orders ``peg_price_type`` (``gP``), ``peg_offset_type``
    (``gOT``), ``peg_offset_value`` (``gOV``) and ``pegged_price`` (``gp``).
    ``working_time`` (``W``) and ``expiry_reason`` (``eR``) are conditional too.
    """

    __slots__ = (
        "exchange",
        "symbol",
        "order_id",
        "client_order_id",
        "side",
        "order_type",
        "status",
        "price",
        "quantity",
        "filled_quantity",
        "last_fill_price",
        "last_fill_quantity",
        "event_time",
        "is_reconciled",
        "execution_type",
        "time_in_force",
        "stop_price",
        "iceberg_quantity",
        "order_list_id",
        "orig_client_order_id",
        "reject_reason",
        "commission",
        "commission_asset",
        "transaction_time",
        "trade_id",
        "execution_id",
        "is_on_book",
        "is_maker",
        "creation_time",
        "cumulative_quote_quantity",
        "last_quote_quantity",
        "quote_order_quantity",
        "working_time",
        "self_trade_prevention_mode",
        "expiry_reason",
        "fills",
        "trailing_delta",
        "trailing_time",
        "strategy_id",
        "strategy_type",
        "prevented_match_id",
        "prevented_quantity",
        "last_prevented_quantity",
        "trade_group_id",
        "counter_order_id",
        "counter_symbol",
        "prevented_execution_quantity",
        "prevented_execution_price",
        "prevented_execution_quote_quantity",
        "match_type",
        "allocation_id",
        "working_floor",
        "used_sor",
        "peg_price_type",
        "peg_offset_type",
        "peg_offset_value",
        "pegged_price",
        "position_side",
        "reduce_only",
        "realized_pnl",
        "average_price",
        "original_order_type",
        "working_type",
        "close_position",
        "activation_price",
        "callback_rate",
        "price_protect",
        "bids_notional",
        "asks_notional",
        "price_match",
        "good_till_date",
        "modify_id",
        "margin_asset",
        "account_alias",
    )
    exchange: str
    symbol: str
    order_id: int
    client_order_id: str
    side: Union[OrderSide, str]
    order_type: Union[OrderType, str]
    status: Union[OrderStatus, str]
    price: Decimal
    quantity: Decimal
    filled_quantity: Decimal
    last_fill_price: Decimal
    last_fill_quantity: Decimal
    event_time: int
    is_reconciled: bool
    execution_type: Union[ExecutionType, str, None]
    time_in_force: Union[TimeInForce, str, None]
    stop_price: Optional[Decimal]
    iceberg_quantity: Optional[Decimal]
    order_list_id: int
    orig_client_order_id: Optional[str]
    reject_reason: Optional[str]
    commission: Optional[Decimal]
    commission_asset: Optional[str]
    transaction_time: Optional[int]
    trade_id: Optional[int]
    execution_id: Optional[int]
    is_on_book: Optional[bool]
    is_maker: Optional[bool]
    creation_time: Optional[int]
    cumulative_quote_quantity: Optional[Decimal]
    last_quote_quantity: Optional[Decimal]
    quote_order_quantity: Optional[Decimal]
    working_time: Optional[int]
    self_trade_prevention_mode: Optional[str]
    expiry_reason: Optional[str]
    fills: Tuple[Fill, ...]
    trailing_delta: Optional[int]
    trailing_time: Optional[int]
    strategy_id: Optional[int]
    strategy_type: Optional[int]
    prevented_match_id: Optional[int]
    prevented_quantity: Optional[Decimal]
    last_prevented_quantity: Optional[Decimal]
    trade_group_id: Optional[int]
    counter_order_id: Optional[int]
    counter_symbol: Optional[str]
    prevented_execution_quantity: Optional[Decimal]
    prevented_execution_price: Optional[Decimal]
    prevented_execution_quote_quantity: Optional[Decimal]
    match_type: Optional[str]
    allocation_id: Optional[int]
    working_floor: Optional[str]
    used_sor: Optional[bool]
    peg_price_type: Optional[str]
    peg_offset_type: Optional[str]
    peg_offset_value: Optional[int]
    pegged_price: Optional[Decimal]

    position_side: Optional[str]
    reduce_only: Optional[bool]
    realized_pnl: Optional[Decimal]
    average_price: Optional[Decimal]
    original_order_type: Union[OrderType, str, None]
    working_type: Optional[str]
    close_position: Optional[bool]
    activation_price: Optional[Decimal]
    callback_rate: Optional[Decimal]
    price_protect: Optional[bool]
    bids_notional: Optional[Decimal]
    asks_notional: Optional[Decimal]
    price_match: Optional[str]
    good_till_date: Optional[int]
    modify_id: Optional[int]
    margin_asset: Optional[str]
    account_alias: Optional[str]
    def __init__(
        self,
        exchange: str,
        symbol: str,
        order_id: int,
        client_order_id: str,
        side: Union[OrderSide, str],
        order_type: Union[OrderType, str],
        status: Union[OrderStatus, str],
        price: Decimal,
        quantity: Decimal,
        filled_quantity: Decimal,
        last_fill_price: Decimal,
        last_fill_quantity: Decimal,
        event_time: int,
        is_reconciled: bool = False,
        execution_type: Union[ExecutionType, str, None] = None,
        time_in_force: Union[TimeInForce, str, None] = None,
        stop_price: Optional[Decimal] = None,
        iceberg_quantity: Optional[Decimal] = None,
        order_list_id: int = -1,
        orig_client_order_id: Optional[str] = None,
        reject_reason: Optional[str] = None,
        commission: Optional[Decimal] = None,
        commission_asset: Optional[str] = None,
        transaction_time: Optional[int] = None,
        trade_id: Optional[int] = None,
        execution_id: Optional[int] = None,
        is_on_book: Optional[bool] = None,
        is_maker: Optional[bool] = None,
        creation_time: Optional[int] = None,
        cumulative_quote_quantity: Optional[Decimal] = None,
        last_quote_quantity: Optional[Decimal] = None,
        quote_order_quantity: Optional[Decimal] = None,
        working_time: Optional[int] = None,
        self_trade_prevention_mode: Optional[str] = None,
        expiry_reason: Optional[str] = None,
        fills: Tuple[Fill, ...] = (),
        trailing_delta: Optional[int] = None,
        trailing_time: Optional[int] = None,
        strategy_id: Optional[int] = None,
        strategy_type: Optional[int] = None,
        prevented_match_id: Optional[int] = None,
        prevented_quantity: Optional[Decimal] = None,
        last_prevented_quantity: Optional[Decimal] = None,
        trade_group_id: Optional[int] = None,
        counter_order_id: Optional[int] = None,
        counter_symbol: Optional[str] = None,
        prevented_execution_quantity: Optional[Decimal] = None,
        prevented_execution_price: Optional[Decimal] = None,
        prevented_execution_quote_quantity: Optional[Decimal] = None,
        match_type: Optional[str] = None,
        allocation_id: Optional[int] = None,
        working_floor: Optional[str] = None,
        used_sor: Optional[bool] = None,
        peg_price_type: Optional[str] = None,
        peg_offset_type: Optional[str] = None,
        peg_offset_value: Optional[int] = None,
        pegged_price: Optional[Decimal] = None,
        position_side: Optional[str] = None,
        reduce_only: Optional[bool] = None,
        realized_pnl: Optional[Decimal] = None,
        average_price: Optional[Decimal] = None,
        original_order_type: Union[OrderType, str, None] = None,
        working_type: Optional[str] = None,
        close_position: Optional[bool] = None,
        activation_price: Optional[Decimal] = None,
        callback_rate: Optional[Decimal] = None,
        price_protect: Optional[bool] = None,
        bids_notional: Optional[Decimal] = None,
        asks_notional: Optional[Decimal] = None,
        price_match: Optional[str] = None,
        good_till_date: Optional[int] = None,
        modify_id: Optional[int] = None,
        margin_asset: Optional[str] = None,
        account_alias: Optional[str] = None,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "order_id", order_id)
        _set(self, "client_order_id", client_order_id)
        _set(self, "side", side)
        _set(self, "order_type", order_type)
        _set(self, "status", status)
        _set(self, "price", price)
        _set(self, "quantity", quantity)
        _set(self, "filled_quantity", filled_quantity)
        _set(self, "last_fill_price", last_fill_price)
        _set(self, "last_fill_quantity", last_fill_quantity)
        _set(self, "event_time", event_time)
        _set(self, "is_reconciled", is_reconciled)
        _set(self, "execution_type", execution_type)
        _set(self, "time_in_force", time_in_force)
        _set(self, "stop_price", stop_price)
        _set(self, "iceberg_quantity", iceberg_quantity)
        _set(self, "order_list_id", order_list_id)
        _set(self, "orig_client_order_id", orig_client_order_id)
        _set(self, "reject_reason", reject_reason)
        _set(self, "commission", commission)
        _set(self, "commission_asset", commission_asset)
        _set(self, "transaction_time", transaction_time)
        _set(self, "trade_id", trade_id)
        _set(self, "execution_id", execution_id)
        _set(self, "is_on_book", is_on_book)
        _set(self, "is_maker", is_maker)
        _set(self, "creation_time", creation_time)
        _set(self, "cumulative_quote_quantity", cumulative_quote_quantity)
        _set(self, "last_quote_quantity", last_quote_quantity)
        _set(self, "quote_order_quantity", quote_order_quantity)
        _set(self, "working_time", working_time)
        _set(self, "self_trade_prevention_mode", self_trade_prevention_mode)
        _set(self, "expiry_reason", expiry_reason)
        _set(self, "fills", tuple(fills))
        _set(self, "trailing_delta", trailing_delta)
        _set(self, "trailing_time", trailing_time)
        _set(self, "strategy_id", strategy_id)
        _set(self, "strategy_type", strategy_type)
        _set(self, "prevented_match_id", prevented_match_id)
        _set(self, "prevented_quantity", prevented_quantity)
        _set(self, "last_prevented_quantity", last_prevented_quantity)
        _set(self, "trade_group_id", trade_group_id)
        _set(self, "counter_order_id", counter_order_id)
        _set(self, "counter_symbol", counter_symbol)
        _set(self, "prevented_execution_quantity", prevented_execution_quantity)
        _set(self, "prevented_execution_price", prevented_execution_price)
        _set(self, "prevented_execution_quote_quantity", prevented_execution_quote_quantity)
        _set(self, "match_type", match_type)
        _set(self, "allocation_id", allocation_id)
        _set(self, "working_floor", working_floor)
        _set(self, "used_sor", used_sor)
        _set(self, "peg_price_type", peg_price_type)
        _set(self, "peg_offset_type", peg_offset_type)
        _set(self, "peg_offset_value", peg_offset_value)
        _set(self, "pegged_price", pegged_price)
        _set(self, "position_side", position_side)
        _set(self, "reduce_only", reduce_only)
        _set(self, "realized_pnl", realized_pnl)
        _set(self, "average_price", average_price)
        _set(self, "original_order_type", original_order_type)
        _set(self, "working_type", working_type)
        _set(self, "close_position", close_position)
        _set(self, "activation_price", activation_price)
        _set(self, "callback_rate", callback_rate)
        _set(self, "price_protect", price_protect)
        _set(self, "bids_notional", bids_notional)
        _set(self, "asks_notional", asks_notional)
        _set(self, "price_match", price_match)
        _set(self, "good_till_date", good_till_date)
        _set(self, "modify_id", modify_id)
        _set(self, "margin_asset", margin_asset)
        _set(self, "account_alias", account_alias)


class BalanceUpdate(Event):
    """A balance change of one asset.

    From ``outboundAccountPosition`` (one event per asset): ``free`` and
    ``locked`` are set and ``delta`` is None.  From ``balanceUpdate``
    (deposit, withdrawal, transfer): ``delta`` is set and ``free``/``locked``
    are None.  ``kind`` names the source event.
    """

    __slots__ = (
        "exchange", "asset", "free", "locked", "delta", "event_time", "kind", "update_time", "wallet_balance",
        "cross_wallet_balance", "reason", "is_reconciled", "available_balance", "account_alias",
    )
    exchange: str
    asset: str
    free: Optional[Decimal]
    locked: Optional[Decimal]
    delta: Optional[Decimal]
    event_time: int
    kind: str
    update_time: Optional[int]

    wallet_balance: Optional[Decimal]
    cross_wallet_balance: Optional[Decimal]
    reason: Optional[str]
    is_reconciled: bool
    available_balance: Optional[Decimal]
    account_alias: Optional[str]
    def __init__(
        self,
        exchange: str,
        asset: str,
        event_time: int,
        free: Optional[Decimal] = None,
        locked: Optional[Decimal] = None,
        delta: Optional[Decimal] = None,
        kind: str = "outboundAccountPosition",
        update_time: Optional[int] = None,
        wallet_balance: Optional[Decimal] = None,
        cross_wallet_balance: Optional[Decimal] = None,
        reason: Optional[str] = None,
        is_reconciled: bool = False,
        available_balance: Optional[Decimal] = None,
        account_alias: Optional[str] = None,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "asset", asset)
        _set(self, "free", free)
        _set(self, "locked", locked)
        _set(self, "delta", delta)
        _set(self, "event_time", event_time)
        _set(self, "kind", kind)
        _set(self, "update_time", update_time)
        _set(self, "wallet_balance", wallet_balance)
        _set(self, "cross_wallet_balance", cross_wallet_balance)
        _set(self, "reason", reason)
        _set(self, "is_reconciled", is_reconciled)
        _set(self, "available_balance", available_balance)
        _set(self, "account_alias", account_alias)


class OrderListUpdate(Event):
    """An order list's (OCO/OTO/...) status change (user data ``listStatus``).

    ``orders`` holds one :class:`ListOrder` ``(symbol, order_id, client_order_id)`` per
    member (``O``); ``contingency_type`` is ``c``, ``list_status_type`` ``l``,
    ``list_order_status`` ``L``, ``reject_reason`` ``r``, ``list_client_order_id`` ``C``,
    ``transaction_time`` ``T``.
    """

    __slots__ = (
        "exchange",
        "symbol",
        "order_list_id",
        "contingency_type",
        "list_status_type",
        "list_order_status",
        "reject_reason",
        "list_client_order_id",
        "transaction_time",
        "orders",
        "event_time",
    )
    exchange: str
    symbol: str
    order_list_id: int
    contingency_type: str
    list_status_type: str
    list_order_status: str
    reject_reason: str
    list_client_order_id: str
    transaction_time: int
    orders: Tuple[ListOrder, ...]
    event_time: int

    def __init__(
        self,
        exchange: str,
        symbol: str,
        order_list_id: int,
        contingency_type: str,
        list_status_type: str,
        list_order_status: str,
        reject_reason: str,
        list_client_order_id: str,
        transaction_time: int,
        orders: Tuple[Tuple[str, int, str], ...],
        event_time: int,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "order_list_id", order_list_id)
        _set(self, "contingency_type", contingency_type)
        _set(self, "list_status_type", list_status_type)
        _set(self, "list_order_status", list_order_status)
        _set(self, "reject_reason", reject_reason)
        _set(self, "list_client_order_id", list_client_order_id)
        _set(self, "transaction_time", transaction_time)
        _set(self, "orders", tuple(o if type(o) is ListOrder else ListOrder(*o) for o in orders))
        _set(self, "event_time", event_time)


class ExternalLockUpdate(Event):
    """Part of a spot balance locked (positive ``delta``) or unlocked by an external system,
    e.g. as margin collateral (user data ``externalLockUpdate``: ``a``, ``d``, ``T``, ``E``)."""

    __slots__ = ("exchange", "asset", "delta", "transaction_time", "event_time")
    exchange: str
    asset: str
    delta: Decimal
    transaction_time: int
    event_time: int

    def __init__(self, exchange: str, asset: str, delta: Decimal, transaction_time: int, event_time: int) -> None:
        _set(self, "exchange", exchange)
        _set(self, "asset", asset)
        _set(self, "delta", delta)
        _set(self, "transaction_time", transaction_time)
        _set(self, "event_time", event_time)


class EventStreamTerminated(Event):
    """The user-data subscription ended (``eventStreamTerminated``: logout, unsubscribe, token expiry).

    The connector reacts itself (it subscribes again and reconciles the orders of the gap), so
    this event is counted in ``stats()["user_data"]["stream_terminations"]``, not delivered to a
    callback.
    """

    __slots__ = ("exchange", "event_time")
    exchange: str
    event_time: int

    def __init__(self, exchange: str, event_time: int) -> None:
        _set(self, "exchange", exchange)
        _set(self, "event_time", event_time)


class AvgPrice(Event):
    """The current average price of one symbol over ``interval`` (``<symbol>@avgPrice``)."""

    __slots__ = ("exchange", "symbol", "interval", "price", "last_trade_time", "event_time")
    exchange: str
    symbol: str
    interval: str
    price: Decimal
    last_trade_time: int
    event_time: int

    def __init__(
        self,
        exchange: str,
        symbol: str,
        interval: str,
        price: Decimal,
        last_trade_time: int,
        event_time: int,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "interval", interval)
        _set(self, "price", price)
        _set(self, "last_trade_time", last_trade_time)
        _set(self, "event_time", event_time)


class RollingWindowTicker(Event):
    """Rolling-window statistics of one symbol over ``window`` (``1h``, ``4h`` or ``1d``).

    From ``<symbol>@ticker_<window>`` and, one event per symbol, ``!ticker_<window>@arr``.
    Not a :class:`Ticker`: the window's open time starts on a minute and its close time is
    the time of the update, and there is no best bid/ask nor last quantity.
    """

    __slots__ = (
        "exchange",
        "symbol",
        "window",
        "price_change",
        "price_change_percent",
        "open_price",
        "high_price",
        "low_price",
        "last_price",
        "weighted_avg_price",
        "volume",
        "quote_volume",
        "open_time",
        "close_time",
        "first_trade_id",
        "last_trade_id",
        "trade_count",
        "event_time",
    )
    exchange: str
    symbol: str
    window: str
    price_change: Decimal
    price_change_percent: Decimal
    open_price: Decimal
    high_price: Decimal
    low_price: Decimal
    last_price: Decimal
    weighted_avg_price: Decimal
    volume: Decimal
    quote_volume: Decimal
    open_time: int
    close_time: int
    first_trade_id: int
    last_trade_id: int
    trade_count: int
    event_time: int

    def __init__(
        self,
        exchange: str,
        symbol: str,
        window: str,
        price_change: Decimal,
        price_change_percent: Decimal,
        open_price: Decimal,
        high_price: Decimal,
        low_price: Decimal,
        last_price: Decimal,
        weighted_avg_price: Decimal,
        volume: Decimal,
        quote_volume: Decimal,
        open_time: int,
        close_time: int,
        first_trade_id: int,
        last_trade_id: int,
        trade_count: int,
        event_time: int,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "window", window)
        _set(self, "price_change", price_change)
        _set(self, "price_change_percent", price_change_percent)
        _set(self, "open_price", open_price)
        _set(self, "high_price", high_price)
        _set(self, "low_price", low_price)
        _set(self, "last_price", last_price)
        _set(self, "weighted_avg_price", weighted_avg_price)
        _set(self, "volume", volume)
        _set(self, "quote_volume", quote_volume)
        _set(self, "open_time", open_time)
        _set(self, "close_time", close_time)
        _set(self, "first_trade_id", first_trade_id)
        _set(self, "last_trade_id", last_trade_id)
        _set(self, "trade_count", trade_count)
        _set(self, "event_time", event_time)


class ReferencePrice(Event):
    """The reference price of one symbol (``<symbol>@referencePrice``).

    ``price`` is None while the symbol has no reference price; ``timestamp`` is the engine
    time at which the price was valid (the payload carries no event time).
    """

    __slots__ = ("exchange", "symbol", "price", "timestamp")
    exchange: str
    symbol: str
    price: Optional[Decimal]
    timestamp: int

    def __init__(self, exchange: str, symbol: str, price: Optional[Decimal], timestamp: int) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "price", price)
        _set(self, "timestamp", timestamp)


class BlockTrade(Event):
    """One block trade (``<symbol>@blockTrade``); ``trade_id`` is the block trade id."""

    __slots__ = (
        "exchange",
        "symbol",
        "trade_id",
        "price",
        "quantity",
        "trade_time",
        "is_buyer_maker",
        "event_time",
    )
    exchange: str
    symbol: str
    trade_id: int
    price: Decimal
    quantity: Decimal
    trade_time: int
    is_buyer_maker: bool
    event_time: int

    def __init__(
        self,
        exchange: str,
        symbol: str,
        trade_id: int,
        price: Decimal,
        quantity: Decimal,
        trade_time: int,
        is_buyer_maker: bool,
        event_time: int,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "trade_id", trade_id)
        _set(self, "price", price)
        _set(self, "quantity", quantity)
        _set(self, "trade_time", trade_time)
        _set(self, "is_buyer_maker", is_buyer_maker)
        _set(self, "event_time", event_time)


class GapEvent(Event):
    """A hole in a stream, as one subscriber sees it (README "No silent holes: gaps and backfill").

    ``kind`` is ``"trade"``, ``"agg_trade"``, ``"kline"``, ``"depth"`` or ``"user_data"``;
    ``first_missing``/``last_missing`` are ids (trade, aggregate trade, depth update ids) or
    open times (klines), inclusive, or None where unknown (user data).  ``cause`` says why
    (``"reconnect"``, ``"zombie"``, ``"rollover"``, ``"overflow"``, ``"server_skip"``, ``"restart"``
    (a hub's restart) ...).
    One gap is reported ``OPEN`` when detected, then once more with the same ``gap_id`` as
    ``FILLED`` (every missing event delivered, ``is_backfilled``) or ``UNFILLED``; ``filled``
    counts the events backfilled.  ``event_time`` is the local epoch ms of the report.
    """

    __slots__ = ("exchange", "stream", "symbol", "kind", "gap_id", "first_missing", "last_missing", "cause",
                 "state", "event_time", "filled", "reason")
    exchange: str
    stream: str
    symbol: str
    kind: str
    gap_id: int
    first_missing: Optional[int]
    last_missing: Optional[int]
    cause: str
    state: Union[GapState, str]
    event_time: int
    filled: int
    reason: Optional[str]

    def __init__(
        self,
        exchange: str,
        stream: str,
        symbol: str,
        kind: str,
        gap_id: int,
        first_missing: Optional[int],
        last_missing: Optional[int],
        cause: str,
        state: Union[GapState, str],
        event_time: int,
        filled: int = 0,
        reason: Optional[str] = None,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "stream", stream)
        _set(self, "symbol", symbol)
        _set(self, "kind", kind)
        _set(self, "gap_id", gap_id)
        _set(self, "first_missing", first_missing)
        _set(self, "last_missing", last_missing)
        _set(self, "cause", cause)
        _set(self, "state", state)
        _set(self, "event_time", event_time)
        _set(self, "filled", filled)
        _set(self, "reason", reason)

    @property
    def missing(self) -> Optional[int]:
        """How many ids are missing (``last - first + 1``), or None when not counted in ids (klines, user data)."""
        if self.first_missing is None or self.last_missing is None or self.kind in ("kline", "user_data"):
            return None
        return self.last_missing - self.first_missing + 1


class OrderBook(Event):
    """A local order book's view (README "Local order books"): ``bids`` best (highest) first, ``asks`` best
    (lowest) first, each level ``(price, quantity)`` Decimals, cut to the subscriber's ``depth``.

    ``state`` is ``SYNCING``, ``SYNCED`` or ``OUT_OF_SYNC``; the levels of a book that is not
    ``SYNCED`` must not be trusted (they may be empty).  ``last_update_id`` is the last applied
    diff's ``u`` (or the snapshot's ``lastUpdateId``).
    """

    __slots__ = ("exchange", "symbol", "state", "last_update_id", "event_time", "bids", "asks")
    exchange: str
    symbol: str
    state: Union[BookState, str]
    last_update_id: int
    event_time: Optional[int]
    bids: Tuple[PriceLevel, ...]
    asks: Tuple[PriceLevel, ...]

    def __init__(
        self,
        exchange: str,
        symbol: str,
        state: Union[BookState, str],
        last_update_id: int,
        event_time: Optional[int],
        bids: Tuple[PriceLevel, ...] = (),
        asks: Tuple[PriceLevel, ...] = (),
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "state", state)
        _set(self, "last_update_id", last_update_id)
        _set(self, "event_time", event_time)
        _set(self, "bids", tuple(bids))
        _set(self, "asks", tuple(asks))

    @property
    def best_bid(self) -> Optional[PriceLevel]:
        """The highest bid ``(price, quantity)``, or None."""
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> Optional[PriceLevel]:
        """The lowest ask ``(price, quantity)``, or None."""
        return self.asks[0] if self.asks else None

    @property
    def is_synced(self) -> bool:
        """True when ``state`` is ``SYNCED``."""
        return self.state == BookState.SYNCED


# ---------------------------------------------------------------------------- futures market streams (issue 14)
def _plain_init(self: Event, values: Tuple[Any, ...], fields: Dict[str, Any]) -> None:
    """``__init__`` of the futures stream events: every field, positional (slot order) or by name."""
    names: Tuple[str, ...] = self.__slots__
    rest = names[len(values):]
    if len(values) > len(names) or set(fields) != set(rest):
        raise TypeError(f"{type(self).__name__} takes the fields {', '.join(names)} (all of them)")
    for field_name, value in zip(names, values):
        _set(self, field_name, value)
    for field_name in rest:
        _set(self, field_name, fields[field_name])


class MarkPrice(Event):
    """Mark price and funding of one futures contract (``<symbol>@markPrice[@1s]``, ``!markPrice@arr``).

    ``funding_rate`` and ``next_funding_time`` are None / 0 for COIN-M delivery contracts (``"r":""``,
    ``"T":0``); ``mark_price_average`` (``ap``, USD-M since 2026-03) is None when absent."""

    __slots__ = ("exchange", "symbol", "mark_price", "index_price", "estimated_settle_price", "funding_rate",
                 "next_funding_time", "event_time", "mark_price_average")
    exchange: str
    symbol: str
    mark_price: Decimal
    index_price: Decimal
    estimated_settle_price: Decimal
    funding_rate: Optional[Decimal]
    next_funding_time: int
    event_time: int
    mark_price_average: Optional[Decimal]

    def __init__(self, *values: Any, **fields: Any) -> None:
        _plain_init(self, values, fields)


class Liquidation(Event):
    """A liquidation order snapshot (``<symbol>@forceOrder``, ``!forceOrder@arr``): every field of ``o``."""

    __slots__ = ("exchange", "symbol", "side", "order_type", "time_in_force", "quantity", "price", "average_price",
                 "status", "last_filled_quantity", "filled_quantity", "trade_time", "event_time")
    exchange: str
    symbol: str
    side: Union[OrderSide, str]
    order_type: Union[OrderType, str]
    time_in_force: Union[TimeInForce, str]
    quantity: Decimal
    price: Decimal
    average_price: Decimal
    status: Union[OrderStatus, str]
    last_filled_quantity: Decimal
    filled_quantity: Decimal
    trade_time: int
    event_time: int

    def __init__(self, *values: Any, **fields: Any) -> None:
        _plain_init(self, values, fields)


class ContinuousKline(Event):
    """A kline of a futures pair and contract type (``<pair>_<contractType>@continuousKline_<interval>``)."""

    __slots__ = ("exchange", "pair", "contract_type", "interval", "open_time", "close_time", "open", "high", "low",
                 "close", "volume", "is_closed", "quote_volume", "trade_count", "event_time", "first_trade_id",
                 "last_trade_id", "taker_buy_base_volume", "taker_buy_quote_volume")
    exchange: str
    pair: str
    contract_type: str
    interval: str
    open_time: int
    close_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    is_closed: bool
    quote_volume: Decimal
    trade_count: int
    event_time: int
    first_trade_id: int
    last_trade_id: int
    taker_buy_base_volume: Decimal
    taker_buy_quote_volume: Decimal

    def __init__(self, *values: Any, **fields: Any) -> None:
        _plain_init(self, values, fields)


class IndexComponent(NamedTuple):
    """One constituent of a composite index (``c`` item of ``compositeIndex``)."""

    base_asset: str
    quote_asset: str
    weight_quantity: Decimal
    weight_percent: Decimal
    index_price: Decimal


class CompositeIndex(Event):
    """A composite index (``<symbol>@compositeIndex``); ``base_asset_type`` is ``C`` (e.g. ``baseAsset``)."""

    __slots__ = ("exchange", "symbol", "price", "base_asset_type", "components", "event_time")
    exchange: str
    symbol: str
    price: Decimal
    base_asset_type: Optional[str]
    components: Tuple[IndexComponent, ...]
    event_time: int

    def __init__(self, *values: Any, **fields: Any) -> None:
        _plain_init(self, values, fields)


class ContractBracket(NamedTuple):
    """One leverage bracket of ``contractInfo.bks``."""

    bracket: int
    notional_floor: Decimal
    notional_cap: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal
    min_leverage: int
    max_leverage: int


class ContractInfo(Event):
    """A listing, settlement or bracket change (``!contractInfo``); ``brackets`` is empty unless they changed."""

    __slots__ = ("exchange", "symbol", "pair", "contract_type", "delivery_date", "onboard_date", "status",
                 "brackets", "event_time")
    exchange: str
    symbol: str
    pair: str
    contract_type: str
    delivery_date: int
    onboard_date: int
    status: str
    brackets: Tuple[ContractBracket, ...]
    event_time: int

    def __init__(self, *values: Any, **fields: Any) -> None:
        _plain_init(self, values, fields)


class AssetIndex(Event):
    """A multi-assets-mode asset index (``<asset>@assetIndex``, ``!assetIndex@arr``)."""

    __slots__ = ("exchange", "symbol", "index_price", "bid_buffer", "ask_buffer", "bid_rate", "ask_rate",
                 "auto_exchange_bid_buffer", "auto_exchange_ask_buffer", "auto_exchange_bid_rate",
                 "auto_exchange_ask_rate", "event_time")
    exchange: str
    symbol: str
    index_price: Decimal
    bid_buffer: Decimal
    ask_buffer: Decimal
    bid_rate: Decimal
    ask_rate: Decimal
    auto_exchange_bid_buffer: Decimal
    auto_exchange_ask_buffer: Decimal
    auto_exchange_bid_rate: Decimal
    auto_exchange_ask_rate: Decimal
    event_time: int

    def __init__(self, *values: Any, **fields: Any) -> None:
        _plain_init(self, values, fields)


class PositionUpdate(Event):
    """A futures position of one ``(symbol, position_side)`` (ACCOUNT_UPDATE ``a.P`` item, or a REST
    reconciliation: ``is_reconciled=True``).

    ``amount`` is signed (short < 0; 0: closed); ``position_side`` is ``BOTH`` (one-way mode), ``LONG`` or
    ``SHORT`` (hedge mode); ``margin_type`` is ``ISOLATED`` or ``CROSSED`` (normalised from the wire's
    ``isolated``/``cross``).  ``reason`` is ACCOUNT_UPDATE's ``a.m`` (``ORDER``, ``FUNDING_FEE`` ...;
    ``"RECONCILED"`` for REST).  REST-only fields (``mark_price``, ``liquidation_price``, ``notional``,
    ``margin_asset``, ``update_time``) are None on streamed updates."""

    __slots__ = (
        "exchange", "symbol", "position_side", "amount", "entry_price", "unrealized_pnl", "event_time",
        "breakeven_price", "accumulated_realized", "margin_type", "isolated_wallet", "reason", "transaction_time",
        "is_reconciled", "mark_price", "liquidation_price", "notional", "margin_asset", "update_time",
        "account_alias",
    )
    exchange: str
    symbol: str
    position_side: str
    amount: Decimal
    entry_price: Decimal
    unrealized_pnl: Decimal
    event_time: int
    breakeven_price: Optional[Decimal]
    accumulated_realized: Optional[Decimal]
    margin_type: Optional[str]
    isolated_wallet: Optional[Decimal]
    reason: Optional[str]
    transaction_time: Optional[int]
    is_reconciled: bool
    mark_price: Optional[Decimal]
    liquidation_price: Optional[Decimal]
    notional: Optional[Decimal]
    margin_asset: Optional[str]
    update_time: Optional[int]
    account_alias: Optional[str]

    def __init__(
        self,
        exchange: str,
        symbol: str,
        position_side: str,
        amount: Decimal,
        entry_price: Decimal,
        unrealized_pnl: Decimal,
        event_time: int,
        breakeven_price: Optional[Decimal] = None,
        accumulated_realized: Optional[Decimal] = None,
        margin_type: Optional[str] = None,
        isolated_wallet: Optional[Decimal] = None,
        reason: Optional[str] = None,
        transaction_time: Optional[int] = None,
        is_reconciled: bool = False,
        mark_price: Optional[Decimal] = None,
        liquidation_price: Optional[Decimal] = None,
        notional: Optional[Decimal] = None,
        margin_asset: Optional[str] = None,
        update_time: Optional[int] = None,
        account_alias: Optional[str] = None,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "position_side", position_side)
        _set(self, "amount", amount)
        _set(self, "entry_price", entry_price)
        _set(self, "unrealized_pnl", unrealized_pnl)
        _set(self, "event_time", event_time)
        _set(self, "breakeven_price", breakeven_price)
        _set(self, "accumulated_realized", accumulated_realized)
        _set(self, "margin_type", margin_type)
        _set(self, "isolated_wallet", isolated_wallet)
        _set(self, "reason", reason)
        _set(self, "transaction_time", transaction_time)
        _set(self, "is_reconciled", is_reconciled)
        _set(self, "mark_price", mark_price)
        _set(self, "liquidation_price", liquidation_price)
        _set(self, "notional", notional)
        _set(self, "margin_asset", margin_asset)
        _set(self, "update_time", update_time)
        _set(self, "account_alias", account_alias)


class TradeLite(Event):
    """A futures ``TRADE_LITE`` (USD-M; a low-latency fill notice, fewer fields than ORDER_TRADE_UPDATE,
    which follows with the same ``order_id``/``trade_id``)."""

    __slots__ = (
        "exchange", "symbol", "order_id", "client_order_id", "side", "price", "quantity", "last_fill_price",
        "last_fill_quantity", "trade_id", "is_maker", "transaction_time", "event_time",
    )
    exchange: str
    symbol: str
    order_id: int
    client_order_id: str
    side: Union[OrderSide, str]
    price: Decimal
    quantity: Decimal
    last_fill_price: Decimal
    last_fill_quantity: Decimal
    trade_id: int
    is_maker: bool
    transaction_time: int
    event_time: int

    def __init__(
        self,
        exchange: str,
        symbol: str,
        order_id: int,
        client_order_id: str,
        side: Union[OrderSide, str],
        price: Decimal,
        quantity: Decimal,
        last_fill_price: Decimal,
        last_fill_quantity: Decimal,
        trade_id: int,
        is_maker: bool,
        transaction_time: int,
        event_time: int,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "order_id", order_id)
        _set(self, "client_order_id", client_order_id)
        _set(self, "side", side)
        _set(self, "price", price)
        _set(self, "quantity", quantity)
        _set(self, "last_fill_price", last_fill_price)
        _set(self, "last_fill_quantity", last_fill_quantity)
        _set(self, "trade_id", trade_id)
        _set(self, "is_maker", is_maker)
        _set(self, "transaction_time", transaction_time)
        _set(self, "event_time", event_time)


class MarginCallPosition(Event):
    """One position of a ``MARGIN_CALL`` (``p`` item)."""

    __slots__ = (
        "symbol", "position_side", "amount", "margin_type", "isolated_wallet", "mark_price", "unrealized_pnl",
        "maintenance_margin",
    )
    symbol: str
    position_side: str
    amount: Decimal
    margin_type: str
    isolated_wallet: Optional[Decimal]
    mark_price: Decimal
    unrealized_pnl: Decimal
    maintenance_margin: Decimal

    def __init__(
        self,
        symbol: str,
        position_side: str,
        amount: Decimal,
        margin_type: str,
        isolated_wallet: Optional[Decimal],
        mark_price: Decimal,
        unrealized_pnl: Decimal,
        maintenance_margin: Decimal,
    ) -> None:
        _set(self, "symbol", symbol)
        _set(self, "position_side", position_side)
        _set(self, "amount", amount)
        _set(self, "margin_type", margin_type)
        _set(self, "isolated_wallet", isolated_wallet)
        _set(self, "mark_price", mark_price)
        _set(self, "unrealized_pnl", unrealized_pnl)
        _set(self, "maintenance_margin", maintenance_margin)


class MarginCall(Event):
    """A futures ``MARGIN_CALL`` (risk information only; the positions may already be liquidated).
    ``cross_wallet_balance`` (``cw``) is set for cross margin calls only."""

    __slots__ = ("exchange", "event_time", "cross_wallet_balance", "positions", "account_alias")
    exchange: str
    event_time: int
    cross_wallet_balance: Optional[Decimal]
    positions: Tuple[MarginCallPosition, ...]
    account_alias: Optional[str]

    def __init__(
        self,
        exchange: str,
        event_time: int,
        cross_wallet_balance: Optional[Decimal],
        positions: Tuple[MarginCallPosition, ...],
        account_alias: Optional[str] = None,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "event_time", event_time)
        _set(self, "cross_wallet_balance", cross_wallet_balance)
        _set(self, "positions", tuple(positions))
        _set(self, "account_alias", account_alias)


class AccountConfigUpdate(Event):
    """A futures ``ACCOUNT_CONFIG_UPDATE``: a symbol's leverage changed (``symbol``, ``leverage``; ``ac``)
    or the Multi-Assets mode changed (``multi_assets_mode``; ``ai``)."""

    __slots__ = (
        "exchange", "event_time", "transaction_time", "symbol", "leverage", "multi_assets_mode", "account_alias",
    )
    exchange: str
    event_time: int
    transaction_time: Optional[int]
    symbol: Optional[str]
    leverage: Optional[int]
    multi_assets_mode: Optional[bool]
    account_alias: Optional[str]

    def __init__(
        self,
        exchange: str,
        event_time: int,
        transaction_time: Optional[int] = None,
        symbol: Optional[str] = None,
        leverage: Optional[int] = None,
        multi_assets_mode: Optional[bool] = None,
        account_alias: Optional[str] = None,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "event_time", event_time)
        _set(self, "transaction_time", transaction_time)
        _set(self, "symbol", symbol)
        _set(self, "leverage", leverage)
        _set(self, "multi_assets_mode", multi_assets_mode)
        _set(self, "account_alias", account_alias)


class AlgoOrderUpdate(Event):
    """A futures conditional (Algo Service) order's change: ``ALGO_UPDATE``.

    ``status``: ``NEW`` (waiting for its trigger), ``CANCELED``, ``TRIGGERING``, ``TRIGGERED`` (placed in the
    matching engine as ``order_id``), ``FINISHED``, ``REJECTED``, ``EXPIRED``.  ``order_id`` (``ai``) is None
    before the trigger; ``average_price``/``filled_quantity``/``actual_order_type`` (``ap``/``aq``/``act``) once
    triggered; ``reason`` (``rm``) why it failed; ``is_activated`` (``ia``) for trailing stops."""

    __slots__ = (
        "exchange", "symbol", "algo_id", "client_algo_id", "algo_type", "order_type", "side", "status", "quantity",
        "event_time", "transaction_time", "position_side", "time_in_force", "price", "trigger_price", "order_id",
        "average_price", "filled_quantity", "actual_order_type", "self_trade_prevention_mode", "working_type",
        "price_match", "close_position", "price_protect", "reduce_only", "trigger_time", "good_till_date", "reason",
        "is_activated",
    )
    exchange: str
    symbol: str
    algo_id: int
    client_algo_id: str
    algo_type: str
    order_type: Union[OrderType, str]
    side: Union[OrderSide, str]
    status: str
    quantity: Decimal
    event_time: int
    transaction_time: Optional[int]
    position_side: Optional[str]
    time_in_force: Union[TimeInForce, str, None]
    price: Optional[Decimal]
    trigger_price: Optional[Decimal]
    order_id: Optional[str]
    average_price: Optional[Decimal]
    filled_quantity: Optional[Decimal]
    actual_order_type: Optional[str]
    self_trade_prevention_mode: Optional[str]
    working_type: Optional[str]
    price_match: Optional[str]
    close_position: Optional[bool]
    price_protect: Optional[bool]
    reduce_only: Optional[bool]
    trigger_time: Optional[int]
    good_till_date: Optional[int]
    reason: Optional[str]
    is_activated: Optional[bool]

    def __init__(
        self,
        exchange: str,
        symbol: str,
        algo_id: int,
        client_algo_id: str,
        algo_type: str,
        order_type: Union[OrderType, str],
        side: Union[OrderSide, str],
        status: str,
        quantity: Decimal,
        event_time: int,
        transaction_time: Optional[int] = None,
        position_side: Optional[str] = None,
        time_in_force: Union[TimeInForce, str, None] = None,
        price: Optional[Decimal] = None,
        trigger_price: Optional[Decimal] = None,
        order_id: Optional[str] = None,
        average_price: Optional[Decimal] = None,
        filled_quantity: Optional[Decimal] = None,
        actual_order_type: Optional[str] = None,
        self_trade_prevention_mode: Optional[str] = None,
        working_type: Optional[str] = None,
        price_match: Optional[str] = None,
        close_position: Optional[bool] = None,
        price_protect: Optional[bool] = None,
        reduce_only: Optional[bool] = None,
        trigger_time: Optional[int] = None,
        good_till_date: Optional[int] = None,
        reason: Optional[str] = None,
        is_activated: Optional[bool] = None,
    ) -> None:
        _set(self, "exchange", exchange)
        _set(self, "symbol", symbol)
        _set(self, "algo_id", algo_id)
        _set(self, "client_algo_id", client_algo_id)
        _set(self, "algo_type", algo_type)
        _set(self, "order_type", order_type)
        _set(self, "side", side)
        _set(self, "status", status)
        _set(self, "quantity", quantity)
        _set(self, "event_time", event_time)
        _set(self, "transaction_time", transaction_time)
        _set(self, "position_side", position_side)
        _set(self, "time_in_force", time_in_force)
        _set(self, "price", price)
        _set(self, "trigger_price", trigger_price)
        _set(self, "order_id", order_id)
        _set(self, "average_price", average_price)
        _set(self, "filled_quantity", filled_quantity)
        _set(self, "actual_order_type", actual_order_type)
        _set(self, "self_trade_prevention_mode", self_trade_prevention_mode)
        _set(self, "working_type", working_type)
        _set(self, "price_match", price_match)
        _set(self, "close_position", close_position)
        _set(self, "price_protect", price_protect)
        _set(self, "reduce_only", reduce_only)
        _set(self, "trigger_time", trigger_time)
        _set(self, "good_till_date", good_till_date)
        _set(self, "reason", reason)
        _set(self, "is_activated", is_activated)
