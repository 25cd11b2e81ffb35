"""Market-stream connections: one reader thread per WebSocket, grouped in shard links.

A :class:`ShardLink` holds the streams of one shard (at most 1024, Binance's
per-connection cap) and the connections carrying them.  Which connection is the
primary, which one replaces it during a make-before-break rollover, which one is
being drained, when to switch, when to close, when the duplicate filter is on: all
of that is decided by the sans-I/O lifecycle (:mod:`binance_conn._core.lifecycle`):
each :class:`StreamConn` has a :class:`~binance_conn._core.lifecycle.LinkLife`
(connecting, subscribing, ready, zombie, lost, draining, retired) and each shard a
:class:`~binance_conn._core.lifecycle.LinkSet` (steady, opening, overlap, draining,
grace).  This module only executes those decisions.

A :class:`StreamConn` owns one socket and its reader thread: it connects (tenacity
retries with the configured backoff, forever, cut short by ``stop()``; every failure
goes through a :class:`~binance_conn._io.connect_report.ConnectFailureReporter`), then
reads.  The reader only moves data: frames go through the connection's
:class:`~binance_conn._core.protocol.StreamProtocol` under the link lock (taken once per
socket read, never per message, never while user code runs) and the resulting events
go to the dispatcher outside the lock.  The reader loop runs under
:func:`~binance_conn._io.guard.run_guarded`: an unexpected exception (socket read, frame
or event parse) is logged with its traceback, reported as ``InternalError``, and the
connection is torn down and reconnected through the normal path.

Pings, SUBSCRIBE/UNSUBSCRIBE frames, zombie verdicts and rollovers are decided in
:meth:`ShardLink.tick`, called by the session's supervisor thread.  A link needs its
host (the session) only through the small :class:`MarketHost` protocol.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Dict, List, Optional, Protocol, Tuple

from .._core.backoff import Backoff
from .._core.dedupe import Deduplicator
from .._core.lifecycle import DRAIN_QUIET, LinkInput, LinkLife, LinkSet, LinkState, Rollover
from .._core.protocol import StreamProtocol
from .._io.connect_report import ConnectFailureReporter
from .._io.dispatch import Dispatcher
from .._io.guard import ThreadGuard, run_guarded
from .._io.reconnect import Stopped, connect_forever
from .._io.transport import OP_PING, OP_PONG, OP_TEXT, Transport, TransportClosed, TransportFactory
from ..errors import APIError, BinanceError, ConnectionError
from .badframes import BadFrames

__all__ = ["MarketHost", "ShardLink", "StreamConn"]

_log = logging.getLogger("binance_conn.stream")
_monotonic = time.monotonic
_URL_BUDGET = 3500  # characters of stream names put in the connect URL; the rest via SUBSCRIBE
_PING_YIELD = 1.0  # seconds after a ping during which control messages have send priority
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

    def wake(self) -> None: ...

    def stream_url(self, streams: List[str]) -> str: ...

    def acquire_connection_slot(self) -> None: ...

    def publish_error(self, err: BinanceError) -> None: ...

    def request_probe(self, conn: "StreamConn") -> None: ...

    def count(self, what: str) -> None: ...


class StreamConn:
    """One WebSocket connection of a shard and its reader thread."""

    def __init__(self, link: "ShardLink", *, replacement: bool = False) -> None:
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
        role = "replacement" if replacement else "reader"
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
        proto = StreamProtocol.from_settings(host.exchange, host.ws_config)
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
        transport = host.transport_factory(host.stream_url(initial),
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
        publish = host.dispatcher.publish
        stop_event = host.stop_event
        counts = link.stream_counts
        receive = proto.receive_text
        life = self.life
        while True:
            try:
                frames = transport.read_frames()
            except TransportClosed as exc:
                return self.last_error or exc.reason
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
                            if dedupe.active:
                                out = [item for item in out if dedupe.accept(item[0], item[1])]
                            batch.extend(out)
                    elif opcode == OP_PONG or opcode == OP_PING:
                        proto.on_pong(now)
                    else:
                        proto.receive_bad("binary" if opcode == 2 else f"opcode {opcode}", payload, now)
                wake = proto.control != control
                report = link.bad.report(proto, link.protos(), now) if proto.bad_frames != bad else None
            if report is not None:
                _log.warning("%s", report, extra={"shard": link.index})
            if wake:
                host.wake()
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
                    life.block_ended(end - blocked, end, proto)  # always resumes the health timers


class ShardLink:
    """The streams of one shard and the connection(s) carrying them (decisions: the lifecycle)."""

    def __init__(self, host: MarketHost, index: int) -> None:
        self.host = host
        self.index = index
        self.lock = threading.Lock()
        self.desired: Dict[str, None] = {}
        ws = host.ws_config
        self.links: LinkSet[StreamConn] = LinkSet(drain_rule=DRAIN_QUIET,
                                                  overlap=float(getattr(ws, "rollover_overlap", 1.0)))
        self.retiring: List[StreamConn] = []  # closed, thread maybe still alive (joined at stop)
        self.dedupe = Deduplicator()
        self.reporter = ConnectFailureReporter(_log, f"market stream (shard {index})", host.publish_error)
        self.reconnects = 0
        self.failures = 0
        self.ever_ready = False
        self.stream_counts: Dict[str, List[Any]] = {}
        self.last_loss_reason: Optional[str] = None
        self.last_connect_error: Optional[str] = None
        self.bad = BadFrames(f"market stream (shard {index})")  # totals over every connection, rate-limited log

    @property
    def primary(self) -> Optional[StreamConn]:
        return self.links.primary

    @property
    def replacement(self) -> Optional[StreamConn]:
        return self.links.replacement

    # ------------------------------------------------------------------ streams (caller threads)
    def add(self, streams: List[str]) -> None:
        with self.lock:
            for s in streams:
                self.desired[s] = None
            for conn in (self.links.primary, self.links.replacement):
                if conn is not None and conn.proto is not None:
                    conn.proto.add_streams(streams)
        self.host.wake()

    def remove(self, streams: List[str]) -> None:
        with self.lock:
            for s in streams:
                self.desired.pop(s, None)
                self.stream_counts.pop(s, None)
            for conn in (self.links.primary, self.links.replacement):
                if conn is not None and conn.proto is not None:
                    conn.proto.remove_streams(streams)
        self.host.wake()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        with self.lock:
            conn = self.links.primary
            if conn is not None and conn.thread.is_alive() and not conn.retired:
                return
            self.links.reset()
            conn = StreamConn(self)
            self.links.set_primary(conn)
        conn.start()

    def close(self) -> None:
        """Retire every connection gracefully (shard emptied, stop); never under the session lock."""
        with self.lock:
            conns = self.links.links()
        for conn in conns:
            conn.retire(graceful=True)

    def protos(self) -> List[StreamProtocol]:
        """The protocols of the live connections (under the lock)."""
        return [c.proto for c in self.links.links() if c.proto is not None]

    def conns(self) -> List[StreamConn]:
        with self.lock:
            return self.links.links() + list(self.retiring)

    def threads(self) -> List[threading.Thread]:
        return [c.thread for c in self.conns()]

    def end(self) -> None:
        """After stop: forget every connection and the filter."""
        with self.lock:
            self.links.reset()
            self.retiring = []
            self.dedupe.end()

    def _sync_dedupe(self, now: float) -> None:
        on = self.links.is_deduping(now)
        if on and not self.dedupe.active:
            self.dedupe.begin()
        elif not on and self.dedupe.active:
            self.dedupe.end()

    # ------------------------------------------------------------------ supervisor thread
    def tick(self, now: float, errors: List[BinanceError]) -> Optional[float]:
        """Carry out this shard's lifecycle decisions at ``now``; returns its next wake-up."""
        host = self.host
        sends: List[Tuple[StreamConn, List[str], bool]] = []
        kills: List[Tuple[StreamConn, Optional[Transport], str]] = []
        rollover: Optional[str] = None
        started: Optional[StreamConn] = None
        wake_at: Optional[float] = None
        crashes: List[Exception] = []
        with self.lock:
            links = self.links
            rolling = links.state is not Rollover.STEADY and links.state is not Rollover.GRACE
            for conn in (links.primary, links.replacement):
                proto = conn.proto if conn is not None else None
                if conn is None or proto is None or not proto.is_open or conn.retired:
                    continue
                life = conn.life
                try:
                    self._tick_conn(conn, proto, now, sends, errors)
                    life.handle(_I.SUBSCRIBED if proto.is_ready else _I.PENDING, now)
                    blocked = host.dispatcher.blocked_since(conn.thread.ident)
                    if blocked is not None:
                        # The reader waits on a full BLOCK subscriber: it cannot read pongs.
                        life.block_started(blocked, proto)
                    if life.may_judge:
                        if proto.health.wants_probe(now):
                            proto.health.probe_started(now)
                            host.request_probe(conn)
                        reason = proto.is_zombie(now)
                        if reason is not None:
                            life.handle(_I.CONDEMN, now, f"zombie: {reason}")
                            self.last_loss_reason = life.reason
                            kills.append((conn, conn.transport, reason))
                except Exception as exc:  # noqa: BLE001 - a bug in a health check: tear this link down
                    crashes.append(exc)  # reported outside the lock (on_error may block)
                    reason = f"internal error: {type(exc).__name__}: {exc}"
                    if life.can(_I.CONDEMN):  # torn down: an outage like any other until it reconnects
                        life.handle(_I.CONDEMN, now, reason)
                        self.last_loss_reason = reason
                    kills.append((conn, conn.transport, reason))
                    continue
                if life.is_ready:
                    conn.retry = 0  # demonstrably good: the next outage starts the backoff afresh
                if conn is links.primary:
                    if life.is_ready:
                        self.ever_ready = True
                    if not rolling and life.is_open:
                        rollover = proto.rollover_reason(now)
                elif life.is_ready:
                    links.subscribed(conn, now)
                    links.data_seen(conn, proto.health.last_data if proto.events else None)
                w = proto.next_wakeup(now, lifetime=conn is links.primary and not rolling)
                if w is not None and (wake_at is None or w < wake_at):
                    wake_at = w
            old = links.draining
            if old is not None and old.proto is not None and old.proto.events:
                links.data_seen(old, old.proto.health.last_data)
            step = links.tick(now)
            if step.drain is not None:
                step.drain.life.handle(_I.DRAIN, now)
            for conn in step.close:
                conn.retired = True
                conn.life.handle(_I.CLOSE, now)
                self.retiring.append(conn)
            if rollover is not None and not host.stopping:
                started = StreamConn(self, replacement=True)
                links.begin(started, now, rollover)
            self._sync_dedupe(now)
            if step.wake_at is not None and (wake_at is None or step.wake_at < wake_at):
                wake_at = step.wake_at
        for crash in crashes:
            host.guard.crashed(f"market health check (shard {self.index})", crash)
        self._send(sends)
        for conn, judged, reason in kills:
            if conn.kill(reason if reason.startswith("internal error") else f"zombie: {reason}", judged):
                if not reason.startswith("internal error"):
                    host.count("zombies")
                    _log.warning("zombie stream connection replaced (shard %d): %s", self.index, reason,
                                 extra={"shard": self.index, "reason": reason})
        if step.switched_to is not None:
            _log.info("stream rollover complete (shard %d): draining the old connection", self.index,
                      extra={"shard": self.index})
        for conn in step.close:
            transport = conn.transport
            if transport is not None:
                transport.close()
        if started is not None:
            host.count("rollovers")
            _log.info("stream rollover started (shard %d): %s", self.index, rollover,
                      extra={"shard": self.index, "reason": rollover})
            started.start()
        return wake_at

    def _tick_conn(self, conn: StreamConn, proto: StreamProtocol, now: float,
                   sends: List[Tuple[StreamConn, List[str], bool]], errors: List[BinanceError]) -> None:
        if now - conn.last_ping_at < _PING_YIELD and proto.subscriptions.has_work():
            # A ping went out under a second ago: pending (UN)SUBSCRIBEs go first,
            # so a short ping interval can never starve them of the send budget.
            texts = proto.data_to_send(now)
            ping = proto.take_ping(now)
        else:
            ping = proto.take_ping(now)
            texts = proto.data_to_send(now)
        if ping:
            conn.last_ping_at = now
        if ping or texts:
            sends.append((conn, texts, ping))
        for err in proto.errors_received():
            streams = err.details.get("streams") or []
            if isinstance(err, APIError) and err.details.get("method") == "SUBSCRIBE" and len(streams) > 1:
                # One bad name fails its whole batch: retry each stream alone so
                # only the bad ones are reported (and the good ones flow).
                proto.subscriptions.max_params_per_message = 1
                proto.add_streams(streams)
            else:
                errors.append(err)

    def _send(self, sends: List[Tuple[StreamConn, List[str], bool]]) -> None:
        for conn, texts, ping in sends:
            transport = conn.transport
            if transport is None:
                continue
            try:
                if ping:
                    transport.ping(b"")
                for text in texts:
                    transport.send_text(text)
            except Exception as exc:  # noqa: BLE001 - the reader will see the dead socket
                _log.info("send failed (shard %d): %s", self.index, exc, extra={"shard": self.index})

    def reap(self) -> None:
        """Forget retired connections whose threads ended; drop counters of streams no longer
        wanted (a late event may have re-created one).  Supervisor thread."""
        counts = self.stream_counts
        with self.lock:
            if len(counts) > len(self.desired):
                for stream in [s for s in list(counts) if s not in self.desired]:
                    counts.pop(stream, None)
            if self.retiring:
                self.retiring = [c for c in self.retiring if c.thread.is_alive()]

    # ------------------------------------------------------------------ reports from readers
    def on_attempt_failed(self, conn: StreamConn, err: Optional[BaseException], delay: Optional[float]) -> None:
        """A connect attempt failed (reader thread): WARNING, on_error on a new reason kind, stats."""
        reason = self.reporter.failed(err, delay)
        with self.lock:
            self.failures += 1
            self.last_connect_error = reason
            if conn.life.can(_I.FAILED):
                conn.life.handle(_I.FAILED, _monotonic(), f"connect failed: {reason}")
        self.host.wake()

    def on_lost(self, conn: StreamConn, reason: str) -> None:
        """``conn``'s socket is gone (reader thread, also after a crash)."""
        host = self.host
        now = _monotonic()
        warn = False
        lost: List[str] = []
        with self.lock:
            proto = conn.proto
            if proto is not None and proto.is_open:
                proto.on_disconnected()
                self.bad.fold(proto)
            if conn.retired or host.stopping:
                conn.life.handle(_I.CLOSE, now)
                return
            was_primary = conn is self.links.primary
            conn.life.handle(_I.LOST, now, reason)
            self.links.lost(conn, now)
            if conn not in self.links.links():  # an abandoned replacement, or an old link replaced
                conn.retired = True
                conn.life.handle(_I.CLOSE, now)
                self.retiring.append(conn)
            self._sync_dedupe(now)
            if was_primary:
                self.reconnects += 1
                self.last_loss_reason = reason
                warn = True
                lost = list(self.desired)
        if warn:
            hook = getattr(host, "on_streams_lost", None)
            if hook is not None:
                hook(lost, reason)
            _log.warning("stream connection lost (shard %d): %s", self.index, reason,
                         extra={"shard": self.index, "reason": reason})
        host.wake()

    # ------------------------------------------------------------------ verdicts (supervisor)
    @property
    def is_ready(self) -> bool:
        conn = self.links.primary
        return conn is not None and conn.life.is_ready

    @property
    def is_open(self) -> bool:
        """The primary connection is open and not condemned (its subscriptions may be pending)."""
        conn = self.links.primary
        return conn is not None and conn.life.is_open

    def down_reason(self) -> Optional[str]:
        """Why this shard is not up: a connect failure, a zombie verdict, a loss (or None)."""
        conn = self.links.primary
        if conn is not None and conn.life.state is LinkState.CONNECTING and self.reporter.failures:
            return f"connect failed: {self.reporter.last_reason}"
        if conn is not None and conn.life.is_condemned:
            return conn.life.reason
        return self.last_loss_reason
