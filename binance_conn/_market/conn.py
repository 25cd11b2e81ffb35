"""One market-stream WebSocket connection and its reader thread (:class:`StreamConn`).

Grouped per shard in :class:`~binance_conn._market.link.ShardLink` (primary, rollover
replacement, draining link, redundant peers).  The reader only moves data: frames go
through the connection's :class:`~binance_conn._core.protocol.StreamProtocol` under the
link lock (taken once per socket read, never per message, never while user code runs)
and the resulting events go to the dispatcher outside the lock -- when several links
of the shard carry the same streams (redundancy, rollover overlap), through the shard's
duplicate filter under its delivery lock, so the first arrival of every event is
published once and in order.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Dict, List, Optional, Protocol, Tuple

from .._core.backoff import Backoff
from .._core.dedupe import Deduplicator
from .._core.lifecycle import LinkInput, LinkLife, LinkState
from .._core.protocol import StreamProtocol
from .._io.connect_report import ConnectFailureReporter
from .._io.dispatch import Dispatcher
from .._io.guard import ThreadGuard, run_guarded
from .._io.reconnect import Stopped, connect_forever
from .._io.recorder import CONN_IDS, Tap
from .._io.transport import OP_PING, OP_PONG, OP_TEXT, Transport, TransportClosed, TransportFactory
from ..errors import BinanceError, ConnectionError
from .badframes import BadFrames

__all__ = ["MarketHost", "ShardLike", "StreamConn"]

_log = logging.getLogger("binance_conn.stream")
_monotonic = time.monotonic
_URL_BUDGET = 3500  # characters of stream names put in the connect URL; the rest via SUBSCRIBE
_I = LinkInput


class MarketHost(Protocol):
    """What a shard link needs from its session (the market session implements it)."""

    name: str
    exchange: str
    ws_config: Any
    proxy: Optional[str]
    backoff: Backoff
    dispatcher: Dispatcher
    transport_factory: TransportFactory
    guard: ThreadGuard
    stop_event: threading.Event
    stopping: bool
    tap: Tap  # recording switch: tap.rec is None while nothing records

    def wake(self) -> None: ...

    product: str

    def stream_url(self, streams: List[str], shard: Optional[int] = None) -> str: ...

    def acquire_connection_slot(self) -> None: ...

    def publish_error(self, err: BinanceError) -> None: ...

    def request_probe(self, conn: "StreamConn") -> None: ...

    def count(self, what: str) -> None: ...


class ShardLike(Protocol):
    """What a connection needs from its shard (:class:`~binance_conn._market.link.ShardLink`)."""

    host: MarketHost
    index: int
    lock: threading.Lock
    deliver_lock: threading.Lock
    desired: Dict[str, None]
    dedupe: Deduplicator
    stream_counts: Dict[str, List[Any]]
    bad: BadFrames
    reporter: ConnectFailureReporter

    def protos(self) -> List[StreamProtocol]: ...

    def others_live(self, conn: "StreamConn") -> bool: ...

    def on_lost(self, conn: "StreamConn", reason: str) -> None: ...

    def on_attempt_failed(self, conn: "StreamConn", err: Optional[BaseException], delay: Optional[float]) -> None: ...


class StreamConn:
    """One WebSocket connection of a shard and its reader thread."""

    def __init__(self, link: ShardLike, *, replacement: bool = False, role: Optional[str] = None) -> None:
        self.link = link
        self.host = link.host
        self.life = LinkLife()
        self.retired = False  # the reader must end (set with the life's CLOSE)
        self.transport: Optional[Transport] = None
        self.proto: Optional[StreamProtocol] = None
        self.opened_at: Optional[float] = None
        self.last_ping_at = float("-inf")  # when the supervisor last sent a client ping
        self.last_error: Optional[str] = None  # why the supervisor cut the socket (zombie, crash)
        # False once the server refused a handshake carrying stream names (HTTP 400,
        # e.g. an unknown symbol): then connect bare and SUBSCRIBE, so a bad stream
        # is reported on on_error by name instead of wedging the whole shard.
        self.url_streams = True
        # This connection's backoff index (RetryCounter): its own, so a replacement that cannot
        # connect backs off even while the primary is ready (a shared one was reset every tick).
        self.retry = 0
        self.reconnects = 0  # losses of this connection slot (stats()["market"]["links"])
        self.waiting_since: Optional[float] = None  # the reader waits for the shard's delivery lock since
        self.rec_id = next(CONN_IDS)  # its id in recordings (unique per process, user-data links too)
        role = role or ("replacement" if replacement else "reader")
        self.role = role
        self.thread = threading.Thread(
            target=self._run, name=f"binance_conn-{self.host.name}-{role}-{link.index}", daemon=True
        )

    # ------------------------------------------------------------------ control (any thread)
    def start(self) -> None:
        with self.link.lock:
            if self.life.can(_I.START):
                self.life.handle(_I.START, _monotonic())
        self.thread.start()

    def retire(self, graceful: bool = True) -> None:
        """End this connection for good (drained, shard emptied, or stop); never under a lock."""
        with self.link.lock:
            self.retired = True
            self.life.handle(_I.CLOSE, _monotonic())
        transport = self.transport
        if transport is not None:
            if graceful:
                transport.close()
            else:
                transport.abort()

    def kill(self, reason: str, transport: Optional[Transport] = None) -> bool:
        """Cut the socket once (zombie, crash); the reader notices and reconnects. True if cut now.

        ``transport``: the one judged; nothing is cut when the reader has replaced it
        meanwhile (never kill the fresh connection for the old one's sins).
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
        host = self.host
        try:
            run_guarded(self._loop, guard=host.guard, component=f"market stream reader (shard {self.link.index})",
                        stop_event=host.stop_event, recover=self._recover, is_done=lambda: self.retired)
        finally:
            last = self.transport
            if last is not None:
                last.release()
            host.wake()

    def _loop(self) -> None:
        host = self.host
        while not self.retired and not host.stopping:
            with self.link.lock:
                if self.life.state is LinkState.LOST:
                    self.life.handle(_I.RETRY, _monotonic())
            try:
                transport, proto = connect_forever(self._connect_once, backoff=host.backoff, counter=self,
                                                   stop_event=host.stop_event, on_retry=self._on_retry)
            except Stopped:
                return
            reason = self._serve(transport, proto)
            self.link.on_lost(self, reason)

    def _recover(self, exc: BaseException) -> None:
        """After a crash of this reader (the guard logged and reported it): tear the connection
        down so the normal path reconnects, and ``state``/``ready``/``on_connection`` show it."""
        transport = self.transport
        if transport is not None:
            transport.release()
        self.link.on_lost(self, f"internal error: {type(exc).__name__}: {exc}")

    def _on_retry(self, err: Optional[BaseException], delay: Optional[float]) -> None:
        self.link.on_attempt_failed(self, err, delay)

    def _connect_once(self) -> Tuple[Transport, StreamProtocol]:
        host = self.host
        if self.retired or host.stopping:
            raise Stopped()
        host.acquire_connection_slot()
        if self.retired or host.stopping:
            raise Stopped()
        link = self.link
        proto = StreamProtocol.from_settings(host.exchange, host.ws_config, getattr(host, "product", "spot"))
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
        transport = host.transport_factory(host.stream_url(initial, link.index),
                                           handshake_timeout=host.ws_config.handshake_timeout, proxy=host.proxy)
        self.transport = transport
        if self.retired or host.stopping:
            raise Stopped()
        try:
            transport.connect()  # raises errors.ConnectionError: tenacity retries
        except ConnectionError as exc:
            if initial and exc.http_status == 400:
                self.url_streams = False
                _log.warning("stream handshake with stream names rejected (HTTP 400); connecting bare, then "
                             "SUBSCRIBE (shard %d)", link.index, extra={"shard": link.index})
            raise
        now = _monotonic()
        with link.lock:
            proto.on_connected(now, initial)
            self.life.handle(_I.CONNECTED, now)
            self.last_error = None
        self.opened_at = now
        link.reporter.succeeded()
        host.wake()
        return transport, proto

    def _serve(self, transport: Transport, proto: StreamProtocol) -> str:
        """Read until the socket dies; returns why.  The hot path: one lock per socket read."""
        host = self.host
        link = self.link
        lock = link.lock
        dedupe = link.dedupe
        admit = dedupe.admit
        deliver_lock = link.deliver_lock
        publish = host.dispatcher.publish
        stop_event = host.stop_event
        counts = link.stream_counts
        receive = proto.receive_text
        life = self.life
        tap = host.tap
        if tap.rec is not None:
            tap.rec.ws_open(self.rec_id, link.index, str(getattr(transport, "url", "")))
        while True:
            try:
                frames = transport.read_frames()
            except TransportClosed as exc:
                if tap.rec is not None:
                    tap.rec.ws_close(self.rec_id, self.last_error or exc.reason)
                return self.last_error or exc.reason
            if tap.rec is not None:
                tap.rec.ws_frames(self.rec_id, frames)
            now = _monotonic()
            batch: List[Tuple[str, Any]] = []
            with lock:
                control = proto.control
                bad = proto.bad_frames
                for opcode, payload in frames:
                    if opcode == OP_TEXT:
                        try:
                            text = payload.decode("utf-8")
                        except UnicodeDecodeError:
                            proto.receive_bad("invalid UTF-8", payload, now)
                            continue
                        out = receive(text, now)
                        if out:
                            batch.extend(out)
                    elif opcode == OP_PONG or opcode == OP_PING:
                        proto.on_pong(now)
                    else:
                        proto.receive_bad("binary" if opcode == 2 else f"opcode {opcode}", payload, now)
                wake = proto.control != control
                report = link.bad.report(proto, link.protos(), now) if proto.bad_frames != bad else None
                ordered = dedupe.active and bool(batch)
                others = ordered and link.others_live(self)
            if report is not None:
                _log.warning("%s", report, extra={"shard": link.index})
            if wake:
                host.wake()
            if not batch:
                continue
            blocked = 0.0
            if ordered:
                # Several links (redundancy, rollover overlap): pick the first arrival of each
                # event and publish it under one per-shard lock, so the links' readers cannot
                # interleave their deliveries out of order.
                if not deliver_lock.acquire(False):
                    # The other reader delivers (maybe blocked on a full BLOCK subscriber): this
                    # wait is not silence either (the supervisor pauses the health timers meanwhile).
                    self.waiting_since = started = _monotonic()
                    deliver_lock.acquire()
                    self.waiting_since = None
                    blocked += _monotonic() - started
                try:
                    for stream, event in batch:
                        for ev in admit(stream, event, proto, others, now):  # source: this connection, not its slot
                            entry = counts.get(stream)
                            if entry is None:
                                entry = counts[stream] = [0, now]
                            entry[0] += 1
                            entry[1] = now
                            blocked += publish(stream, ev, stop_event)
                finally:
                    deliver_lock.release()
            else:
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
                    life.block_ended(end - blocked, end, proto)  # always resumes the health timers
