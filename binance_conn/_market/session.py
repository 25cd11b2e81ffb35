"""The market session's supervisor: one thread that drives every stream connection.

It wakes at the earliest deadline of any connection (ping due, pong deadline,
paced SUBSCRIBE budget, silence probe, lifetime), at the debounce deadline, or
when a reader reports something (connected, lost, control reply), and then:

* sends due pings and paced SUBSCRIBE/UNSUBSCRIBE frames (never more than the
  token bucket allows: Binance closes a connection above 5 messages/s);
* replaces zombies: a link that answers nothing (no data, no pong) is cut and
  the reader reconnects; a silent stream asks for a REST probe first, so a
  quiet market never causes a reconnect;
* starts a make-before-break rollover before the 24 h limit or on
  ``serverShutdown``, and switches once the replacement is subscribed;
* folds everything into one state (``_core/state.py``), the level-triggered
  ``ready`` event and debounced connection events (``_core/debounce.py``).

A second small thread, the prober, calls ``GET /api/v3/ping`` at the
health-check interval (and at once when a silent stream asks), so "network
dead" can be told from "market quiet" and ready can mean "REST reachable".
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from .._core.backoff import Backoff
from .._core.debounce import Emitted
from .._core.pacing import ConnectionBudget
from .._core.status import SessionStatus
from .._core.subscriptions import StreamRegistry
from .._io.dispatch import Dispatcher
from .._io.topics import ERROR_TOPIC, publish_connection_events
from .._io.transport import WsTransport
from ..enums import ConnectionState
from ..errors import BinanceError
from .link import ShardLink, StreamConn

__all__ = ["MarketSession"]

_log = logging.getLogger("binance_conn.supervisor")
_monotonic = time.monotonic
S = ConnectionState

_MAX_SLEEP = 0.5
_PING_YIELD = 1.0  # seconds after a ping during which control messages have send priority
_ACTIVITY_SLACK_MS = 2000.0  # clock skew + latency allowance of the market-activity probe
_ROLLOVER_OVERLAP = 1.0  # seconds a subscribed replacement may overlap the old link before the switch


class MarketSession:
    """All market-stream connections of one connector, and the threads that drive them."""

    name = "market"

    def __init__(
        self,
        config: Any,
        dispatcher: Dispatcher,
        rest_ping: Callable[[float], None],
        budget: ConnectionBudget,
    ) -> None:
        self.config = config
        self.exchange: str = config.exchange.name
        self.ws_config = config.websocket
        self.proxy: Optional[str] = config.websocket.proxy
        self.base_url: str = config.exchange.ws_url
        self.host = urlsplit(self.base_url).netloc
        self.backoff: Backoff = config.retry.backoff.policy()
        self.dispatcher = dispatcher
        self._rest_ping = rest_ping
        self._budget = budget
        self._budget_lock = threading.Lock()
        self.stop_event = threading.Event()
        self.stopping = False
        self._wake = threading.Event()
        self._lock = threading.RLock()
        self.registry = StreamRegistry(config.websocket.max_streams_per_connection)
        self.links: Dict[int, ShardLink] = {}
        self.status = SessionStatus(config.websocket.debounce)
        self.ready = threading.Event()
        self.rest_ok = False
        self.rest_checked_at: Optional[float] = None
        self.rest_error: Optional[str] = None
        self._probe_wanted = threading.Event()
        self._probe_requests: List[StreamConn] = []
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

    # ------------------------------------------------------------------ helpers for readers
    def wake(self) -> None:
        self._wake.set()

    def stream_url(self, streams: List[str]) -> str:
        if streams:
            return f"{self.base_url}/stream?streams={'/'.join(streams)}"
        return f"{self.base_url}/stream"

    def acquire_connection_slot(self) -> None:
        """Wait (interruptibly) until the per-host connection budget allows an attempt."""
        while not self.stopping:
            with self._budget_lock:
                delay = self._budget.try_acquire(_monotonic())
            if delay <= 0:
                return
            _log.warning("connection budget exhausted; waiting", extra={"host": self.host, "delay": delay})
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
                link.retry = 0
                link.start()
            self._thread = threading.Thread(target=self._run, name="binance_conn-supervisor", daemon=True)
            self._prober = threading.Thread(target=self._probe_loop, name="binance_conn-prober", daemon=True)
            self._thread.start()
            self._prober.start()

    def begin_stop(self) -> None:
        """Stop intake and cut every socket at once (never blocks)."""
        self.stopping = True
        self.stop_event.set()
        self._probe_wanted.set()
        self.wake()
        with self._lock:
            links = list(self.links.values()) + self._closed_links
        for link in links:
            for conn in (link.primary, link.replacement, *link.retiring):
                if conn is not None:
                    conn.retire(graceful=False)
        self.ready.clear()

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
                link.primary = None
                link.replacement = None
                link.retiring = []
                link.dedupe.end()
            emitted = self.status.stop(reason, now)
        # A tick that was past its checks when begin_stop() cleared ready may have set it again.
        self.ready.clear()
        self._emit(emitted)

    # ------------------------------------------------------------------ supervisor thread
    def _run(self) -> None:
        try:
            while not self.stopping:
                timeout = self._tick()
                self._wake.wait(timeout)
                self._wake.clear()
        except Exception:  # pragma: no cover - a bug must not kill supervision silently
            _log.exception("supervisor crashed")

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
            wake_at = self._tick_link(link, now, errors)
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

    def _tick_link(self, link: ShardLink, now: float, errors: List[BinanceError]) -> Optional[float]:
        sends: List[Tuple[StreamConn, List[str], bool]] = []
        kill: Optional[Tuple[StreamConn, Optional[WsTransport], str]] = None
        rollover: Optional[str] = None
        swap = False
        wake_at: Optional[float] = None
        with link.lock:
            for conn in (link.primary, link.replacement):
                proto = conn.proto if conn is not None else None
                if conn is None or proto is None or not proto.is_open:
                    continue
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
                    if err.details.get("method") == "SUBSCRIBE" and len(streams) > 1:
                        # One bad name fails its whole batch: retry each stream alone so
                        # only the bad ones are reported (and the good ones flow).
                        proto.subscriptions.max_params_per_message = 1
                        proto.add_streams(streams)
                    else:
                        errors.append(err)
                if proto.health.wants_probe(now):
                    proto.health.probe_started(now)
                    self._probe_requests.append(conn)
                    self._probe_wanted.set()
                blocked = self.dispatcher.blocked_since(conn.thread.ident)
                if blocked is not None:
                    # The reader waits on a full BLOCK subscriber: it cannot read pongs.
                    # Pause the health timers now (the reader resumes them under this lock
                    # once it is free), so neither the wait nor the moment between its end
                    # and that resume counts as silence, and no past deadline spins us.
                    proto.pause(blocked)
                reason = proto.is_zombie(now)
                if reason is not None:
                    kill = (conn, conn.transport, reason)  # the transport of the proto judged
                if conn is link.primary:
                    if proto.is_ready:
                        link.retry = 0
                        link.ever_ready = True
                    if link.replacement is None:
                        rollover = proto.rollover_reason(now)
                elif proto.is_ready:
                    # Switch once the server demonstrably routes data to the new link (or
                    # after a short overlap, for quiet streams): closing the old one the
                    # instant the new is subscribed can lose events still routed only to it.
                    if conn.ready_at is None:
                        conn.ready_at = now
                    if proto.events > 0 or now - conn.ready_at >= _ROLLOVER_OVERLAP:
                        swap = True
                    elif wake_at is None or conn.ready_at + _ROLLOVER_OVERLAP < wake_at:
                        wake_at = conn.ready_at + _ROLLOVER_OVERLAP
                w = proto.next_wakeup(now)
                if w is not None and (wake_at is None or w < wake_at):
                    wake_at = w
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
                _log.info("send failed", extra={"shard": link.index, "error": str(exc)})
        if kill is not None:
            conn, judged, reason = kill
            if judged is not None and conn.kill(f"zombie: {reason}", judged):
                self.zombies += 1
                _log.warning("zombie stream connection replaced", extra={"shard": link.index, "reason": reason})
        if rollover is not None and not self.stopping:
            self.rollovers += 1
            link.begin_rollover(rollover)
        if swap:
            link.finish_rollover()
        return wake_at

    def _update_state(self, now: float, links: List[ShardLink]) -> None:
        streams_up = all(link.is_ready for link in links)
        up = self.rest_ok and streams_up if links else self.rest_ok
        # A loss is REST unreachable or a link that was up and is not open now; a
        # subscription still waiting for its acknowledgement (or a new shard still
        # connecting for the first time) only keeps `ready` clear: it is no disconnect.
        lost = not self.rest_ok or any(link.ever_ready and not link.is_open for link in links)
        if links and not streams_up:
            reason = next((link.last_loss_reason for link in links if link.last_loss_reason), "connecting")
        elif not self.rest_ok:
            reason = f"REST unreachable: {self.rest_error}" if self.rest_error else "checking REST"
        else:
            reason = "all streams subscribed" if links else "REST reachable"
        with self._lock:
            emitted, reconnected = self.status.update(up, lost, reason, now)
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
    def _probe_loop(self) -> None:
        interval = float(self.ws_config.health_check_interval)
        while not self.stopping:
            ok, error = True, None
            try:
                self._rest_ping(min(interval, float(self.config.rest.timeout)))
            except Exception as exc:  # noqa: BLE001 - any failure means "REST unreachable"
                ok, error = False, str(exc)
            now = _monotonic()
            changed = ok != self.rest_ok
            self.rest_ok = ok
            self.rest_error = error
            self.rest_checked_at = now
            with self._lock:
                requests, self._probe_requests = self._probe_requests, []
            for conn in requests:
                gap = None
                if ok:
                    try:
                        gap = self._activity_gap(conn, min(interval, float(self.config.rest.timeout)))
                    except Exception as exc:  # noqa: BLE001 - best effort: reachability already proven
                        _log.debug("activity probe failed", extra={"error": str(exc)})
                now = _monotonic()
                with conn.link.lock:
                    if conn.proto is not None:
                        conn.proto.health.probe_result(now, ok and gap is None, error or gap or "")
            if changed or requests:
                self.wake()
            if self.stopping:
                break
            self._probe_wanted.wait(interval)
            self._probe_wanted.clear()

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
        rest_ms = int(rows[-1]["T"])
        seen_ms = time.time() * 1000.0 - (_monotonic() - last_mono) * 1000.0
        if rest_ms > seen_ms + _ACTIVITY_SLACK_MS:
            return f"REST shows {symbol} trades {(rest_ms - seen_ms) / 1000.0:.1f} s newer than the last on {stream}"
        return None

    # ------------------------------------------------------------------ stats
    def stats(self) -> Dict[str, Any]:
        now = _monotonic()
        streams: Dict[str, Dict[str, Any]] = {}
        connections: List[Dict[str, Any]] = []
        with self._lock:
            links = list(self.links.values())
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
                conn = link.primary
                proto = conn.proto if conn is not None else None
                info: Dict[str, Any] = {
                    "shard": link.index,
                    "streams": len(link.desired),
                    "ready": bool(proto is not None and proto.is_ready),
                    "reconnects": link.reconnects,
                    "failed_attempts": link.failures,
                    "rollover_in_progress": link.replacement is not None,
                    "duplicates_dropped": link.dedupe.dropped,
                    "last_loss_reason": link.last_loss_reason,
                }
                if proto is not None:
                    info.update(proto.counters())
                    info["connected_for"] = (now - conn.opened_at) if conn and conn.opened_at else None
                connections.append(info)
        return {
            "state": self.status.state.value,
            "ready": self.ready.is_set(),
            "rest_reachable": self.rest_ok,
            "reconnects": self.reconnects,
            "zombies_replaced": self.zombies,
            "rollovers": self.rollovers,
            "subscription_errors": self.subscription_errors,
            "streams": streams,
            "connections": connections,
        }
