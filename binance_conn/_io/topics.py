"""Dispatcher topics shared by every session, and the one ConnectionEvent publisher.

Nothing Binance-specific: a session folds its links into ``(state, reason)`` pairs
(``_core/status.py``) and hands them here.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import List, Optional

from .._core.debounce import Emitted
from ..enums import ConnectionState
from ..events import ConnectionEvent
from .dispatch import Dispatcher

__all__ = ["CONNECTION_TOPIC", "ERROR_TOPIC", "GAP_TOPIC", "gap_ids_above", "next_gap_id", "publish_connection_events"]

S = ConnectionState
CONNECTION_TOPIC = "__connection__"
ERROR_TOPIC = "__error__"
GAP_TOPIC = "__gap__"
"""Where :class:`~binance_conn.GapEvent`s are published (``conn.on_gap``)."""
_gap_ids = [0]
_gap_lock = threading.Lock()


def next_gap_id() -> int:
    """A fresh ``gap_id`` (unique in the process: market and user-data gaps share it); any thread."""
    with _gap_lock:  # gaps are rare: a lock, so that gap_ids_above() cannot lose an id
        _gap_ids[0] += 1
        return _gap_ids[0]


def gap_ids_above(n: int) -> None:
    """Every later ``gap_id`` is above ``n`` (a restarted hub continues after the ids of its earlier run)."""
    with _gap_lock:
        if n > _gap_ids[0]:
            _gap_ids[0] = n


def _fresh_gap_lock() -> None:  # a fork while another thread held it must not leave the child's lock held
    global _gap_lock
    _gap_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_gap_lock)
_PUBLISHED = (S.CONNECTED, S.DISCONNECTED, S.RECONNECTING)


def publish_connection_events(dispatcher: Dispatcher, exchange: str, session: str, emitted: List[Emitted],
                              log: Optional[logging.Logger], stop: Optional[threading.Event] = None) -> None:
    """Publish debounced ``(state, reason)`` pairs as ``ConnectionEvent`` (logged on ``log`` unless None).

    ``stop``: the session's stop event; once set, a full ``BLOCK`` subscriber drops the event
    (counted) instead of blocking (stop() publishes the last one before it stops the dispatcher).
    """
    for state, reason in emitted:
        if state not in _PUBLISHED:
            continue
        event = ConnectionEvent(exchange, session, state, reason, int(time.time() * 1000))
        if log is not None:
            # State and reason in the text: readable under a plain logging.basicConfig().
            # a connection up, or down because the program asked (stop), is news, not a warning
            level = logging.INFO if state is S.CONNECTED or reason == "stopped" else logging.WARNING
            if log.isEnabledFor(level):
                log.log(level, "%s session %s: %s", session, state.value, reason,
                        extra={"session": session, "state": state.value, "reason": reason})
        dispatcher.publish(CONNECTION_TOPIC, event, stop)
