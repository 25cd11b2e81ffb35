"""The life of a link and of a session's set of links: two transition tables, one decision maker.

Theory of operation
-------------------
Every WebSocket session kind (market streams, the user-data WebSocket API session,
next the futures listenKey stream) runs the same life: connect, subscribe, serve,
and every so often a make-before-break *rollover* (max lifetime, ``serverShutdown``,
``eventStreamTerminated``...) where a replacement link is opened while the old one
still delivers.  The decisions of that life live here, sans-I/O (time comes in as
``now``), as tables in the style of h11's ``_state.py``: a dict from
``(state, input)`` to the next state, one lookup, a pair missing from the table is a
bug in the caller and raises :class:`LifecycleError`.

**One link** (:class:`LinkLife`, table :data:`LINK_TRANSITIONS`)::

    IDLE --START--> CONNECTING --CONNECTED--> SUBSCRIBING --SUBSCRIBED--> READY
                    ^  |FAILED (stays)          ^  |             PENDING |
                    |  v                        +--+---------------------+
                    +--RETRY-- LOST <--LOST-- SUBSCRIBING / READY / ZOMBIE
    SUBSCRIBING / READY --CONDEMN--> ZOMBIE   (health verdict: cut it, it is an outage)
    SUBSCRIBING / READY / ZOMBIE --DRAIN--> DRAINING --LOST/CLOSE--> RETIRED
    anything --CLOSE--> RETIRED; RETIRED absorbs every input (late reports of a dead link)

Only ``READY`` counts as up.  ``ZOMBIE`` is *not* open: a condemned link is an outage
(``ready`` clears, ``on_connection`` says ``"zombie: ..."``) until its replacement
connection is subscribed.  Liveness (the health monitor's timers) has its own two-state
table (:data:`LIVENESS_TRANSITIONS`): the reader blocked in a BLOCK-policy subscriber
cannot read pongs, so ``BLOCK`` pauses the monitor and ``UNBLOCK`` *always* resumes it;
no verdict is taken while paused (:attr:`LinkLife.may_judge`).

**The set of links** (:class:`LinkSet`, table :data:`SET_TRANSITIONS`)::

    STEADY --BEGIN--> OPENING --SUBSCRIBED--> OVERLAP --SWITCH--> DRAINING --DRAINED--> GRACE
      ^                                                                                  |
      +----------------------------------- GRACE_OVER -----------------------------------+
    OPENING / OVERLAP --OLD_LOST--> GRACE   (old link died: the replacement is promoted now)
    OPENING / OVERLAP --NEW_LOST--> GRACE   (replacement abandoned: the old link carries on)
    DRAINING --OLD_LOST--> GRACE            (the old link died while draining: nothing to close)
    GRACE --BEGIN--> OPENING;  anything --RESET--> STEADY (stop)

What each rollover state decides (read by the session, never re-derived there):

* the duplicate filter is on in ``OPENING``, ``OVERLAP``, ``DRAINING`` and during
  ``GRACE`` until ``grace`` seconds after the old link ended (:meth:`LinkSet.is_deduping`);
* the switch (``OVERLAP --SWITCH-->``) happens only once the replacement is subscribed
  *and* has delivered data or has been subscribed for ``overlap`` seconds; ``SWITCH`` is
  absent from ``OPENING``, so a switch before the subscription is a bug that raises;
* the old link is drained before it is closed: the only way out of ``DRAINING`` that
  closes it is ``DRAINED``, taken when the drain rule holds -- :data:`DRAIN_ACK` (user
  data: ``userDataStream.unsubscribe`` sent *and* answered, everything sent before it
  has then been read; ``drain_timeout`` is the fallback for an answer that never comes)
  or :data:`DRAIN_QUIET` (market: the old link's events stopped for ``quiet`` seconds or
  ``overlap`` seconds passed since the switch);
* with ``hold_replacement`` (user data), events the replacement reads before the switch
  are held (:meth:`LinkSet.hold`) and released in arrival order by the switch (or by a
  promotion after the old link died), so the program never sees the new link's events
  ahead of the old link's.

The I/O layer calls :meth:`LinkSet.tick` at every supervision tick (and the input
methods when a reader reports something) and carries out the returned :class:`Step`.
Thread-safety: none; the owner serialises calls under its lock.
"""

