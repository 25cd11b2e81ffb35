"""Futures user-data delivery: raw listenKey payloads -> typed events on the connector's topics.

Runs on the futures reader thread (and the worker for reconciled events), never under a lock
while publishing.  ``ORDER_TRADE_UPDATE`` goes to the spot order topic (``conn.on_order``),
the balances of ``ACCOUNT_UPDATE`` to the balance topic (``conn.on_balance``), its positions
to :data:`POSITION_TOPIC` after they were applied to the session's ``AccountBook`` (an update
older than what the book holds is dropped and counted as ``stale_positions``);
``TRADE_LITE``, ``MARGIN_CALL``, ``ACCOUNT_CONFIG_UPDATE`` and ``ALGO_UPDATE`` have topics of
their own.  ``listenKeyExpired`` calls :attr:`FuturesDelivery.on_key_expired`.  Unknown types
are counted, malformed payloads counted and dropped, as on spot.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, List, Optional

from .._core.futures_account import AccountBook
from .._core.futures_userevents import (
    FUTURES_EVENT_TYPES,
    IGNORED_EVENT_TYPES,
    futures_event_key,
    listen_key_expired_time,
    parse_account_config,
    parse_account_update,
    parse_algo_update,
    parse_margin_call,
    parse_order_trade_update,
    parse_trade_lite,
)
from .._core.userdata import OrderTracker
from .._io.dispatch import Dispatcher
from ..events import BalanceUpdate, OrderUpdate, PositionUpdate
from .delivery import BALANCE_TOPIC, ORDER_TOPIC, OverlapFilter

__all__ = ["POSITION_TOPIC", "TRADE_LITE_TOPIC", "MARGIN_CALL_TOPIC", "ACCOUNT_CONFIG_TOPIC", "ALGO_ORDER_TOPIC",
           "FUTURES_TOPICS", "FuturesDelivery"]

POSITION_TOPIC = "__position__"
TRADE_LITE_TOPIC = "__trade_lite__"
MARGIN_CALL_TOPIC = "__margin_call__"
ACCOUNT_CONFIG_TOPIC = "__account_config__"
ALGO_ORDER_TOPIC = "__algo_order__"
FUTURES_TOPICS = (ORDER_TOPIC, BALANCE_TOPIC, POSITION_TOPIC, TRADE_LITE_TOPIC, MARGIN_CALL_TOPIC,
                  ACCOUNT_CONFIG_TOPIC, ALGO_ORDER_TOPIC)
"""Every topic the futures user-data session serves."""
_log = logging.getLogger("binance_conn.user_data")
_TOPIC_OF = {"TradeLite": TRADE_LITE_TOPIC, "MarginCall": MARGIN_CALL_TOPIC,
             "AccountConfigUpdate": ACCOUNT_CONFIG_TOPIC,
             "AlgoOrderUpdate": ALGO_ORDER_TOPIC}


class FuturesDelivery(OverlapFilter):
    """Parse + apply + publish for one futures session (``lock``: the session's, guards tracker and book)."""

    def __init__(self, exchange: str, dispatcher: Dispatcher, stop_event: threading.Event, tracker: OrderTracker,
                 book: AccountBook, lock: threading.RLock) -> None:
        self._exchange = exchange
        self._dispatcher = dispatcher
        self._stop = stop_event
        self._tracker = tracker
        self._book = book
        self._lock = lock
        self.on_key_expired: Callable[[int, Any], None] = lambda event_time, key: None
        self.by_type: Dict[str, int] = dict.fromkeys(FUTURES_EVENT_TYPES + IGNORED_EVENT_TYPES, 0)
        self.events = 0
        self.unknown = 0
        self.malformed = 0
        self.stale_positions = 0
        self.last_malformed: Optional[str] = None
        self.last_bad_frame: Optional[str] = None
        OverlapFilter.__init__(self)  # deduping: a rollover overlap, both links deliver

    def _is_duplicate(self, payload: Dict[str, Any]) -> bool:
        return self._seen_before(futures_event_key(payload))

    def bad_frame(self, sample: bytes) -> None:
        self.malformed += 1
        self.last_bad_frame = repr(sample)
        if self.malformed & (self.malformed - 1) == 0:
            _log.warning("futures user-data: bad frame (%d so far): %r", self.malformed, sample)

    def emit(self, ev: Any) -> None:
        """Publish one event on its topic (the tracker / book already saw it)."""
        if isinstance(ev, OrderUpdate):
            topic = ORDER_TOPIC
        elif isinstance(ev, BalanceUpdate):
            topic = BALANCE_TOPIC
        elif isinstance(ev, PositionUpdate):
            topic = POSITION_TOPIC
        else:
            topic = _TOPIC_OF[type(ev).__name__]
        self.events += 1
        self._dispatcher.publish(topic, ev, self._stop)

    def publish(self, payloads: List[Dict[str, Any]]) -> None:
        """Parse, apply and publish (the reader thread; may block on BLOCK subscribers)."""
        exchange = self._exchange
        for payload in payloads:
            if self.deduping and self._is_duplicate(payload):
                continue
            kind = payload.get("e")
            if type(kind) is not str or kind not in self.by_type:
                self.unknown += 1
                continue
            try:
                out = self._parse(kind, payload, exchange)
            except (KeyError, ValueError, TypeError, ArithmeticError, AttributeError) as exc:
                self.malformed += 1
                self.last_malformed = f"{kind}: {type(exc).__name__}: {exc}"[:160]
                if self.malformed & (self.malformed - 1) == 0:
                    _log.warning("malformed futures %s event dropped (%d so far): %s", kind, self.malformed, exc)
                continue
            self.by_type[kind] += 1
            for ev in out:
                self.emit(ev)

    def _parse(self, kind: str, payload: Dict[str, Any], exchange: str) -> List[Any]:
        if kind == "ORDER_TRADE_UPDATE":
            upd = parse_order_trade_update(payload, exchange)
            with self._lock:
                self._tracker.observe(upd)
            return [upd]
        if kind == "ACCOUNT_UPDATE":
            balances, positions = parse_account_update(payload, exchange)
            out: List[Any] = []
            with self._lock:
                for b in balances:
                    if self._book.apply_balance(b):
                        out.append(b)
                for p in positions:
                    if self._book.apply_position(p):
                        out.append(p)
                    else:
                        self.stale_positions += 1
            return out
        if kind == "TRADE_LITE":
            return [parse_trade_lite(payload, exchange)]
        if kind == "MARGIN_CALL":
            return [parse_margin_call(payload, exchange)]
        if kind == "ACCOUNT_CONFIG_UPDATE":
            return [parse_account_config(payload, exchange)]
        if kind == "ALGO_UPDATE":
            return [parse_algo_update(payload, exchange)]
        if kind == "listenKeyExpired":
            self.on_key_expired(listen_key_expired_time(payload), payload.get("listenKey"))
        return []

    def counts(self) -> Dict[str, Any]:
        return {"events": self.events, "events_by_type": dict(self.by_type), "unknown_events": self.unknown,
                "malformed": self.malformed, "last_malformed_event": self.last_malformed,
                "stale_positions": self.stale_positions, "duplicates_dropped": self.duplicates}
