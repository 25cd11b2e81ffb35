"""Recording raw traffic to gzip JSON Lines files: one writer thread behind a bounded queue.

The connector owns one :class:`Tap`; the market readers and the REST client hold it and
check ``tap.rec`` (one attribute load) per socket read / response.  While nothing records,
``rec`` is None and that check is all the cost.  While a :class:`Recorder` is attached the
reader hands it the frames it just read with their receive time (a tuple put on a bounded
queue, never a disk write: the stream reader never waits on the disk); the writer thread
encodes the lines, compresses them and rotates the files.

File format (one JSON object a line, gzip, UTF-8)::

    {"t": 1700000000123, "k": "meta", "version": 1, "part": 0, "library": "binance_conn/x"}
    {"t": ..., "k": "open",  "conn": 3, "shard": 0, "url": "wss://.../stream?streams=..."}
    {"t": ..., "k": "ws",    "conn": 3, "frame": "{\\"stream\\":\\"btcusdt@trade\\",\\"data\\":{...}}"}
    {"t": ..., "k": "close", "conn": 3, "reason": "connection lost"}
    {"t": ..., "k": "open",  "conn": 4, "shard": 0, "link": "wsapi", "url": "wss://.../ws-api/v3"}
    {"t": ..., "k": "wsapi", "conn": 4, "frame": "{\\"subscriptionId\\":0,\\"event\\":{...}}"}
    {"t": ..., "k": "user",  "conn": 5, "frame": "{\\"e\\":\\"ORDER_TRADE_UPDATE\\",...}"}
    {"t": ..., "k": "close", "conn": 4, "link": "wsapi", "planned": true, "reason": "replaced (make-before-break)"}
    {"t": ..., "k": "rest",  "method": "GET", "path": "/api/v3/depth", "params": {"symbol": "BTCUSDT"},
                             "status": 200, "headers": {"X-MBX-USED-WEIGHT-1M": "5"}, "body": "{...}"}

``t`` is the receive time, epoch milliseconds.  ``k`` tells the links apart: ``ws`` a market
stream, ``wsapi`` the spot WebSocket API connection (user-data events and the answers to
our requests), ``user`` a futures listenKey user stream; their ``open``/``close`` lines carry
``"link"`` (market ones none).  ``conn`` ids are unique per process across all links.
Secrets are never written: no request header at all, no
``signature``/``timestamp``/``apiKey``/``listenKey`` parameter, only the ``X-MBX-*``
response headers; a listenKey (a bearer credential for the user stream) or an API key in a
frame, a REST body or a URL is written as ``"***"`` (masked on the writer thread).
Rotation (``max_bytes`` compressed bytes on disk, ``rotate_seconds``) moves on to numbered
parts: ``rec.jsonl.gz``, ``rec.1.jsonl.gz``, ``rec.2.jsonl.gz``...; a recording to a path
that exists already continues after its last part (nothing is overwritten).
:func:`recording_files` lists the parts in order.

Failures: a full queue drops lines (counted in ``dropped``, logged once per episode);
a failing disk (``OSError``) or any unexpected exception of the writer is logged,
reported through ``on_error`` once per episode, the lines of that moment are dropped
(counted) and the writer tries a fresh part a second later.  The connector is never
affected.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import logging
import os
import queue
import re
import threading
import time
import weakref
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .._version import __version__
from ..errors import BinanceError

__all__ = ["CONN_IDS", "NO_TAP", "Recorder", "Tap", "mask_secrets", "tap_of", "part_path", "recording_files",
           "SECRET_PARAMS"]

_log = logging.getLogger("binance_conn.recording")
_monotonic = time.monotonic
_SUFFIXES = (".jsonl.gz", ".json.gz", ".gz", ".jsonl")
SECRET_PARAMS = frozenset({"signature", "timestamp", "apiKey", "recvWindow", "listenKey"})
CONN_IDS = itertools.count(1)  # connection ids in recordings, shared by every link kind (unique per process)
_FRAMES = frozenset({"ws", "wsapi", "user"})
# A listenKey / API key in JSON ("listenKey":"..."), a query (listenKey=...), a COIN-M user-stream
# path (/ws/<key>) or a combined wrapper's stream name ("stream":"<key>"): the value becomes ***.
_SECRET_JSON = re.compile(r'("(?:listenKey|apiKey)"\s*:\s*)"[^"]*"')
_SECRET_QUERY = re.compile(r"((?:listenKey|apiKey)=)[^&#\s]*")
_SECRET_PATH = re.compile(r"(/ws/)[A-Za-z0-9]{32,}(?=$|[?/#])")
_SECRET_STREAM = re.compile(r'("stream"\s*:\s*)"[A-Za-z0-9]{32,}"')
_RETRY = 1.0  # seconds before a failed writer tries a fresh part
_RETRY_MAX = 60.0  # the retry pause doubles up to this while the failure lasts
_FLUSH = 1.0  # seconds between flushes (a crash loses at most about this much)
_BATCH = 512  # queue items written per wake-up before the rotation / flush checks
_STOP = object()
_OP_TEXT = 1
_PART = re.compile(r"\.(\d+)$")


def _split(path: str) -> Tuple[str, str]:
    for suffix in _SUFFIXES:
        if path.endswith(suffix) and len(path) > len(suffix):
            return path[: -len(suffix)], suffix
    return path, ""


def part_path(path: str, n: int) -> str:
    """The file name of part ``n`` of the recording at ``path`` (part 0 is ``path`` itself)."""
    if n == 0:
        return path
    root, suffix = _split(path)
    return f"{root}.{n}{suffix}"


def recording_files(path: str) -> List[str]:
    """The existing parts of the recording at ``path``, in order (part 0 first)."""
    root, suffix = _split(path)
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(root)
    found: List[Tuple[int, str]] = []
    if os.path.exists(path):
        found.append((0, path))
    try:
        names = os.listdir(folder)
    except OSError:
        names = []
    for name in names:
        if not name.startswith(base + ".") or (suffix and not name.endswith(suffix)):
            continue
        middle = name[len(base): len(name) - len(suffix)] if suffix else name[len(base):]
        m = _PART.fullmatch(middle) if middle.startswith(".") else None
        if m is not None:
            found.append((int(m.group(1)), os.path.join(folder, name)))
    return [p for _, p in sorted(found)]


def mask_secrets(text: str) -> str:
    """``text`` (a frame, a REST body, a URL) with listenKey / API key values replaced by ``***``."""
    if "Key" in text:
        text = _SECRET_JSON.sub(r'\1"***"', text)
        text = _SECRET_QUERY.sub(r"\1***", text)
    if "/ws/" in text:
        text = _SECRET_PATH.sub(r"\1***", text)
    if '"stream"' in text:
        text = _SECRET_STREAM.sub(r'\1"***"', text)
    return text


class _Sink(io.RawIOBase):
    """The part file under the compressor. A write error is kept here (the recorder raises it after
    the batch) and never thrown into ``GzipFile``: one that failed mid-flush keeps buffered data and
    raises again when it is garbage-collected, far from here. After an error, writes are discarded."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self.raw = raw
        self.error: Optional[BaseException] = None
        self.written = 0  # bytes the file took

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        n = len(b)
        if self.error is None:
            try:
                self.raw.write(b)
                self.written += n
            except Exception as exc:  # noqa: BLE001 - kept, raised by the recorder
                self.error = exc
        return n

    def flush(self) -> None:
        if self.error is None and not self.closed:
            try:
                self.raw.flush()
            except Exception as exc:  # noqa: BLE001
                self.error = exc

    def tell(self) -> int:
        return self.raw.tell()

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            super().close()