from __future__ import annotations

from collections import deque
from enum import Enum
from typing import Any, Deque, Dict, Generic, List, Mapping, Optional, Protocol, Tuple, TypeVar

__all__ = [
    "LinkState", "LinkInput", "Liveness", "LivenessInput", "Rollover", "SetInput", "LINK_TRANSITIONS",
    "LIVENESS_TRANSITIONS", "SET_TRANSITIONS", "LifecycleError", "link_transition", "set_transition", "LinkLife",
    "LinkSet", "Step", "PausableMonitor", "DRAIN_ACK", "DRAIN_QUIET", "DEFAULT_OVERLAP", "DEFAULT_GRACE",
    "DEFAULT_DRAIN_TIMEOUT", "DEFAULT_QUIET",
]

DEFAULT_OVERLAP = 1.0  # s a subscribed replacement may overlap the old link before the switch (quiet streams)
DEFAULT_GRACE = 3.0  # s the duplicate filter stays on after the old link ended (late events on the new one)
DEFAULT_DRAIN_TIMEOUT = 3.0  # DRAIN_ACK fallback: s after the drain started when an unanswered link is closed
DEFAULT_QUIET = 0.25  # DRAIN_QUIET: s without an event on the old link after which it is drained

DRAIN_ACK = "ack"  # drained once its unsubscribe request was sent and answered (user data)
DRAIN_QUIET = "quiet"  # drained once its events stopped, or ``overlap`` after the switch (market)


class LifecycleError(RuntimeError):
    """An input the current state does not accept (a bug in the caller)."""

    def __init__(self, table: str, state: Enum, event: Enum) -> None:
        super().__init__(f"illegal {table} transition: {state.value} --{event.value}-->")
        self.state = state
        self.input = event


def _value_str(self: Enum) -> str:
    return str(self.value)



class LinkState(str, Enum):
    """Where one link (one WebSocket connection slot) is in its life."""

    IDLE = "idle"
    CONNECTING = "connecting"
    SUBSCRIBING = "subscribing"
    READY = "ready"
    ZOMBIE = "zombie"
    LOST = "lost"
    DRAINING = "draining"
    RETIRED = "retired"

    __str__ = _value_str


class LinkInput(str, Enum):
    """What happened to one link."""

    START = "start"  # the reader thread starts
    FAILED = "failed"  # a connect attempt failed (retried)
    CONNECTED = "connected"  # handshake done
    SUBSCRIBED = "subscribed"  # everything desired is acknowledged
    PENDING = "pending"  # something desired is not acknowledged (yet)
    CONDEMN = "condemn"  # health verdict: a zombie, cut it
    LOST = "lost"  # the socket is gone
    RETRY = "retry"  # the reader reconnects
    DRAIN = "drain"  # switched away from: deliver what is in flight, then close
    CLOSE = "close"  # ended for good (drained, shard emptied, stop)

    __str__ = _value_str


_L = LinkState
_LI = LinkInput

