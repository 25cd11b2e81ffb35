"""Settle connection-state changes before users see them (README "Configuration", ``with_debounce``).

Raw states come from :mod:`.state` via :meth:`Debouncer.feed`; what users get
(``on_connection``) comes out as ``(state, reason)`` pairs:

* the first ``CONNECTED`` after a start is emitted at once;
* a drop (``DISCONNECTED``/``RECONNECTING``) opens a settle window of
  ``settle`` seconds; if ``CONNECTED`` comes back inside it, nothing is emitted
  (a blip); otherwise, when the window ends (:meth:`poll`), ``DISCONNECTED`` is
  emitted, then ``RECONNECTING`` (now, or as soon as the raw state gets there),
  and ``CONNECTED`` on recovery;
* ``STOPPED`` cancels any open window; if users last saw ``CONNECTED`` they get
  a ``DISCONNECTED`` (reason of the stop) so their view does not stay "up";
* ``settle == 0`` passes every change through immediately (consecutive
  duplicates are collapsed, as everywhere);
* a connector that cannot connect is never silent: :meth:`Debouncer.announce`
  publishes ``DISCONNECTED`` with the reason before the first connection, and
  :meth:`Debouncer.restate` repeats a public outage's state when its cause changes
  (both driven by :class:`.status.SessionStatus` when the connect-failure kind changes).

Pure: the caller wakes up at :meth:`next_deadline` and calls :meth:`poll`.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

from ..enums import ConnectionState

__all__ = ["Debouncer", "Emitted"]

S = ConnectionState
Emitted = Tuple[ConnectionState, str]
"""``(state, reason)`` to publish as a ``ConnectionEvent``."""

_DOWN = (S.DISCONNECTED, S.RECONNECTING)


class Debouncer:
    """Debounce raw connection states.

    Args:
        settle: seconds a drop must last before it is reported (>= 0; 0 = off).
    """

    __slots__ = ("settle", "_shown", "_raw", "_raw_reason", "_deadline", "_down_reason")

    def __init__(self, settle: float = 1.0) -> None:
        if settle < 0:
            raise ValueError("settle must be >= 0")
        self.settle = float(settle)
        self._shown: Optional[ConnectionState] = None  # last state users saw
        self._raw: Optional[ConnectionState] = None
        self._raw_reason = ""
        self._deadline: Optional[float] = None  # end of an open settle window
        self._down_reason = ""

    @property
    def shown(self) -> Optional[ConnectionState]:
        """The last state emitted (None before anything)."""
        return self._shown

    def next_deadline(self) -> Optional[float]:
        """When :meth:`poll` has something to do (None: nothing pending)."""
        return self._deadline

    def _emit(self, out: List[Emitted], state: ConnectionState, reason: str) -> None:
        if state is not self._shown:
            self._shown = state
            out.append((state, reason))

    def feed(self, state: ConnectionState, now: float, reason: str = "") -> List[Emitted]:
        """A raw state change at ``now``; returns what to publish right away."""
        out: List[Emitted] = []
        out.extend(self.poll(now))  # a window that expired before this change counts first
        self._raw, self._raw_reason = state, reason
        if state is S.STOPPED:
            self._deadline = None
            if self._shown is S.CONNECTED:
                self._emit(out, S.DISCONNECTED, reason or "stopped")
            self._shown = None
            return out
        if state is S.CONNECTING:
            return out
        if self.settle == 0.0:
            self._emit(out, state, reason)
            return out
        if state is S.CONNECTED:
            self._deadline = None  # a blip inside the window: nothing to say
            self._emit(out, state, reason)
            return out
        # DISCONNECTED or RECONNECTING
        if self._shown is S.CONNECTED:
            if self._deadline is None:
                self._deadline = now + self.settle
                self._down_reason = reason
        elif self._shown in _DOWN:
            self._emit(out, state, reason)  # outage already public: follow it
        return out

    def restate(self, reason: str) -> List[Emitted]:
        """An outage users already see got a new cause (e.g. the connect failure changed from
        "refused" to "certificate"): say it again with the new reason.  Nothing while the drop
        is still inside its settle window, or while users see no outage."""
        shown = self._shown
        if shown not in _DOWN or self._deadline is not None or self._raw is not shown:
            return []
        return [(shown, reason)]

    def announce(self, reason: str) -> List[Emitted]:
        """Before the first connection (nothing or only this was shown): tell users why the
        session is not up yet, as ``DISCONNECTED`` with the reason (again when it changes)."""
        if self._shown not in (None, S.DISCONNECTED) or self._deadline is not None:
            return []
        self._shown = S.DISCONNECTED
        return [(S.DISCONNECTED, reason)]

    def poll(self, now: float) -> List[Emitted]:
        """Close an expired settle window; returns what to publish."""
        if self._deadline is None or now < self._deadline:
            return []
        self._deadline = None
        out: List[Emitted] = []
        raw = self._raw
        if raw in _DOWN:
            self._emit(out, S.DISCONNECTED, self._down_reason)
            if raw is S.RECONNECTING:
                self._emit(out, S.RECONNECTING, self._raw_reason)
        return out
