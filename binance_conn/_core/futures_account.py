"""Futures account picture and listenKey rules (sans-I/O).

**listenKey** (binance-futures-reference.md 7.1): ``POST`` creates the key (the same key for
every client of the account while one is active), ``PUT`` extends it 60 minutes, ``-1125``
means it is gone; ``DELETE`` would kill the stream of every other client sharing the
account's key, so this library never sends it.  :func:`listen_key_paths` and
:func:`private_url` hold the product differences (USD-M ``/fapi`` and the routed
``/private/ws?listenKey=...&events=...``, the query form of conflict 1; COIN-M ``/dapi`` and
``dstream``'s ``/ws/<listenKey>``).  :data:`DEFAULT_KEEPALIVE` is half the validity.

**Positions and balances** (:class:`AccountBook`): ``ACCOUNT_UPDATE`` is a delta, so the
picture is seeded from REST (``positionRisk``, ``balance``) and every update applied on
top, keyed by ``(symbol, positionSide)`` (hedge mode has LONG and SHORT).  Each entry
remembers the newest time it reflects (event ``E``, or REST ``updateTime``); an older
view never overwrites a newer one, so the order of seed and live events does not matter.
After a gap a REST view is diffed against the picture: every position that differs (or
vanished: REST lists only symbols with a position or open orders) comes out as a
reconciled ``PositionUpdate``, every changed balance as a reconciled ``BalanceUpdate``.

**Orders** (:func:`futures_order_from_rest`): a ``GET /fapi/v1/order`` / ``openOrders`` item
-> reconciled ``OrderUpdate`` with the futures fields.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import quote

from .. import enums
from ..enums import OrderSide, OrderStatus, OrderType, TimeInForce
from ..events import BalanceUpdate, OrderUpdate, PositionUpdate
from .futures_userevents import margin_type
from .userevents import _dec, _opt_int, _opt_str

__all__ = ["DEFAULT_KEEPALIVE", "LISTEN_KEY_VALIDITY", "USER_EVENTS", "listen_key_paths", "private_url",
           "account_paths", "AccountBook", "position_from_rest", "balance_from_rest", "futures_order_from_rest",
           "mask_key"]

LISTEN_KEY_VALIDITY = 3600.0  # s (fUDS: "valid for 60 minutes")
DEFAULT_KEEPALIVE = 1800.0  # s between PUTs: well inside the validity (a missed PUT still leaves 30 min)
USER_EVENTS = ("ORDER_TRADE_UPDATE", "TRADE_LITE", "ACCOUNT_UPDATE", "MARGIN_CALL", "ACCOUNT_CONFIG_UPDATE",
               "ALGO_UPDATE", "STRATEGY_UPDATE", "GRID_UPDATE", "CONDITIONAL_ORDER_TRIGGER_REJECT")
"""The ``events=`` of the USD-M private URL (``listenKeyExpired`` always comes)."""
_ZERO = Decimal(0)


def mask_key(key: Optional[str]) -> str:
    """A listenKey for logs and stats: its first 4 characters (it reads the account's stream)."""
    return "-" if not key else key[:4] + "..."


def listen_key_paths(product: str) -> str:
    """The listenKey REST path of ``product`` (``usdm``/``coinm``)."""
    return "/dapi/v1/listenKey" if product == "coinm" else "/fapi/v1/listenKey"


def account_paths(product: str) -> Dict[str, str]:
    """REST paths used for seeding and reconciliation (v3 for USD-M, v1 for COIN-M)."""
    if product == "coinm":
        return {"positions": "/dapi/v1/positionRisk", "balance": "/dapi/v1/balance",
                "open_orders": "/dapi/v1/openOrders", "order": "/dapi/v1/order"}
    return {"positions": "/fapi/v3/positionRisk", "balance": "/fapi/v3/balance",
            "open_orders": "/fapi/v1/openOrders", "order": "/fapi/v1/order"}


def private_url(ws_base: str, product: str, key: str, events: Tuple[str, ...] = USER_EVENTS) -> str:
    """The stream URL for ``key``: USD-M ``<base>/private/ws?listenKey=<key>&events=A/B``, COIN-M
    ``<base>/ws/<key>`` (no routed paths on ``dstream``)."""
    base = ws_base.rstrip("/")
    if product == "coinm":
        return f"{base}/ws/{quote(key, safe='')}"
    return f"{base}/private/ws?listenKey={quote(key, safe='')}&events={'/'.join(events)}"


def position_from_rest(row: Mapping[str, Any], exchange: str, when: int) -> PositionUpdate:
    """A ``positionRisk`` row -> reconciled ``PositionUpdate`` (``event_time``: its ``updateTime`` or ``when``)."""
    update_time = _opt_int(row.get("updateTime"))
    return PositionUpdate(
        exchange, row["symbol"], row.get("positionSide") or "BOTH", _dec(row.get("positionAmt")) or _ZERO,
        _dec(row.get("entryPrice")) or _ZERO, _dec(row.get("unRealizedProfit")) or _ZERO,
        update_time or when, breakeven_price=_dec(row.get("breakEvenPrice")),
        margin_type=margin_type(row.get("marginType")), isolated_wallet=_dec(row.get("isolatedWallet")),
        reason="RECONCILED", is_reconciled=True, mark_price=_dec(row.get("markPrice")),
        liquidation_price=_dec(row.get("liquidationPrice")), notional=_dec(row.get("notional")),
        margin_asset=_opt_str(row.get("marginAsset")), update_time=update_time)


def balance_from_rest(row: Mapping[str, Any], exchange: str, when: int) -> BalanceUpdate:
    """A ``balance`` row -> reconciled ``BalanceUpdate`` (``kind="balance"``)."""
    update_time = _opt_int(row.get("updateTime"))
    return BalanceUpdate(exchange, row["asset"], update_time or when, kind="balance", update_time=update_time,
                         wallet_balance=_dec(row.get("balance")),
                         cross_wallet_balance=_dec(row.get("crossWalletBalance")), reason="RECONCILED",
                         is_reconciled=True, available_balance=_dec(row.get("availableBalance")),
                         account_alias=_opt_str(row.get("accountAlias")))


def futures_order_from_rest(order: Mapping[str, Any], exchange: str) -> OrderUpdate:
    """A futures order query item -> reconciled ``OrderUpdate`` (futures fields included)."""
    tif = order.get("timeInForce")
    ot = order.get("origType")
    when = _opt_int(order.get("updateTime")) or _opt_int(order.get("time")) or 0
    return OrderUpdate(
        exchange, order["symbol"], order["orderId"], order.get("clientOrderId", ""),
        enums.coerce(OrderSide, order.get("side", "")), enums.coerce(OrderType, order.get("type", "")),
        enums.coerce(OrderStatus, order.get("status", "NEW")), _dec(order.get("price")) or _ZERO,
        _dec(order.get("origQty")) or _ZERO, _dec(order.get("executedQty")) or _ZERO, _ZERO, _ZERO, when,
        is_reconciled=True, time_in_force=enums.coerce(TimeInForce, tif) if isinstance(tif, str) else None,
        stop_price=_dec(order.get("stopPrice")), transaction_time=_opt_int(order.get("updateTime")),
        creation_time=_opt_int(order.get("time")), cumulative_quote_quantity=_dec(order.get("cumQuote")),
        self_trade_prevention_mode=_opt_str(order.get("selfTradePreventionMode")),
        position_side=_opt_str(order.get("positionSide")),
        reduce_only=order.get("reduceOnly") if isinstance(order.get("reduceOnly"), bool) else None,
        average_price=_dec(order.get("avgPrice")),
        original_order_type=enums.coerce(OrderType, ot) if isinstance(ot, str) else None,
        working_type=_opt_str(order.get("workingType")),
        close_position=order.get("closePosition") if isinstance(order.get("closePosition"), bool) else None,
        activation_price=_dec(order.get("activatePrice")), callback_rate=_dec(order.get("priceRate")),
        price_protect=order.get("priceProtect") if isinstance(order.get("priceProtect"), bool) else None,
        price_match=_opt_str(order.get("priceMatch")), good_till_date=_opt_int(order.get("goodTillDate")))


def _pos_view(p: PositionUpdate) -> Tuple[Any, ...]:
    return (p.amount, p.entry_price)


def _bal_view(b: BalanceUpdate) -> Tuple[Any, ...]:
    return (b.wallet_balance, b.cross_wallet_balance)


class AccountBook:
    """The positions (by ``(symbol, position_side)``) and balances (by asset) of one futures account.

    Not thread-safe: the session calls it under one lock.
    """

    def __init__(self, exchange: str) -> None:
        self.exchange = exchange
        self.positions: Dict[Tuple[str, str], PositionUpdate] = {}
        self.balances: Dict[str, BalanceUpdate] = {}
        self._pos_time: Dict[Tuple[str, str], int] = {}
        self._bal_time: Dict[str, int] = {}
        self.seeded = False

    def apply_position(self, p: PositionUpdate) -> bool:
        """A live (or reconciled) position; False (nothing changed) if it is older than what is known."""
        key = (p.symbol, p.position_side)
        if p.event_time < self._pos_time.get(key, -1):
            return False
        self._pos_time[key] = p.event_time
        self.positions[key] = p
        return True

    def apply_balance(self, b: BalanceUpdate) -> bool:
        if b.event_time < self._bal_time.get(b.asset, -1):
            return False
        self._bal_time[b.asset] = b.event_time
        self.balances[b.asset] = b
        return True

    def reconcile(self, positions: List[Mapping[str, Any]], balances: List[Mapping[str, Any]], now_ms: int
                  ) -> Tuple[List[PositionUpdate], List[BalanceUpdate]]:
        """Diff a REST view (``positionRisk`` rows, ``balance`` rows) into the picture; returns what changed.

        The first call (the seed) returns nothing: there is no earlier picture to differ from.
        """
        first = not self.seeded
        self.seeded = True
        out_p: List[PositionUpdate] = []
        out_b: List[BalanceUpdate] = []
        seen = set()
        for row in positions:
            if not isinstance(row, Mapping) or "symbol" not in row:
                continue
            p = position_from_rest(row, self.exchange, now_ms)
            key = (p.symbol, p.position_side)
            seen.add(key)
            old = self.positions.get(key)
            if p.event_time < self._pos_time.get(key, -1):
                continue  # the stream already told something newer
            changed = old is None and p.amount != 0 or old is not None and _pos_view(old) != _pos_view(p)
            self.positions[key] = p
            self._pos_time[key] = p.event_time
            if changed and not first:
                out_p.append(p)
        for key, old in list(self.positions.items()):
            if key in seen or old.amount == 0:
                continue
            if self._pos_time.get(key, -1) > now_ms:
                continue
            closed = PositionUpdate(self.exchange, key[0], key[1], _ZERO, _ZERO, _ZERO, now_ms,
                                    margin_type=old.margin_type, reason="RECONCILED", is_reconciled=True)
            self.positions[key] = closed
            self._pos_time[key] = now_ms
            if not first:
                out_p.append(closed)
        for row in balances:
            if not isinstance(row, Mapping) or "asset" not in row:
                continue
            b = balance_from_rest(row, self.exchange, now_ms)
            prev = self.balances.get(b.asset)
            if b.event_time < self._bal_time.get(b.asset, -1):
                continue
            changed = prev is None and (b.wallet_balance or _ZERO) != 0 or \
                prev is not None and _bal_view(prev) != _bal_view(b)
            self.balances[b.asset] = b
            self._bal_time[b.asset] = b.event_time
            if changed and not first:
                out_b.append(b)
        return out_p, out_b

    def open_positions(self) -> List[PositionUpdate]:
        """Positions with a non-zero amount, by symbol then side."""
        return [p for _, p in sorted(self.positions.items()) if p.amount != 0]
