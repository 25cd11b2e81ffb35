"""Per-subscriber bounded buffers and worker threads (knows nothing of sockets or streams).

Theory of operation: topics (stream names, ``"connection"``...) map to immutable tuples of :class:`Subscription`,
swapped under a lock on (un)subscribe, so ``publish`` (the reader's hot path) is one dict get, no lock, and hands
the *same* event to everyone.  A callback subscriber owns a ``deque`` and a daemon worker that drains everything per
wake-up and sleeps only when empty; producers append lock-free and wake it only while it sleeps (``Lib/queue.py``
and ``concurrent/futures/thread.py`` minus the per-item lock and notify).  When full, ``DROP_OLDEST`` discards the
oldest (counted) and ``BLOCK`` makes the producer wait in :data:`BLOCK_SLICE` slices that notice ``stop()``.  A
blocked reader cannot answer pings (Binance drops it after about a minute): ``blocked_since()`` tells a health
checker "paused", not "zombie".  ``queue=`` subscribers have no thread: the producer puts into the caller's queue.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import queue as queue_mod
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple, Union

from ..enums import OverflowPolicy
from ..errors import BinanceError, ValidationError

__all__ = ["BLOCK_SLICE", "Dispatcher", "Subscription"]

_log = logging.getLogger("binance_conn.dispatch")
_monotonic = time.monotonic

BLOCK_SLICE = 0.05  # seconds a BLOCK producer waits before re-checking its stop conditions

Callback = Callable[[Any], Any]
ErrorHook = Callable[[BinanceError], Any]
TopicsHook = Callable[[str, bool], Any]


class Subscription:
    """Handle of one subscriber; calling it unsubscribes (idempotent, any thread).

    Also the *inactive* handle for a ``None`` callback (no thread, calling it does nothing).  Read-only
    properties, any thread, never blocking: ``topic``, ``id``; ``active`` (True until unsubscribed); ``delivered``
    (callbacks that returned normally, or puts into the ``queue=``); ``errors`` (callbacks that raised);
    ``dropped`` (events discarded for this subscriber: overflow, the stop deadline, unsubscribe, a producer
    released by stop); ``pending`` (queued, not yet delivered; for ``queue=`` the caller's ``qsize()``);
    ``blocked_since`` (``time.monotonic()`` when a ``BLOCK`` producer began waiting); ``last_delivery_age``
    (seconds since the last delivery, sampled per batch, or None).
    """

    __slots__ = ("topic", "id", "_dispatcher", "_active", "_accepting", "_delivered", "_errors", "_dropped",
                 "_last_delivery", "_blocked_since", "_blocked_thread", "_count_lock", "__weakref__")

    def __init__(self, topic: str, sid: int = 0, dispatcher: Optional[Dispatcher] = None) -> None:
        self.topic, self.id, self._dispatcher = topic, sid, dispatcher
        self._active = dispatcher is not None
        self._accepting = False
        self._delivered = self._errors = self._dropped = 0
        self._last_delivery: Optional[float] = None
        self._blocked_since: Optional[float] = None
        self._blocked_thread: Optional[int] = None
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
    def blocked_since(self) -> Optional[float]:
        return self._blocked_since

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
                "last_delivery_age": self.last_delivery_age, "blocked_since": self._blocked_since}

    def _count_drop(self, n: int) -> None:
        with self._count_lock:  # drops are rare and may come from several threads: the only locked counter
            self._dropped += n

    def _open(self) -> None:
        self._accepting = True

    def _close(self, abort: bool) -> None:
        self._accepting = False

    def _thread(self) -> Optional[threading.Thread]:
        return None

    def _discard_pending(self) -> int:
        return 0

    def _mark_blocked(self, is_blocked: bool) -> float:
        now = _monotonic()
        self._blocked_thread, self._blocked_since = (threading.get_ident(), now) if is_blocked else (None, None)
        return now

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
    """One worker thread's controls.  closed: drain, then exit; aborted: exit now."""

    __slots__ = ("closed", "aborted", "thread")

    def __init__(self) -> None:
        self.closed = self.aborted = False
        self.thread: Optional[threading.Thread] = None


class _CallbackSubscription(Subscription):
    __slots__ = ("_callback", "_maxsize", "_is_block", "_dq", "_wake", "_sleeping", "_space",
                 "_producer_waiting", "_run", "_thread_name", "_failed")

    def __init__(self, dispatcher: Dispatcher, topic: str, sid: int, callback: Callback,
                 maxsize: int, policy: OverflowPolicy, thread_name: str) -> None:
        super().__init__(topic, sid, dispatcher)
        self._callback = callback
        self._maxsize = maxsize
        self._is_block = policy is OverflowPolicy.BLOCK
        self._dq: Deque[Any] = collections.deque()
        self._wake = _Wakeup()  # set by producers while the worker sleeps
        self._space = threading.Event()  # set by the worker while a BLOCK producer waits
        self._sleeping = self._producer_waiting = False
        self._run: Optional[_Run] = None
        self._thread_name = thread_name
        self._failed = dispatcher._callback_failed

    @property
    def pending(self) -> int:
        return len(self._dq)

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
            return self._offer_full(event, stop)
        return 0.0

    def _offer_full(self, event: Any, stop: Optional[threading.Event]) -> float:
        dq = self._dq
        if not self._is_block:
            dq.append(event)
            if len(dq) > self._maxsize:
                try:
                    dq.popleft()
                except IndexError:  # the worker emptied it meanwhile
                    pass
                else:
                    self._count_drop(1)
            if self._sleeping:
                self._wake.set()
            return 0.0
        run = self._run
        if run is not None and run.thread is threading.current_thread():
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

    def _work(self, run: _Run, previous: Optional[threading.Thread]) -> None:
        if previous is not None:
            previous.join()  # one callback at a time, even across a stop/start
        dq = self._dq
        popleft = dq.popleft
        callback = self._callback
        failed = self._failed
        batch = 0
        while not run.aborted:
            try:
                event = popleft()
            except IndexError:
                if batch:
                    self._last_delivery = _monotonic()
                    batch = 0
                if run.closed:
                    break
                self._wake.clear()
                self._sleeping = True
                if not dq and not run.closed and not run.aborted:
                    self._wake.wait()
                self._sleeping = False
                continue
            if self._producer_waiting:
                self._space.set()
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
            run.aborted = run.aborted or abort
        self._wake.set()
        self._space.set()

    def _thread(self) -> Optional[threading.Thread]:
        run = self._run
        return None if run is None else run.thread

    def _discard_pending(self) -> int:
        n = 0
        with contextlib.suppress(IndexError):  # popleft, not clear(): count exactly what we drop
            while True:
                self._dq.popleft()
                n += 1
        if n:
            self._count_drop(n)
        return n


class _QueueSubscription(Subscription):
    __slots__ = ("_queue", "_limit", "_queue_bounded", "_is_block")

    def __init__(self, dispatcher: Dispatcher, topic: str, sid: int, q: queue_mod.Queue[Any],
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


class Dispatcher:
    """Topic -> subscribers fan-out with one bounded buffer and worker per subscriber.

    Args:
        on_error: called with a :class:`BinanceError` when a callback raises (its worker thread); logged if it raises.
        on_topics_changed: ``(topic, added)`` when a topic gets its first subscriber or loses its last; called
            outside the lock, in order, maybe from another (un)subscribing thread and after ``subscribe()``
            returned; ``topics()`` is the truth.
        buffer, overflow: defaults per subscriber.  name: thread name prefix (``<name>-sub-<topic>-<id>``).
        error_topic: callbacks on this topic that raise are only logged, never passed to ``on_error``
            (which may publish to this topic: no feedback loop).

    Any method, any thread.  Starts stopped: subscribing works; no thread runs, ``publish`` ignores events.
    """

    def __init__(self, *, on_error: Optional[ErrorHook] = None, on_topics_changed: Optional[TopicsHook] = None,
                 buffer: int = 10_000, overflow: Union[OverflowPolicy, str] = OverflowPolicy.DROP_OLDEST,
                 error_topic: Optional[str] = None, name: str = "binance_conn") -> None:
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
        self.last_stop_dropped = 0  # events the last stop() dropped (deadline, or own callback)

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
            sub = _CallbackSubscription(self, topic, sid, callback, size, policy, f"{self._name}-sub-{topic}-{sid}")
        elif isinstance(queue, queue_mod.Queue):
            sub = _QueueSubscription(self, topic, sid, queue, size, policy)
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
        ``BLOCK`` buffer (only ``thread_ident``, if given) began, or None.  Any thread."""
        with self._lock:
            subs = [s for group in self._topics.values() for s in group]
        times = [s._blocked_since for s in subs if thread_ident in (None, s._blocked_thread)]
        return min((t for t in times if t is not None), default=None)

    def stats(self) -> Dict[str, List[Dict[str, Any]]]:
        """Snapshot for logs and health endpoints: topic -> [Subscription.snapshot()]; any thread."""
        with self._lock:
            items = [(t, list(subs)) for t, subs in self._topics.items()]
        return {t: [s.snapshot() for s in subs] for t, subs in items}

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