_LINK: Dict[Tuple[LinkState, LinkInput], LinkState] = {
    (_L.IDLE, _LI.START): _L.CONNECTING, (_L.IDLE, _LI.CLOSE): _L.RETIRED, (_L.IDLE, _LI.DRAIN): _L.RETIRED,
    (_L.CONNECTING, _LI.FAILED): _L.CONNECTING,
    (_L.CONNECTING, _LI.CONNECTED): _L.SUBSCRIBING,
    (_L.CONNECTING, _LI.LOST): _L.LOST,  # a crash in the connect path: recover through LOST
    (_L.CONNECTING, _LI.DRAIN): _L.RETIRED,  # nothing in flight on a link that is not open
    (_L.CONNECTING, _LI.CLOSE): _L.RETIRED,
    (_L.SUBSCRIBING, _LI.SUBSCRIBED): _L.READY, (_L.SUBSCRIBING, _LI.PENDING): _L.SUBSCRIBING,
    (_L.READY, _LI.SUBSCRIBED): _L.READY, (_L.READY, _LI.PENDING): _L.SUBSCRIBING,
    # a condemned link stays condemned until it is gone (a late ack does not revive it)
    (_L.ZOMBIE, _LI.SUBSCRIBED): _L.ZOMBIE, (_L.ZOMBIE, _LI.PENDING): _L.ZOMBIE,
    (_L.SUBSCRIBING, _LI.CONDEMN): _L.ZOMBIE, (_L.READY, _LI.CONDEMN): _L.ZOMBIE,
    (_L.ZOMBIE, _LI.CONDEMN): _L.ZOMBIE,
    (_L.SUBSCRIBING, _LI.LOST): _L.LOST, (_L.READY, _LI.LOST): _L.LOST, (_L.ZOMBIE, _LI.LOST): _L.LOST,
    (_L.LOST, _LI.LOST): _L.LOST, (_L.LOST, _LI.RETRY): _L.CONNECTING,
    (_L.LOST, _LI.DRAIN): _L.RETIRED, (_L.LOST, _LI.CLOSE): _L.RETIRED,
    (_L.SUBSCRIBING, _LI.DRAIN): _L.DRAINING, (_L.READY, _LI.DRAIN): _L.DRAINING,
    (_L.ZOMBIE, _LI.DRAIN): _L.DRAINING,
    (_L.SUBSCRIBING, _LI.CLOSE): _L.RETIRED, (_L.READY, _LI.CLOSE): _L.RETIRED, (_L.ZOMBIE, _LI.CLOSE): _L.RETIRED,
    # already on its way out: acks, verdicts and further drains change nothing
    (_L.DRAINING, _LI.SUBSCRIBED): _L.DRAINING, (_L.DRAINING, _LI.PENDING): _L.DRAINING,
    (_L.DRAINING, _LI.CONDEMN): _L.DRAINING, (_L.DRAINING, _LI.DRAIN): _L.DRAINING,
    (_L.DRAINING, _LI.LOST): _L.RETIRED, (_L.DRAINING, _LI.CLOSE): _L.RETIRED,
}
for _inp in LinkInput:  # RETIRED absorbs everything: late reports from a link that is gone
    _LINK[(_L.RETIRED, _inp)] = _L.RETIRED

LINK_TRANSITIONS: Mapping[Tuple[LinkState, LinkInput], LinkState] = _LINK
"""``(link state, input) -> next link state``; anything absent is illegal."""


class Liveness(str, Enum):
    """Whether a link's health timers run."""

    TRACKING = "tracking"
    PAUSED = "paused"  # the reader waits on a BLOCK-policy subscriber: not silence


class LivenessInput(str, Enum):
    BLOCK = "block"
    UNBLOCK = "unblock"


LIVENESS_TRANSITIONS: Mapping[Tuple[Liveness, LivenessInput], Liveness] = {
    (Liveness.TRACKING, LivenessInput.BLOCK): Liveness.PAUSED,
    (Liveness.PAUSED, LivenessInput.BLOCK): Liveness.PAUSED,
    (Liveness.PAUSED, LivenessInput.UNBLOCK): Liveness.TRACKING,
    (Liveness.TRACKING, LivenessInput.UNBLOCK): Liveness.TRACKING,
}
"""``(liveness, input) -> next liveness``: every UNBLOCK ends in TRACKING."""


def link_transition(state: LinkState, event: LinkInput) -> LinkState:
    """The next link state; raises :class:`LifecycleError` for a pair not in the table."""
    try:
        return _LINK[(state, event)]
    except KeyError:
        raise LifecycleError("link", state, event) from None


class PausableMonitor(Protocol):
    """The health monitor side of liveness (``StreamProtocol``, ``HealthMonitor``...)."""

    def pause(self, now: float) -> None: ...

    def resume(self, now: float) -> None: ...


_OPEN = frozenset((_L.SUBSCRIBING, _L.READY))
_CARRYING = frozenset((_L.SUBSCRIBING, _L.READY, _L.ZOMBIE, _L.DRAINING))


