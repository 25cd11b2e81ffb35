"""Make-before-break for the user-data session: carries out the decisions of ``_core/lifecycle.LinkSet``.

The session's set of WebSocket API links is a :class:`~binance_conn._core.lifecycle.LinkSet`
built with ``drain_rule=DRAIN_ACK`` and ``hold_replacement=True``.  The table decides; this
module (mixed into ``session.UserDataLink``, always under the session lock for the
``LinkSet`` calls, never for I/O) executes:

============================  ==========================================================
decision (``LinkSet``)        executed here
============================  ==========================================================
``begin`` (serverShutdown,    :meth:`_begin_rollover`: a ``"replacement"`` ``WsApiConn``
-2042, max_lifetime)          and its reader thread; the duplicate filter goes on
``subscribed``                :meth:`_on_subscribed`: the replacement's subscribe is
                              acknowledged (OPENING -> OVERLAP)
``hold`` -> True              the replacement's reader keeps its events back (never
                              delivered ahead of the old link's)
``tick`` -> ``switched_to``   the replacement is the primary (requests go to it); the
                              held events are delivered first (``delivery.release``)
``tick`` -> ``drain``         ``userDataStream.unsubscribe`` is sent on the old link,
                              which keeps being read; its answer (after every event sent
                              before it) is ``drain_answered_by``
``tick`` -> ``close``         the drained old link (or an abandoned replacement) is
                              closed with a close frame
``lost`` -> promotion         the old link died mid-rollover: the replacement is primary
                              now, its held events released, a reconciliation follows
``is_deduping``               mirrored into ``delivery.deduping`` every tick
============================  ==========================================================

A drain answer is reported only once no caller waits for an answer on the old link, and a
link the table closes (also at ``drain_timeout``) while a request waits on it is closed by
its reader after the last answer: a request in flight is never cut by a rollover.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, List, Optional, Tuple

from .._core.lifecycle import DRAIN_ACK, LinkInput, LinkSet, Step
from .conn import WsApiConn
from .delivery import UserEventDelivery
from .reconcile import GapReconciler

__all__ = ["RolloverExecutor", "new_link_set", "REPLACED"]

_log = logging.getLogger("binance_conn.user_data")
REPLACED = "replaced (make-before-break)"


def new_link_set(overlap: float) -> LinkSet[WsApiConn]:
    """The user-data rollover rules: drain on the unsubscribe answer, hold the replacement's events."""
    return LinkSet(drain_rule=DRAIN_ACK, hold_replacement=True, overlap=overlap)


