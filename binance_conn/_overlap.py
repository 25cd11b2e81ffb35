"""The make-before-break overlap of the user-data session: duplicate filter and held events.

During a rollover both WebSocket API connections deliver: the old one until its
``userDataStream.unsubscribe`` is answered, the successor from its subscribe on.  The
successor's events are held until the old link is gone, so events keep wire order, and
while the overlap lasts every delivered event's natural key
(:func:`~binance_conn._core.userdata.user_event_key`) is remembered so the second copy is
dropped.  Outside an overlap the filter costs one flag test per event (:attr:`active`).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ._core.userdata import user_event_key
from ._wsapi_conn import WsApiConn

__all__ = ["RolloverOverlap"]

_CAPACITY = 8192  # keys remembered, oldest forgotten first


class RolloverOverlap:
    """Duplicate filter + held events of one user-data session.

    Args:
        publish: parses and publishes a batch of raw user-data payloads (the session's).
    """

    def __init__(self, publish: Callable[[List[Dict[str, Any]]], None]) -> None:
        self._publish = publish
        self._dedupe_lock = threading.Lock()
        self._hold_lock = threading.Lock()
        self.active = False  # read without the lock on the hot path: a stale False only skips a check
        self.end_at = 0.0  # the session ends the filter after this instant (once no old link is left)
        self._seen: Dict[Tuple[Any, ...], None] = {}
        self.duplicates = 0

    def begin(self) -> None:
        """A rollover starts: record what the old link delivers from now on."""
        with self._dedupe_lock:
            self.active = True

    def end(self) -> None:
        """The overlap is over: stop filtering and forget every key."""
        with self._dedupe_lock:
            self.active = False
            self._seen.clear()

    def is_duplicate(self, payload: Mapping[str, Any]) -> bool:
        """True if an event with this natural key was delivered during the overlap (counted)."""
        key = user_event_key(payload)
        if key is None:
            return False
        with self._dedupe_lock:
            if not self.active:
                return False
            if key in self._seen:
                self.duplicates += 1
                return True
            self._seen[key] = None
            if len(self._seen) > _CAPACITY:
                del self._seen[next(iter(self._seen))]
            return False

    def hold(self, link: WsApiConn, payloads: List[Dict[str, Any]]) -> None:
        """Events read by a successor: held while it holds, else published (its reader thread)."""
        with self._hold_lock:
            if link.holding:
                link.held.extend(payloads)
                return
        self._publish(payloads)

    def release(self, link: Optional[WsApiConn]) -> None:
        """The old link of a rollover is gone: deliver what its successor held (duplicates dropped)."""
        if link is None:
            return
        with self._hold_lock:
            held, link.held = link.held, []
            if held:
                self._publish(held)
            link.holding = False
