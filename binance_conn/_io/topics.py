"""Dispatcher topics shared by every session, and the one ConnectionEvent publisher.

Nothing Binance-specific: a session folds its links into ``(state, reason)`` pairs
(``_core/status.py``) and hands them here.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import List, Optional

from .._core.debounce import Emitted
from ..enums import ConnectionState
from ..events import ConnectionEvent
from .dispatch import Dispatcher

__all__ = ["CONNECTION_TOPIC", "ERROR_TOPIC", "GAP_TOPIC", "next_gap_id", "publish_connection_events"]

S = ConnectionState
CONNECTION_TOPIC = "__connection__"
ERROR_TOPIC = "__error__"
GAP_TOPIC = "__gap__"
"""Where :class:`~binance_conn.GapEvent`s are published (``conn.on_gap``)."""
next_gap_id = itertools.count(1).__next__
"""A fresh ``gap_id`` (unique in the process: market and user-data gaps share it); any thread."""
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