def _open_file(path: str) -> IO[bytes]:
    return open(path, "xb")  # never overwrite: a part that exists belongs to another recording


class Recorder:
    """One recording: a bounded queue, one writer thread, rotating gzip JSON Lines files.

    Returned by :meth:`Connector.record() <binance_conn.Connector.record>`.  ``stop()`` (any
    thread) flushes and closes; the counters may be read from any thread.

    Args:
        path: the first file (``.jsonl.gz`` recommended); parts get numbered names.
        max_bytes: start a new part after about this many compressed bytes (None: no size limit).
        rotate_seconds: start a new part after this long (None: no time limit).
        queue_size: items (socket reads, responses) waiting for the writer; more are dropped.
        on_error: reports a failing disk or a writer crash (the connector's ``on_error``).
        opener: opens a part for binary writing (tests inject a failing disk here).
        retry_delay: seconds a failed writer waits before it tries a fresh part.
    """

    def __init__(self, path: str, *, max_bytes: Optional[int] = None, rotate_seconds: Optional[float] = None,
                 queue_size: int = 100_000, on_error: Optional[Callable[[BinanceError], None]] = None,
                 opener: Callable[[str], IO[bytes]] = _open_file, exchange: str = "",
                 retry_delay: float = _RETRY) -> None:
        self.path = str(path)
        self.max_bytes = max_bytes
        self.rotate_seconds = rotate_seconds
        self._q: "queue.Queue[Any]" = queue.Queue(maxsize=max(1, int(queue_size)))
        self._on_error = on_error
        self._opener = opener
        self._retry_delay = float(retry_delay)
        self._exchange = exchange
        self._clock = time.time
        self._thread = threading.Thread(target=self._run, name="binance_conn-recorder", daemon=True)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.files: List[str] = []  # parts opened so far, in order
        self.lines = 0  # lines written
        self.dropped = 0  # lines lost: queue full (recorder too slow) or a write failure
        self.failures = 0  # write failures (disk full...), each logged; the first of an episode reported
        self.last_error: Optional[str] = None
        self._raw: Optional[_Sink] = None
        self._gz: Optional[gzip.GzipFile] = None
        self._part = self._first_part()
        self._part_started = 0.0
        self._flushed_at = 0.0
        self._retry_at = 0.0
        self._failing = False
        self._backoff = self._retry_delay  # doubles per failed retry of an episode (at most _RETRY_MAX)
        self._part_name: Optional[str] = None  # the part being written, once opened
        self._dirty = False
        self._unsynced = 0  # input bytes since the compressor was last synced (size rotation)
        self._dropped_seen = 0

    def _first_part(self) -> int:
        existing = recording_files(self.path)
        if not existing:
            return 0
        last = existing[-1]
        m = _PART.search(_split(last)[0])
        return (int(m.group(1)) if m is not None and last != self.path else 0) + 1

    # ------------------------------------------------------------------ control (any thread)
    def start(self) -> "Recorder":
        self._thread.start()
        _log.info("recording to %s", self.path, extra={"path": self.path})
        return self

    @property
    def is_active(self) -> bool:
        """True from ``start()`` until ``stop()`` (a failing disk keeps it active: it retries)."""
        return self._thread.is_alive() and not self._stopping.is_set()

    def stop(self, timeout: float = 5.0) -> bool:
        """Write what is queued (within ``timeout``), flush, close the file, join the writer.

        Any thread; idempotent; True when the writer ended in time."""
        if not self._thread.is_alive():
            return True
        self._stopping.set()
        try:
            self._q.put(_STOP, timeout=max(0.0, timeout))
        except queue.Full:
            pass  # the writer sees _stopping at its next wake-up
        if self._thread is not threading.current_thread():
            self._thread.join(max(0.0, timeout))
        return not self._thread.is_alive()

    def stats(self) -> Dict[str, Any]:
        return {"path": self.path, "files": list(self.files), "lines": self.lines, "dropped": self.dropped,
                "failures": self.failures, "last_error": self.last_error, "active": self.is_active}

    def __repr__(self) -> str:
        return f"Recorder({self.path!r}, lines={self.lines}, dropped={self.dropped}, active={self.is_active})"

    # ------------------------------------------------------------------ producers (reader / caller threads)
    def _put(self, item: Tuple[Any, ...], count: int) -> None:
        try:
            self._q.put_nowait(item)
        except queue.Full:
            self.dropped += count  # logged by the writer (never here, on the reader's hot path)

    def ws_frames(self, conn: int, frames: Sequence[Tuple[int, bytes]]) -> None:
        """Frames one socket read returned (the reader thread, right after the read)."""
        self._put(("ws", self._clock(), conn, frames), len(frames))

    def link_frames(self, link: str, conn: int, frames: Sequence[Tuple[int, bytes]]) -> None:
        """Frames one read of a user-data link returned: ``link`` ``"wsapi"`` or ``"user"``."""
        self._put((link, self._clock(), conn, frames), len(frames))

    def ws_open(self, conn: int, shard: int, url: str, link: str = "") -> None:
        self._put(("open", self._clock(), conn, shard, url, link), 1)

    def ws_close(self, conn: int, reason: str, link: str = "", planned: bool = False) -> None:
        """A connection ended; ``planned``: the client closed it on purpose while a successor carries on
        (a make-before-break rollover of a user-data link: a replay does not cut there)."""
        self._put(("close", self._clock(), conn, reason, link, planned), 1)

    def rest(self, method: str, path: str, pairs: Sequence[Tuple[str, str]], status: int,
             headers: Mapping[str, str], body: bytes) -> None:
        """A REST response (the calling thread): parameters without secrets, X-MBX-* headers only."""
        self._put(("rest", self._clock(), method, path, pairs, status, headers, body), 1)

    # ------------------------------------------------------------------ writer thread
    def _run(self) -> None:
        q = self._q
        try:
            done = False
            while not done:
                try:
                    item = q.get(timeout=0.2)
                except queue.Empty:
                    if self._stopping.is_set():
                        break
                    self._write_batch([])  # quiet: flush what is written (a crash then loses nothing)
                    continue
                items: List[Tuple[Any, ...]] = []
                if item is _STOP:
                    done = True
                else:
                    items.append(item)
                while not done and len(items) < _BATCH:
                    try:
                        more = q.get_nowait()
                    except queue.Empty:
                        break
                    if more is _STOP:
                        done = True
                    else:
                        items.append(more)
                self._write_batch(items)
        finally:
            if self._gz is not None:
                try:
                    self._close_quietly(raise_errors=True)
                except Exception as exc:  # noqa: BLE001 - the last flush failed (disk full)
                    self._failed(exc, [], _monotonic())
            _log.info("recording stopped: %d lines in %d file(s), %d dropped", self.lines, len(self.files),
                      self.dropped, extra={"path": self.path, "lines": self.lines, "dropped": self.dropped})

    def _write_batch(self, items: List[Tuple[Any, ...]]) -> None:
        now = _monotonic()
        try:
            if not items:
                if self._dirty and self._gz is not None and now - self._flushed_at >= _FLUSH:
                    self._gz.flush()
                    self._flushed_at = now
                    self._dirty = False
                    self._check_sink()
                return
            if self._failing and now < self._retry_at:
                self.dropped += sum(self._count(i) for i in items)
                return
            if self._gz is None or self._rotate_due(now):
                self._next_part(now)
            limit = self.max_bytes
            for item in items:
                out = self._encode(item)
                if not out:
                    continue
                data = b"".join(out)
                gz = self._gz
                assert gz is not None
                gz.write(data)
                self.lines += len(out)
                self._dirty = True
                if limit is not None:
                    # The compressor buffers: sync it every half limit of input to see the size on disk.
                    self._unsynced += len(data)
                    if self._unsynced >= limit // 2:
                        gz.flush()
                        self._unsynced = 0
                        if self._rotate_due(now):
                            self._next_part(now)
            gz = self._gz
            assert gz is not None
            if now - self._flushed_at >= _FLUSH:
                gz.flush()
                self._flushed_at = now
                self._dirty = False
            self._check_sink()
            if self._failing:
                self._failing = False
                self._backoff = self._retry_delay
                _log.info("recording resumed: writing %s", self.files[-1], extra={"path": self.files[-1]})
            dropped = self.dropped
            if dropped != self._dropped_seen:
                _log.warning("recording dropped %d line(s) so far: the writer falls behind (queue full)",
                             dropped, extra={"path": self.path, "dropped": dropped})
                self._dropped_seen = dropped
        except Exception as exc:  # noqa: BLE001 - disk full, a bug: never take the connector down
            self._failed(exc, items, now)

    def _failed(self, exc: Exception, items: List[Tuple[Any, ...]], now: float) -> None:
        self.failures += 1
        self.dropped += sum(self._count(i) for i in items)
        self._dropped_seen = self.dropped
        text = f"{type(exc).__name__}: {exc}"
        repeated = self._failing and text == self.last_error
        self.last_error = text
        took = self._raw.written if self._raw is not None else 0
        self._close_quietly()
        self._drop_empty_part(took)
        first = not self._failing
        delay = self._backoff
        self._retry_at = now + delay
        self._backoff = min(max(_RETRY_MAX, self._retry_delay), delay * 2.0)
        self._failing = True
        # one ERROR per episode (and per new kind of failure), not one per retry
        _log.log(logging.DEBUG if repeated else logging.ERROR,
                 "recording to %s failed (%s); lines are dropped, retrying in %g s", self.path, text, delay,
                 exc_info=not isinstance(exc, OSError) and not repeated, extra={"path": self.path, "error": text})
        if first and self._on_error is not None:
            err = BinanceError(f"recording to {self.path} failed: {text}", code="recording_failed",
                               exchange=self._exchange, details={"path": self.path, "exception": type(exc).__name__})
            err.__cause__ = exc
            try:
                self._on_error(err)
            except Exception:  # pragma: no cover - reporting must not kill the writer
                _log.exception("reporting a recording failure failed")

    def _drop_empty_part(self, took: int) -> None:
        """A part the disk took nothing of is removed (a failing disk must not leave a new empty
        file per retry); the next retry reuses its name."""
        name, self._part_name = self._part_name, None
        if name is None or took:
            return
        try:
            os.remove(name)
        except OSError:
            return
        if self.files and self.files[-1] == name:
            self.files.pop()

    @staticmethod
    def _count(item: Tuple[Any, ...]) -> int:
        return len(item[3]) if item[0] in _FRAMES else 1

    def _rotate_due(self, now: float) -> bool:
        if self.rotate_seconds is not None and now - self._part_started >= self.rotate_seconds:
            return True
        raw = self._raw
        return self.max_bytes is not None and raw is not None and raw.tell() >= self.max_bytes

    def _next_part(self, now: float) -> None:
        if self._gz is not None:
            self._close_quietly(raise_errors=True)
            self._part += 1
        name = part_path(self.path, self._part)
        while os.path.exists(name):  # a part of an earlier recording: keep it, move on
            self._part += 1
            name = part_path(self.path, self._part)
        self._part_name = None
        raw = _Sink(self._opener(name))
        self._part_name = name
        self._raw = raw
        self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
        self._part_started = now
        self._flushed_at = now
        self._unsynced = 0
        self.files.append(name)
        meta = {"t": int(self._clock() * 1000), "k": "meta", "version": 1, "part": self._part,
                "library": f"binance_conn/{__version__}"}
        self._gz.write(_line(meta))
        self.lines += 1

    def _check_sink(self) -> None:
        """Raise the part file's write error, if any (kept by the sink, see :class:`_Sink`)."""
        raw = self._raw
        if raw is not None and raw.error is not None:
            raise raw.error

    def _close_quietly(self, raise_errors: bool = False) -> None:
        gz, raw = self._gz, self._raw
        self._gz = self._raw = None
        try:
            if gz is not None:
                gz.close()  # never raises for the disk: the sink keeps the error
            if raw is not None and raw.error is not None:
                raise raw.error
        except Exception:
            if raise_errors:
                raise
        finally:
            try:
                if raw is not None:
                    raw.close()
            except Exception:
                if raise_errors:
                    raise

    def _encode(self, item: Tuple[Any, ...]) -> List[bytes]:
        kind = item[0]
        t = int(item[1] * 1000)
        if kind == "ws":
            conn = item[2]
            return [_line({"t": t, "k": "ws", "conn": conn, "frame": payload.decode("utf-8", "replace")})
                    for opcode, payload in item[3] if opcode == _OP_TEXT]
        if kind in _FRAMES:  # a user-data link: "wsapi" | "user" (masked: logon answers, listenKeys)
            conn = item[2]
            return [_line({"t": t, "k": kind, "conn": conn, "frame": mask_secrets(payload.decode("utf-8", "replace"))})
                    for opcode, payload in item[3] if opcode == _OP_TEXT]
        if kind == "rest":
            _, _, method, path, pairs, status, headers, body = item
            params = {k: v for k, v in pairs if k not in SECRET_PARAMS}
            kept = {k: v for k, v in headers.items() if k.lower().startswith("x-mbx-")}
            return [_line({"t": t, "k": "rest", "method": method, "path": path, "params": params,
                           "status": status, "headers": kept,
                           "body": mask_secrets(body.decode("utf-8", "replace"))})]
        if kind == "open":
            line = {"t": t, "k": "open", "conn": item[2], "shard": item[3], "url": mask_secrets(item[4])}
            link = item[5]
        else:
            line = {"t": t, "k": "close", "conn": item[2], "reason": item[3]}
            link = item[4]
            if item[5]:
                line["planned"] = True
        if link:
            line["link"] = link
        return [_line(line)]


