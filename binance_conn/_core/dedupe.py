"""Duplicate filter for make-before-break switch-overs.

Before a connection reaches its maximum lifetime (or on ``serverShutdown``),
the supervisor opens the replacement, subscribes it, switches over, and closes
the old one.  While both are open the same event can arrive twice.  During that
overlap, :class:`Deduplicator` remembers each delivered event's natural key per
stream and drops an event whose key it has already seen:

==============  =================================
event           natural key
==============  =================================
Trade           ``trade_id`` (``t``)
AggTrade        ``agg_trade_id`` (``a``)
DepthUpdate     ``final_update_id`` (``u``; ``lastUpdateId`` for partial books)
BookTicker      ``update_id`` (``u``)
Kline           ``(open_time, event_time)``
Ticker          ``event_time`` (``E``)
MiniTicker      ``(symbol, event_time)`` (``!miniTicker@arr`` elements share ``E``)
RollingWindow.. ``(symbol, event_time)``
AvgPrice        ``event_time`` (``E``)
ReferencePrice  ``(timestamp, price)`` (``t``, ``r``)
BlockTrade      ``trade_id`` (``t``)
==============  =================================

A set (not a high-water mark) is used so that when the new connection runs
ahead of the old one, the old one's late events are still delivered (no loss).
Memory is bounded: at most ``capacity`` keys per stream, oldest forgotten
first.  Outside an overlap the filter is off and costs nothing but a flag test
(:attr:`Deduplicator.active`); :meth:`Deduplicator.end` frees everything.

Ordered delivery from several links (:meth:`Deduplicator.admit`)
-----------------------------------------------------------------
With ``with_redundancy(2)`` a shard is permanently "in overlap" between its links,
and a rollover overlaps two links for a while: the same filter serves both.
:meth:`~Deduplicator.admit` also knows which link an event came from, so that the
streams whose ids are *consecutive* are delivered exactly once **and in order**:

==============================  ==========================  =====================
stream                          span ``(first, last)``      next is contiguous if
==============================  ==========================  =====================
``<s>@trade``                   ``(t, t)``                  ``t == last + 1``
``<s>@aggTrade``                ``(a, a)``                  ``a == last + 1``
``<s>@depth[@100ms]`` (diffs)   ``(U, u)``                  ``U <= last + 1``
==============================  ==========================  =====================

Per such stream only a high-water mark ``last`` is kept (memory O(1)): an event
with ``u <= last`` is a duplicate; a contiguous one is delivered at once (the first
arrival wins, nobody waits for the slower link).  An event that leaves a hole
(``U > last + 1``) arriving on a link that is *not* the one that delivered ``last``
while another link is still live means "this link (re)joined ahead of the others":
it is held (at most ``capacity`` events, at most ``hold`` seconds) until the other
link fills the hole, then released in order.  A hole on the link that delivered
``last`` (a server-side skip), or with no other live link, or past ``hold``, is
real: everything held is released in id order, the hole stays (the gap tracker
downstream reports it).  Every other kind keeps the first-arrival-wins set above
(its keys are not consecutive: bookTicker ``u``, partial depth ``lastUpdateId``,
kline / ticker event times), exact but ordered only as its links deliver it.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Deque, Dict, Hashable, List, Optional, Set, Tuple

from ..events import (
    AggTrade,
    AvgPrice,
    BlockTrade,
    BookTicker,
    DepthUpdate,
    Event,
    Kline,
    MiniTicker,
    ReferencePrice,
    RollingWindowTicker,
    Ticker,
    Trade,
)

__all__ = ["Deduplicator", "natural_key", "KEY_FUNCTIONS", "DEFAULT_HOLD"]

DEFAULT_HOLD = 0.25  # s an event that (re)joined ahead of a hole waits for another link to fill it

KEY_FUNCTIONS: Dict[type, Callable[[Event], Hashable]] = {
    Trade: lambda e: e.trade_id,  # type: ignore[attr-defined]
    AggTrade: lambda e: e.agg_trade_id,  # type: ignore[attr-defined]
    DepthUpdate: lambda e: e.final_update_id,  # type: ignore[attr-defined]
    BookTicker: lambda e: e.update_id,  # type: ignore[attr-defined]
    Kline: lambda e: (e.open_time, e.event_time),  # type: ignore[attr-defined]
    Ticker: lambda e: e.event_time,  # type: ignore[attr-defined]
    MiniTicker: lambda e: (e.symbol, e.event_time),  # type: ignore[attr-defined]
    RollingWindowTicker: lambda e: (e.symbol, e.event_time),  # type: ignore[attr-defined]
    AvgPrice: lambda e: e.event_time,  # type: ignore[attr-defined]
    ReferencePrice: lambda e: (e.timestamp, e.price),  # type: ignore[attr-defined]
    BlockTrade: lambda e: e.trade_id,  # type: ignore[attr-defined]
}
"""Event class -> natural key function."""


def natural_key(event: Event) -> Optional[Hashable]:
    """The event's natural key, or None for a type without one."""
    fn = KEY_FUNCTIONS.get(type(event))
    return None if fn is None else fn(event)


