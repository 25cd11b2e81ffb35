"""The feed's side of a hub: one thread reading the hub's Redis streams (``XREAD``) in order.

Theory of operation.  The reader keeps, per topic, the stream id it has read up to and hands each
entry, decoded, to a ``deliver(topic, entry)`` hook (the feed's dispatcher: one bounded queue and
worker per subscriber; a full ``BLOCK`` subscriber makes the reader wait while Redis holds the
backlog).  A topic starts at the position the feed gives it (``start_of(topic)``: a saved or
remembered one), else at the stream's newest entry.  Each entry carries ``n = <run>.<number>``
(``publisher.py``): a jump within one hub run means entries were lost between the hub and us (a
``maxlen`` trim past a slow or absent consumer, or a Redis restart) and is reported through
``on_lost(topic, count)``.

Redis unreachable: ``on_link(False, reason)`` once per outage, a WARNING once, reconnect with capped
backoff cut short by ``stop``; then ``on_link(True, ...)`` and reading goes on from the same ids
(nothing read twice, nothing skipped that Redis still has).  Every ``interval`` seconds ``tick(client)``
runs on this thread (checkpoints, the hub's state).  An unexpected exception in the thread's own
code is logged, reported through ``on_crash`` and the loop goes on after a short pause.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from .._core import codec
from .client import close_quietly, make_client, safe_url
from .keys import HubKeys
from .publisher import FIELD, NUMBER, is_connection_error

__all__ = ["Entry", "StreamReader"]

_log = logging.getLogger("binance_conn.feed")
_FIELD = FIELD.encode()
_NUMBER = NUMBER.encode()
_monotonic = time.monotonic


class Entry:
    """One stream entry on its way to a subscriber: the decoded event and where it came from."""

    __slots__ = ("sid", "n", "event")

    def __init__(self, sid: str, n: str, event: Any) -> None:
        self.sid = sid
        self.n = n
        self.event = event


class StreamReader:
    """Reads the wanted topics' streams in order and hands entries to ``deliver`` (module doc)."""

    BLOCK_MS = 200
    COUNT = 500
    BACKOFF_BASE = 0.05
    BACKOFF_MAX = 2.0

    def __init__(self, url: str, keys: HubKeys, *, name: str,
                 deliver: Callable[[str, Entry], Any],
                 start_of: Callable[[str], Optional[Tuple[str, str]]],
                 positioned: Callable[[str, str, str], Any],
                 on_link: Callable[[bool, str], Any],
                 on_lost: Callable[[str, int], Any],
                 on_bad: Callable[[str, str, Exception], Any],
                 on_crash: Callable[[BaseException], Any],
                 tick: Callable[[Any], Any], interval: float,
                 stop: threading.Event) -> None:
        self._url = url
        self._keys = keys
        self._name = name
        self._deliver = deliver
        self._start_of = start_of
        self._positioned = positioned
        self._on_link = on_link
        self._on_lost = on_lost
        self._on_bad = on_bad
        self._on_crash = on_crash
        self._tick = tick
        self._interval = interval
        self._stop = stop
        self._lock = threading.Lock()
        self._wanted: Dict[str, bool] = {}  # topic -> still to be positioned
        self._pos: Dict[str, str] = {}  # stream key -> last id read
        self._last_n: Dict[str, Tuple[str, int]] = {}  # topic -> (run, number) of the last entry read
        self._topic_of: Dict[str, str] = {}
        self._client: Any = None
        self._thread: Optional[threading.Thread] = None
        self.link_up = False
        self.outages = 0
        self.crashes = 0

    # ------------------------------------------------------------------ any thread
    def want(self, topic: str) -> None:
        with self._lock:
            self._wanted.setdefault(topic, True)

    def unwant(self, topic: str) -> None:
        with self._lock:
            self._wanted.pop(topic, None)
            key = self._keys.stream(topic)
            self._pos.pop(key, None)
            self._last_n.pop(topic, None)

    def start(self) -> None:
        with self._lock:
            for topic in self._wanted:
                self._wanted[topic] = True  # positioned again (from the feed's marks)
            self._pos.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self._name}-reader", daemon=True)
        self._thread.start()

    def join(self, deadline: float) -> bool:
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(max(0.0, deadline - _monotonic()))
        self._close()
        return t is None or not t.is_alive()

    def threads(self) -> List[threading.Thread]:
        return [t for t in (self._thread,) if t is not None]

    def after_fork_in_child(self, stop: threading.Event) -> None:
        """In a forked child (one thread): no reader here, fresh lock and stop event; the parent's Redis
        connection is left to the parent (dropped unused; redis-py closes only this process's copy)."""
        self._lock = threading.Lock()
        self._stop = stop
        self._client = None
        self._thread = None
        self.link_up = False

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        failures = 0
        next_tick = 0.0
        while not self._stop.is_set():
            try:
                client = self._connect()
                now = _monotonic()
                if now >= next_tick:
                    next_tick = now + self._interval
                    self._tick(client)
                self._position(client)
                self._read(client)
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the loop survives anything
                self._close()
                if self._stop.is_set():
                    return
                failures += 1
                if is_connection_error(exc):
                    self._outage(exc)
                else:
                    self.crashes += 1
                    _log.error("feed reader failed (%s): going on", type(exc).__name__, exc_info=exc)
                    self._on_crash(exc)
                self._stop.wait(min(self.BACKOFF_MAX, self.BACKOFF_BASE * 2 ** min(failures, 10)))

    def _connect(self) -> Any:
        client = self._client
        if client is None:
            client = make_client(self._url, timeout=max(2.0, self.BLOCK_MS / 1000 * 5), name=self._name)
            client.ping()
            self._client = client
            if not self.link_up:
                was_out = self.outages > 0
                self.link_up = True
                if was_out:
                    _log.warning("Redis reachable again: feed reading", extra={"redis": safe_url(self._url)})
                self._on_link(True, "redis reachable")
        return client

    def _outage(self, exc: BaseException) -> None:
        if self.link_up or not self.outages:
            self.outages += 1
            _log.warning("Redis unreachable (%s): feed reconnecting", type(exc).__name__,
                         extra={"redis": safe_url(self._url)})
            self._on_link(False, f"redis unreachable: {type(exc).__name__}")
        self.link_up = False

    def _close(self) -> None:
        client, self._client = self._client, None
        close_quietly(client)

    def _position(self, client: Any) -> None:
        """Give each newly wanted topic its start id: the feed's (saved / remembered), else the newest."""
        with self._lock:
            todo = [t for t, fresh in self._wanted.items() if fresh]
        for topic in todo:
            key = self._keys.stream(topic)
            start = self._start_of(topic)
            if start is None:
                top = client.xrevrange(key, "+", "-", count=1)
                sid = _text(top[0][0]) if top else "0-0"
                n = _text(top[0][1].get(_NUMBER, b"")) if top else ""
            else:
                sid, n = start
            with self._lock:
                if topic not in self._wanted:
                    continue
                self._wanted[topic] = False
                self._pos[key] = sid
                self._topic_of[key] = topic
                run, _, num = n.partition(".")
                if num.isdigit():
                    self._last_n[topic] = (run, int(num))
            self._positioned(topic, sid, n)

    def _read(self, client: Any) -> None:
        with self._lock:
            streams = dict(self._pos)
        if not streams:
            self._stop.wait(self.BLOCK_MS / 1000)
            return
        reply = client.xread(streams, count=self.COUNT, block=self.BLOCK_MS)
        for raw_key, entries in reply or ():
            key = _text(raw_key)
            topic = self._topic_of.get(key)
            if topic is None:
                continue
            last = None
            try:
                for raw_id, fields in entries:
                    sid = _text(raw_id)
                    n = _text(fields.get(_NUMBER, b""))
                    self._check_number(topic, n)
                    try:
                        event = codec.loads(fields.get(_FIELD, b""))
                    except codec.CodecError as exc:
                        self._on_bad(topic, sid, exc)
                    else:
                        self._deliver(topic, Entry(sid, n, event))
                    last = sid
                    if self._stop.is_set():
                        return
            finally:
                if last is not None:
                    with self._lock:
                        if key in self._pos:
                            self._pos[key] = last

    def _check_number(self, topic: str, n: str) -> None:
        run, _, num = n.partition(".")
        if not num.isdigit():
            return
        number = int(num)
        last = self._last_n.get(topic)
        self._last_n[topic] = (run, number)
        if last is not None and last[0] == run and number > last[1] + 1:
            self._on_lost(topic, number - last[1] - 1)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
