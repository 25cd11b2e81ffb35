"""User-data events and order reconciliation after a gap (sans-I/O).

The parsers (``executionReport`` -> :class:`~binance_conn.events.OrderUpdate` with every
field, conditional ones included; ``outboundAccountPosition``/``balanceUpdate`` ->
:class:`~binance_conn.events.BalanceUpdate`; ``listStatus`` ->
:class:`~binance_conn.events.OrderListUpdate`; ``externalLockUpdate``;
``eventStreamTerminated``) live in :mod:`._core.userevents` and are re-exported here.

:class:`OrderTracker` remembers the orders this process saw open or placed, so a
user-data gap (reconnect, ``eventStreamTerminated``) never leaves the caller with a
wrong picture: :meth:`OrderTracker.begin_reconcile` returns a :class:`Reconciliation`
that asks, phase by phase, for REST queries *by symbol* (never the 80-weight
all-symbols ``openOrders``): ``openOrders?symbol=`` (6) per symbol, ``order`` (4) for
tracked orders missing from the open list, ``myTrades?orderId=`` (5) for orders whose
executed quantity moved.  Fed the §7 response shapes, it emits one reconciled
``OrderUpdate`` (``is_reconciled=True``, ``fills`` = the executions missed) per order
whose status or executed quantity changed during the gap, and nothing for the others.
Final orders are forgotten once reported; memory is capped (oldest final first).
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

from .. import enums
from ..enums import ExecutionType, OrderSide, OrderStatus, OrderType, TimeInForce
from ..errors import NotFoundError
from ..events import Fill, OrderUpdate
from .userevents import (
    USER_EVENT_TYPES,
    _dec,
    _list_id,
    _opt_int,
    _opt_str,
    parse_account_position,
    parse_balance_update,
    parse_execution_report,
    parse_external_lock,
    parse_list_status,
    parse_stream_terminated,
    parse_user_event,
    user_event_key,
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
    "order_from_rest",
    "fill_from_rest",
    "is_final_status",
    "RestQuery",
    "TrackedOrder",
    "Reconciliation",
    "OrderTracker",
    "WEIGHT_OPEN_ORDERS",
    "WEIGHT_ORDER",
    "WEIGHT_MY_TRADES",
]

# Section 7 request weights (openOrders with a symbol, order, myTrades with orderId).
WEIGHT_OPEN_ORDERS = 6
WEIGHT_ORDER = 4
WEIGHT_MY_TRADES = 5

_FINAL = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH"})
_ZERO = Decimal(0)


def is_final_status(status: Union[str, OrderStatus]) -> bool:
    """True for FILLED, CANCELED, REJECTED, EXPIRED, EXPIRED_IN_MATCH (section 7)."""
    return str(status) in _FINAL


def fill_from_rest(trade: Mapping[str, Any]) -> Fill:
    """One ``myTrades`` item (section 7) -> ``Fill``."""
    is_maker = trade.get("isMaker")
    return Fill(
        trade_id=trade["id"],
        price=Decimal(str(trade["price"])),
        quantity=Decimal(str(trade["qty"])),
        commission=_dec(trade.get("commission")),
        commission_asset=_opt_str(trade.get("commissionAsset")),
        time=_opt_int(trade.get("time")),
        is_maker=is_maker if isinstance(is_maker, bool) else None,
    )


def order_from_rest(
    order: Mapping[str, Any],
    exchange: str,
    *,
    fills: Sequence[Fill] = (),
    execution_type: Optional[Union[ExecutionType, str]] = None,
    event_time: Optional[int] = None,
) -> OrderUpdate:
    """A §7 order dict (``GET /api/v3/order``/``openOrders`` item) -> reconciled ``OrderUpdate``.

    ``last_fill_*`` come from the last of ``fills`` (zero without); ``event_time`` defaults to
    ``updateTime`` (else ``time``/``transactTime``).
    """
    last = fills[-1] if fills else None
    tif = order.get("timeInForce")
    when = event_time
    if when is None:
        when = _opt_int(order.get("updateTime")) or _opt_int(order.get("time")) or _opt_int(order.get("transactTime"))
    cum_quote = _dec(order.get("cummulativeQuoteQty"))
    trailing_time = _opt_int(order.get("trailingTime"))
    return OrderUpdate(
        exchange=exchange,
        symbol=order["symbol"],
        order_id=order["orderId"],
        client_order_id=order.get("clientOrderId", ""),
        side=enums.coerce(OrderSide, order.get("side", "")),
        order_type=enums.coerce(OrderType, order.get("type", "")),
        status=enums.coerce(OrderStatus, order.get("status", "NEW")),
        price=_dec(order.get("price")) or _ZERO,
        quantity=_dec(order.get("origQty")) or _ZERO,
        filled_quantity=_dec(order.get("executedQty")) or _ZERO,
        last_fill_price=last.price if last is not None else _ZERO,
        last_fill_quantity=last.quantity if last is not None else _ZERO,
        event_time=when or 0,
        is_reconciled=True,
        execution_type=execution_type,
        time_in_force=enums.coerce(TimeInForce, tif) if isinstance(tif, str) else None,
        stop_price=_dec(order.get("stopPrice")),
        iceberg_quantity=_dec(order.get("icebergQty")),
        order_list_id=_list_id(order.get("orderListId")),
        orig_client_order_id=_opt_str(order.get("origClientOrderId")),
        commission=None,
        commission_asset=None,
        transaction_time=_opt_int(order.get("updateTime")) or _opt_int(order.get("transactTime")),
        trade_id=last.trade_id if last is not None else None,
        is_on_book=order.get("isWorking") if isinstance(order.get("isWorking"), bool) else None,
        creation_time=_opt_int(order.get("time")),
        # Negative cummulativeQuoteQty marks "unavailable" on some old orders (section 7).
        cumulative_quote_quantity=cum_quote if cum_quote is None or cum_quote >= 0 else None,
        quote_order_quantity=_dec(order.get("origQuoteOrderQty")),
        working_time=_opt_int(order.get("workingTime")),
        self_trade_prevention_mode=_opt_str(order.get("selfTradePreventionMode")),
        expiry_reason=_opt_str(order.get("expiryReason")),
        fills=tuple(fills),
        # rest-api.md "Conditional fields in Order Responses" (trailingTime -1: not trailing yet)
        trailing_delta=_opt_int(order.get("trailingDelta")),
        trailing_time=trailing_time if trailing_time != -1 else None,
        strategy_id=_opt_int(order.get("strategyId")),
        strategy_type=_opt_int(order.get("strategyType")),
        prevented_match_id=_opt_int(order.get("preventedMatchId")),
        prevented_quantity=_dec(order.get("preventedQuantity")),
        working_floor=_opt_str(order.get("workingFloor")),
        used_sor=order.get("usedSor") if isinstance(order.get("usedSor"), bool) else None,
        peg_price_type=_opt_str(order.get("pegPriceType")),
        peg_offset_type=_opt_str(order.get("pegOffsetType")),
        peg_offset_value=_opt_int(order.get("pegOffsetValue")),
        pegged_price=_dec(order.get("peggedPrice")),
    )


class RestQuery:
    """One REST call a reconciliation needs (all ``GET``, USER_DATA: signed)."""

    __slots__ = ("method", "path", "params", "weight", "kind", "symbol", "order_id")

    def __init__(
        self, path: str, params: Dict[str, Any], weight: int, kind: str, symbol: str, order_id: Optional[int] = None
    ) -> None:
        self.method = "GET"
        self.path = path
        self.params = params
        self.weight = weight
        self.kind = kind  # "open_orders" | "order" | "my_trades"
        self.symbol = symbol
        self.order_id = order_id

    def __repr__(self) -> str:
        return f"RestQuery({self.method} {self.path} {self.params!r} weight={self.weight})"


class TrackedOrder:
    """What the tracker knows of one order (mutable; read it under the tracker owner's lock)."""

    __slots__ = ("symbol", "order_id", "client_order_id", "status", "filled", "trade_ids")

    def __init__(self, symbol: str, order_id: int, client_order_id: str, status: str, filled: Decimal) -> None:
        self.symbol = symbol
        self.order_id = order_id
        self.client_order_id = client_order_id
        self.status = status
        self.filled = filled
        self.trade_ids: Set[int] = set()


class Reconciliation:
    """One reconciliation run (phases: open orders -> missing orders -> trades).

    Drive it with ``while (qs := rec.next_queries()): feed/fail each``, then ``finish()``.
    Not thread-safe; the I/O layer runs one at a time.
    """

    def __init__(self, tracker: OrderTracker, orders: List[Tuple[str, int]]) -> None:
        self._tracker = tracker
        self._orders = orders  # (symbol, order_id) snapshot of non-final tracked orders
        self._state: Dict[Tuple[str, int], Mapping[str, Any]] = {}
        self._trades: Dict[Tuple[str, int], List[Mapping[str, Any]]] = {}
        self._phase = 0
        self._missing: List[Tuple[str, int]] = []
        self.weight_spent = 0
        self.failed: List[RestQuery] = []

    @property
    def symbols(self) -> List[str]:
        return sorted({sym for sym, _ in self._orders})

    @property
    def estimated_weight(self) -> int:
        """Upper bound of the run's weight: 6 per symbol + (4 + 5) per tracked order, worst case."""
        return WEIGHT_OPEN_ORDERS * len(self.symbols) + (WEIGHT_ORDER + WEIGHT_MY_TRADES) * len(self._orders)

    @property
    def first_phase_weight(self) -> int:
        """Exact weight of the first phase (``openOrders`` per symbol)."""
        return WEIGHT_OPEN_ORDERS * len(self.symbols)

    def next_queries(self) -> List[RestQuery]:
        """The next batch of queries (may be sent in parallel); ``[]`` when the run is complete."""
        while self._phase < 3:
            self._phase += 1
            if self._phase == 1:
                batch = [
                    RestQuery("/api/v3/openOrders", {"symbol": s}, WEIGHT_OPEN_ORDERS, "open_orders", s)
                    for s in self.symbols
                ]
            elif self._phase == 2:
                batch = [
                    RestQuery("/api/v3/order", {"symbol": s, "orderId": o}, WEIGHT_ORDER, "order", s, o)
                    for s, o in self._orders
                    if (s, o) not in self._state
                ]
            else:
                batch = [
                    RestQuery("/api/v3/myTrades", {"symbol": s, "orderId": o}, WEIGHT_MY_TRADES, "my_trades", s, o)
                    for s, o in self._orders
                    if self._needs_trades(s, o)
                ]
            if batch:
                self.weight_spent += sum(q.weight for q in batch)
                return batch
        return []

    def _needs_trades(self, symbol: str, order_id: int) -> bool:
        rest = self._state.get((symbol, order_id))
        known = self._tracker.get(symbol, order_id)
        if rest is None or known is None:
            return False
        return (_dec(rest.get("executedQty")) or _ZERO) > known.filled

    def feed(self, query: RestQuery, response: Any) -> None:
        """The decoded JSON answer to ``query``."""
        if query.kind == "open_orders":
            for item in response if isinstance(response, list) else ():
                if isinstance(item, Mapping) and item.get("symbol") == query.symbol:
                    self._state[(query.symbol, item.get("orderId"))] = item  # type: ignore[index]
        elif query.kind == "order" and isinstance(response, Mapping) and query.order_id is not None:
            self._state[(query.symbol, query.order_id)] = response
        elif query.kind == "my_trades" and isinstance(response, list) and query.order_id is not None:
            key = (query.symbol, query.order_id)
            self._trades[key] = [t for t in response if isinstance(t, Mapping) and t.get("orderId") == query.order_id]

    def fail(self, query: RestQuery, error: BaseException) -> None:
        """``query`` failed.  A failed ``openOrders`` falls back to per-order queries (phase 2
        asks for every order not seen yet); an order the exchange no longer knows (-2013,
        -2026) is forgotten; any other failure leaves the order tracked as it was."""
        self.failed.append(query)
        if query.kind == "order" and query.order_id is not None and isinstance(error, NotFoundError):
            self._tracker.forget(query.symbol, query.order_id)

    def finish(self) -> List[OrderUpdate]:
        """Reconciled updates for every order that changed during the gap; updates the tracker."""
        out: List[OrderUpdate] = []
        for key in self._orders:
            rest = self._state.get(key)
            known = self._tracker.get(*key)
            if rest is None or known is None:
                continue
            status = str(rest.get("status", known.status))
            filled = _dec(rest.get("executedQty")) or _ZERO
            missed = [t for t in self._trades.get(key, ()) if t.get("id") not in known.trade_ids]
            if filled < known.filled:
                # The live stream already delivered a later state than this REST view: never
                # regress it, but still report executions that happened inside the gap.
                if not missed:
                    continue
                rest = {**rest, "status": known.status, "executedQty": format(known.filled, "f")}
                status, filled = known.status, known.filled
            elif filled == known.filled and status == known.status and not missed:
                continue
            fills = sorted((fill_from_rest(t) for t in missed), key=lambda f: f.trade_id)
            update = order_from_rest(
                rest, self._tracker.exchange, fills=fills, execution_type=_execution_type(status, bool(fills))
            )
            self._tracker.observe(update)
            out.append(update)
        return out


def _execution_type(status: str, has_fills: bool) -> Optional[Union[ExecutionType, str]]:
    if status in ("CANCELED", "REJECTED", "EXPIRED"):
        return enums.coerce(ExecutionType, status)
    if status == "EXPIRED_IN_MATCH":
        return ExecutionType.TRADE_PREVENTION
    return ExecutionType.TRADE if has_fills else None


class OrderTracker:
    """Orders seen open or placed, for reconciliation after a user-data gap.

    Not thread-safe: the owner calls it under one lock (reader thread for ``observe``,
    REST callers for ``track_placed``).  Never blocks.

    Args:
        exchange: exchange name put on reconciled events.
        max_orders: cap on remembered orders; beyond it the oldest final ones go first,
            then the oldest open ones.
    """

    def __init__(self, exchange: str, *, max_orders: int = 10_000) -> None:
        if max_orders < 1:
            raise ValueError("max_orders must be >= 1")
        self.exchange = exchange
        self.max_orders = max_orders
        self._orders: OrderedDict[Tuple[str, int], TrackedOrder] = OrderedDict()

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, key: object) -> bool:
        return key in self._orders

    def get(self, symbol: str, order_id: int) -> Optional[TrackedOrder]:
        return self._orders.get((symbol, order_id))

    def track_placed(self, response: Mapping[str, Any]) -> None:
        """Register an order from its placement answer (ACK, RESULT or FULL; REST or WS API)."""
        symbol = response.get("symbol")
        order_id = response.get("orderId")
        if not isinstance(symbol, str) or not isinstance(order_id, int):
            return
        status = str(response.get("status") or "NEW")
        filled = _dec(response.get("executedQty")) or _ZERO
        trade_ids = [f.get("tradeId") for f in response.get("fills") or () if isinstance(f, Mapping)]
        self._update(symbol, order_id, str(response.get("clientOrderId", "")), status, filled, trade_ids)

    def observe(self, update: OrderUpdate) -> None:
        """Apply a live (or reconciled) ``OrderUpdate``."""
        trade_ids: List[Any] = [f.trade_id for f in update.fills]
        if update.trade_id is not None:
            trade_ids.append(update.trade_id)
        self._update(
            update.symbol,
            update.order_id,
            update.client_order_id,
            str(update.status),
            update.filled_quantity,
            trade_ids,
        )

    def _update(
        self, symbol: str, order_id: int, client_id: str, status: str, filled: Decimal, trade_ids: Iterable[Any]
    ) -> None:
        key = (symbol, order_id)
        entry = self._orders.get(key)
        if entry is None:
            if is_final_status(status):
                return  # nothing left to reconcile for an order we never saw open
            entry = TrackedOrder(symbol, order_id, client_id, status, filled)
            self._orders[key] = entry
            self._evict()
        elif filled >= entry.filled:
            entry.status = status
            entry.filled = filled
            if client_id and not entry.client_order_id:
                entry.client_order_id = client_id
        entry.trade_ids.update(t for t in trade_ids if isinstance(t, int))
        if is_final_status(entry.status):
            # Reported (live or reconciled): nothing more can happen to it.
            del self._orders[key]

    def _evict(self) -> None:
        excess = len(self._orders) - self.max_orders
        if excess <= 0:
            return
        finals = [k for k, v in self._orders.items() if is_final_status(v.status)][:excess]
        for k in finals:
            del self._orders[k]
        while len(self._orders) > self.max_orders:
            self._orders.popitem(last=False)

    def forget(self, symbol: str, order_id: int) -> None:
        """Stop tracking an order (unknown to the exchange, or of no interest)."""
        self._orders.pop((symbol, order_id), None)

    def open_orders(self) -> List[Tuple[str, int]]:
        """``(symbol, orderId)`` of the tracked non-final orders, oldest first."""
        return [k for k, v in self._orders.items() if not is_final_status(v.status)]

    def begin_reconcile(self) -> Reconciliation:
        """Start a reconciliation of every tracked open order (the gap itself is the subscription
        plan's: ``_core.wsapi.UserDataSession.in_gap`` / ``Step.reconcile``)."""
        return Reconciliation(self, self.open_orders())
