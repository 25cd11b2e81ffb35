"""Liveness of one WebSocket connection: zombie detection without false alarms.

A pong proves little and silence proves nothing (a quiet market is silent), so
three signals are combined:

1. **Idle ping.**  When nothing at all (data, control reply, pong) has arrived
   for ``ping_interval`` seconds, the client sends a ping (paced with the other
   outgoing messages).  If nothing at all arrives within ``pong_timeout`` after
   it, the link is a zombie.  Any frame after the ping counts as an answer:
   data proves liveness better than a pong.
2. **Data-silence watchdog.**  It arms only once ``arm_after`` data frames
   were seen on the connection (its streams are evidently busy).  When armed
   and no *data* came for ``silence_timeout`` seconds, it asks for an active
   probe: an immediate ping (if none is outstanding since the silence began)
   and a REST probe (:meth:`HealthMonitor.wants_probe`, at most every
   ``probe_interval`` seconds).  Silence alone never condemns the link; only a
   failed probe does (:meth:`HealthMonitor.probe_result` with ``ok=False``:
   REST unreachable, or REST shows activity this stream did not deliver).
3. **Paused time.**  While the reader is blocked on a BLOCK-policy subscriber
   it cannot read; :meth:`pause`/:meth:`resume` shift every timer by the
   blocked time so that wait is never counted as silence.

Timings come from ONE place: :func:`liveness_timings` derives them from the
health-check interval (``with_health_check(interval)``), and the ``DEFAULT_*``
constants below are that derivation at the default interval (5 s); the
config's ``WebSocketConfig`` uses the same values.  For an interval ``i``:

* ``ping_interval = i``: an idle link is pinged every ``i`` seconds;
* ``pong_timeout = min(2 * i, 3)``: the ping's answer may take that long;
* ``silence_timeout = 1.2 * i``: an armed, silent stream is probed;
* ``probe_interval = i``: REST probes at most every ``i`` seconds.

A frozen link (TCP open, no data, no pongs) is therefore declared dead at most
``ping_interval + pong_timeout`` after its last frame (:func:`worst_case_detection`):
``3 * i`` for ``i <= 1.5`` and ``i + 3`` above, which leaves at least 2 s of the
``3 * i + 2`` promise (:func:`detection_bound`) for pacing, the supervisor's wake-up
and the reconnect; 8 s at the defaults (promise: 10 s, ``DEFAULT_DETECTION_BOUND``).
A quiet but healthy link answers each ping well within ``pong_timeout`` and is
never declared dead; silence alone only asks for a probe.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

__all__ = [
    "HealthMonitor",
    "LivenessTimings",
    "liveness_timings",
    "detection_bound",
    "DEFAULT_HEALTH_CHECK_INTERVAL",
    "DEFAULT_PING_INTERVAL",
    "DEFAULT_PONG_TIMEOUT",
    "DEFAULT_SILENCE_TIMEOUT",
    "DEFAULT_PROBE_INTERVAL",
    "MAX_DERIVED_PONG_TIMEOUT",
    "DEFAULT_DETECTION_BOUND",
    "worst_case_detection",
]

DEFAULT_HEALTH_CHECK_INTERVAL = 5.0
MAX_DERIVED_PONG_TIMEOUT = 3.0
"""Cap of the derived pong timeout: a healthy link answers a ping in well under a
second; a longer cap would only delay the verdict on a dead one."""
_SILENCE_FACTOR = 1.2  # a silent armed stream is probed a little after one ping interval


class LivenessTimings(NamedTuple):
    """The four liveness durations (seconds) of one connection."""

    ping_interval: float
    pong_timeout: float
    silence_timeout: float
    probe_interval: float


def liveness_timings(
    interval: float,
    *,
    ping_interval: Optional[float] = None,
    pong_timeout: Optional[float] = None,
    silence_timeout: Optional[float] = None,
) -> LivenessTimings:
    """The timings that ``with_health_check(interval)`` stands for.

    An explicit value (``with_websocket(ping_interval=...)`` etc.) wins over the
    derived one; the others still follow ``interval``.  See the module docstring
    for the derivation and the detection bound it guarantees.
    """
    if not interval > 0:
        raise ValueError("interval must be > 0")
    return LivenessTimings(
        ping_interval=float(interval if ping_interval is None else ping_interval),
        pong_timeout=float(min(2.0 * interval, MAX_DERIVED_PONG_TIMEOUT) if pong_timeout is None else pong_timeout),
        silence_timeout=float(_SILENCE_FACTOR * interval if silence_timeout is None else silence_timeout),
        probe_interval=float(interval),
    )


_DEFAULTS = liveness_timings(DEFAULT_HEALTH_CHECK_INTERVAL)
DEFAULT_PING_INTERVAL = _DEFAULTS.ping_interval  # 5.0
DEFAULT_PONG_TIMEOUT = _DEFAULTS.pong_timeout  # 3.0
DEFAULT_SILENCE_TIMEOUT = _DEFAULTS.silence_timeout  # 6.0
DEFAULT_PROBE_INTERVAL = _DEFAULTS.probe_interval  # 5.0


def worst_case_detection(ping_interval: float, pong_timeout: float) -> float:
    """Longest time from a link's last frame until it is declared a zombie."""
    return ping_interval + pong_timeout


