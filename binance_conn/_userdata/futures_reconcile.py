"""Reconciliation of the futures user-data session (its worker thread): what a gap may have hidden.

Mixed into ``futures_session.FuturesUserSession``.  After the first connect it seeds the
``AccountBook`` from ``positionRisk`` and ``balance`` (nothing published); after every later
(re)connect it diffs a fresh REST view into the book and asks ``openOrders`` (per symbol of a
tracked order or an open position) and ``order`` (tracked orders no longer open); every change
is published with ``is_reconciled=True`` and the pass is reported as a user-data ``GapEvent``
(``OPEN`` then ``FILLED``, or ``UNFILLED`` with the failure).  An order never goes back: a REST
view with less filled than the stream already told is skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional

from .._core.futures_account import AccountBook, futures_order_from_rest
from .._core.userdata import OrderTracker
from .._io.dispatch import Dispatcher
from .._io.topics import GAP_TOPIC, next_gap_id
from ..enums import GapState
from ..errors import BinanceError
from ..events import GapEvent
from .futures_delivery import FuturesDelivery

__all__ = ["FuturesReconciler"]

_log = logging.getLogger("binance_conn.user_data")


class FuturesReconciler:
    """The REST side of the futures session (see the module docstring)."""

    exchange: str
    dispatcher: Dispatcher
    stop_event: threading.Event
    tracker: OrderTracker
    book: AccountBook
    delivery: FuturesDelivery
    reconciliations: int
    reconciled: int
    reconcile_errors: int
    _lock: threading.RLock
    _paths: Dict[str, str]
    _rest: Callable[[], Any]

    def _reconcile(self, is_gap: bool) -> None:
        """Seed (first connect) or reconcile (after a gap) positions, balances and open orders over REST."""
        gap_id = next_gap_id()
        if is_gap:
            self._gap(gap_id, GapState.OPEN)
        rest = self._rest()
        paths = self._paths
        try:
            positions = rest.request("GET", paths["positions"], {}, signed=True)
            balances = rest.request("GET", paths["balance"], {}, signed=True)
            with self._lock:
                now_ms = int(time.time() * 1000)
                pos_changes, bal_changes = self.book.reconcile(
                    positions if isinstance(positions, list) else [], balances if isinstance(balances, list) else [],
                    now_ms)
                tracked = self.tracker.open_orders()
                symbols = sorted({s for s, _ in tracked} | {p.symbol for p in self.book.open_positions()})
            order_updates = self._reconcile_orders(rest, symbols, tracked) if is_gap else []
        except BinanceError as exc:
            self.reconcile_errors += 1
            _log.warning("futures user-data reconciliation failed: %s", exc)
            if is_gap:
                self._gap(gap_id, GapState.UNFILLED, 0, f"{type(exc).__name__}: {exc.message}")
            return
        self.reconciliations += 1
        for ev in [*pos_changes, *bal_changes, *order_updates]:
            self.delivery.emit(ev)
        published = len(pos_changes) + len(bal_changes) + len(order_updates)
        self.reconciled += published
        if is_gap:
            self._gap(gap_id, GapState.FILLED, published)

    def _reconcile_orders(self, rest: Any, symbols: List[str], tracked: List[Any]) -> List[Any]:
        seen: Dict[Any, Mapping[str, Any]] = {}
        for sym in symbols:
            answer = rest.request("GET", self._paths["open_orders"], {"symbol": sym}, signed=True)
            for item in answer if isinstance(answer, list) else ():
                if isinstance(item, Mapping) and "orderId" in item:
                    seen[(item.get("symbol"), item.get("orderId"))] = item
        for key in tracked:
            if key not in seen:
                answer = rest.request("GET", self._paths["order"], {"symbol": key[0], "orderId": key[1]}, signed=True)
                if isinstance(answer, Mapping) and "orderId" in answer:
                    seen[key] = answer
        out = []
        with self._lock:
            for key, item in seen.items():
                known = self.tracker.get(*key)
                upd = futures_order_from_rest(item, self.exchange)
                if known is not None and known.status == str(upd.status) and known.filled == upd.filled_quantity:
                    continue
                if known is not None and upd.filled_quantity < known.filled:
                    continue  # the stream already told something newer
                self.tracker.observe(upd)
                out.append(upd)
        return out

    def _gap(self, gap_id: int, state: GapState, filled: int = 0, reason: Optional[str] = None) -> None:
        self.dispatcher.publish(GAP_TOPIC, GapEvent(self.exchange, "user_data", "", "user_data", gap_id, None, None,
                                                    "reconnect", state, int(time.time() * 1000), filled, reason),
                                self.stop_event)
