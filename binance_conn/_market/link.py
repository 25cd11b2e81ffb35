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
from typing import Any, Dict, List, Optional, Tuple

from .._core.dedupe import Deduplicator
from .._core.lifecycle import DRAIN_QUIET, LinkInput, LinkSet, LinkState, Rollover
from .._core.protocol import StreamProtocol
from .._io.connect_report import ConnectFailureReporter
from .._io.transport import Transport
from ..errors import APIError, BinanceError
from .badframes import BadFrames
from .conn import MarketHost, StreamConn

__all__ = ["MarketHost", "ShardLink", "StreamConn"]

_log = logging.getLogger("binance_conn.stream")
_monotonic = time.monotonic
_PING_YIELD = 1.0  # seconds after a ping during which control messages have send priority
_HELD_RETRY = 0.05  # s until the supervisor retries releasing held events while a reader delivers
_I = LinkInput

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
        self.redundancy = int(getattr(ws, "redundancy", 1) or 1)
        self.peers: List[StreamConn] = []  # redundancy: further live connections with the same streams
        self.deliver_lock = threading.Lock()  # orders deliveries from several links (see StreamConn._serve)
        self.dedupe = Deduplicator()
        self.links_up = 0
        self.degraded = False  # runs on fewer links than configured (warned once per episode)
        self._full_once = False
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
            for conn in (self.links.primary, self.links.replacement, *self.peers):
                if conn is not None and conn.proto is not None:
                    conn.proto.add_streams(streams)
        self.host.wake()

    def remove(self, streams: List[str]) -> None:
        with self.lock:
            for s in streams:
                self.desired.pop(s, None)
                self.stream_counts.pop(s, None)
                self.dedupe.forget(s)
            for conn in (self.links.primary, self.links.replacement, *self.peers):
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
            self.peers = [StreamConn(self, role="peer") for _ in range(self.redundancy - 1)]
            started = [conn, *self.peers]
            self._sync_dedupe(_monotonic())
        for c in started:
            c.start()

    def close(self) -> None:
        """Retire every connection gracefully (shard emptied, stop); never under the session lock."""
        with self.lock:
            conns = self.live_conns()
        for conn in conns:
            conn.retire(graceful=True)

    def protos(self) -> List[StreamProtocol]:
        """The protocols of the live connections (under the lock)."""
        return [c.proto for c in self.live_conns() if c.proto is not None]

    def live_conns(self) -> List[StreamConn]:
        """Primary, replacement, draining link and the redundant peers (under the lock)."""
        return self.links.links() + self.peers

    def others_live(self, conn: StreamConn) -> bool:
        """Another connection of this shard is still read (could fill a hole; under the lock)."""
        for c in self.links.links() + self.peers:
            if c is not conn and c.life.carries_traffic:
                return True
        return False

    def members(self) -> List[StreamConn]:
        """The connections that count toward the configured redundancy: the primary and the peers."""
        primary = self.links.primary
        return ([primary] if primary is not None else []) + self.peers

    def conns(self) -> List[StreamConn]:
        with self.lock:
            return self.live_conns() + list(self.retiring)

    def threads(self) -> List[threading.Thread]:
        return [c.thread for c in self.conns()]

    def end(self) -> None:
        """After stop: forget every connection and the filter."""
        with self.lock:
            self.links.reset()
            self.peers = []
            self.retiring = []
            self.dedupe.end()

    def _sync_dedupe(self, now: float) -> None:
        on = self.redundancy > 1 or self.links.is_deduping(now)
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
        peer_rolls: List[Tuple[StreamConn, Optional[Transport], str]] = []
        degraded: Optional[bool] = None
        with self.lock:
            links = self.links
            peers = self.peers
            rolling = links.state is not Rollover.STEADY and links.state is not Rollover.GRACE
            for conn in (links.primary, links.replacement, *peers):
                proto = conn.proto if conn is not None else None
                if conn is None or proto is None or not proto.is_open or conn.retired:
                    continue
                life = conn.life
                try:
                    self._tick_conn(conn, proto, now, sends, errors)
                    life.handle(_I.SUBSCRIBED if proto.is_ready else _I.PENDING, now)
                    blocked = host.dispatcher.blocked_since(conn.thread.ident)
                    if blocked is None:
                        # Readers deliver under one lock: one blocked on a BLOCK subscriber stalls the others.
                        blocked = conn.waiting_since
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
                is_peer = conn in peers
                if conn is links.primary:
                    if life.is_ready:
                        self.ever_ready = True
                    if not rolling and life.is_open:
                        rollover = proto.rollover_reason(now)
                elif is_peer:
                    if life.is_ready:
                        self.ever_ready = True
                    if life.is_open and not host.stopping:
                        # A peer is replaced by reconnecting: the other link(s) carry the shard meanwhile.
                        peer_reason = proto.rollover_reason(now)
                        if peer_reason is not None:
                            peer_rolls.append((conn, conn.transport, peer_reason))
                elif life.is_ready:
                    links.subscribed(conn, now)
                    links.data_seen(conn, proto.health.last_data if proto.events else None)
                w = proto.next_wakeup(now, lifetime=is_peer or (conn is links.primary and not rolling))
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
            up = sum(1 for c in self.members() if c.life.is_ready)
            self.links_up = up
            if self.redundancy > 1:
                if up >= self.redundancy:
                    self._full_once = True
                    if self.degraded:
                        self.degraded = degraded = False
                elif self._full_once and not self.degraded and not host.stopping:
                    self.degraded = degraded = True
        if degraded is True:
            _log.warning("market shard %d runs on %d of %d connections", self.index, up, self.redundancy,
                         extra={"shard": self.index, "links_up": up, "redundancy": self.redundancy})
        elif degraded is False:
            _log.info("market shard %d runs on all %d connections again", self.index, self.redundancy,
                      extra={"shard": self.index, "redundancy": self.redundancy})
        due = self.dedupe.next_due()
        if due is not None:
            if now >= due and not self._release_held(now):
                due = now + _HELD_RETRY
            if now < due and (wake_at is None or due < wake_at):
                wake_at = due
        for conn, transport, reason in peer_rolls:
            if conn.kill(f"rollover: {reason}", transport):
                host.count("rollovers")
                _log.info("stream peer rollover (shard %d): %s; reconnecting it", self.index, reason,
                          extra={"shard": self.index, "reason": reason})
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

    def _release_held(self, now: float) -> bool:
        """Deliver events held for a hole that no other link filled in time, on a stream that went
        quiet (no next event to release them).  False if a reader is delivering (try again soon)."""
        if not self.deliver_lock.acquire(blocking=False):
            return False
        try:
            counts = self.stream_counts
            publish = self.host.dispatcher.publish
            for stream, event in self.dedupe.release_due(now):
                entry = counts.get(stream)
                if entry is None:
                    entry = counts[stream] = [0, now]
                entry[0] += 1
                entry[1] = now
                publish(stream, event, self.host.stop_event)
        finally:
            self.deliver_lock.release()
        return True

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
            was_primary = conn is self.links.primary or conn in self.peers
            conn.life.handle(_I.LOST, now, reason)
            self.links.lost(conn, now)
            if conn not in self.live_conns():  # an abandoned replacement, or an old link replaced
                conn.retired = True
                conn.life.handle(_I.CLOSE, now)
                self.retiring.append(conn)
            self._sync_dedupe(now)
            if was_primary:
                self.reconnects += 1
                conn.reconnects += 1
                self.last_loss_reason = reason
                warn = not reason.startswith("rollover: ")
                if not any(c is not conn and c.life.carries_traffic for c in self.live_conns()):
                    lost = list(self.desired)  # no other link carries them (redundancy, rollover): a break
        if lost:
            hook = getattr(host, "on_streams_lost", None)
            if hook is not None:
                hook(lost, reason)
        if warn:
            _log.warning("stream connection lost (shard %d, %s): %s", self.index, conn.role, reason,
                         extra={"shard": self.index, "reason": reason, "role": conn.role})
        host.wake()

    # ------------------------------------------------------------------ verdicts (supervisor)
    @property
    def is_ready(self) -> bool:
        """Up: at least one of the primary and the redundant peers is ready."""
        return any(c.life.is_ready for c in self.members())

    @property
    def is_open(self) -> bool:
        """The primary (or a redundant peer) is open and not condemned (subscriptions may be pending)."""
        return any(c.life.is_open for c in self.members())

    def down_reason(self) -> Optional[str]:
        """Why this shard is not up: a connect failure, a zombie verdict, a loss (or None)."""
        for conn in self.members():
            if conn.life.state is LinkState.CONNECTING and self.reporter.failures:
                return f"connect failed: {self.reporter.last_reason}"
            if conn.life.is_condemned:
                return conn.life.reason
        return self.last_loss_reason

    def link_stats(self, now: float) -> List[Dict[str, Any]]:
        """Per-connection state of this shard (under the lock): role, state, age, reconnects."""
        out: List[Dict[str, Any]] = []
        links = self.links
        for conn in self.live_conns():
            if conn is links.primary:
                role = "primary"
            elif conn is links.replacement:
                role = "replacement"
            elif conn is links.draining:
                role = "draining"
            else:
                role = conn.role
            out.append({
                "shard": self.index,
                "role": role,
                "state": conn.life.state.value,
                "ready": conn.life.is_ready,
                "connected_for": (now - conn.opened_at) if conn.opened_at and conn.life.is_open else None,
                "reconnects": conn.reconnects,
                "last_error": conn.life.reason or None,
            })
        return out
