"""Gap reconciliation of the user-data session: a thread that asks REST what was missed.

After a resubscribe that closes a gap (the user-data session saw its subscription drop), the
order tracker of ``_core/userdata.py`` plans REST queries (by symbol, never the all-symbols
``openOrders``) about the orders tracked as open; this module runs them on one thread,
``binance_conn-user_data-reconcile``, and publishes a reconciled ``OrderUpdate`` per order
that changed.  A request for another pass while one runs is folded into one more pass.
Each pass is a user-data gap (``GapEvent`` kind ``"user_data"`` through ``publish_gap``): ``OPEN``
when it starts, ``FILLED`` when every query answered, ``UNFILLED`` (with ``reason``) when one
failed, the session stopped or the pass crashed.

Safety net: an unexpected exception in a pass is logged with its traceback and reported as
``InternalError`` (``_io/guard.ThreadGuard``); ``on_crash`` then tears the session's
connection down, so the normal path (reconnect, resubscribe after a gap) runs a fresh pass
and ``state``/``ready``/``on_connection`` show the outage.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Optional

from .._core.userdata import OrderTracker
from .._io.guard import ThreadGuard
from .._io.topics import next_gap_id
from ..enums import GapState
from ..errors import BinanceError
from ..events import GapEvent
from . import RestApi

__all__ = ["GapReconciler"]

_log = logging.getLogger("binance_conn.user_data")


class GapReconciler:
    """Runs reconciliation passes for one user-data session.

    Args:
        tracker: the session's order tracker, guarded by ``tracker_lock``.
        lock: the session lock (``start()`` and the session's stop are serialized on it, so a
            pass never starts unseen by the session's ``threads()``).
        rest: returns the connector's current REST client.
        publish: publishes one reconciled ``OrderUpdate`` (the order topic).
        is_stopping: the session is stopping: end the pass, publish nothing.
        guard: the session's thread guard (logs and reports a crash).
        on_crash: called after a crash (the reconciliation thread): tear the connection down.
    """

    def __init__(
        self,
        tracker: OrderTracker,
        tracker_lock: threading.Lock,
        lock: threading.RLock,
        rest: Callable[[], RestApi],
        publish: Callable[[Any], object],
        is_stopping: Callable[[], bool],
        guard: ThreadGuard,
        on_crash: Callable[[BaseException], None],
    ) -> None:
        self.tracker = tracker
        self.tracker_lock = tracker_lock
        self._lock = lock
        self._rest = rest
        self._publish = publish
        self._is_stopping = is_stopping
        self._guard = guard
        self._on_crash = on_crash
        self.thread: Optional[threading.Thread] = None
        self._running = False  # the thread will look at _again before it ends
        self.publish_gap: Optional[Callable[[GapEvent], object]] = None  # the session sets it (GAP_TOPIC)
        self.exchange = ""
        self._again = False
        # counters (stats)
        self.reconciliations = 0
        self.reconciled = 0
        self.errors = 0
        self.gaps = 0
        self.unfilled = 0

    def start(self) -> None:
        """Run a pass now, or one more after the running one (any thread; never blocks).

        ``_running`` (under the lock) says whether the thread will still look at ``_again``: a
        request made while a pass ends (or crashes) is never lost to a thread on its way out."""
        with self._lock:
            if self._is_stopping():
                return
            if self._running:
                self._again = True
                return
            self._running = True
            self._again = False
            self.thread = threading.Thread(target=self._loop, name="binance_conn-user_data-reconcile", daemon=True)
            self.thread.start()

    def _more(self) -> bool:
        """Another pass was asked for (consume it); else the thread ends (``_running`` off)."""
        with self._lock:
            if self._again and not self._is_stopping():
                self._again = False
                return True
            self._running = False
            return False

    def _loop(self) -> None:
        try:
            while True:
                try:
                    if not self._is_stopping():
                        self._once()
                except Exception as exc:  # noqa: BLE001 - never die silently
                    self._guard.crashed("user-data reconciliation", exc)
                    try:
                        self._on_crash(exc)
                    except Exception as rexc:  # noqa: BLE001
                        self._guard.crashed("user-data reconciliation recovery", rexc)
                if not self._more():
                    return
        finally:
            with self._lock:
                self._running = False

    def _gap(self, gap_id: int, state: GapState, filled: int = 0, reason: Optional[str] = None) -> None:
        publish = self.publish_gap
        if publish is not None:
            publish(GapEvent(self.exchange, "user_data", "", "user_data", gap_id, None, None, "reconnect", state,
                             int(time.time() * 1000), filled, reason))

    def _once(self) -> None:
        gap_id = next_gap_id()
        self._gap(gap_id, GapState.OPEN)
        self.gaps += 1
        try:
            filled, reason = self._pass()
        except BaseException as exc:
            self.unfilled += 1
            self._gap(gap_id, GapState.UNFILLED, 0, f"{type(exc).__name__}: {exc}")
            raise
        if reason is not None:
            self.unfilled += 1
        self._gap(gap_id, GapState.FILLED if reason is None else GapState.UNFILLED, filled, reason)

    def _pass(self) -> "tuple[int, Optional[str]]":
        is_stopping = self._is_stopping
        with self.tracker_lock:
            rec = self.tracker.begin_reconcile()
        rest = self._rest()
        while not is_stopping():
            with self.tracker_lock:
                queries = rec.next_queries()
            if not queries:
                break
            for q in queries:
                try:
                    answer = rest.request(q.method, q.path, q.params, signed=True)
                except BinanceError as exc:
                    self.errors += 1
                    with self.tracker_lock:
                        rec.fail(q, exc)
                else:
                    rec.feed(q, answer)
        if is_stopping():
            return 0, "stopped"
        with self.tracker_lock:
            updates = rec.finish()
        self.reconciliations += 1
        self.reconciled += len(updates)
        if updates or rec.failed:
            _log.info("user-data gap reconciled",
                      extra={"updates": len(updates), "weight": rec.weight_spent, "failed": len(rec.failed)})
        for update in updates:
            self._publish(update)
        return len(updates), (f"{len(rec.failed)} reconciliation queries failed" if rec.failed else None)