class LinkLife:
    """One link's state, the instant it entered it and why.  Not thread-safe.

    Called by the link's reader thread (START, FAILED, CONNECTED, LOST, RETRY, UNBLOCK)
    and the supervisor (SUBSCRIBED, PENDING, CONDEMN, BLOCK, DRAIN, CLOSE), under the
    owner's lock.
    """

    __slots__ = ("state", "since", "reason", "liveness", "paused_at", "has_been_ready", "connects")

    def __init__(self) -> None:
        self.state = _L.IDLE
        self.since: Optional[float] = None
        self.reason = ""
        self.liveness = Liveness.TRACKING
        self.paused_at: Optional[float] = None
        self.has_been_ready = False
        self.connects = 0

    def handle(self, event: LinkInput, now: float, reason: str = "") -> LinkState:
        """Apply ``event`` at ``now``; returns the new state (raises :class:`LifecycleError`)."""
        new = link_transition(self.state, event)
        if new is not self.state:
            self.since = now
            if reason or new in (_L.READY, _L.SUBSCRIBING, _L.CONNECTING):
                self.reason = reason
        if event is _LI.CONNECTED:
            self.connects += 1
            self.liveness = Liveness.TRACKING  # a fresh socket: fresh timers
            self.paused_at = None
        elif new is _L.READY:
            self.has_been_ready = True
        self.state = new
        return new

    def can(self, event: LinkInput) -> bool:
        return (self.state, event) in _LINK

    @property
    def is_open(self) -> bool:
        """Connected and not condemned (subscriptions may be pending)."""
        return self.state in _OPEN

    @property
    def is_ready(self) -> bool:
        """Up: connected, not condemned, every subscription acknowledged."""
        return self.state is _L.READY

    @property
    def is_condemned(self) -> bool:
        return self.state is _L.ZOMBIE

    @property
    def carries_traffic(self) -> bool:
        """Its socket is (still) read: open, condemned or draining."""
        return self.state in _CARRYING

    @property
    def may_judge(self) -> bool:
        """A health verdict (zombie, probe) may be taken: open and liveness tracking."""
        return self.state in _OPEN and self.liveness is Liveness.TRACKING

    def block_started(self, at: float, monitor: PausableMonitor) -> None:
        """The supervisor sees the reader blocked since ``at``: pause the monitor (once)."""
        before = self.liveness
        self.liveness = LIVENESS_TRANSITIONS[(before, LivenessInput.BLOCK)]
        if before is Liveness.TRACKING:
            self.paused_at = at
            monitor.pause(at)

    def block_ended(self, start: float, end: float, monitor: PausableMonitor) -> None:
        """The reader's BLOCK wait ran from ``start`` to ``end``: the wait is not silence;
        the monitor is resumed at ``end`` in every case."""
        before = self.liveness
        self.liveness = LIVENESS_TRANSITIONS[(before, LivenessInput.UNBLOCK)]
        if before is Liveness.TRACKING:
            monitor.pause(start)  # a wait the supervisor never saw
        self.paused_at = None
        if self.liveness is Liveness.TRACKING:
            monitor.resume(end)

    def __repr__(self) -> str:
        return f"<LinkLife {self.state.value} liveness={self.liveness.value} reason={self.reason!r}>"



class Rollover(str, Enum):
    """Where a session's set of links is in a make-before-break rollover."""

    STEADY = "steady"  # one primary
    OPENING = "opening"  # replacement connecting / subscribing
    OVERLAP = "overlap"  # replacement subscribed; both deliver; waiting for data or the overlap
    DRAINING = "draining"  # switched; the old link delivers what is in flight
    GRACE = "grace"  # old link gone; duplicates still filtered for a while

    __str__ = _value_str


class SetInput(str, Enum):
    BEGIN = "begin"
    SUBSCRIBED = "subscribed"
    SWITCH = "switch"
    DRAINED = "drained"
    OLD_LOST = "old_lost"
    NEW_LOST = "new_lost"
    GRACE_OVER = "grace_over"
    RESET = "reset"

    __str__ = _value_str


