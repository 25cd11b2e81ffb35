"""Connection lifecycle as one transition table.

Theory of operation
-------------------
A session (the market streams, later the user-data session) is always in one
:class:`~binance_conn.enums.ConnectionState`.  The supervisor thread feeds
:class:`Input` values as things happen; :data:`TRANSITIONS` maps
``(state, input)`` to the next state with one dict lookup, and a pair missing
from the table is a bug in the caller: :func:`transition` raises
:class:`InvalidTransition` instead of guessing (as h11's ``_state.py`` does).

::

    STOPPED --START--> CONNECTING --CONNECTED--> CONNECTED --LOST--> DISCONNECTED
                       ^   |FAILED/LOST                                 |RETRY
                       +---+                                            v
    CONNECTED <--CONNECTED-- RECONNECTING <--FAILED/LOST/RETRY-- (itself)
    any state --STOP--> STOPPED ;  STOPPED --STOP--> STOPPED (idempotent)

* ``CONNECTING`` is only used before the first successful connection; failures
  there are retried forever and stay ``CONNECTING``.
* After the first loss, ``DISCONNECTED`` is entered at once and
  ``RECONNECTING`` when the supervisor starts its first retry (after the
  backoff wait, which is immediate for the first attempt).
* ``ROLLOVER`` (make-before-break replacement at max lifetime or on
  ``serverShutdown``) keeps ``CONNECTED``: users see no state change.
* Debouncing of what users see is :mod:`.debounce`'s job, not this table's.
"""

from __future__ import annotations

from enum import Enum
from typing import Dict, Mapping, Tuple

from ..enums import ConnectionState

__all__ = ["Input", "TRANSITIONS", "InvalidTransition", "transition", "StateMachine"]

S = ConnectionState


class Input(str, Enum):
    """What happened, as fed by the supervisor."""

    START = "start"
    CONNECTED = "connected"
    FAILED = "failed"
    LOST = "lost"
    RETRY = "retry"
    ROLLOVER = "rollover"
    STOP = "stop"

    def __str__(self) -> str:
        return str(self.value)


_I = Input

_TABLE: Dict[Tuple[ConnectionState, Input], ConnectionState] = {
    (S.STOPPED, _I.START): S.CONNECTING,
    (S.STOPPED, _I.STOP): S.STOPPED,
    (S.CONNECTING, _I.CONNECTED): S.CONNECTED,
    (S.CONNECTING, _I.FAILED): S.CONNECTING,
    (S.CONNECTING, _I.LOST): S.CONNECTING,
    (S.CONNECTING, _I.RETRY): S.CONNECTING,
    (S.CONNECTING, _I.STOP): S.STOPPED,
    (S.CONNECTED, _I.LOST): S.DISCONNECTED,
    (S.CONNECTED, _I.ROLLOVER): S.CONNECTED,
    (S.CONNECTED, _I.STOP): S.STOPPED,
    (S.DISCONNECTED, _I.RETRY): S.RECONNECTING,
    (S.DISCONNECTED, _I.CONNECTED): S.CONNECTED,
    (S.DISCONNECTED, _I.STOP): S.STOPPED,
    (S.RECONNECTING, _I.CONNECTED): S.CONNECTED,
    (S.RECONNECTING, _I.FAILED): S.RECONNECTING,
    (S.RECONNECTING, _I.LOST): S.RECONNECTING,
    (S.RECONNECTING, _I.RETRY): S.RECONNECTING,
    (S.RECONNECTING, _I.STOP): S.STOPPED,
}

TRANSITIONS: Mapping[Tuple[ConnectionState, Input], ConnectionState] = _TABLE
"""``(state, input) -> next state``; anything absent is illegal."""


class InvalidTransition(RuntimeError):
    """An input that the current state does not accept (a bug in the caller)."""

    def __init__(self, state: ConnectionState, event: Input) -> None:
        super().__init__(f"illegal connection transition: {state.value} --{event.value}-->")
        self.state = state
        self.input = event


def transition(state: ConnectionState, event: Input) -> ConnectionState:
    """The next state; raises :class:`InvalidTransition` for a pair not in the table."""
    try:
        return _TABLE[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None


class StateMachine:
    """Holds one session's state; not thread-safe (the supervisor owns it).

    Args:
        initial: the starting state (``STOPPED``).
    """

    __slots__ = ("state", "_has_connected")

    def __init__(self, initial: ConnectionState = S.STOPPED) -> None:
        self.state = initial
        self._has_connected = initial is S.CONNECTED

    def can(self, event: Input) -> bool:
        """True when ``event`` is legal in the current state."""
        return (self.state, event) in _TABLE

    def handle(self, event: Input) -> ConnectionState:
        """Apply ``event`` and return the new state; raises :class:`InvalidTransition`."""
        new = transition(self.state, event)
        if new is S.CONNECTED:
            self._has_connected = True
        elif new is S.STOPPED:
            self._has_connected = False
        self.state = new
        return new

    @property
    def has_connected(self) -> bool:
        """True once connected since the last start (losses then lead to RECONNECTING)."""
        return self._has_connected

    @property
    def is_connected(self) -> bool:
        return self.state is S.CONNECTED
