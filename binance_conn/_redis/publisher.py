"""Publishing encoded events into Redis Streams from one thread, through Redis outages.

Theory of operation.  :meth:`StreamPublisher.publish` (any thread; the hub calls it from the
connector's callback workers) gives each entry its stream id at once -- ``<ms>-<seq>``, strictly
increasing per stream -- and appends it to one bounded local buffer: a lock held for an append,
never a network call.  One publisher thread takes batches off the front and sends them in one
pipelined round trip (``XADD key MAXLEN ~ n <id> e <json>`` each).  Because the ids are ours, a
batch sent again after a connection broke mid-way cannot duplicate anything: Redis refuses an id
that is not above the stream's top ("equal or smaller"), which means "already there" and is
skipped.  So every entry lands exactly once, in order, per stream.

Redis unreachable: the batch stays at the front of the buffer, one WARNING per outage is logged
(the URL without its password), the thread reconnects with capped exponential backoff cut short
by ``stop()``, and republishes what it buffered.  The buffer is bounded (``buffer`` entries):
past that the oldest are dropped, counted and logged once per outage (consumers see a hole in
the ids).  An unexpected exception in the thread's own code is logged with its traceback,
reported through ``on_error`` and the loop goes on after a short pause.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from ..errors import BinanceError, InternalError
from .client import close_quietly, make_client, safe_url

__all__ = ["FIELD", "NUMBER", "StreamPublisher", "is_connection_error"]

_log = logging.getLogger("binance_conn.hub")
_monotonic = time.monotonic

Entry = Tuple[int, str, int, int, bytes, int]  # (buffer sequence, stream key, id ms, id seq, payload, number)
FIELD = "e"
"""The event as JSON (``_core/codec.py``)."""
NUMBER = "n"
"""``<run>.<n>``: the entry's number in its stream, consecutive per hub run: a consumer that sees
``n`` jump (same run) knows entries were lost between hub and consumer (trimmed, or Redis lost them)."""


class StreamPublisher:
    """One bounded buffer and one thread that XADDs its entries in order (module doc).

    Args:
        url: the Redis URL (its password never appears in logs or errors).
        maxlen: each stream is trimmed to about this many entries (``MAXLEN ~``).
        buffer: entries kept locally while Redis is unreachable; the oldest go beyond it.
        on_error: ``(BinanceError)`` for failures of the thread's own code; any thread.
    """

    BATCH = 500
    BACKOFF_BASE = 0.05
    BACKOFF_MAX = 2.0
    TIMEOUT = 1.0

    def __init__(self, url: str, *, maxlen: int, buffer: int = 100_000, name: str = "binance_conn-hub",
                 on_error: Optional[Callable[[BinanceError], Any]] = None,
                 client_factory: Callable[..., Any] = make_client) -> None:
        self._url = url
        self._maxlen = maxlen
        self._cap = buffer
        self._name = name
        self._on_error = on_error
        self._client_factory = client_factory
        self._cond = threading.Condition(threading.Lock())
        self._buf: Deque[Entry] = collections.deque()
        self._seq = 0
        self._last: Dict[str, Tuple[int, int]] = {}
        self._numbers: Dict[str, int] = {}
        self.run = os.urandom(4).hex()
        self._stop = threading.Event()
        self._orphans: List[threading.Thread] = []  # runs whose stop() timed out, still ending
        self._thread: Optional[threading.Thread] = None
        self._client: Any = None
        self.published = self.dropped = self.duplicates = self.outages = self.crashes = 0
        self.connected = False
        self._dropped_logged = False
        self._fenced = False  # another hub took the prefix: nothing more is queued or sent until start()
        self.last_error: Optional[str] = None

    # ------------------------------------------------------------------ producers (any thread)
    def publish(self, key: str, payload: bytes) -> None:
        """Queue ``payload`` for stream ``key``; never blocks on Redis. Any thread."""
        if self._fenced:
            return
        now = int(time.time() * 1000)
        with self._cond:
            last = self._last.get(key)
            sid = (now, 0) if last is None or now > last[0] else (last[0], last[1] + 1)
            self._last[key] = sid
            n = self._numbers[key] = self._numbers.get(key, 0) + 1
            self._seq += 1  # ids and numbers are formatted on the publisher thread, not here
            buf = self._buf
            if len(buf) >= self._cap:
                buf.popleft()
                self.dropped += 1
                if not self._dropped_logged:
                    self._dropped_logged = True
                    _log.warning("hub buffer full (%d entries, Redis unreachable): dropping the oldest events",
                                 self._cap, extra={"redis": safe_url(self._url)})
            buf.append((self._seq, key, sid[0], sid[1], payload, n))
            if len(buf) == 1:
                self._cond.notify()

    def seed(self, key: str, top: Tuple[int, int]) -> None:
        """Never give ``key`` an id at or below ``top`` (the stream's newest id from an earlier run)."""
        with self._cond:
            last = self._last.get(key)
            if last is None or top > last:
                self._last[key] = top

    @property
    def pending(self) -> int:
        return len(self._buf)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start publishing. After a ``stop()`` that timed out (its thread still stuck in a Redis
        call), the new run gets its own stop event and thread: the old one ends on its own (ids are
        fixed when queued, so anything both send lands once)."""
        old = self._thread
        if old is not None and old.is_alive() and not self._stop.is_set():
            return  # running
        if old is not None and old.is_alive():
            self._orphans.append(old)  # joined by the next stop()
        self._fenced = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._stop,), name=f"{self._name}-publisher",
                                        daemon=True)
        self._thread.start()

    def stop(self, deadline: float) -> bool:
        """Publish what is buffered until ``deadline`` (monotonic; only while Redis answers), then end
        the thread and join it. True when it ended in time. Never raises."""
        with self._cond:
            self._stop.set()
            self._cond.notify_all()
        thread = self._thread
        for t in [*self._orphans, thread]:
            if t is not None and t is not threading.current_thread():
                t.join(max(0.0, deadline - _monotonic()))
        self._orphans = [t for t in self._orphans if t.is_alive()]
        self._close_client()
        ok = (thread is None or not thread.is_alive()) and not self._orphans
        if self._buf:
            _log.warning("hub stopped with %d events not published", len(self._buf),
                         extra={"redis": safe_url(self._url)})
        return ok

    def fence(self) -> None:
        """Another hub publishes under the prefix: drop what is buffered, queue nothing more, end the
        thread (a batch already on the wire may still land). ``start()`` lifts it. Any thread."""
        with self._cond:
            self._fenced = True
            dropped = len(self._buf)
            self._buf.clear()
            self._stop.set()
            self._cond.notify_all()
        if dropped:
            _log.warning("hub dropped %d buffered events: another hub publishes under its prefix", dropped,
                         extra={"redis": safe_url(self._url)})

    def threads(self) -> List[threading.Thread]:
        return [t for t in (*self._orphans, self._thread) if t is not None]

    def after_fork_in_child(self) -> None:
        """In a forked child (one thread): no publisher thread, fresh lock and stop event, the parent's
        Redis connection dropped unused (redis-py closes only this process's copy). The buffered entries
        stay (same stream ids: those the parent publishes are skipped here as duplicates), under a new
        ``run`` (the child's numbers are its own)."""
        self._cond = threading.Condition(threading.Lock())
        self._stop = threading.Event()
        self._thread = None
        self._client = None
        self.connected = False
        self.run = os.urandom(4).hex()

    # ------------------------------------------------------------------ the thread
    def _run(self, stop: threading.Event) -> None:
        failures = 0
        while True:
            with self._cond:
                while not self._buf and not stop.is_set():
                    self._cond.wait(0.5)
                if not self._buf:
                    return  # stopping and nothing left
                batch = [self._buf[i] for i in range(min(self.BATCH, len(self._buf)))]
            try:
                self._send(batch)
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the loop survives anything
                if stop.is_set():
                    return  # stopping with Redis unreachable: what is left stays unpublished
                failures += 1
                if not is_connection_error(exc):
                    self._crashed(exc)
                else:
                    self._outage(exc)
                delay = min(self.BACKOFF_MAX, self.BACKOFF_BASE * 2 ** min(failures, 10))
                stop.wait(delay)
                continue
            with self._cond:
                last_seq = batch[-1][0]
                while self._buf and self._buf[0][0] <= last_seq:
                    self._buf.popleft()

    def _send(self, batch: List[Entry]) -> None:
        client = self._client
        if client is None:
            client = self._client = self._client_factory(self._url, timeout=self.TIMEOUT, name=self._name)
        pipe = client.pipeline(transaction=False)
        maxlen = self._maxlen
        run = self.run
        for _, key, ms, seq, payload, n in batch:
            pipe.xadd(key, {FIELD: payload, NUMBER: f"{run}.{n}"}, id=f"{ms}-{seq}", maxlen=maxlen, approximate=True)
        results = pipe.execute(raise_on_error=False)
        for (_, key, ms, seq, _, _), result in zip(batch, results):
            if isinstance(result, Exception):
                if is_connection_error(result):
                    raise result
                if "equal or smaller" in str(result):
                    self.duplicates += 1  # sent before a connection broke: already there
                    continue
                self.dropped += 1
                _log.error("Redis refused an event for %s (%s): dropped", key, result,
                           extra={"stream": key, "id": f"{ms}-{seq}"})
                continue
            self.published += 1
        if not self.connected:
            self.connected = True
            if self.outages:
                _log.warning("Redis reachable again: hub publishing (%d events buffered)", len(self._buf),
                             extra={"redis": safe_url(self._url)})
            self._dropped_logged = False

    def _outage(self, exc: BaseException) -> None:
        self._close_client()
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.connected or not self.outages:
            self.outages += 1
            _log.warning("Redis unreachable (%s): hub buffering events and reconnecting", type(exc).__name__,
                         extra={"redis": safe_url(self._url), "buffered": len(self._buf)})
        self.connected = False

    def _crashed(self, exc: BaseException) -> None:
        self.crashes += 1
        self._close_client()
        _log.error("hub publisher failed (%s): going on", type(exc).__name__, exc_info=exc,
                   extra={"redis": safe_url(self._url)})
        hook = self._on_error
        if hook is not None:
            err = InternalError(f"hub publisher: {type(exc).__name__}", details={"component": "hub publisher"})
            err.__cause__ = exc
            try:
                hook(err)
            except Exception:  # noqa: BLE001
                _log.exception("on_error hook of the hub raised")

    def _close_client(self) -> None:
        client, self._client = self._client, None
        close_quietly(client)


# Server states that pass (out of memory, a replica after a failover, loading, a busy script):
# like a lost connection, the hub keeps its buffer and retries with backoff instead of dropping.
_TRANSIENT = ("OOM", "READONLY", "LOADING", "MASTERDOWN", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS")
_TRANSIENT_CLASSES = ("ConnectionError", "TimeoutError", "BusyLoadingError", "OutOfMemoryError", "ReadOnlyError",
                      "TryAgainError", "ClusterDownError", "MasterDownError")


def is_connection_error(exc: BaseException) -> bool:
    """A lost or refused connection (redis-py ConnectionError / TimeoutError, or an OSError), or a
    server state that passes (``OOM``, ``READONLY`` ...): retried, never dropped."""
    if isinstance(exc, OSError):
        return True
    if any(c.__name__ in _TRANSIENT_CLASSES for c in type(exc).__mro__ if c.__module__.startswith("redis")):
        return True
    return type(exc).__module__.startswith("redis") and str(exc).startswith(_TRANSIENT)