class RolloverExecutor:
    """Mixin of ``session.UserDataLink``: the I/O side of the rollover table (see the module docstring)."""

    links: LinkSet[WsApiConn]
    delivery: UserEventDelivery
    reconciler: GapReconciler
    stopping: bool
    rollovers: int
    subscribes: int
    _lock: threading.RLock
    _open: threading.Event
    _links: List[WsApiConn]
    _force_reconcile: bool
    _on_ready_change: Callable[[], None]

    def wake(self) -> None:  # pragma: no cover - the session's
        raise NotImplementedError

    def _new_link(self, role: str) -> WsApiConn:  # pragma: no cover - the session's
        raise NotImplementedError

    @property
    def _primary(self) -> Optional[WsApiConn]:
        return self.links.primary

    @property
    def _replacement(self) -> Optional[WsApiConn]:
        return self.links.replacement

    # ------------------------------------------------------------------ decisions in
    def _want_rollover(self, link: WsApiConn, reason: str) -> None:
        """serverShutdown / -2042 (a reader): replace ``link`` (make-before-break when subscribed)."""
        with self._lock:
            if link is not self.links.primary or link.retired or self.stopping:
                return
            if link.plan is None or not link.plan.is_ready:
                # Nothing live to keep: reconnect at once.
                link.kill_reason = reason
                transport = link.transport
            else:
                link.rollover_reason = reason
                transport = None
        if transport is not None:
            transport.close()
        self.wake()

    def _begin_rollover(self, reason: str, now: float) -> None:
        """The ticker: open a replacement if the table lets a rollover begin now."""
        with self._lock:
            if self.stopping or self.links.primary is None:
                return
            link = self._new_link("replacement")
            if not self.links.begin(link, now, reason):
                return
            self.rollovers += 1
            self.delivery.begin_overlap()  # record what the old link delivers from now on
            self._links.append(link)
            link.thread.start()
        _log.info("user-data rollover started: %s", reason, extra={"reason": reason})

    def _on_subscribed(self, link: WsApiConn, now: float) -> None:
        """A link's subscription was acknowledged (its reader)."""
        self.subscribes += 1
        link.retry = 0
        reconcile = False
        with self._lock:
            link.life.handle(LinkInput.SUBSCRIBED, now)
            if link is self.links.replacement:
                self.links.subscribed(link, now)  # the switch waits for the overlap (tick)
            elif link is self.links.primary and self._force_reconcile:
                reconcile = True
                self._force_reconcile = False
        if reconcile:
            self.reconciler.start()
        self.wake()
        self._on_ready_change()

    def drain_answered(self, link: WsApiConn, now: float) -> None:
        """The old link's unsubscribe was answered and no request waits on it (its reader)."""
        with self._lock:
            self.links.drain_answered_by(link, now)
        self.wake()

    def _rollover_lost(self, link: WsApiConn, now: float) -> Step[WsApiConn]:
        """Under the lock (a reader reports ``link`` lost): the table's verdict, bookkeeping done."""
        was_primary = link is self.links.primary
        if was_primary and self.links.replacement is not None and link.plan is not None and link.plan.is_ready:
            self._force_reconcile = True  # events may have been lost between the two links
        link.life.handle(LinkInput.LOST, now)
        step = self.links.lost(link, now)
        if link is not self.links.primary:
            link.retired = True
            link.life.handle(LinkInput.CLOSE, now)
        return step

    # ------------------------------------------------------------------ decisions out
    def _apply_locked(self, step: Step[WsApiConn], now: float) -> Tuple[Optional[WsApiConn], Optional[str], bool]:
        """Under the lock: the bookkeeping of ``step``; returns (old link to drain, its frame, reconcile now)."""
        new = step.switched_to
        reconcile = False
        if new is not None:
            new.role = "primary"
            new.holding = True  # anything it reads now waits for the release below
            if new.is_open:
                self._open.set()
            if self._force_reconcile and new.plan is not None and new.plan.is_ready:
                reconcile = True
                self._force_reconcile = False
        old = step.drain
        frame: Optional[str] = None
        if old is not None:
            old.retired = True
            old.life.handle(LinkInput.DRAIN, now, "replaced (make-before-break)")
            frame = self._drain_frame(old, now)
            self.links.drain_sent(old, now)
            if frame is None:  # nothing to unsubscribe (not subscribed): nothing in flight
                self.links.drain_answered_by(old, now)
        for link in step.close:
            link.retired = True
            link.life.handle(LinkInput.CLOSE, now)
            if link.kill_reason is None:
                link.kill_reason = REPLACED
        return old, frame, reconcile

    def _carry_out(self, step: Step[WsApiConn], old: Optional[WsApiConn], frame: Optional[str],
                   reconcile: bool) -> None:
        """Outside the lock: the I/O of ``step`` (release, unsubscribe, close, reconcile)."""
        new = step.switched_to
        if new is not None:
            self.delivery.release(new, step.released)
            _log.info("user-data rollover: switched to the new connection")
        if old is not None and frame is not None:
            old.send([frame])
        for link in step.close:
            transport = link.transport
            with self._lock:
                busy = bool(link.waiters)
                link.close_when_idle = busy
            if transport is not None and not busy:
                transport.close()  # else its reader closes it once the last answer is read
        if reconcile:
            self.reconciler.start()
        if new is not None or step.close:
            self._on_ready_change()
            self.wake()

    def _drain_frame(self, old: WsApiConn, now: float) -> Optional[str]:
        """``userDataStream.unsubscribe`` for the old link: its answer follows every event sent before."""
        proto, plan = old.proto, old.plan
        if proto is None or plan is None or plan.subscription_id is None:
            return None
        rid, frame = proto.request("userDataStream.unsubscribe", {"subscriptionId": plan.subscription_id}, now=now)
        old.drain_rid = rid
        return frame

    def _rollover_tick(self, now: float) -> Tuple[Step[WsApiConn], Optional[WsApiConn], Optional[str], bool]:
        """Under the lock (the ticker): the table's timers, and the duplicate filter mirrored."""
        step = self.links.tick(now)
        old, frame, reconcile = self._apply_locked(step, now)
        if self.delivery.deduping and not self.links.is_deduping(now):
            self.delivery.end_overlap()
        return step, old, frame, reconcile
