"""Continuity rules of market streams (sans-I/O): in order, duplicate-or-older, or a gap.

One tracker per subscriber and stream, fed the next event's sequence value; its ``check``
answers with one of three ints and, for a gap, leaves the inclusive missing range in
``gap_first``/``gap_last``.  A couple of int comparisons per event, no allocation on the
in-order path.

* :class:`IdTracker`: trade ids (``t``), aggregate trade ids (``a``): the next id is ``last + 1``.
* :class:`KlineTracker`: open times of *closed* klines: the next open time is the previous one
  plus the interval; ``1M`` follows the calendar (month lengths) in the stream's timezone offset
  (``@+08:00`` klines open at midnight UTC+8 on the 1st); ``1w`` and ``3d`` are fixed lengths.
* :class:`DepthTracker`: depth diffs ``U``/``u`` with a pluggable rule: the spot rule (an event
  continues the stream when ``U <= last_u + 1 <= u``, web-socket-streams.md), or the futures rule
  (``pu == last_u``) for later.

The first value seen only sets the baseline (there is nothing before it to compare with).
"""

from __future__ import annotations

import datetime
from typing import Callable, Optional

__all__ = [
    "IN_ORDER", "DUPLICATE", "GAP", "IdTracker", "KlineTracker", "DepthTracker", "DepthRule",
    "spot_depth_rule", "futures_depth_rule", "interval_ms", "offset_ms", "next_open_time",
]

IN_ORDER = 0
"""Deliver it: the next value (or the first ever)."""
DUPLICATE = 1
"""Drop it: a value already delivered, or older (never deliver twice)."""
GAP = 2
"""Deliver it after the hole ``gap_first..gap_last`` (inclusive) has been handled."""

_MINUTE = 60_000
_UNIT_MS = {"s": 1000, "m": _MINUTE, "h": 60 * _MINUTE, "d": 1440 * _MINUTE, "w": 7 * 1440 * _MINUTE}


def interval_ms(interval: str) -> Optional[int]:
    """A kline interval's fixed length in ms (``"1m"`` -> 60000), or None for ``1M`` (calendar months).

    Raises:
        ValueError: not an interval of that shape.
    """
    unit = interval[-1:]
    if unit == "M":
        return None
    return int(interval[:-1]) * _UNIT_MS[unit]


def offset_ms(timezone: Optional[str]) -> int:
    """``"+08:00"`` -> 8 h in ms, ``"-01:30"`` -> -1.5 h; None (UTC) -> 0."""
    if not timezone:
        return 0
    sign = -1 if timezone[0] == "-" else 1
    hours, _, minutes = timezone.lstrip("+-").partition(":")
    return sign * (int(hours) * 60 + int(minutes or 0)) * _MINUTE


def next_open_time(open_time: int, interval: str, offset: int = 0) -> int:
    """The open time of the kline after the one opening at ``open_time`` (ms).

    Fixed intervals add their length; ``1M`` moves to the 1st of the next month at midnight
    in the ``offset`` (ms east of UTC) timezone.
    """
    step = interval_ms(interval)
    if step is not None:
        return open_time + step
    local = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=open_time + offset)
    months = int(interval[:-1])
    year, month = divmod(local.month - 1 + months, 12)
    first = datetime.datetime(local.year + year, month + 1, 1)
    return (first - datetime.datetime(1970, 1, 1)) // datetime.timedelta(milliseconds=1) - offset


class IdTracker:
    """Consecutive integer ids (trade ``t``, aggregate trade ``a``)."""

    __slots__ = ("last", "gap_first", "gap_last")

    def __init__(self, last: Optional[int] = None) -> None:
        self.last = last
        self.gap_first = self.gap_last = 0

    def check(self, value: int) -> int:
        last = self.last
        if last is None or value == last + 1:
            self.last = value
            return IN_ORDER
        if value <= last:
            return DUPLICATE
        self.gap_first, self.gap_last = last + 1, value - 1
        self.last = value
        return GAP

    def advance(self, value: int) -> None:
        """A backfilled ``value`` was delivered: it is now the last one."""
        if self.last is None or value > self.last:
            self.last = value


class KlineTracker:
    """Open times of closed klines of one interval (and timezone offset)."""

    __slots__ = ("interval", "offset", "step", "last", "expected", "gap_first", "gap_last")

    def __init__(self, interval: str, timezone: Optional[str] = None) -> None:
        self.interval = interval
        self.offset = offset_ms(timezone)
        self.step = interval_ms(interval)
        self.last: Optional[int] = None
        self.expected = 0
        self.gap_first = self.gap_last = 0

    def next_after(self, open_time: int) -> int:
        step = self.step
        return open_time + step if step is not None else next_open_time(open_time, self.interval, self.offset)

    def previous_before(self, open_time: int) -> int:
        """The open time of the kline before the one opening at ``open_time``."""
        step = self.step
        if step is not None:
            return open_time - step
        guess = open_time - 31 * 1440 * _MINUTE * int(self.interval[:-1])  # at least as far back
        while True:
            nxt = next_open_time(guess, self.interval, self.offset)
            if nxt >= open_time:
                return guess
            guess = nxt

    def check(self, open_time: int) -> int:
        """A *closed* kline's open time."""
        if self.last is None or open_time == self.expected:
            self.advance(open_time)
            return IN_ORDER
        if open_time < self.expected:
            return DUPLICATE
        self.gap_first, self.gap_last = self.expected, self.previous_before(open_time)
        self.advance(open_time)
        return GAP

    def advance(self, open_time: int) -> None:
        if self.last is None or open_time > self.last:
            self.last = open_time
            self.expected = self.next_after(open_time)


DepthRule = Callable[[int, int, Optional[int], int], int]
"""``(U, u, pu, last_u) -> IN_ORDER | DUPLICATE | GAP`` for an event after ``last_u``."""


def spot_depth_rule(first: int, final: int, prev: Optional[int], last: int) -> int:
    """Spot diffs: ``u <= last_u`` is old; ``U <= last_u + 1`` continues; a larger ``U`` leaves a gap."""
    if final <= last:
        return DUPLICATE
    return IN_ORDER if first <= last + 1 else GAP


def futures_depth_rule(first: int, final: int, prev: Optional[int], last: int) -> int:
    """USDⓈ-M futures diffs: each event's ``pu`` is the previous event's ``u``."""
    if final <= last:
        return DUPLICATE
    if prev is None:
        return spot_depth_rule(first, final, prev, last)
    return IN_ORDER if prev == last else GAP


class DepthTracker:
    """Depth diff update ids; the gap is ``last_u + 1 .. U - 1``."""

    __slots__ = ("rule", "last", "gap_first", "gap_last")

    def __init__(self, rule: DepthRule = spot_depth_rule) -> None:
        self.rule = rule
        self.last: Optional[int] = None
        self.gap_first = self.gap_last = 0

    def check(self, first: int, final: int, prev: Optional[int] = None) -> int:
        last = self.last
        if last is None:
            self.last = final
            return IN_ORDER
        verdict = self.rule(first, final, prev, last)
        if verdict == DUPLICATE:
            return verdict
        if verdict == GAP:
            self.gap_first, self.gap_last = last + 1, max(last + 1, first - 1)
        self.last = final
        return verdict