def _line(obj: Dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


class Tap:
    """The connector's recording switch, shared by its market readers and REST client.

    ``rec`` is None while nothing records: the per-read cost is that one attribute check."""

    __slots__ = ("rec", "__weakref__")

    def __init__(self) -> None:
        self.rec: Optional[Recorder] = None
        _TAPS.add(self)

    def rest(self, method: str, path: str, pairs: Sequence[Tuple[str, str]], response: Any) -> None:
        """A REST response (the client's one hook; the calling thread)."""
        rec = self.rec
        if rec is not None:
            rec.rest(method, path, pairs, response.status_code, response.headers, response.content)


_TAPS: "weakref.WeakSet[Tap]" = weakref.WeakSet()


def _detach_all_in_child() -> None:
    """After ``os.fork()``: the parent's writer thread does not exist in the child; its recording
    is the parent's (a child records only when asked to, to a file of its own)."""
    for tap in list(_TAPS):
        tap.rec = None


NO_TAP = Tap()
"""The tap of a component no connector records (a standalone RestClient); never attached."""


def tap_of(rest: Callable[[], Any]) -> Tap:
    """The recording switch of the REST client ``rest()`` returns (the connector's ``_tap``: the
    user-data links reach it there, once per connection), or :data:`NO_TAP`."""
    try:
        tap = getattr(rest(), "tap", None)
    except Exception:  # noqa: BLE001 - no client (stopping): nothing records
        return NO_TAP
    return tap if isinstance(tap, Tap) else NO_TAP

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_detach_all_in_child)
