"""Subscriber handles of the :class:`~binance_conn._io.dispatch.Dispatcher`: bounded buffers and worker threads.

A callback subscriber owns a ``deque`` and a daemon worker that drains everything per wake-up and sleeps only when
empty; producers append lock-free and wake it only while it sleeps (``Lib/queue.py`` and
``concurrent/futures/thread.py`` minus the per-item lock and notify).  When full, ``BLOCK`` makes the producer wait
in :data:`BLOCK_SLICE` slices that notice ``stop()``; every waiting producer thread is tracked on its own
(``_blocked``: two readers may wait on one subscriber during a rollover overlap).  ``queue=`` subscribers have no
thread: the producer puts into the caller's queue.

``DROP_OLDEST`` when full: a reader holds the interpreter for its whole switch interval (5 ms, ~1,000 frames at line
rate) and fills a 1024 buffer before a fast worker even runs, so dropping at once would lose events to scheduling,
not to a slow callback.  The producer first *yields*: it wakes the worker and waits until the worker has drained to
half (the worker sets ``_space``), at most :data:`YIELD_WAIT` (5 ms: a worker that cannot take half of a 1024
buffer in that time drains under 100k events/s, below line rate).  A worker that misses the bound is slower than
the feed (or stuck): ``_slow`` is set and the producer discards the oldest (counted) at once, without waiting,
until the worker has drained its buffer back to half.  A slow subscriber thus costs the reader one bounded wait per
episode; a non-full offer stays one ``len`` and one ``append`` (no lock, no clock).  (A bound relative to the
arrival rate, the time the producer took to refill the buffer, was tried: under scheduling noise it judged a fast
worker slow in 3 of 140 runs of a tight-loop producer and in 1 of 5 bench rounds, each time losing 1,300 to 8,500
events; the fixed bound in none of 70 runs.)

A worker runs its delivery loop under :func:`~binance_conn._io.guard.run_guarded`: a user callback that raises has its
own path (the host's ``_callback_failed``); an exception in this module's own code is logged, reported as an
:class:`~binance_conn.errors.InternalError` and the worker goes on delivering.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import queue as queue_mod
import threading
import time
from typing import Any, Callable, Deque, Dict, Optional, Protocol

from .._core.lag import BUCKETS_MS, MICROS_EPOCH, ClockOffset, LagHistogram
from ..enums import OverflowPolicy
from .guard import ThreadGuard, run_guarded

__all__ = ["BLOCK_SLICE", "YIELD_WAIT", "Subscription", "SubscriberHost", "CallbackSubscription",
           "QueueSubscription", "current_worker_host", "forget_worker_host"]

_monotonic = time.monotonic

BLOCK_SLICE = 0.05  # seconds a BLOCK producer waits before re-checking its stop conditions
YIELD_WAIT = 0.005  # seconds a producer waits, at most, for the worker of a full DROP_OLDEST buffer to drain to half

Callback = Callable[[Any], Any]


class SubscriberHost(Protocol):
    """What a subscriber needs of its dispatcher (a Protocol: no import cycle)."""

    _guard: ThreadGuard
    clock_offset: Optional[ClockOffset]  # None: no event lag measured (see _core/lag.py)

    def unsubscribe(self, sub: Subscription) -> bool: ...

    def _callback_failed(self, sub: Subscription, exc: Exception) -> None: ...


_tls = threading.local()  # .dispatcher: the host whose callback worker the current thread is


def current_worker_host() -> Optional[SubscriberHost]:
    """The dispatcher whose callback worker the calling thread is, or None."""
    return getattr(_tls, "dispatcher", None)


def forget_worker_host() -> None:
    """The calling thread is no worker (any more): after a fork, in the child."""
    _tls.dispatcher = None


class Subscription:
    """Handle of one subscriber; calling it unsubscribes (idempotent, any thread).

    Also the *inactive* handle for a ``None`` callback (no thread, calling it does nothing).  Read-only
    properties, any thread, never blocking: ``topic``, ``id``; ``active`` (True until unsubscribed); ``delivered``
    (callbacks that returned normally, or puts into the ``queue=``); ``errors`` (callbacks that raised);
    ``dropped`` (events discarded for this subscriber: overflow, the stop deadline, unsubscribe, a producer
    released by stop); ``pending`` (queued, not yet delivered; for ``queue=`` the caller's ``qsize()``);
    ``blocked_since`` (``time.monotonic()`` when the longest-waiting ``BLOCK`` producer began waiting, or None;
    :meth:`Dispatcher.blocked_since` answers per producer thread); ``last_delivery_age``
    (seconds since the last delivery, sampled per batch, or None).
    """

    __slots__ = ("topic", "id", "_dispatcher", "_active", "_accepting", "_delivered", "_errors", "_dropped",
                 "_last_delivery", "_blocked", "_count_lock", "__weakref__")

    def __init__(self, topic: str, sid: int = 0, dispatcher: Optional[SubscriberHost] = None) -> None:
        self.topic, self.id, self._dispatcher = topic, sid, dispatcher
        self._active = dispatcher is not None
        self._accepting = False
        self._delivered = self._errors = self._dropped = 0
        self._last_delivery: Optional[float] = None
        self._blocked: Dict[int, float] = {}  # producer thread ident -> monotonic time it began waiting
        self._count_lock = threading.Lock()

    def __call__(self) -> None:
        """Unsubscribe.  Any thread (also this subscriber's own callback); never blocks."""
        if self._dispatcher is not None:
            self._dispatcher.unsubscribe(self)

    def __repr__(self) -> str:
        return f"<Subscription {self.snapshot()}>"

    @property
    def active(self) -> bool:
        return self._active

    @property
    def delivered(self) -> int:
        return self._delivered

    @property
    def errors(self) -> int:
        return self._errors

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def pending(self) -> int:
        return 0

    @property
    def lag(self) -> Optional[LagHistogram]:
        """Event lag (Binance event time -> callback) of this subscriber's events, or None (not measured)."""
        return None

    @property
    def blocked_since(self) -> Optional[float]:
        return min(list(self._blocked.values()), default=None)  # list(): one C call, safe against a
        # producer adding or removing its entry meanwhile

    @property
    def last_delivery_age(self) -> Optional[float]:
        last = self._last_delivery
        return None if last is None else max(0.0, _monotonic() - last)

    def offer(self, event: Any, stop: Optional[threading.Event] = None) -> float:
        """Queue one event (producer thread).  See :meth:`Dispatcher.publish`."""
        return 0.0

    def snapshot(self) -> Dict[str, Any]:
        """A dict of this subscriber's counters, for stats and health endpoints."""
        return {"id": self.id, "topic": self.topic, "active": self._active, "delivered": self._delivered,
                "dropped": self._dropped, "errors": self._errors, "pending": self.pending,
                "last_delivery_age": self.last_delivery_age, "blocked_since": self.blocked_since}

    def _count_drop(self, n: int) -> None:
        with self._count_lock:  # drops are rare and may come from several threads: the only locked counter
            self._dropped += n

    def _open(self) -> None:
        self._accepting = True

    def _close(self, abort: bool) -> None:
        self._accepting = False

    def _thread(self) -> Optional[threading.Thread]:
        return None

    def _is_closed(self) -> bool:
        """The worker (if any) was told to finish: it is no live worker of a running dispatcher."""
        return True

    def _discard_pending(self) -> int:
        return 0

    def _mark_blocked(self, is_blocked: bool) -> float:
        # Slow path only (a full BLOCK buffer); one entry per producer thread.
        now = _monotonic()
        if is_blocked:
            self._blocked[threading.get_ident()] = now
        else:
            self._blocked.pop(threading.get_ident(), None)
        return now

    def _after_fork(self) -> None:
        """Forked child (single-threaded): fresh locks, no producer blocked, nothing accepted yet."""
        self._count_lock = threading.Lock()
        self._blocked = {}
        self._accepting = False

    def _is_stopping(self, stop: Optional[threading.Event]) -> bool:
        return not self._accepting or (stop is not None and stop.is_set())


class _Wakeup:
    """Binary semaphore on a raw lock: ``set()`` wakes ``wait()`` in one futex op (an Event: ~10 us a hand-off)."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def set(self) -> None:
        with contextlib.suppress(RuntimeError):  # already set
            self._lock.release()

    def clear(self) -> None:
        self._lock.acquire(False)

    def wait(self) -> None:
        self._lock.acquire()


class _Run:
    """One worker thread's controls.  closed: drain, then exit; aborted: exit now (``abort_event`` too, so it cuts
    a crash pause of the safety net short)."""

    __slots__ = ("closed", "aborted", "thread", "abort_event")

    def __init__(self) -> None:
        self.closed = self.aborted = False
        self.thread: Optional[threading.Thread] = None
        self.abort_event = threading.Event()


class CallbackSubscription(Subscription):
    __slots__ = ("_callback", "_maxsize", "_is_block", "_dq", "_wake", "_sleeping", "_space",
                 "_producer_waiting", "_run", "_thread_name", "_failed", "_guard", "_low", "_slow", "_lag",
                 "_offset")

    def __init__(self, dispatcher: SubscriberHost, topic: str, sid: int, callback: Callback,
                 maxsize: int, policy: OverflowPolicy, thread_name: str) -> None:
        super().__init__(topic, sid, dispatcher)
        self._callback = callback
        self._maxsize = maxsize
        self._is_block = policy is OverflowPolicy.BLOCK
        # A waiting producer is signalled at this fill: after each take (BLOCK), at half (DROP_OLDEST).
        self._low = maxsize - 1 if self._is_block else maxsize // 2
        self._slow = False  # DROP_OLDEST: missed a whole yield; drops without waiting until drained to half
        self._dq: Deque[Any] = collections.deque()
        self._wake = _Wakeup()  # set by producers while the worker sleeps
        self._space = threading.Event()  # set by the worker, at its low mark, while a producer waits
        self._sleeping = self._producer_waiting = False
        self._run: Optional[_Run] = None
        self._thread_name = thread_name
        self._failed = dispatcher._callback_failed
        self._guard = dispatcher._guard
        self._offset = dispatcher.clock_offset
        self._lag = LagHistogram() if self._offset is not None else None

    @property
    def pending(self) -> int:
        return len(self._dq)

    @property
    def lag(self) -> Optional[LagHistogram]:
        return self._lag

    def offer(self, event: Any, stop: Optional[threading.Event] = None) -> float:
        # Hot path: no lock, no allocation beyond the deque slot.
        if self._accepting:
            dq = self._dq
            if len(dq) < self._maxsize:
                dq.append(event)
                if self._sleeping:  # one set() per sleep, not per event of a batch
                    self._sleeping = False
                    self._wake.set()
                return 0.0
            if self._slow:  # DROP_OLDEST, slower than the feed: the oldest goes at once (inline: per event)
                dq.append(event)
                if len(dq) > self._maxsize:
                    try:
                        dq.popleft()
                    except IndexError:  # the worker emptied it meanwhile
                        pass
                    else:
                        with self._count_lock:
                            self._dropped += 1
                if self._sleeping:
                    self._wake.set()
                return 0.0
            return self._offer_full(event, stop)
        return 0.0

    def _offer_full(self, event: Any, stop: Optional[threading.Event]) -> float:
        dq = self._dq
        run = self._run
        own = run is not None and run.thread is threading.current_thread()
        if not self._is_block:
            if not own:
                # Full before the worker had its turn (the producer held the interpreter): let it drain.
                if not self._yield_to_worker(stop):
                    self._slow = True  # slower than the feed: drop without waiting until it drains to half
                if len(dq) < self._maxsize:
                    dq.append(event)
                    if self._sleeping:
                        self._sleeping = False
                        self._wake.set()
                    return 0.0
            dq.append(event)
            if len(dq) > self._maxsize:
                try:
                    dq.popleft()
                except IndexError:
                    pass
                else:
                    self._count_drop(1)
            if self._sleeping:
                self._wake.set()
            return 0.0
        if own:
            # A callback publishing to its own full BLOCK buffer would wait for itself.
            self._count_drop(1)
            return 0.0
        start = self._mark_blocked(True)
        try:
            while len(dq) >= self._maxsize:
                if self._is_stopping(stop):
                    self._count_drop(1)
                    return _monotonic() - start
                self._space.clear()
                self._producer_waiting = True  # the worker sets _space after each take
                if len(dq) >= self._maxsize:
                    self._space.wait(BLOCK_SLICE)
            dq.append(event)
            if self._sleeping:
                self._wake.set()
        finally:
            self._producer_waiting = False
            self._mark_blocked(False)
        return _monotonic() - start

    def _yield_to_worker(self, stop: Optional[threading.Event]) -> bool:
        """Wake the worker and wait, at most :data:`YIELD_WAIT`, until it drains to its low mark (it sets
        ``_space``).  False: it did not, so it is slower than the feed (or stuck)."""
        space = self._space
        space.clear()
        self._producer_waiting = True
        try:
            if self._sleeping:
                self._sleeping = False
                self._wake.set()
            if len(self._dq) <= self._low or self._is_stopping(stop):
                return True
            return space.wait(YIELD_WAIT) or len(self._dq) <= self._low
        finally:
            self._producer_waiting = False

    def _work(self, run: _Run, previous: Optional[threading.Thread]) -> None:
        _tls.dispatcher = self._dispatcher
        if previous is not None:
            previous.join()  # one callback at a time, even across a stop/start
        dq = self._dq
        # The user callback has its own error path in _deliver; this net catches the dispatcher's own bugs.
        run_guarded(lambda: self._deliver(run), guard=self._guard, stop_event=run.abort_event,
                    component=f"dispatch worker of subscriber {self.id} on {self.topic!r}",
                    is_done=lambda: run.aborted or (run.closed and not dq))

    def _deliver(self, run: _Run) -> None:
        dq = self._dq
        popleft = dq.popleft
        callback = self._callback
        failed = self._failed
        lag, wall, bucket, bounds = self._lag, time.time, bisect.bisect_left, BUCKETS_MS
        offset = self._offset if self._offset is not None else ClockOffset()
        counts = lag.counts if lag is not None else []
        batch = 0
        while not run.aborted:
            try:
                event = popleft()
            except IndexError:
                if batch:
                    self._last_delivery = _monotonic()
                    batch = 0
                self._slow = False  # caught up
                if self._producer_waiting:
                    self._space.set()
                if run.closed:
                    break
                self._wake.clear()
                self._sleeping = True
                if not dq and not run.closed and not run.aborted:
                    self._wake.wait()
                self._sleeping = False
                continue
            if (self._slow or self._producer_waiting) and len(dq) <= self._low:
                self._slow = False  # back at half: it catches up (a misjudged fast worker recovers soon)
                if self._producer_waiting:
                    self._space.set()
            if lag is not None:  # event lag just before the callback: server "now" minus Binance's E,
                off = offset.ms  # inlined LagHistogram.record (a method call costs a third of it)
                if off is not None:
                    t = getattr(event, "event_time", None)
                    # a REST-backfilled event's "lag" is the outage itself: the gap metrics count that
                    if t is not None and not getattr(event, "is_backfilled", False):
                        if t > MICROS_EPOCH:
                            t //= 1000
                        ms = wall() * 1000.0 + off - t
                        if ms < 0.0:
                            ms = 0.0
                        counts[bucket(bounds, ms)] += 1
                        lag.sum_ms += ms
                        lag.last_ms = ms
                        if ms > lag.max_ms:
                            lag.max_ms = ms
            try:
                callback(event)
            except Exception as exc:
                self._errors += 1
                failed(self, exc)
            else:
                self._delivered += 1
            batch += 1
            if batch >= 1024:  # keep last_delivery_age honest under a never-ending burst
                self._last_delivery = _monotonic()
                batch = 0

    def _open(self) -> None:
        self._discard_pending()  # leftovers that raced with the last stop are stale
        previous = self._run.thread if self._run is not None else None
        run = _Run()
        thread = threading.Thread(target=self._work, args=(run, previous), name=self._thread_name, daemon=True)
        run.thread = thread
        self._run = run
        self._accepting = True
        thread.start()

    def _close(self, abort: bool) -> None:
        self._accepting = False
        run = self._run
        if run is not None:
            run.closed = True
            if abort:
                run.aborted = True
                run.abort_event.set()
        self._wake.set()
        self._space.set()

    def _thread(self) -> Optional[threading.Thread]:
        run = self._run
        return None if run is None else run.thread

    def _is_closed(self) -> bool:
        run = self._run
        return run is None or run.closed

    def _after_fork(self) -> None:
        super()._after_fork()
        self._dq.clear()  # the parent's events: the parent delivers them
        self._wake = _Wakeup()
        self._space = threading.Event()
        self._sleeping = self._producer_waiting = self._slow = False
        self._run = None  # the parent's worker does not exist here

    def _discard_pending(self) -> int:
        n = 0
        with contextlib.suppress(IndexError):  # popleft, not clear(): count exactly what we drop
            while True:
                self._dq.popleft()
                n += 1
        if n:
            self._count_drop(n)
        return n


class QueueSubscription(Subscription):
    __slots__ = ("_queue", "_limit", "_queue_bounded", "_is_block")

    def __init__(self, dispatcher: SubscriberHost, topic: str, sid: int, q: queue_mod.Queue[Any],
                 buffer: int, policy: OverflowPolicy) -> None:
        super().__init__(topic, sid, dispatcher)
        self._queue = q
        self._queue_bounded = q.maxsize > 0
        self._limit = q.maxsize if q.maxsize > 0 else buffer  # the caller's maxsize, else ``buffer``
        self._is_block = policy is OverflowPolicy.BLOCK

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def offer(self, event: Any, stop: Optional[threading.Event] = None) -> float:
        if not self._accepting or self._try_put(event):
            return 0.0
        return self._offer_full(event, stop)

    def _try_put(self, event: Any, timeout: Optional[float] = None) -> bool:
        q = self._queue
        if not self._queue_bounded and q.qsize() >= self._limit:
            return False
        try:
            q.put(event, timeout is not None, timeout)
        except queue_mod.Full:
            return False
        self._delivered += 1
        self._last_delivery = _monotonic()
        return True

    def _offer_full(self, event: Any, stop: Optional[threading.Event]) -> float:
        q = self._queue
        if not self._is_block:
            while not self._try_put(event):
                try:
                    q.get_nowait()  # the caller's oldest item
                except queue_mod.Empty:
                    continue
                self._count_drop(1)
                with contextlib.suppress(ValueError):
                    q.task_done()  # keep the caller's q.join() accounting right
            return 0.0
        start = self._mark_blocked(True)
        try:
            while not self._try_put(event):
                if self._is_stopping(stop):
                    self._count_drop(1)
                    break
                if self._queue_bounded:
                    if self._try_put(event, BLOCK_SLICE):
                        break
                    continue
                with q.not_full:  # Queue.get() notifies not_full after every get
                    q.not_full.wait(BLOCK_SLICE)
        finally:
            self._mark_blocked(False)
        return _monotonic() - start
