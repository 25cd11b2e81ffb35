"""One session's public status: its state machine (:mod:`.state`) folded with its debouncer (:mod:`.debounce`).

Both sessions (market, user data) judge "up" and "lost" their own way, then hand the
verdict here at every supervision tick; what comes out is the ``(state, reason)``
pairs to publish as ``ConnectionEvent``.  Pure: time comes in as ``now``.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

from ..enums import ConnectionState
from .debounce import Debouncer, Emitted
from .state import Input, StateMachine

__all__ = ["SessionStatus"]

S = ConnectionState


class SessionStatus:
    """The state machine and debouncer of one session.

    Args:
        settle: the debounce window, seconds (``websocket.debounce``).
    """

    __slots__ = ("settle", "sm", "debouncer", "_cause", "_started_at")

    def __init__(self, settle: float) -> None:
        self.settle = float(settle)
        self.sm = StateMachine()
        self.debouncer = Debouncer(self.settle)
        self._cause: Optional[str] = None
        self._started_at = 0.0

    @property
    def state(self) -> ConnectionState:
        return self.sm.state

    def start(self, now: float) -> None:
        """A (re)start: fresh machine in CONNECTING, fresh settle window."""
        self.sm = StateMachine()
        self.sm.handle(Input.START)
        self.debouncer = Debouncer(self.settle)
        self.debouncer.feed(S.CONNECTING, now)
        self._cause = None
        self._started_at = now

    def update(self, up: bool, lost: bool, reason: str, now: float,
               cause: Optional[str] = None) -> Tuple[List[Emitted], bool]:
        """Fold this tick's verdict in; returns what to publish and whether this was a reconnect.

        ``up``: the session is fully usable; ``lost``: it was up and is not (a session
        still waiting for a first acknowledgement is neither).  ``cause``: a stable key of
        why it is down (a connect failure's reason kind); when it changes during an outage
        users already see, the state is published again with the new ``reason``; before the
        first connection (``CONNECTING``), once it has lasted ``settle`` seconds, users get
        ``DISCONNECTED`` with the reason: a connector that cannot connect is never silent.
        """
        emitted: List[Emitted] = []
        reconnected = False
        sm = self.sm
        debouncer = self.debouncer
        state = sm.state
        if up and state is not S.CONNECTED and sm.can(Input.CONNECTED):
            reconnected = sm.has_connected
            sm.handle(Input.CONNECTED)
        elif lost and state is S.CONNECTED:
            sm.handle(Input.LOST)
        if not up and sm.state is S.DISCONNECTED:
            emitted += debouncer.feed(S.DISCONNECTED, now, reason)
            sm.handle(Input.RETRY)
        if sm.state is not state or sm.state is S.RECONNECTING:
            emitted += debouncer.feed(sm.state, now, reason)
        emitted += debouncer.poll(now)
        if up:
            self._cause = None
        elif cause is not None and cause != self._cause:
            if sm.state is S.CONNECTING:
                if now - self._started_at >= self.settle:
                    self._cause = cause
                    emitted += debouncer.announce(reason)
            else:
                self._cause = cause
                if not emitted:
                    emitted += debouncer.restate(reason)
        return emitted, reconnected

    def stop(self, reason: str, now: float) -> List[Emitted]:
        """The session stopped: STOPPED, and DISCONNECTED if users last saw CONNECTED."""
        if self.sm.state is not S.STOPPED:
            self.sm.handle(Input.STOP)
        return self.debouncer.feed(S.STOPPED, now, reason)

    def fail(self) -> bool:
        """The session ended for good (credentials rejected); True if users must be told.

        Leaves CONNECTED, and later changes pass the debouncer at once.
        """
        tell = self.sm.state is not S.STOPPED
        if tell and self.sm.state is S.CONNECTED:
            self.sm.handle(Input.LOST)
        self.debouncer = Debouncer(0.0)
        return tell

    def next_deadline(self) -> Optional[float]:
        """When the debouncer wants :meth:`update` called again (None: nothing pending)."""
        return self.debouncer.next_deadline()
