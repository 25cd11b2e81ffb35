"""User-data event delivery: raw payloads -> parsed events on the user topics, across rollovers.

:meth:`UserEventDelivery.publish` runs on the reader threads, outside the session lock: it
parses each payload (``_core/userevents.py``), lets the order tracker see every ``OrderUpdate``
and publishes on :data:`ORDER_TOPIC` / :data:`BALANCE_TOPIC` / :data:`ORDER_LIST_TOPIC` /
:data:`EXTERNAL_LOCK_TOPIC`.  Every payload is counted: per known type (``by_type``), unknown
types (``unknown``, never delivered), malformed ones (a missing key, a non-finite price or
quantity, a non-int id: ``malformed``, never delivered), ``eventStreamTerminated``
(``terminations``; the subscription plan reacts, see ``conn.py``).

The make-before-break overlap (decided by ``_core/lifecycle.LinkSet``, carried out by
``rollover.py``): during a rollover both WebSocket API connections deliver: the old one until its
``userDataStream.unsubscribe`` is answered, the successor from its subscribe on.  The
successor's events are held (by the ``LinkSet``) until the switch and handed to
:meth:`UserEventDelivery.release` in arrival order, so events keep wire order, and
while the filter is on (``LinkSet.is_deduping``) every delivered event's natural key
(:func:`~binance_conn._core.userdata.user_event_key`) is remembered so the second copy is
dropped.  Outside an overlap the filter costs one flag test per event (:attr:`deduping`).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, List, Mapping, Optional, Protocol

from .._core.userdata import USER_EVENT_TYPES, OrderTracker, parse_user_event, user_event_key
from .._io.dispatch import Dispatcher
from ..events import BalanceUpdate, EventStreamTerminated, ExternalLockUpdate, OrderListUpdate, OrderUpdate

__all__ = ["ORDER_TOPIC", "BALANCE_TOPIC", "ORDER_LIST_TOPIC", "EXTERNAL_LOCK_TOPIC", "USER_TOPICS", "HoldingLink",
           "UserEventDelivery"]

ORDER_TOPIC = "__order__"
BALANCE_TOPIC = "__balance__"
ORDER_LIST_TOPIC = "__order_list__"
EXTERNAL_LOCK_TOPIC = "__external_lock__"
USER_TOPICS = (ORDER_TOPIC, BALANCE_TOPIC, ORDER_LIST_TOPIC, EXTERNAL_LOCK_TOPIC)
_log = logging.getLogger("binance_conn.user_data")
_CAPACITY = 8192  # keys remembered, oldest forgotten first


class OverlapFilter:
    """The duplicate filter of a rollover overlap: while :attr:`deduping`, every delivered event's
    natural key is remembered (the oldest forgotten past ``_CAPACITY``) and a second delivery is dropped
    and counted.  Outside an overlap a caller pays one flag test per event (read without the lock)."""

    def __init__(self) -> None:
        self._dedupe_lock = threading.Lock()
        self.deduping = False
        self._seen: Dict[Any, None] = {}
        self.duplicates = 0

    def begin_overlap(self) -> None:
        """A rollover starts: record what the old link delivers from now on."""
        with self._dedupe_lock:
            self.deduping = True

    def end_overlap(self) -> None:
        """The overlap is over: stop filtering and forget every key."""
        with self._dedupe_lock:
            self.deduping = False
            self._seen.clear()

    def _seen_before(self, key: Any) -> bool:
        """True if ``key`` was delivered during the overlap (counted); None keys are never duplicates."""
        if key is None:
            return False
        with self._dedupe_lock:
            if not self.deduping:
                return False
            if key in self._seen:
                self.duplicates += 1
                return True
            self._seen[key] = None
            if len(self._seen) > _CAPACITY:
                del self._seen[next(iter(self._seen))]
            return False


class HoldingLink(Protocol):
    """What delivery needs of a link (``conn.WsApiConn``): whether it holds its events, and the held ones."""

    holding: bool
    held: List[Dict[str, Any]]


class UserEventDelivery(OverlapFilter):
    """Parse + publish, duplicate filter and held events of one user-data session.

    Args:
        exchange: the exchange name put on every event.
        dispatcher: the connector's dispatcher.
        stop_event: the session's; ends a publish blocked on a full subscriber.
        tracker: the session's order tracker, guarded by ``tracker_lock``.
    """

    def __init__(self, exchange: str, dispatcher: Dispatcher, stop_event: threading.Event, tracker: OrderTracker,
                 tracker_lock: threading.Lock) -> None:
        self._exchange = exchange
        self._dispatcher = dispatcher
        self._stop_event = stop_event
        self._tracker = tracker
        self._tracker_lock = tracker_lock
        OverlapFilter.__init__(self)  # deduping: set before a successor connects
        self._hold_lock = threading.Lock()
        # counters (stats)
        self.events = 0
        self.malformed = 0  # payloads that did not parse (the reader counts bad frames)
        self.last_malformed: Optional[str] = None  # "<type>: <reason>" of the last one
        self.by_type: Dict[str, int] = dict.fromkeys(USER_EVENT_TYPES, 0)  # parsed payloads per known type
        self.unknown = 0  # payloads of a type user-data-stream.md does not list (counted, not delivered)
        self.last_unknown: Optional[str] = None
        self.terminations = 0  # eventStreamTerminated (the subscription plan resubscribes)

    def publish(self, payloads: List[Dict[str, Any]]) -> None:
        """Parse and publish (duplicates of an overlap dropped); a reader thread, may block on BLOCK subscribers."""
        publish = self._dispatcher.publish
        stop = self._stop_event
        exchange = self._exchange
        by_type = self.by_type
        for payload in payloads:
            if self.deduping and self.is_duplicate(payload):
                continue
            kind = payload.get("e")
            if type(kind) is not str or kind not in by_type:
                self.unknown += 1
                self.last_unknown = str(kind)[:64]
                if self.unknown & (self.unknown - 1) == 0:  # 1st, 2nd, 4th ...
                    _log.info("user-data event of unknown type %r not delivered (%d so far)", self.last_unknown,
                              self.unknown)
                continue
            try:
                events = parse_user_event(payload, exchange)
            except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
                self._malformed(kind, exc)
                continue
            by_type[kind] += 1
            for ev in events:
                if isinstance(ev, OrderUpdate):
                    with self._tracker_lock:
                        self._tracker.observe(ev)
                    topic = ORDER_TOPIC
                elif isinstance(ev, BalanceUpdate):
                    topic = BALANCE_TOPIC
                elif isinstance(ev, OrderListUpdate):
                    topic = ORDER_LIST_TOPIC
                elif isinstance(ev, ExternalLockUpdate):
                    topic = EXTERNAL_LOCK_TOPIC
                else:
                    if isinstance(ev, EventStreamTerminated):
                        self.terminations += 1
                    continue
                self.events += 1
                publish(topic, ev, stop)

    def _malformed(self, kind: str, exc: BaseException) -> None:
        self.malformed += 1
        reason = f"{type(exc).__name__}: {exc}"[:120]
        self.last_malformed = f"{kind}: {reason}"
        if self.malformed & (self.malformed - 1) == 0:  # 1st, 2nd, 4th, 8th ...: never a log storm
            _log.warning("malformed %s user-data event dropped (%d so far): %s", kind, self.malformed, reason,
                         extra={"malformed": self.malformed})

    def counts(self) -> Dict[str, Any]:
        """Per-type counters for ``stats()`` (plain reads: approximate while the reader runs)."""
        return {
            "events_by_type": dict(self.by_type),
            "unknown_events": self.unknown,
            "last_unknown_event": self.last_unknown,
            "stream_terminations": self.terminations,
            "last_malformed_event": self.last_malformed,
        }

    def is_duplicate(self, payload: Mapping[str, Any]) -> bool:
        """True if an event with this natural key was delivered during the overlap (counted)."""
        return self._seen_before(user_event_key(payload))

    def hold(self, link: HoldingLink, payloads: List[Dict[str, Any]]) -> None:
        """Events read by a just-switched link before :meth:`release` ran: parked, else published (its reader)."""
        with self._hold_lock:
            if link.holding:
                link.held.extend(payloads)
                return
        self.publish(payloads)

    def release(self, link: HoldingLink, released: List[Any]) -> None:
        """The switch (the ticker, or the reader of a dead old link): deliver what the lifecycle held
        (``released``: batches of payloads, in arrival order), then what ``link`` read since the switch
        decision, then let its reader publish directly (duplicates dropped throughout)."""
        with self._hold_lock:
            try:
                for batch in released:
                    self.publish(batch)
                held, link.held = link.held, []
                if held:
                    self.publish(held)
            finally:
                link.holding = False  # even after a crash: the link must never park events for good
