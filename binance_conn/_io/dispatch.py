"""Topic fan-out to subscribers, each with its own bounded buffer and worker (knows nothing of sockets or streams).

Theory of operation: topics (stream names, ``"connection"``...) map to immutable tuples of :class:`Subscription`,
swapped under a lock on (un)subscribe, so ``publish`` (the reader's hot path) is one dict get, no lock, and hands
the *same* event to everyone.  The subscribers themselves (buffers, workers, overflow policies, the workers'
safety net) live in :mod:`._io.subscribers <binance_conn._io.subscribers>`.  A blocked reader cannot answer pings
(Binance drops it after about a minute): ``blocked_since(thread)`` tells a health checker "paused", not "zombie",
per producer thread (two readers may wait on one subscriber during a rollover overlap).

Safety net: an exception in a worker's own code (not the user callback, which has its own path) is logged at ERROR
with its traceback, reported through ``on_error`` as an :class:`~binance_conn.errors.InternalError`, and the worker
pauses briefly and goes on delivering.  :meth:`Dispatcher.after_fork_in_child` re-arms everything in a forked child:
same handles, fresh locks, no worker yet, the parent's queued events discarded.
"""

from __future__ import annotations

import collections
import itertools
import logging
import queue as queue_mod
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple, Union

from .._core.lag import ClockOffset, LagHistogram
from ..enums import OverflowPolicy
from ..errors import BinanceError, ValidationError
from .guard import ThreadGuard
from .subscribers import (
    BLOCK_SLICE,
    CallbackSubscription,
    QueueSubscription,
    Subscription,
    current_worker_host,
    forget_worker_host,
)

_CallbackSubscription = CallbackSubscription  # the old private name (benchmarks' profiler hooks it)

__all__ = ["BLOCK_SLICE", "Dispatcher", "Subscription"]

_log = logging.getLogger("binance_conn.dispatch")
_monotonic = time.monotonic

Callback = Callable[[Any], Any]
ErrorHook = Callable[[BinanceError], Any]
TopicsHook = Callable[[str, bool], Any]