_R = Rollover
_SI = SetInput

_SET: Dict[Tuple[Rollover, SetInput], Rollover] = {
    (_R.STEADY, _SI.BEGIN): _R.OPENING,
    (_R.STEADY, _SI.OLD_LOST): _R.STEADY,  # a plain drop: the link reconnects by itself
    (_R.OPENING, _SI.SUBSCRIBED): _R.OVERLAP, (_R.OPENING, _SI.OLD_LOST): _R.GRACE,
    (_R.OPENING, _SI.NEW_LOST): _R.GRACE,
    (_R.OVERLAP, _SI.SUBSCRIBED): _R.OVERLAP, (_R.OVERLAP, _SI.SWITCH): _R.DRAINING,
    (_R.OVERLAP, _SI.OLD_LOST): _R.GRACE, (_R.OVERLAP, _SI.NEW_LOST): _R.GRACE,
    (_R.DRAINING, _SI.DRAINED): _R.GRACE, (_R.DRAINING, _SI.OLD_LOST): _R.GRACE,
    (_R.DRAINING, _SI.NEW_LOST): _R.DRAINING,  # the new primary reconnects; the old still drains
    (_R.GRACE, _SI.BEGIN): _R.OPENING, (_R.GRACE, _SI.GRACE_OVER): _R.STEADY,
    (_R.GRACE, _SI.OLD_LOST): _R.GRACE, (_R.GRACE, _SI.NEW_LOST): _R.GRACE,
}
for _r in Rollover:
    _SET[(_r, _SI.RESET)] = _R.STEADY

SET_TRANSITIONS: Mapping[Tuple[Rollover, SetInput], Rollover] = _SET
"""``(rollover state, input) -> next rollover state``; anything absent is illegal."""

_DEDUPING = frozenset((_R.OPENING, _R.OVERLAP, _R.DRAINING))
_HOLDING = frozenset((_R.OPENING, _R.OVERLAP))


def set_transition(state: Rollover, event: SetInput) -> Rollover:
    """The next rollover state; raises :class:`LifecycleError` for a pair not in the table."""
    try:
        return _SET[(state, event)]
    except KeyError:
        raise LifecycleError("rollover", state, event) from None


T = TypeVar("T")


class Step(Generic[T]):
    """What the session must carry out now (from :meth:`LinkSet.tick` and the input methods).

    Attributes:
        switched_to: the replacement just became the primary.
        drain: the old link to drain now (user data: send its unsubscribe, then
            :meth:`LinkSet.drain_sent`); it keeps being read.
        close: links to close now (gracefully): drained, or an abandoned replacement.
        released: events held by the replacement, in arrival order, to deliver now.
        wake_at: the next instant (same clock as ``now``) at which :meth:`LinkSet.tick` has work.
    """

    __slots__ = ("switched_to", "drain", "close", "released", "wake_at")

    def __init__(self) -> None:
        self.switched_to: Optional[T] = None
        self.drain: Optional[T] = None
        self.close: List[T] = []
        self.released: List[Any] = []
        self.wake_at: Optional[float] = None

    def __bool__(self) -> bool:
        return bool(self.switched_to is not None or self.drain is not None or self.close or self.released)

    def _wake(self, at: float) -> None:
        if self.wake_at is None or at < self.wake_at:
            self.wake_at = at


