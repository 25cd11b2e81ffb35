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
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Deque, Dict, Hashable, Optional, Set, Tuple

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

__all__ = ["Deduplicator", "natural_key", "KEY_FUNCTIONS"]

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


class _Window:
    __slots__ = ("keys", "order")

    def __init__(self) -> None:
        self.keys: Set[Hashable] = set()
        self.order: Deque[Hashable] = deque()


class Deduplicator:
    """Per-stream bounded "seen" sets, active only during an overlap.

    Args:
        capacity: keys remembered per stream (>= 1).
    """

    __slots__ = ("capacity", "active", "dropped", "_streams")

    def __init__(self, capacity: int = 8192) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.active = False
        self.dropped = 0
        self._streams: Dict[str, _Window] = {}

    def begin(self) -> None:
        """An overlap starts (the replacement connection is being opened)."""
        self.active = True
        self._streams.clear()

    def end(self) -> None:
        """The old connection is closed: stop filtering and forget every key."""
        self.active = False
        self._streams.clear()

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

    def size(self) -> Tuple[int, int]:
        """``(streams, keys)`` currently remembered."""
        return len(self._streams), sum(len(w.keys) for w in self._streams.values())
