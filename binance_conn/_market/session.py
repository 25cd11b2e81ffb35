"""The market session: shard links, the supervisor thread that drives them, the REST prober.

The supervisor wakes at the earliest deadline of any link (ping due, pong deadline,
paced SUBSCRIBE budget, silence probe, lifetime, rollover overlap / drain / grace), at
the debounce deadline, or when a reader reports something, and calls
:meth:`~binance_conn._market.link.ShardLink.tick` on every shard, which carries out the
lifecycle decisions (``_core/lifecycle.py``): pings and paced (UN)SUBSCRIBE frames,
zombie verdicts (a condemned link is an outage: ``ready`` clears, ``on_connection``
says ``"zombie: ..."``), make-before-break rollovers (open, overlap, switch, drain,
close, grace).  Then it folds every shard into one state (``_core/status.py``), the
level-triggered ``ready`` event and debounced connection events.

Redundancy (``ConfigBuilder.with_redundancy(2)``): every shard keeps ``n`` live connections (the
primary plus ``n - 1`` peers), each subscribed to the same streams and reconnecting on its own;
the rollover's duplicate filter then stays on for good (the shard is permanently "in overlap"), so
each event is delivered once, the first arrival winning.  A shard is up (``ready``) while at least
one of its connections is ready; running on fewer than ``n`` is logged as a WARNING and shown in
``stats()["market"]["links"]`` and the shard's ``links_up``.  Every connection counts against the
per-IP connection budget and has its own control-message pacing.

A second small thread, the prober, calls ``GET /api/v3/ping`` at the health-check
interval (and at once when a silent stream asks), so "network dead" can be told from
"market quiet" and ready can mean "REST reachable".

Both threads, and every reader, run under :func:`~binance_conn._io.guard.run_guarded`:
a crash is logged with its traceback, reported as ``InternalError`` on ``on_error``,
the affected connection is torn down (the normal reconnect path runs), and the loop
runs again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from .._core.backoff import Backoff
from .._core.debounce import Emitted
from .._core.futures_streams import make_registry, route_prefix
from .._core.pacing import ConnectionBudget
from .._core.status import SessionStatus
from .._core.timing import MILLISECOND, epoch_ms, with_time_unit
from .._io.dispatch import Dispatcher
from .._io.guard import ThreadGuard, run_guarded
from .._io.recorder import NO_TAP, Tap
from .._io.topics import ERROR_TOPIC, publish_connection_events
from .._io.transport import TransportFactory, WsTransport
from ..enums import ConnectionState
from ..errors import BinanceError
from .link import ShardLink, StreamConn

__all__ = ["MarketSession"]

_log = logging.getLogger("binance_conn.supervisor")
_monotonic = time.monotonic
S = ConnectionState

_MAX_SLEEP = 0.5
_ACTIVITY_SLACK_MS = 2000.0  # clock skew + latency allowance of the market-activity probe


class MarketSession:
    """All market-stream connections of one connector, and the threads that drive them."""

    name = "market"

    def __init__(
        self,
        config: Any,
        dispatcher: Dispatcher,
        rest_ping: Callable[[float], None],
        budget: ConnectionBudget,
        *,
        transport_factory: TransportFactory = WsTransport,
    ) -> None:
        self.config = config
        self.exchange: str = config.exchange.name
        self.ws_config = config.websocket
        self.proxy: Optional[str] = config.websocket.proxy
        self.base_url: str = config.exchange.ws_url
        self.time_unit: str = getattr(config.exchange, "time_unit", MILLISECOND)  # timeUnit= on every stream URL
        self.host = urlsplit(self.base_url).netloc
        self.backoff: Backoff = config.retry.backoff.policy()
        self.dispatcher = dispatcher
        self.transport_factory = transport_factory
        self.guard = ThreadGuard(_log, self.exchange, self.publish_error)
        self.tap: Tap = NO_TAP  # the connector's recording switch (_io/recorder.py)
        self._rest_ping = rest_ping
        self._budget = budget
        self._budget_lock = threading.Lock()
        self.stop_event = threading.Event()
        self.stopping = False
        self._wake = threading.Event()
        self._lock = threading.RLock()
        self.product: str = getattr(config.exchange, "product", "spot")
        self.registry = make_registry(self.product, config.websocket.max_streams_per_connection)
        self.links: Dict[int, ShardLink] = {}
        self.status = SessionStatus(config.websocket.debounce)
        self.ready = threading.Event()
        self.rest_ok = False
        self.rest_checked_at: Optional[float] = None
        self.rest_error: Optional[str] = None
        self._probe_wanted = threading.Event()
        self._probe_lock = threading.Lock()  # never held with a link lock taken after it
        self._probe_requests: List[StreamConn] = []
        self._probing: List[StreamConn] = []  # the prober's current batch (torn down if it crashes)
        self._thread: Optional[threading.Thread] = None
        self._prober: Optional[threading.Thread] = None
        self._closed_links: List[ShardLink] = []
        self.reconnects = 0
        self.zombies = 0
        self.rollovers = 0
        self.subscription_errors = 0
        self.extra_ready: Callable[[], bool] = lambda: True  # e.g. the user-data session (connector)
        # GET path, params, timeout -> JSON (the connector's REST client): market-activity probe
        self.rest_get: Optional[Callable[[str, Dict[str, Any], float], Any]] = None
        # (streams, reason) when a link carrying them went down (reader thread): local books go OUT_OF_SYNC
        self.on_streams_lost: Optional[Callable[[List[str], str], None]] = None

    # ------------------------------------------------------------------ helpers for links (MarketHost)
    def wake(self) -> None:
        self._wake.set()

    def request_probe(self, conn: StreamConn) -> None:
        """A silent link asks for a REST probe (supervisor, under the link lock)."""
        with self._probe_lock:
            self._probe_requests.append(conn)
        self._probe_wanted.set()

    def count(self, what: str) -> None:
        """Count a zombie replacement or a rollover (supervisor thread)."""
        setattr(self, what, getattr(self, what) + 1)

    def stream_url(self, streams: List[str], shard: Optional[int] = None) -> str:
        """``/stream?streams=a/b`` (plus ``&timeUnit=MICROSECOND`` when opted in, web-socket-streams.md);
        USD-M: ``/<route>/stream?...``, the route of the shard (never mixed)."""
        base = self.base_url + route_prefix(self.product, self.registry, streams, shard)
        if streams:
            # "+" of a kline offset ("@+08:00") would read as a space in a query string
            joined = '/'.join(streams).replace('+', '%2B')
            return with_time_unit(f"{base}/stream?streams={joined}", self.time_unit)
        return with_time_unit(f"{base}/stream", self.time_unit)

    def acquire_connection_slot(self) -> None:
        """Wait (interruptibly) until the per-host connection budget allows an attempt."""
        while not self.stopping:
            with self._budget_lock:
                delay = self._budget.try_acquire(_monotonic())
            if delay <= 0:
                return
            _log.warning("connection budget for %s exhausted; waiting %.1f s", self.host, delay,
                         extra={"host": self.host, "delay": delay})
            self.stop_event.wait(delay)

    # ------------------------------------------------------------------ desired streams (any thread)
    def add_stream(self, stream: str) -> None:
        with self._lock:
            index = self.registry.add(stream)
            if index is None:
                return
            link = self.links.get(index)
            if link is None:
                link = self.links[index] = ShardLink(self, index)
                link.add([stream])
                if self._thread is not None and not self.stopping:
                    link.start()
            else:
                link.add([stream])
        self.wake()

    def remove_stream(self, stream: str) -> None:
        emptied: Optional[ShardLink] = None
        with self._lock:
            index = self.registry.remove(stream)
            if index is None:
                return
            link = self.links.get(index)
            if link is None:
                return
            link.remove([stream])
            if not link.desired:
                del self.links[index]
                self._closed_links.append(link)
                emptied = link
        if emptied is not None:
            emptied.close()  # sends a close frame: never under the session lock
        self.wake()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        with self._lock:
            self.stopping = False
            self.stop_event.clear()
            self.ready.clear()
            self.rest_ok = False
            self.status.start(_monotonic())
            for link in self.links.values():
                link.start()
            self._thread = threading.Thread(target=self._run, name="binance_conn-supervisor", daemon=True)
            self._prober = threading.Thread(target=self._run_prober, name="binance_conn-prober", daemon=True)
            self._thread.start()
            self._prober.start()

    def begin_stop(self) -> None:
        """Stop intake and close every socket with a close frame (no lock held; the transport's
        close is bounded, so this keeps stop()'s deadline).  Caller's thread."""
        self.stopping = True
        self.stop_event.set()
        self._probe_wanted.set()
        self.wake()
        with self._lock:
            links = list(self.links.values()) + self._closed_links
        self.ready.clear()
        for link in links:
            for conn in link.conns():
                conn.retire(graceful=True)

    def threads(self) -> List[threading.Thread]:
        with self._lock:
            out = [t for t in (self._thread, self._prober) if t is not None]
            for link in list(self.links.values()) + self._closed_links:
                out.extend(link.threads())
        return out

    def finish_stop(self, reason: str) -> None:
        """After the threads ended: final state and connection event."""
        now = _monotonic()
        with self._lock:
            self._closed_links = [link for link in self._closed_links if any(t.is_alive() for t in link.threads())]
            for link in self.links.values():
                link.end()
            emitted = self.status.stop(reason, now)
        # A tick that was past its checks when begin_stop() cleared ready may have set it again.
        self.ready.clear()
        self._emit(emitted)

    # ------------------------------------------------------------------ supervisor thread
    def _run(self) -> None:
        run_guarded(self._supervise, guard=self.guard, component="market supervisor", stop_event=self.stop_event)

    def _supervise(self) -> None:
        while not self.stopping:
            timeout = self._tick()
            self._wake.wait(timeout)
            self._wake.clear()

    def _tick(self) -> float:
        now = _monotonic()
        deadline = now + _MAX_SLEEP
        with self._lock:
            links = list(self.links.values())
            closed = self._closed_links
            self._closed_links = [link for link in closed if any(t.is_alive() for t in link.threads())]
        errors: List[BinanceError] = []
        for link in links:
            link.reap()
            wake_at = link.tick(now, errors)
            if wake_at is not None and wake_at < deadline:
                deadline = wake_at
        for err in errors:
            self.subscription_errors += 1
            self.publish_error(err)
        self._update_state(now, links)
        d = self.status.next_deadline()
        if d is not None and d < deadline:
            deadline = d
        return max(0.0, min(_MAX_SLEEP, deadline - _monotonic()))

    def _update_state(self, now: float, links: List[ShardLink]) -> None:
        streams_up = all(link.is_ready for link in links)
        up = self.rest_ok and streams_up if links else self.rest_ok
        # A loss is REST unreachable or a link that was up and is not open now; a
        # subscription still waiting for its acknowledgement (or a new shard still
        # connecting for the first time) only keeps `ready` clear: it is no disconnect.
        lost = not self.rest_ok or any(link.ever_ready and not link.is_open for link in links)
        cause: Optional[str] = None
        if links and not streams_up:
            down = [link for link in links if not link.is_ready]
            reason = next((r for r in (link.down_reason() for link in down) if r), "connecting")
            cause = next((link.reporter.last_kind for link in down if link.reporter.last_kind), None)
        elif not self.rest_ok:
            reason = f"REST unreachable: {self.rest_error}" if self.rest_error else "checking REST"
        else:
            reason = "all streams subscribed" if links else "REST reachable"
        with self._lock:
            emitted, reconnected = self.status.update(up, lost, reason, now, cause)
            if reconnected:
                self.reconnects += 1
        if up and self.extra_ready():
            self.ready.set()
        else:
            self.ready.clear()
        self._emit(emitted)

    def _emit(self, emitted: List[Emitted]) -> None:
        publish_connection_events(self.dispatcher, self.exchange, self.name, emitted, _log, self.stop_event)

    def publish_error(self, err: BinanceError) -> None:
        if not self.dispatcher.subscribers(ERROR_TOPIC):
            _log.warning("%s", err, extra={"code": err.code, "session": self.name})
        self.dispatcher.publish(ERROR_TOPIC, err, self.stop_event)

    # ------------------------------------------------------------------ prober thread
    def _run_prober(self) -> None:
        run_guarded(self._probe_loop, guard=self.guard, component="market REST prober", stop_event=self.stop_event,
                    recover=self._prober_crashed)

    def _prober_crashed(self, exc: BaseException) -> None:
        """The links whose probe was in flight get no answer: tear them down (they reconnect)."""
        with self._probe_lock:
            probing, self._probing = self._probing, []
        for conn in probing:
            conn.kill(f"internal error: REST prober crashed: {type(exc).__name__}: {exc}")

    def _probe_loop(self) -> None:
        interval = float(self.ws_config.health_check_interval)
        while not self.stopping:
            self._probe_once(interval)
            if self.stopping:
                break
            self._probe_wanted.wait(interval)
            self._probe_wanted.clear()

    def _probe_once(self, interval: float) -> None:
        """One REST reachability check, then the activity checks silent links asked for (prober thread)."""
        timeout = min(interval, float(self.config.rest.timeout))
        ok, error = True, None
        try:
            self._rest_ping(timeout)
        except Exception as exc:  # noqa: BLE001 - any failure means "REST unreachable"
            ok, error = False, str(exc)
        changed = ok != self.rest_ok
        self.rest_ok = ok
        self.rest_error = error
        self.rest_checked_at = _monotonic()
        with self._probe_lock:
            requests, self._probe_requests = self._probe_requests, []
            self._probing = list(requests)
        for conn in requests:
            gap = None
            if ok:
                try:
                    gap = self._activity_gap(conn, timeout)
                except Exception as exc:  # noqa: BLE001 - best effort: reachability already proven
                    _log.debug("activity probe failed: %s", exc, extra={"error": str(exc)})
            now = _monotonic()
            with conn.link.lock:
                if conn.proto is not None:
                    conn.proto.health.probe_result(now, ok and gap is None, error or gap or "")
        with self._probe_lock:
            self._probing = []
        if changed or requests:
            self.wake()

    def _activity_gap(self, conn: StreamConn, timeout: float) -> Optional[str]:
        """Why this silent link is stalled although the market is not, or None.

        A pong proves little: REST is asked for the last trade of the symbol of the link's
        most recently active stream.  Every per-symbol stream kind moves when that symbol
        trades (trade/aggTrade per trade; a trade changes the best level, so bookTicker and
        depth diffs; tickers and klines update with it), so a trade clearly newer than the last
        event the link delivered for that symbol means the server stopped routing data to this
        link while still answering pings.  A quiet market (no newer trade) is never condemned.
        """
        get = self.rest_get
        if get is None:
            return None
        link = conn.link
        with link.lock:
            seen = [(s, entry[1]) for s, entry in list(link.stream_counts.items())
                    if s in link.desired and not s.startswith("!")]
        if not seen:
            return None
        stream, _ = max(seen, key=lambda item: item[1])
        symbol = stream.split("@", 1)[0].upper()
        prefix = symbol.lower() + "@"
        last_mono = max(t for s, t in seen if s.startswith(prefix))
        rows = get("/api/v3/aggTrades", {"symbol": symbol, "limit": 1}, timeout)
        if not rows:
            return None
        rest_ms = epoch_ms(rows[-1]["T"])  # µs with X-MBX-TIME-UNIT: MICROSECOND
        seen_ms = time.time() * 1000.0 - (_monotonic() - last_mono) * 1000.0
        if rest_ms > seen_ms + _ACTIVITY_SLACK_MS:
            return f"REST shows {symbol} trades {(rest_ms - seen_ms) / 1000.0:.1f} s newer than the last on {stream}"
        return None

    def stream_epoch(self, stream: str) -> Tuple[int, int, Optional[str]]:
        """``(reconnects of the shard carrying stream, rollovers, that shard's last loss reason)``:
        a gap detector compares two of these to name a gap's cause (any thread, never blocks)."""
        with self._lock:
            index = self.registry.shard_of(stream)
            link = self.links.get(index) if index is not None else None
        if link is None:
            return (0, self.rollovers, None)
        return (link.reconnects, self.rollovers, link.last_loss_reason)

    # ------------------------------------------------------------------ stats
    def stats(self) -> Dict[str, Any]:
        """A snapshot (any thread): state, per-stream and per-connection counters, last errors."""
        now = _monotonic()
        streams: Dict[str, Dict[str, Any]] = {}
        connections: List[Dict[str, Any]] = []
        per_link: List[Dict[str, Any]] = []
        with self._lock:
            links = list(self.links.values())
        bad = {"malformed": 0, "unknown": 0, "binary": 0}
        last_bad: Optional[str] = None
        last_connect_error: Optional[str] = None
        for link in links:
            with link.lock:
                for stream in link.desired:
                    entry = link.stream_counts.get(stream)
                    streams[stream] = {
                        "shard": link.index,
                        "events": entry[0] if entry else 0,
                        "last_message_age": (now - entry[1]) if entry else None,
                        "reconnects": link.reconnects,
                    }
                conn = link.links.primary
                proto = conn.proto if conn is not None else None
                counts = link.bad.counts(link.protos())
                sample = link.bad.sample
                info: Dict[str, Any] = {
                    "shard": link.index,
                    "streams": len(link.desired),
                    "route": self.registry.route(link.index),  # USD-M "public"/"market"; None elsewhere
                    "ready": link.is_ready,
                    "link_state": conn.life.state.value if conn is not None else None,
                    "rollover": link.links.state.value,
                    "reconnects": link.reconnects,
                    "failed_attempts": link.failures,
                    "rollover_in_progress": link.links.replacement is not None,
                    "duplicates_dropped": link.dedupe.dropped,
                    "held_for_order": link.dedupe.held_total,
                    "redundancy": link.redundancy,
                    "links_up": link.links_up,
                    "last_loss_reason": link.last_loss_reason,
                    "last_connect_error": link.last_connect_error,
                }
                if proto is not None:
                    info.update(proto.counters())
                    info["connected_for"] = (now - conn.opened_at) if conn and conn.opened_at else None
                info.update(counts)  # bad frames: totals over every connection of this shard
                info["last_bad_frame"] = sample
                connections.append(info)
                per_link.extend(link.link_stats(now))
            for key, value in counts.items():
                bad[key] += value
            last_bad = sample or last_bad
            last_connect_error = link.last_connect_error or last_connect_error
        return {
            "state": self.status.state.value,
            "ready": self.ready.is_set(),
            "rest_reachable": self.rest_ok,
            "reconnects": self.reconnects,
            "zombies_replaced": self.zombies,
            "rollovers": self.rollovers,
            "subscription_errors": self.subscription_errors,
            "internal_errors": self.guard.crashes,
            "last_internal_error": self.guard.last_crash,
            "last_connect_error": last_connect_error,
            "bad_frames": bad,
            "last_bad_frame": last_bad,
            "streams": streams,
            "connections": connections,
            "redundancy": int(getattr(self.ws_config, "redundancy", 1)),
            "links": per_link,
        }