DEFAULT_DETECTION_BOUND = 10.0
"""The promise at the default interval: a frozen link is replaced within 10 s."""


def detection_bound(interval: float) -> float:
    """The promise for ``interval >= 1``: a frozen link is *replaced* within
    ``3 * interval + 2`` seconds of freezing (and within
    :data:`DEFAULT_DETECTION_BOUND` at the default interval)."""
    return 3.0 * interval + 2.0


class HealthMonitor:
    """Liveness bookkeeping of one connection; time comes in as ``now``.

    Not thread-safe: the connection's reader/supervisor serialise calls.

    Args:
        ping_interval: send a ping after this long without any frame.
        pong_timeout: after a ping, how long to wait for any frame.
        silence_timeout: data silence (armed watchdog) that triggers a probe.
        probe_interval: minimum spacing of REST probes.
        arm_after: data frames to see before the silence watchdog arms.
    """

    __slots__ = (
        "ping_interval",
        "pong_timeout",
        "silence_timeout",
        "probe_interval",
        "arm_after",
        "last_rx",
        "last_data",
        "last_pong",
        "data_count",
        "paused_total",
        "_ping_sent_at",
        "_pong_deadline",
        "_paused_at",
        "_probe_at",
        "_probe_running",
        "_probe_failure",
    )

    def __init__(
        self,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        pong_timeout: float = DEFAULT_PONG_TIMEOUT,
        silence_timeout: float = DEFAULT_SILENCE_TIMEOUT,
        probe_interval: float = DEFAULT_PROBE_INTERVAL,
        arm_after: int = 3,
    ) -> None:
        if ping_interval <= 0 or pong_timeout <= 0 or silence_timeout <= 0 or probe_interval < 0:
            raise ValueError("health timings must be > 0")
        self.ping_interval = float(ping_interval)
        self.pong_timeout = float(pong_timeout)
        self.silence_timeout = float(silence_timeout)
        self.probe_interval = float(probe_interval)
        self.arm_after = int(arm_after)
        self.on_connected(0.0)
        self.paused_total = 0.0

    # -- inputs ------------------------------------------------------------------

    def on_connected(self, now: float) -> None:
        """A new connection is open: every timer starts at ``now``."""
        self.last_rx = now
        self.last_data = now
        self.last_pong: Optional[float] = None
        self.data_count = 0
        self._ping_sent_at: Optional[float] = None
        self._pong_deadline = 0.0
        self._paused_at: Optional[float] = None
        self._probe_at: Optional[float] = None
        self._probe_running = False
        self._probe_failure: Optional[str] = None

    def on_frame(self, now: float) -> None:
        """Any frame that is not data (control reply, unknown, malformed)."""
        self.last_rx = now

    def on_data(self, now: float) -> None:
        """A data frame (hot path: two stores and an increment)."""
        self.last_rx = now
        self.last_data = now
        self.data_count += 1

    def on_pong(self, now: float) -> None:
        self.last_rx = now
        self.last_pong = now

    def on_ping_sent(self, now: float) -> None:
        """A client ping went out."""
        self._ping_sent_at = now
        self._pong_deadline = now + self.pong_timeout

    def pause(self, now: float) -> None:
        """The reader is blocked on a BLOCK-policy subscriber from ``now``."""
        if self._paused_at is None:
            self._paused_at = now

    def resume(self, now: float) -> None:
        """The reader reads again: the blocked time is removed from every timer."""
        if self._paused_at is None:
            return
        d = max(0.0, now - self._paused_at)
        self._paused_at = None
        self.paused_total += d
        self.last_rx += d
        self.last_data += d
        if self._ping_sent_at is not None:
            self._ping_sent_at += d
            self._pong_deadline += d
        if self._probe_at is not None:
            self._probe_at += d

    @property
    def is_paused(self) -> bool:
        return self._paused_at is not None

    # -- derived -----------------------------------------------------------------

    @property
    def is_armed(self) -> bool:
        """True once enough data was seen for silence to be suspicious."""
        return self.data_count >= self.arm_after

    @property
    def ping_outstanding(self) -> bool:
        """A ping was sent and nothing has arrived since."""
        sent = self._ping_sent_at
        return sent is not None and self.last_rx <= sent

    def is_silent(self, now: float) -> bool:
        """Armed and no data for ``silence_timeout`` seconds."""
        return self.is_armed and now - self.last_data >= self.silence_timeout and self._paused_at is None

    def _ping_due_at(self) -> Optional[float]:
        if self._paused_at is not None or self.ping_outstanding:
            return None
        due = self.last_rx + self.ping_interval
        if self.is_armed:
            silence_at = self.last_data + self.silence_timeout
            sent = self._ping_sent_at
            if (sent is None or sent < silence_at) and silence_at < due:
                due = silence_at
        return due

    def next_ping_due(self, now: float) -> Optional[float]:
        """Seconds until a ping should be sent (0.0: now); None while one is outstanding or paused."""
        due = self._ping_due_at()
        return None if due is None else max(0.0, due - now)

    def wants_probe(self, now: float) -> bool:
        """True when a REST probe should start now (call :meth:`probe_started`)."""
        if self._probe_running or not self.is_silent(now):
            return False
        return self._probe_at is None or now - self._probe_at >= self.probe_interval

    def probe_started(self, now: float) -> None:
        self._probe_running = True
        self._probe_at = now

    def probe_result(self, now: float, ok: bool, reason: str = "") -> None:
        """The REST probe's verdict.  ``ok=False`` condemns a still-silent link."""
        self._probe_running = False
        if not ok and self.is_armed and now - self.last_data >= self.silence_timeout:
            self._probe_failure = reason or "probe failed"

    def is_zombie(self, now: float) -> Optional[str]:
        """The reason this link should be replaced, or None while it is (believed) alive."""
        if self._paused_at is not None:
            return None
        sent = self._ping_sent_at
        if sent is not None and self.last_rx <= sent and now >= self._pong_deadline:
            return f"no pong or data within {self.pong_timeout:g} s of a ping (silent for {now - self.last_rx:.1f} s)"
        probe_at = self._probe_at
        if self._probe_failure is not None and probe_at is not None and self.last_data <= probe_at:
            return f"no data for {now - self.last_data:.1f} s and the probe failed: {self._probe_failure}"
        return None

    def next_deadline(self, now: float) -> Optional[float]:
        """The next instant at which something may change (None while paused)."""
        if self._paused_at is not None:
            return None
        candidates = []
        due = self._ping_due_at()
        if due is not None:
            candidates.append(due)
        if self.ping_outstanding:
            candidates.append(self._pong_deadline)
        if self.is_armed and not self._probe_running:
            at = self.last_data + self.silence_timeout
            if self._probe_at is not None:
                at = max(at, self._probe_at + self.probe_interval)
            candidates.append(at)
        return min(candidates) if candidates else None