def _is_partial_depth(stream: str) -> bool:
    """``<s>@depth5``/``@depth10``/``@depth20`` (snapshots, not consecutive diffs)."""
    at = stream.find("@depth")
    return at >= 0 and stream[at + 6:at + 7].isdigit()


_SEQ_NONE, _SEQ_ID, _SEQ_DEPTH = 0, 1, 2


class _Window:
    __slots__ = ("keys", "order", "seq", "last", "last_src", "held")

    def __init__(self, seq: int = _SEQ_NONE) -> None:
        self.keys: Set[Hashable] = set()
        self.order: Deque[Hashable] = deque()
        self.seq = seq  # _SEQ_ID / _SEQ_DEPTH: consecutive ids, high-water mark; _SEQ_NONE: the set
        self.last: Optional[int] = None
        self.last_src: Any = None
        self.held: List[Tuple[int, int, Event, Any, float]] = []  # (first, last, event, source, since)


def _seq_kind(stream: str, event: Event) -> int:
    cls = type(event)
    if cls is Trade or cls is AggTrade:
        return _SEQ_ID
    if cls is DepthUpdate and not _is_partial_depth(stream):
        return _SEQ_DEPTH
    return _SEQ_NONE


class Deduplicator:
    """Per-stream bounded "seen" sets, active only during an overlap.

    Args:
        capacity: keys remembered per stream (>= 1).
    """

    __slots__ = ("capacity", "hold", "active", "dropped", "held_total", "_streams", "_holding")

    def __init__(self, capacity: int = 8192, hold: float = DEFAULT_HOLD) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.hold = float(hold)
        self.active = False
        self.dropped = 0
        self.held_total = 0  # events that waited for another link to fill a hole
        self._streams: Dict[str, _Window] = {}
        self._holding: Set[str] = set()  # streams whose window holds events (admit threads only)

    def begin(self) -> None:
        """An overlap starts (the replacement connection is being opened)."""
        self.active = True
        self._streams.clear()
        self._holding.clear()

    def end(self) -> None:
        """The old connection is closed: stop filtering and forget every key."""
        self.active = False
        self._streams.clear()
        self._holding.clear()

    def accept(self, stream: str, event: Event) -> bool:
        """True to deliver ``event``; False for a duplicate (counted in :attr:`dropped`).

        When inactive every event is accepted and nothing is recorded.
        """
        if not self.active:
            return True
        fn = KEY_FUNCTIONS.get(type(event))
        if fn is None:
            return True
        key = fn(event)
        w = self._streams.get(stream)
        if w is None:
            w = self._streams[stream] = _Window()
        if key in w.keys:
            self.dropped += 1
            return False
        w.keys.add(key)
        w.order.append(key)
        if len(w.order) > self.capacity:
            w.keys.discard(w.order.popleft())
        return True

    def admit(self, stream: str, event: Event, source: Any, others_live: bool, now: float) -> List[Event]:
        """The events to deliver now, in order, for ``event`` read on link ``source``
        (``others_live``: another link of the shard is still read).  Duplicates are
        dropped (counted in :attr:`dropped`); see the module docstring.  Active or not."""
        w = self._streams.get(stream)
        if w is None:
            w = self._streams[stream] = _Window(_seq_kind(stream, event))
        seq = w.seq
        if seq == _SEQ_NONE:
            return [event] if self.accept(stream, event) else []
        if seq == _SEQ_ID:
            lo = hi = event.trade_id if type(event) is Trade else event.agg_trade_id  # type: ignore[attr-defined]
        else:
            lo, hi = event.first_update_id, event.final_update_id  # type: ignore[attr-defined]
        last = w.last
        if last is None:
            w.last, w.last_src = hi, source
            return [event]
        if hi <= last:
            self.dropped += 1
            return []
        held = w.held
        if lo <= last + 1:  # contiguous: the first arrival wins at once
            w.last, w.last_src = hi, source
            if not held:
                return [event]
            out = [event]
            self._flush(w, out, now)
            return out
        held.append((lo, hi, event, source, now))
        if (source is w.last_src or not others_live or len(held) > self.capacity
                or now - min(h[4] for h in held) >= self.hold):
            out = []
            self._release(w, out)  # the hole is real
            return out
        self.held_total += 1
        self._holding.add(stream)
        return []

    def _flush(self, w: _Window, out: List[Event], now: float) -> None:
        """Deliver what the last delivery made contiguous; release everything once the oldest waited too long."""
        held = w.held
        held.sort(key=lambda h: h[0])
        while held:
            lo, hi, event, source, _ = held[0]
            assert w.last is not None
            if hi <= w.last:
                self.dropped += 1
            elif lo <= w.last + 1:
                out.append(event)
                w.last, w.last_src = hi, source
            else:
                break
            held.pop(0)
        if held and now - min(h[4] for h in held) >= self.hold:
            self._release(w, out)

    def _release(self, w: _Window, out: List[Event]) -> None:
        held = w.held
        held.sort(key=lambda h: h[0])
        for _lo, hi, event, source, _ in held:
            if w.last is not None and hi <= w.last:
                self.dropped += 1
                continue
            out.append(event)
            w.last, w.last_src = hi, source
        held.clear()

    def next_due(self) -> Optional[float]:
        """When (``now`` clock) the oldest held event has waited ``hold`` seconds; None: nothing held."""
        if not self._holding:
            return None
        times = [h[4] for s in list(self._holding) for h in self._held_of(s)]
        return min(times) + self.hold if times else None

    def _held_of(self, stream: str) -> List[Tuple[int, int, Event, Any, float]]:
        w = self._streams.get(stream)
        return list(w.held) if w is not None else []

    def due(self, now: float) -> bool:
        """Some stream holds an event longer than ``hold`` (release it with :meth:`release_due`)."""
        at = self.next_due()
        return at is not None and now >= at

    def release_due(self, now: float) -> List[Tuple[str, Event]]:
        """Release, in order, every stream's held events that waited ``hold`` seconds (a quiet
        stream has no next event to release them)."""
        out: List[Tuple[str, Event]] = []
        for stream in list(self._holding):
            w = self._streams.get(stream)
            if w is None or not w.held:
                self._holding.discard(stream)
            elif now - min(h[4] for h in w.held) >= self.hold:
                self._holding.discard(stream)
                events: List[Event] = []
                self._release(w, events)
                out.extend((stream, e) for e in events)
        return out

    def forget(self, stream: str) -> None:
        """A stream is no longer wanted: free its window."""
        self._streams.pop(stream, None)
        self._holding.discard(stream)

    def size(self) -> Tuple[int, int]:
        """``(streams, keys)`` currently remembered (held events count as keys)."""
        return len(self._streams), sum(len(w.keys) + len(w.held) for w in self._streams.values())
