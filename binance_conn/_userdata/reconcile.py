"""Gap reconciliation of the user-data session: a thread that asks REST what was missed.

After a resubscribe that closes a gap (the user-data session saw its subscription drop), the
order tracker of ``_core/userdata.py`` plans REST queries (by symbol, never the all-symbols
``openOrders``) about the orders tracked as open; this module runs them on one thread,
``binance_conn-user_data-reconcile``, and publishes a reconciled ``OrderUpdate`` per order
that changed.  A request for another pass while one runs is folded into one more pass.

Safety net: an unexpected exception in a pass is logged with its traceback and reported as
``InternalError`` (``_io/guard.ThreadGuard``); ``on_crash`` then tears the session's
connection down, so the normal path (reconnect, resubscribe after a gap) runs a fresh pass
and ``state``/``ready``/``on_connection`` show the outage.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Optional

from .._core.userdata import OrderTracker
from .._io.guard import ThreadGuard
from ..errors import BinanceError
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
        self._again = False
        # counters (stats)
        self.reconciliations = 0
        self.reconciled = 0
        self.errors = 0

    def start(self) -> None:
        """Run a pass now, or one more after the running one (any thread; never blocks)."""
        with self._lock:
            if self._is_stopping():
                return
            if self.thread is not None and self.thread.is_alive():
                self._again = True
                return
            self._again = False
            self.thread = threading.Thread(target=self._loop, name="binance_conn-user_data-reconcile", daemon=True)
            self.thread.start()

    def _loop(self) -> None:
        try:
            while not self._is_stopping():
                self._once()
                with self._lock:
                    if not self._again:
                        return
                    self._again = False
        except Exception as exc:  # noqa: BLE001 - never die silently
            self._guard.crashed("user-data reconciliation", exc)
            try:
                self._on_crash(exc)
            except Exception as rexc:  # noqa: BLE001
                self._guard.crashed("user-data reconciliation recovery", rexc)

    def _once(self) -> None:
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
            return
        with self.tracker_lock:
            updates = rec.finish()
        self.reconciliations += 1
        self.reconciled += len(updates)
        if updates or rec.failed:
            _log.info("user-data gap reconciled",
                      extra={"updates": len(updates), "weight": rec.weight_spent, "failed": len(rec.failed)})
        for update in updates:
            self._publish(update)