class LinkSet(Generic[T]):
    """A session's primary link, its replacement during a rollover, and the link being drained.

    ``T`` is the owner's link handle (any object).  Called under the owner's lock by the
    supervisor (``tick``, ``begin``, ``subscribed``, ``drain_*``) and by reader threads
    (``lost``, ``hold``).

    Args:
        drain_rule: :data:`DRAIN_ACK` or :data:`DRAIN_QUIET`.
        hold_replacement: the replacement's events are held until the switch (user data).
        overlap, grace, drain_timeout, quiet: seconds, see the module docstring.
    """

    def __init__(self, *, drain_rule: str = DRAIN_QUIET, hold_replacement: bool = False,
                 overlap: float = DEFAULT_OVERLAP, grace: float = DEFAULT_GRACE,
                 drain_timeout: float = DEFAULT_DRAIN_TIMEOUT, quiet: float = DEFAULT_QUIET) -> None:
        if drain_rule not in (DRAIN_ACK, DRAIN_QUIET):
            raise ValueError(f"unknown drain rule {drain_rule!r}")
        self.drain_rule, self.hold_replacement = drain_rule, hold_replacement
        self.overlap, self.grace = float(overlap), float(grace)
        self.drain_timeout, self.quiet = float(drain_timeout), float(quiet)
        self.state = _R.STEADY
        self.primary: Optional[T] = None
        self.replacement: Optional[T] = None
        self.draining: Optional[T] = None  # the old link of the last switch, until drained
        self.reason, self.rollovers = "", 0
        self.subscribed_at: Optional[float] = None  # replacement fully subscribed
        self.has_data = False  # the replacement delivered data
        self.switched_at: Optional[float] = None
        self.old_last_data: Optional[float] = None  # last event read on the draining link
        self.drain_sent_at: Optional[float] = None
        self.drain_answered = False
        self.grace_until: Optional[float] = None
        self._held: Deque[Any] = deque()

    def _go(self, event: SetInput) -> Rollover:
        self.state = set_transition(self.state, event)
        return self.state

    @property
    def in_rollover(self) -> bool:
        """A replacement exists (OPENING / OVERLAP)."""
        return self.state in _HOLDING

    def is_deduping(self, now: float) -> bool:
        """The duplicate filter must be on at ``now``."""
        if self.state in _DEDUPING:
            return True
        return self.state is _R.GRACE and (self.grace_until is None or now < self.grace_until)

    @property
    def is_holding(self) -> bool:
        """The replacement's events are held back (user data, until the switch)."""
        return self.hold_replacement and self.state in _HOLDING and self.replacement is not None

    def switch_due(self, now: float) -> bool:
        """The replacement is subscribed and has delivered data or overlapped ``overlap`` seconds."""
        if self.state is not _R.OVERLAP or self.subscribed_at is None:
            return False
        return self.has_data or now - self.subscribed_at >= self.overlap

    def drain_due(self, now: float) -> bool:
        """The draining link may be closed now (its drain rule holds)."""
        if self.state is not _R.DRAINING or self.switched_at is None:
            return False
        if self.drain_rule == DRAIN_ACK:
            if self.drain_sent_at is not None and self.drain_answered:
                return True
            start = self.drain_sent_at if self.drain_sent_at is not None else self.switched_at
            return now - start >= self.drain_timeout
        last = self.old_last_data if self.old_last_data is not None else self.switched_at
        return now - max(last, self.switched_at) >= self.quiet or now - self.switched_at >= self.overlap

    def set_primary(self, link: T) -> None:
        """The first link of the session (no overlap)."""
        self.primary = link

    def begin(self, new: T, now: float, reason: str) -> bool:
        """Start a rollover with ``new`` as the replacement; False (nothing done) if one runs."""
        if self.state not in (_R.STEADY, _R.GRACE) or self.draining is not None:
            return False
        self._go(_SI.BEGIN)
        self.replacement, self.reason = new, reason
        self.rollovers += 1
        self.subscribed_at = self.switched_at = self.grace_until = None
        self.has_data = False
        self._held.clear()
        return True

    def subscribed(self, link: T, now: float) -> None:
        """``link`` reports every subscription acknowledged (called every tick while true)."""
        if link is self.replacement and self.state in _HOLDING:
            if self.subscribed_at is None:
                self.subscribed_at = now
            self._go(_SI.SUBSCRIBED)

    def data_seen(self, link: T, last_data: Optional[float]) -> None:
        """The supervisor's report of the last event instant read on ``link`` (None: none yet)."""
        if last_data is None:
            return
        if link is self.replacement:
            self.has_data = True
        elif link is self.draining:
            self.old_last_data = last_data

    def drain_sent(self, link: T, now: float) -> None:
        """DRAIN_ACK: the old link's unsubscribe request went out."""
        if link is self.draining and self.drain_sent_at is None:
            self.drain_sent_at = now

    def drain_answered_by(self, link: T, now: float) -> None:
        """DRAIN_ACK: the old link's unsubscribe request was answered."""
        if link is self.draining and self.drain_sent_at is not None:
            self.drain_answered = True

    def hold(self, link: T, item: Any) -> bool:
        """An event read on ``link``: True if it is held (do not deliver it now)."""
        if link is self.replacement and self.is_holding:
            self._held.append(item)
            return True
        return False

    @property
    def held(self) -> int:
        return len(self._held)

    def _release(self, step: Step[T]) -> None:
        step.released.extend(self._held)
        self._held.clear()

    def _promote(self, step: Step[T]) -> None:
        new = self.replacement
        self.primary = new
        self.replacement = None
        step.switched_to = new
        self._release(step)

    def lost(self, link: T, now: float) -> Step[T]:
        """``link`` lost its socket (a reader thread).  Mid-rollover: the old link's death
        promotes the replacement at once; the replacement's death abandons the rollover."""
        step: Step[T] = Step()
        if link is self.primary and self.replacement is not None and self.state in _HOLDING:
            self._go(_SI.OLD_LOST)
            self._promote(step)
            self._start_grace(now, step)
        elif link is self.replacement and self.state in _HOLDING:
            self._go(_SI.NEW_LOST)
            self.replacement = None
            self._held.clear()  # the old link delivers all of it
            step.close.append(link)
            self._start_grace(now, step)
        elif link is self.draining:
            self._go(_SI.OLD_LOST)
            self.draining = None
            self._start_grace(now, step)
        elif link is self.primary and self.state is _R.DRAINING:
            self._go(_SI.NEW_LOST)
        elif link is self.primary and self.state in (_R.STEADY, _R.GRACE):
            self._go(_SI.OLD_LOST)
        return step

    def _start_grace(self, now: float, step: Step[T]) -> None:
        self.grace_until = now + self.grace
        step._wake(self.grace_until)

    def tick(self, now: float) -> Step[T]:
        """Evaluate the timers at ``now``: switch, drain, close, end of grace."""
        step: Step[T] = Step()
        if self.state is _R.OVERLAP:
            if self.switch_due(now):
                self._go(_SI.SWITCH)
                old = self.primary
                self._promote(step)
                self.draining = old
                self.switched_at, self.old_last_data, self.drain_sent_at = now, None, None
                self.drain_answered = False
                step.drain = old
            elif self.subscribed_at is not None:
                step._wake(self.subscribed_at + self.overlap)
        if self.state is _R.DRAINING:
            if self.drain_due(now):
                self._go(_SI.DRAINED)
                old = self.draining
                self.draining = None
                if old is not None:
                    step.close.append(old)
                self._start_grace(now, step)
            else:
                assert self.switched_at is not None
                if self.drain_rule == DRAIN_ACK:
                    start = self.drain_sent_at if self.drain_sent_at is not None else self.switched_at
                    step._wake(start + self.drain_timeout)
                else:
                    last = max(self.old_last_data or self.switched_at, self.switched_at)
                    step._wake(min(last + self.quiet, self.switched_at + self.overlap))
        if self.state is _R.GRACE:
            if self.grace_until is None or now >= self.grace_until:
                self._go(_SI.GRACE_OVER)
                self.grace_until = None
            else:
                step._wake(self.grace_until)
        return step

    def reset(self) -> None:
        """Stop: forget the replacement, the draining link and anything held."""
        self._go(_SI.RESET)
        self.primary = self.replacement = self.draining = None
        self.subscribed_at = self.switched_at = self.grace_until = None
        self._held.clear()

    def links(self) -> List[T]:
        """Every link the set holds (primary, replacement, draining)."""
        return [x for x in (self.primary, self.replacement, self.draining) if x is not None]

    def __repr__(self) -> str:
        return f"<LinkSet {self.state.value} held={len(self._held)}>"
