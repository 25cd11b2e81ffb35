"""Market-stream connections: one reader thread per WebSocket, grouped in shard links.

A :class:`ShardLink` holds the streams of one shard (at most 1024, Binance's
per-connection cap) and its live connection, plus, during a make-before-break
rollover, the replacement.  A :class:`StreamConn` owns one socket and its reader
thread: it connects (tenacity retries with the configured backoff, forever,
cut short by ``stop()``), then reads.  The reader only moves data: frames go
through the connection's :class:`~binance_conn._core.protocol.StreamProtocol`
under the link lock (taken once per socket read, never per message, never while
user code runs) and the resulting events go to the dispatcher outside the lock.
Pings, SUBSCRIBE/UNSUBSCRIBE frames, zombie verdicts and rollovers are decided
by the supervisor thread (``_supervisor.py``) from the same protocol object.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from .._core.dedupe import Deduplicator
from .._core.protocol import StreamProtocol
from .._io.reconnect import Stopped, connect_forever
from .._io.transport import OP_PING, OP_PONG, OP_TEXT, TransportClosed, WsTransport
from ..errors import ConnectionError

if TYPE_CHECKING:  # pragma: no cover
    from .session import MarketSession

__all__ = ["ShardLink", "StreamConn"]

_log = logging.getLogger("binance_conn.stream")
_monotonic = time.monotonic
_URL_BUDGET = 3500  # characters of stream names put in the connect URL; the rest via SUBSCRIBE
_DEDUPE_GRACE = 3.0
"""Seconds the duplicate filter stays on after the old connection of a rollover ended: the
new connection may still carry (late) events the old one already delivered."""



class StreamConn:
    """One WebSocket connection of a shard and its reader thread."""

    def __init__(self, link: "ShardLink", *, replacement: bool = False) -> None:
        self.link = link
        self.session = link.session
        self.replacement = replacement
        self.retired = False
        self.transport: Optional[WsTransport] = None
        self.proto: Optional[StreamProtocol] = None
        self.opened_at: Optional[float] = None
        self.ready_at: Optional[float] = None  # replacement: when first seen subscribed (supervisor)
        self.last_ping_at = float("-inf")  # when the supervisor last sent a client ping
        self.last_error: Optional[str] = None
        # False once the server refused a handshake carrying stream names (HTTP 400,
        # e.g. an unknown symbol): then connect bare and SUBSCRIBE, so a bad stream
        # is reported on on_error by name instead of wedging the whole shard.
        self.url_streams = True
        self.thread = threading.Thread(
            target=self._run, name=f"binance_conn-{self.session.name}-reader-{link.index}", daemon=True
        )

    # ------------------------------------------------------------------ control (any thread)
    def start(self) -> None:
        self.thread.start()

    def retire(self, graceful: bool = True) -> None:
        """End this connection for good (rollover done, shard emptied, or stop)."""
        self.retired = True
        transport = self.transport
        if transport is not None:
            if graceful:
                transport.close()
            else:
                transport.abort()

    def kill(self, reason: str, transport: Optional[WsTransport] = None) -> bool:
        """Cut the socket (zombie) once; the reader notices and reconnects. True if it was cut now.

        ``transport``: the one judged a zombie; nothing is cut when the reader has
        replaced it meanwhile (never kill the fresh connection for the old one's sins).
        """
        current = self.transport
        if transport is None:
            transport = current
        if transport is None or transport is not current or transport.aborted:
            return False
        self.last_error = reason
        transport.abort()
        return True

    @property
    def is_open(self) -> bool:
        proto = self.proto
        return proto is not None and proto.is_open

    # ------------------------------------------------------------------ reader thread
    def _run(self) -> None:
        session = self.session
        try:
            while not self.retired and not session.stopping:
                try:
                    transport, proto = self._connect_forever()
                except Stopped:
                    break
                reason = self._serve(transport, proto)
                self.link.on_lost(self, reason)
                if self.retired or session.stopping:
                    break
        except Exception:  # pragma: no cover - a bug; never let the thread die silently
            _log.exception("stream reader crashed", extra={"shard": self.link.index})
            self.link.on_lost(self, "reader crashed")
        finally:
            last = self.transport
            if last is not None:
                last.release()
            session.wake()

    def _connect_forever(self) -> Tuple[WsTransport, StreamProtocol]:
        return connect_forever(self._connect_once, backoff=self.session.backoff, counter=self.link,
                               stop_event=self.session.stop_event, on_retry=self._on_retry)

    def _on_retry(self, err: Optional[BaseException], delay: Optional[float]) -> None:
        self.last_error = str(err)
        self.link.on_attempt_failed(self, str(err))
        if _log.isEnabledFor(logging.INFO):
            _log.info("stream connect failed, retrying",
                      extra={"shard": self.link.index, "error": str(err), "delay": delay})

    def _connect_once(self) -> Tuple[WsTransport, StreamProtocol]:
        session = self.session
        if self.retired or session.stopping:
            raise Stopped()
        session.acquire_connection_slot()
        if self.retired or session.stopping:
            raise Stopped()
        link = self.link
        proto = StreamProtocol.from_settings(session.exchange, session.ws_config)
        with link.lock:
            streams = list(link.desired)
            proto.set_streams(streams)
            self.proto = proto
        initial: List[str] = []
        size = 0
        for s in streams if self.url_streams else ():
            size += len(s) + 1
            if size > _URL_BUDGET:
                break
            initial.append(s)
        url = session.stream_url(initial)
        transport = WsTransport(url, handshake_timeout=session.ws_config.handshake_timeout, proxy=session.proxy)
        self.transport = transport
        if self.retired or session.stopping:
            raise Stopped()
        try:
            transport.connect()  # raises errors.ConnectionError: tenacity retries
        except ConnectionError as exc:
            if initial and exc.http_status == 400:
                self.url_streams = False
                _log.warning(
                    "stream handshake with stream names rejected (HTTP 400); connecting bare, then SUBSCRIBE",
                    extra={"shard": link.index},
                )
            raise
        now = _monotonic()
        with link.lock:
            proto.on_connected(now, initial)
        self.opened_at = now
        link.on_open(self)
        session.wake()
        return transport, proto

    def _serve(self, transport: WsTransport, proto: StreamProtocol) -> str:
        """Read until the socket dies; returns why."""
        session = self.session
        link = self.link
        lock = link.lock
        dedupe = link.dedupe
        publish = session.dispatcher.publish
        stop_event = session.stop_event
        counts = link.stream_counts
        receive = proto.receive_text
        while True:
            try:
                frames = transport.read_frames()
            except TransportClosed as exc:
                reason = self.last_error or exc.reason
                break
            now = _monotonic()
            batch: List[Tuple[str, Any]] = []
            with lock:
                control = proto.control
                for opcode, payload in frames:
                    if opcode == OP_TEXT:
                        try:
                            text = payload.decode("utf-8")
                        except UnicodeDecodeError:
                            proto.malformed += 1
                            continue
                        out = receive(text, now)
                        if out:
                            if dedupe.active:
                                out = [item for item in out if dedupe.accept(item[0], item[1])]
                            batch.extend(out)
                    elif opcode == OP_PONG or opcode == OP_PING:
                        proto.on_pong(now)
                    else:
                        proto.unknown += 1
                wake = proto.control != control
            if wake:
                session.wake()
            if not batch:
                continue
            blocked = 0.0
            for stream, event in batch:
                entry = counts.get(stream)
                if entry is None:
                    entry = counts[stream] = [0, now]
                entry[0] += 1
                entry[1] = now
                blocked += publish(stream, event, stop_event)
            if blocked:
                end = _monotonic()
                with lock:
                    proto.pause(end - blocked)
                    proto.resume(end)
        with lock:
            proto.on_disconnected()
        self.last_error = None
        return reason


class ShardLink:
    """The streams of one shard and the connection(s) carrying them."""

    def __init__(self, session: "MarketSession", index: int) -> None:
        self.session = session
        self.index = index
        self.lock = threading.Lock()
        self.desired: Dict[str, None] = {}
        self.primary: Optional[StreamConn] = None
        self.replacement: Optional[StreamConn] = None
        self.retiring: List[StreamConn] = []
        self.dedupe = Deduplicator()
        self.dedupe_until: Optional[float] = None
        self.retry = 0
        self.reconnects = 0
        self.failures = 0
        self.ever_ready = False
        self.stream_counts: Dict[str, List[Any]] = {}
        self.last_loss_reason: Optional[str] = None

    # ------------------------------------------------------------------ streams (supervisor / caller)
    def add(self, streams: List[str]) -> None:
        with self.lock:
            for s in streams:
                self.desired[s] = None
            for conn in (self.primary, self.replacement):
                if conn is not None and conn.proto is not None:
                    conn.proto.add_streams(streams)
        self.session.wake()

    def remove(self, streams: List[str]) -> None:
        with self.lock:
            for s in streams:
                self.desired.pop(s, None)
                self.stream_counts.pop(s, None)
            for conn in (self.primary, self.replacement):
                if conn is not None and conn.proto is not None:
                    conn.proto.remove_streams(streams)
        self.session.wake()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self.primary is None or not self.primary.thread.is_alive():
            self.primary = StreamConn(self)
            self.primary.start()

    def begin_rollover(self, reason: str) -> None:
        """Open the replacement connection (make-before-break)."""
        if self.replacement is not None:
            return
        _log.info("stream rollover started", extra={"shard": self.index, "reason": reason})
        with self.lock:
            self.dedupe.begin()
        self.dedupe_until = None
        conn = StreamConn(self, replacement=True)
        self.replacement = conn
        conn.start()

    def finish_rollover(self) -> None:
        """The replacement is subscribed: switch over, then close the old connection."""
        with self.lock:
            # Read under the lock: the supervisor (swap) and the old primary's reader (on_lost)
            # may both switch; the second must not retire what the first just promoted.
            new = self.replacement
            if new is None:
                return
            old = self.primary
            self.primary = new
            self.replacement = None
            new.replacement = False
            if old is not None:
                self.retiring.append(old)
        if old is not None:
            old.retire(graceful=True)
        self.retry = 0
        _log.info("stream rollover complete", extra={"shard": self.index})

    def reap(self) -> None:
        """Forget retired connections whose threads ended; end dedupe a grace period after an overlap;
        drop counters of streams no longer wanted (a late event may have re-created one)."""
        counts = self.stream_counts
        if len(counts) > len(self.desired):
            with self.lock:
                for stream in [s for s in list(counts) if s not in self.desired]:
                    counts.pop(stream, None)
        if self.retiring:
            with self.lock:  # finish_rollover() may append from a reader thread meanwhile
                self.retiring = [c for c in self.retiring if c.thread.is_alive()]
            if not self.retiring:
                self.dedupe_until = _monotonic() + _DEDUPE_GRACE
        if self.dedupe.active and not self.retiring and self.replacement is None:
            until = self.dedupe_until
            if until is None:
                self.dedupe_until = _monotonic() + _DEDUPE_GRACE
            elif _monotonic() >= until:
                with self.lock:
                    self.dedupe.end()
                self.dedupe_until = None

    def close(self) -> None:
        for conn in (self.primary, self.replacement):
            if conn is not None:
                conn.retire(graceful=True)

    def threads(self) -> List[threading.Thread]:
        return [c.thread for c in (self.primary, self.replacement, *self.retiring) if c is not None]

    # ------------------------------------------------------------------ callbacks from readers
    def on_open(self, conn: StreamConn) -> None:
        pass

    def on_attempt_failed(self, conn: StreamConn, reason: str) -> None:
        self.failures += 1
        self.session.wake()

    def on_lost(self, conn: StreamConn, reason: str) -> None:
        if conn.retired or self.session.stopping:
            return
        self.last_loss_reason = reason
        if conn is self.primary:
            self.reconnects += 1
            if self.replacement is not None:
                # The old link died mid-rollover: promote the replacement at once.
                self.finish_rollover()
                conn.retired = True
            _log.warning("stream connection lost", extra={"shard": self.index, "reason": reason})
        self.session.wake()

    @property
    def is_ready(self) -> bool:
        conn = self.primary
        proto = conn.proto if conn is not None else None
        return proto is not None and proto.is_ready

    @property
    def is_open(self) -> bool:
        """The primary connection is open (its subscriptions may still be pending)."""
        conn = self.primary
        proto = conn.proto if conn is not None else None
        return proto is not None and proto.is_open