class Dispatcher:
    """Topic -> subscribers fan-out with one bounded buffer and worker per subscriber.

    Args:
        on_error: called with a :class:`BinanceError` when a callback raises (its worker thread); logged if it raises.
        on_topics_changed: ``(topic, added)`` when a topic gets its first subscriber or loses its last; called
            outside the lock, in order, maybe from another (un)subscribing thread and after ``subscribe()``
            returned; ``topics()`` is the truth.
        buffer, overflow: defaults per subscriber.  name: thread name prefix (``<name>-sub-<topic>-<id>``).
        exchange: carried by the :class:`~binance_conn.errors.InternalError` a crashed worker reports.
        error_topic: callbacks on this topic that raise are only logged, never passed to ``on_error``
            (which may publish to this topic: no feedback loop).
        measure_lag: each callback subscriber records the lag of events with an ``event_time``
            (:mod:`._core.lag`) once :attr:`clock_offset` is set (the connector sets it from REST).

    Any method, any thread.  Starts stopped: subscribing works; no thread runs, ``publish`` ignores events.
    """

    def __init__(self, *, on_error: Optional[ErrorHook] = None, on_topics_changed: Optional[TopicsHook] = None,
                 buffer: int = 10_000, overflow: Union[OverflowPolicy, str] = OverflowPolicy.DROP_OLDEST,
                 error_topic: Optional[str] = None, name: str = "binance_conn", exchange: str = "",
                 measure_lag: bool = True) -> None:
        self._on_error = on_error
        self._on_topics_changed = on_topics_changed
        self._buffer, self._overflow = _checked(buffer, overflow)
        self._error_topic = error_topic
        self._name = name
        self._lock = threading.Lock()
        self._topics: Dict[str, Tuple[Subscription, ...]] = {}
        self._running = False
        self._ids = itertools.count(1)
        self._retired: List[threading.Thread] = []
        self._notes: Deque[Tuple[str, bool]] = collections.deque()
        self._hook_lock = threading.Lock()
        self._guard = ThreadGuard(_log, exchange, self._report_internal)
        self.last_stop_dropped = 0  # events the last stop() dropped (deadline, or own callback)
        self.clock_offset: Optional[ClockOffset] = ClockOffset() if measure_lag else None

    @property
    def crashes(self) -> int:
        """Unexpected exceptions caught in the workers' own code (not callbacks), since creation."""
        return self._guard.crashes

    @property
    def running(self) -> bool:
        return self._running

    def subscribe(self, topic: str, callback: Optional[Callback] = None, *,
                  queue: Optional[queue_mod.Queue[Any]] = None, buffer: Optional[int] = None,
                  overflow: Union[OverflowPolicy, str, None] = None) -> Subscription:
        """Add a subscriber to ``topic``; any thread; never blocks on callbacks.

        Give ``callback`` (run on the subscriber's own worker thread, started now if running) or ``queue`` (filled
        by the producer thread), not both; with neither an inactive handle is returned.  ``buffer``/``overflow``
        default to the dispatcher's.

        Raises:
            ValidationError: both ``callback`` and ``queue``, a bad ``buffer`` or ``overflow``.
        """
        if callback is not None and queue is not None:
            raise ValidationError("queue", queue, "give either a callback or queue=, not both")
        size, policy = _checked(self._buffer if buffer is None else buffer,
                                self._overflow if overflow is None else overflow)
        if callback is None and queue is None:
            return Subscription(topic)
        sid = next(self._ids)
        sub: Subscription
        if callback is not None:
            if not callable(callback):
                raise ValidationError("callback", callback, "must be callable")
            sub = CallbackSubscription(self, topic, sid, callback, size, policy, f"{self._name}-sub-{topic}-{sid}")
        elif isinstance(queue, queue_mod.Queue):
            sub = QueueSubscription(self, topic, sid, queue, size, policy)
        else:
            raise ValidationError("queue", queue, "must be a queue.Queue")
        with self._lock:
            subs = self._topics.get(topic, ())
            self._topics[topic] = subs + (sub,)
            if not subs and self._on_topics_changed is not None:
                self._notes.append((topic, True))
            if self._running:
                sub._open()
        self._flush_notes()
        return sub

    def unsubscribe(self, sub: Subscription) -> bool:
        """Remove ``sub``; idempotent; any thread, including ``sub``'s own callback.

        Never waits for a running callback: it finishes, no new one starts, queued events are dropped (counted);
        :meth:`stop` joins the thread.  True if this call removed it."""
        if sub._dispatcher is not self:
            return False
        with self._lock:
            if not sub._active:
                return False
            sub._active = False
            rest = tuple(s for s in self._topics.get(sub.topic, ()) if s is not sub)
            if rest:
                self._topics[sub.topic] = rest
            else:
                self._topics.pop(sub.topic, None)
                if self._on_topics_changed is not None:
                    self._notes.append((sub.topic, False))
            sub._close(True)
            thread = sub._thread()
            if thread is not None:
                self._retired = [t for t in self._retired if t.is_alive()] + [thread]
        sub._discard_pending()
        self._flush_notes()
        return True

    def publish(self, topic: str, event: Any, stop: Optional[threading.Event] = None) -> float:
        """Hand ``event`` to every subscriber of ``topic``: the producer thread's hot path.

        No lock, no blocking, except on a full ``BLOCK`` subscriber: then it waits in
        :data:`BLOCK_SLICE` slices for room, or drops the event (counted) once ``stop()`` runs,
        the subscriber is removed or ``stop`` is set.  Ignored while stopped.  Returns the seconds spent
        blocked (0.0 normally), so the reader can account paused time.
        """
        subs = self._topics.get(topic)
        if subs is None:
            return 0.0
        blocked = 0.0
        for sub in subs:
            blocked += sub.offer(event, stop)
        return blocked

    def subscribers(self, topic: str) -> Tuple[Subscription, ...]:
        """The active subscribers of ``topic`` (a snapshot); any thread, never blocks."""
        return self._topics.get(topic, ())

    def topics(self) -> List[str]:
        """Topics with at least one subscriber (a snapshot); any thread."""
        with self._lock:
            return list(self._topics)

    def blocked_since(self, thread_ident: Optional[int] = None) -> Optional[float]:
        """When (``time.monotonic()``) the longest-waiting producer still blocked on a full
        ``BLOCK`` buffer (only the producer thread ``thread_ident``, if given) began, or None.
        Every producer thread is tracked on its own, also several on one subscriber.  Any thread."""
        with self._lock:
            subs = [s for group in self._topics.values() for s in group]
        if thread_ident is None:
            times = [s.blocked_since for s in subs]
        else:
            times = [s._blocked.get(thread_ident) for s in subs]
        return min((t for t in times if t is not None), default=None)

    def leftover_threads(self) -> List[threading.Thread]:
        """Workers still alive although no longer running for a subscriber (retired by unsubscribe, or past
        the deadline of a stop): what a later stop may still wait for.  Any thread."""
        with self._lock:
            out = [t for t in self._retired if t.is_alive()]
            for subs in self._topics.values():
                for sub in subs:
                    t = sub._thread()
                    if t is not None and sub._is_closed() and t.is_alive():
                        out.append(t)
        return out

    def in_worker(self) -> bool:
        """True when the calling thread is one of this dispatcher's callback workers (a callback runs
        on it): :meth:`stop` would join it.  Any thread."""
        return current_worker_host() is self

    def after_fork_in_child(self) -> None:
        """Re-arm in a forked child; call from an ``os.register_at_fork`` hook (only one thread exists).

        Every handle stays subscribed (same callbacks, same counters, still ``active``); the parent's
        workers do not exist here and its threads may have held our locks: fresh locks, no worker, the
        parent's queued events discarded (they are the parent's to deliver), stopped until :meth:`start`.
        Pending ``on_topics_changed`` notes are dropped: :meth:`topics` is the truth."""
        self._lock = threading.Lock()
        self._hook_lock = threading.Lock()
        self._running = False
        self._retired = []
        self._notes.clear()
        forget_worker_host()  # fork from a callback: this thread is no worker in the child
        for subs in self._topics.values():
            for sub in subs:
                sub._after_fork()

    def stats(self) -> Dict[str, List[Dict[str, Any]]]:
        """Snapshot for logs and health endpoints: topic -> [Subscription.snapshot()]; any thread."""
        with self._lock:
            items = [(t, list(subs)) for t, subs in self._topics.items()]
        return {t: [s.snapshot() for s in subs] for t, subs in items}

    def lag_histograms(self) -> Dict[str, List[LagHistogram]]:
        """Topic -> the event-lag histograms of its current callback subscribers (live objects: read only).
        Any thread."""
        with self._lock:
            items = [(t, list(subs)) for t, subs in self._topics.items()]
        out: Dict[str, List[LagHistogram]] = {}
        for topic, subs in items:
            hists = [h for h in (s.lag for s in subs) if h is not None]
            if hists:
                out[topic] = hists
        return out

    def start(self) -> None:
        """Open intake, start a worker per callback subscriber; idempotent; any thread (also a
        callback, after :meth:`stop`); never blocks.  Handles survive stop/start."""
        with self._lock:
            if self._running:
                return
            self._running = True
            for subs in self._topics.values():
                for sub in subs:
                    sub._open()

    def stop(self, deadline: float) -> bool:
        """Stop intake, deliver queued events until ``deadline`` (a ``time.monotonic()`` value), drop the rest
        (counted), release blocked producers, join workers.

        Blocks until then; idempotent; any thread.  From a callback, that worker is not joined: its queue is
        dropped and it exits when the callback returns.  True when every worker (but the caller's) ended in time.
        """
        me = threading.current_thread()
        with self._lock:
            self._running = False
            subs = [s for group in self._topics.values() for s in group]
            retired, self._retired = self._retired, []
            for sub in subs:
                sub._close(sub._thread() is me)
        # Our own worker (stop from a callback) cannot deliver while we are in here.
        dropped = sum(sub._discard_pending() for sub in subs if sub._thread() is me)
        owned = [(sub, sub._thread()) for sub in subs if sub._thread() not in (None, me)]
        threads = [t for _, t in owned if t is not None] + [t for t in retired if t is not me]
        for t in threads:
            t.join(max(0.0, deadline - _monotonic()))
        in_time = not any(t.is_alive() for t in threads)
        for sub, thread in owned:
            if thread is not None and thread.is_alive() and sub._thread() is thread:
                sub._close(True)  # past the deadline: drop the rest
                dropped += sub._discard_pending()
        with self._lock:
            self._retired.extend(t for t in retired if t.is_alive() and t is not me)
        self.last_stop_dropped = dropped
        if dropped:
            _log.warning("dispatcher stopped: %d queued events dropped at the deadline", dropped,
                         extra={"dropped": dropped})
        return in_time

    def _report_internal(self, err: BinanceError) -> None:
        hook = self._on_error
        if hook is not None:
            hook(err)

    def _callback_failed(self, sub: Subscription, exc: Exception) -> None:
        extra = {"topic": sub.topic, "subscriber_id": sub.id}
        _log.warning("callback of subscriber %d on %r raised %s", sub.id, sub.topic,
                     type(exc).__name__, exc_info=exc, extra=extra)
        hook = self._on_error
        if hook is None or sub.topic == self._error_topic:
            return
        if isinstance(exc, BinanceError):
            err = exc
        else:
            err = BinanceError(f"subscriber {sub.id} on {sub.topic!r}: callback raised", code="callback_error",
                               details=extra)
            err.__cause__ = exc  # as `raise err from exc` would
            err.__suppress_context__ = True
        try:
            hook(err)
        except Exception as hook_exc:
            _log.warning("on_error hook raised %s", type(hook_exc).__name__, exc_info=hook_exc, extra=extra)

    def _flush_notes(self) -> None:
        # The _hook_lock holder delivers all notes in order; others return (no deadlock).
        hook = self._on_topics_changed
        while hook is not None and self._hook_lock.acquire(blocking=False):
            try:
                while True:
                    with self._lock:
                        if not self._notes:
                            break
                        topic, added = self._notes.popleft()
                    try:
                        hook(topic, added)
                    except Exception as exc:
                        _log.warning("on_topics_changed hook raised %s", type(exc).__name__,
                                     exc_info=exc, extra={"topic": topic})
            finally:
                self._hook_lock.release()
            with self._lock:
                if not self._notes:
                    return


def _checked(buffer: int, overflow: Union[OverflowPolicy, str]) -> Tuple[int, OverflowPolicy]:
    if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
        raise ValidationError("buffer", buffer, "an int >= 1")
    try:
        return buffer, OverflowPolicy(str(overflow).upper())
    except ValueError:
        raise ValidationError("overflow", overflow, "DROP_OLDEST or BLOCK") from None
