"""Prometheus metrics of a Connector (the ``metrics`` extra: ``pip install 'binance_conn[metrics]'``).

::

    import binance_conn.metrics as bcm
    server = bcm.serve(conn, port=9108)          # GET /metrics (Prometheus), GET /health (JSON)
    ...
    server.stop()
    # or, into your own registry (Flask/Django exporters, several connectors):
    bcm.register(conn, registry, name="spot")

Nothing here runs per message: a custom collector reads ``conn.stats()``, ``conn.health()``-like
figures and the REST client's counters when Prometheus scrapes (the event-lag histogram is kept
by the callback workers themselves, :mod:`binance_conn._core.lag`).  Every metric is prefixed
``binance_conn_`` and carries a ``connector`` label (``name=``, default the exchange name, made
unique per registry); :data:`METRICS` lists names, types and labels (the README's table, locked
by a test).  ``prometheus_client`` is imported on first use: importing this module never needs it.
"""

from __future__ import annotations

import errno
import http.server
import importlib
import json
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple

from ._core.lag import BUCKETS_MS
from ._io.guard import ThreadGuard
from .enums import BookState, ConnectionState
from .errors import ValidationError

if TYPE_CHECKING:
    from .connector import Connector

__all__ = ["METRICS", "ConnectorCollector", "MetricsServer", "register", "serve", "METRICS_EXTRA_HINT"]

_log = logging.getLogger("binance_conn.metrics")

METRICS_EXTRA_HINT = "needs prometheus_client: pip install 'binance_conn[metrics]'"

# name (as exposed), type, labels (besides ``connector``), meaning: the README table is this list.
METRICS: Tuple[Tuple[str, str, Tuple[str, ...], str], ...] = (
    ("binance_conn_up", "gauge", (), "1 while the connector is ready (REST reachable, every stream subscribed)"),
    ("binance_conn_session_state", "gauge", ("session", "state"),
     "1 for the current state of each session (market, user_data), 0 for the others"),
    ("binance_conn_session_ready", "gauge", ("session",), "1 while the session is ready"),
    ("binance_conn_reconnects_total", "counter", ("session",), "reconnects of the session since creation"),
    ("binance_conn_messages_total", "counter", ("stream",), "events received per market stream"),
    ("binance_conn_event_lag_seconds", "histogram", ("stream",),
     "Binance event time -> start of the callback, on the server's clock (offset-corrected)"),
    ("binance_conn_clock_offset_seconds", "gauge", (), "measured server-clock offset (server - local)"),
    ("binance_conn_clock_synced", "gauge", (), "1 when the last server-clock measurement succeeded"),
    ("binance_conn_subscriber_queue_depth", "gauge", ("topic", "subscriber"), "events queued, not yet delivered"),
    ("binance_conn_subscriber_delivered_total", "counter", ("topic", "subscriber"), "events delivered"),
    ("binance_conn_subscriber_dropped_total", "counter", ("topic", "subscriber"),
     "events dropped for the subscriber (overflow, stop deadline, unsubscribe)"),
    ("binance_conn_callback_errors_total", "counter", ("topic", "subscriber"), "callbacks that raised"),
    ("binance_conn_gaps_opened_total", "counter", ("stream",), "gaps detected (GapEvent OPEN)"),
    ("binance_conn_gaps_filled_total", "counter", ("stream",), "gaps backfilled completely (FILLED)"),
    ("binance_conn_gaps_unfilled_total", "counter", ("stream",), "gaps that ended UNFILLED"),
    ("binance_conn_gaps_open", "gauge", (), "gaps open now (being backfilled)"),
    ("binance_conn_book_state", "gauge", ("symbol", "state"),
     "1 for the current state of each local order book (SYNCING, SYNCED, OUT_OF_SYNC)"),
    ("binance_conn_rest_calls_total", "counter", ("endpoint", "status"),
     "REST attempts by path and outcome: HTTP status, connect / read_timeout / connection_lost, or refused"),
    ("binance_conn_rest_used_weight", "gauge", ("window",), "request weight used in the current window"),
    ("binance_conn_rest_weight_limit", "gauge", ("window",), "request-weight limit of the window"),
    ("binance_conn_rest_banned", "gauge", ("kind",),
     "1 while this IP is banned (kind ip_banned, HTTP 418) or rate limited (rate_limited, 429)"),
    ("binance_conn_rest_ban_seconds_left", "gauge", (), "seconds until REST calls may go out again (0: now)"),
)

_SESSIONS = ("market", "user_data")
_STATES = tuple(s.value for s in ConnectionState)
_BOOK_STATES = tuple(s.value for s in BookState)
_BAN_KINDS = ("ip_banned", "rate_limited")
_LE = tuple(f"{b / 1000.0:g}" for b in BUCKETS_MS) + ("+Inf",)


def _prometheus(module: str = "prometheus_client") -> Any:
    """A ``prometheus_client`` module; ImportError naming the extra when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"binance_conn.metrics {METRICS_EXTRA_HINT}") from exc


class ConnectorCollector:
    """A Prometheus collector of one or several connectors (one per registry; :func:`register`).

    ``collect()`` runs on the scraping thread: it reads each connector's counters (a few short
    locks; under ``with_shared_limits`` the fleet's used weight and ban gate are one Redis read
    each, bounded by the link's timeout).  A connector whose figures cannot be read is logged and left out of that
    scrape (logged, and reported to its ``on_error`` as an
    :class:`~binance_conn.errors.InternalError`); the others are still exported.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conns: "weakref.WeakValueDictionary[str, Connector]" = weakref.WeakValueDictionary()

    def add(self, conn: "Connector", name: Optional[str] = None) -> str:
        """Export ``conn`` under ``connector=name`` (default: its exchange, made unique); returns the name.

        Adding ``conn`` again is a no-op when ``name`` is None or its current name; another ``name``
        is a ValidationError (field ``conn``): :meth:`remove` it first to rename it."""
        with self._lock:
            existing = self._name_of(conn)
            if existing is not None:
                if name is None or name == existing:
                    return existing
                raise ValidationError("conn", existing, f"already registered in this registry as {existing!r} "
                                      f"(collector.remove(conn) first to export it as {name!r})")
            if name is None:
                base = name = conn.exchange
                n = 2
                while name in self._conns:
                    name = f"{base}-{n}"
                    n += 1
            elif name in self._conns:
                raise ValidationError("name", name, "another connector is exported under this name in the registry")
            self._conns[name] = conn
            return name

    def _name_of(self, conn: "Connector") -> Optional[str]:
        """Lock held: the name ``conn`` is exported under, or None."""
        for existing, c in list(self._conns.items()):
            if c is conn:
                return existing
        return None

    def remove(self, conn: "Connector") -> bool:
        """Stop exporting ``conn``; True if it was exported."""
        with self._lock:
            for name, c in list(self._conns.items()):
                if c is conn:
                    del self._conns[name]
                    return True
        return False

    def names(self) -> List[str]:
        with self._lock:
            return sorted(self._conns)

    def describe(self) -> List[Any]:
        return list(self._families().values())

    def collect(self) -> Iterator[Any]:
        families = self._families()
        with self._lock:
            conns = list(self._conns.items())
        for name, conn in conns:
            try:
                self._fill(families, name, conn)
            except Exception as exc:  # noqa: BLE001 - one connector's trouble must not fail the whole scrape
                _crashed(conn, f"metrics collector (connector {name!r}, left out of this scrape)", exc)
        return iter(families.values())

    @staticmethod
    def _families() -> Dict[str, Any]:
        core = _prometheus("prometheus_client.core")
        kinds = {"gauge": core.GaugeMetricFamily, "counter": core.CounterMetricFamily,
                 "histogram": core.HistogramMetricFamily}
        out: Dict[str, Any] = {}
        for full, kind, labels, doc in METRICS:
            name = full[:-len("_total")] if kind == "counter" else full
            out[full] = kinds[kind](name, doc, labels=("connector",) + labels)
        return out

    @staticmethod
    def _fill(f: Dict[str, Any], c: str, conn: "Connector") -> None:
        stats = conn.stats()
        market, user = stats["market"], stats["user_data"]
        f["binance_conn_up"].add_metric([c], 1.0 if stats["ready"] else 0.0)
        for session, s in (("market", market), ("user_data", user)):
            state = s.get("state")
            for st in _STATES:
                f["binance_conn_session_state"].add_metric([c, session, st], 1.0 if state == st else 0.0)
            f["binance_conn_session_ready"].add_metric([c, session], 1.0 if s.get("ready") else 0.0)
            f["binance_conn_reconnects_total"].add_metric([c, session], float(s.get("reconnects", 0)))
        for stream, s in stats["streams"].items():
            f["binance_conn_messages_total"].add_metric([c, stream], float(s["events"]))
        for topic, h in conn._lag_histograms().items():
            if h.count:
                buckets = [(le, float(n)) for le, (_, n) in zip(_LE, h.cumulative())]
                f["binance_conn_event_lag_seconds"].add_metric([c, topic], buckets, h.sum_ms / 1000.0)
        lag = stats["lag"]
        f["binance_conn_clock_offset_seconds"].add_metric([c], (lag["clock_offset_ms"] or 0) / 1000.0)
        f["binance_conn_clock_synced"].add_metric([c], 1.0 if lag["clock_synced"] else 0.0)
        for topic, subs in stats["subscribers"].items():
            for s in subs:
                labels = [c, topic, str(s["id"])]
                f["binance_conn_subscriber_queue_depth"].add_metric(labels, float(s["pending"]))
                f["binance_conn_subscriber_delivered_total"].add_metric(labels, float(s["delivered"]))
                f["binance_conn_subscriber_dropped_total"].add_metric(labels, float(s["dropped"]))
                f["binance_conn_callback_errors_total"].add_metric(labels, float(s["errors"]))
        gaps = stats["gaps"]
        for stream, g in gaps["streams"].items():
            f["binance_conn_gaps_opened_total"].add_metric([c, stream], float(g["gaps"]))
            f["binance_conn_gaps_filled_total"].add_metric([c, stream], float(g["filled"]))
            f["binance_conn_gaps_unfilled_total"].add_metric([c, stream], float(g["unfilled"]))
        f["binance_conn_gaps_open"].add_metric([c], float(max(0, gaps["gaps"] - gaps["filled"] - gaps["unfilled"])))
        for symbol, b in stats["books"]["books"].items():
            for st in _BOOK_STATES:
                f["binance_conn_book_state"].add_metric([c, symbol, st], 1.0 if b["state"] == st else 0.0)
        rest = conn.rest
        for (path, status), n in sorted(getattr(rest, "call_counts", {}).items()):
            f["binance_conn_rest_calls_total"].add_metric([c, path, status], float(n))
        used = stats["rest"]["used_weight"]
        for window, n in used.items():
            f["binance_conn_rest_used_weight"].add_metric([c, window], float(n))
        for window, n in rest.weight_limits.items():
            f["binance_conn_rest_weight_limit"].add_metric([c, window], float(n))
        kind, left = getattr(rest, "ban_state", ("", 0.0))
        for k in _BAN_KINDS:
            f["binance_conn_rest_banned"].add_metric([c, k], 1.0 if kind == k else 0.0)
        f["binance_conn_rest_ban_seconds_left"].add_metric([c], float(left))


def _crashed(conn: "Connector", component: str, exc: BaseException) -> None:
    """Log ``exc`` with its traceback and report it through ``conn``'s ``on_error`` (an InternalError)."""
    ThreadGuard(_log, conn.exchange, conn._on_callback_error).crashed(component, exc)


_COLLECTORS: "weakref.WeakKeyDictionary[Any, ConnectorCollector]" = weakref.WeakKeyDictionary()
_COLLECTORS_LOCK = threading.Lock()


def register(conn: "Connector", registry: Any = None, *, name: Optional[str] = None) -> ConnectorCollector:
    """Export ``conn``'s metrics in ``registry`` (default: ``prometheus_client.REGISTRY``).

    Several connectors in one registry share one collector and are told apart by the
    ``connector`` label: ``name``, default the exchange name (``binance``, ``binance-2`` ...).
    Registering a connector again is a no-op (with no ``name`` or the same one); under another
    ``name`` it is refused: ``collector.remove(conn)`` first.  Returns the registry's collector
    (``collector.remove(conn)`` stops exporting it).  Any thread.

    Raises:
        ImportError: ``prometheus_client`` is not installed (the ``metrics`` extra).
        ValidationError: ``conn`` is no Connector or is registered in this registry under another
            name (field ``conn``), or ``name`` is empty or taken in this registry.
    """
    from .connector import Connector

    if not isinstance(conn, Connector):
        raise ValidationError("conn", type(conn).__name__, "must be a binance_conn.Connector")
    if name is not None and (not isinstance(name, str) or not name):
        raise ValidationError("name", name, "must be a non-empty string")
    pc = _prometheus()
    if registry is None:
        registry = pc.REGISTRY
    with _COLLECTORS_LOCK:
        collector = _COLLECTORS.get(registry)
        if collector is None:
            collector = ConnectorCollector()
            registry.register(collector)
            _COLLECTORS[registry] = collector
    collector.add(conn, name)
    return collector


class MetricsServer:
    """A small HTTP server (its own daemon thread): ``GET /metrics`` (Prometheus text format) and
    ``GET /health`` (``conn.health()`` as JSON; 200 when ready, else 503).

    ``port`` / ``url``: where it listens (``port=0`` picks a free one).  :meth:`stop` (any thread,
    idempotent, returns within ``timeout``) closes it; also a context manager.  An error while
    answering is logged, reported to the connector's ``on_error`` (an ``InternalError``) and
    answered 500; the server goes on serving.
    """

    def __init__(self, conn: "Connector", registry: Any, addr: str, port: int) -> None:
        pc = _prometheus()
        self._conn = conn
        self._registry = registry
        self._generate = pc.generate_latest
        self._content_type = str(pc.CONTENT_TYPE_LATEST)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 10.0  # a client that stalls cannot hold a handler thread for long

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server._answer(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
                _log.debug("metrics server: " + format, *args)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                _log.exception("metrics server: error answering %s", client_address)

        self._httpd = Server((addr, port), Handler)
        self.port: int = int(self._httpd.server_address[1])
        self.url = f"http://{addr if ':' not in addr else f'[{addr}]'}:{self.port}"
        self._thread = threading.Thread(target=self._serve, name=f"binance_conn-metrics-{self.port}", daemon=True)
        self._stopped = False
        self._stop_lock = threading.Lock()
        self._thread.start()

    def _serve(self) -> None:
        try:
            self._httpd.serve_forever(poll_interval=0.1)
        except Exception:  # pragma: no cover - serve_forever's own loop failed
            _log.exception("metrics server on port %d stopped by an error", self.port)

    def _answer(self, req: http.server.BaseHTTPRequestHandler) -> None:
        path = req.path.split("?", 1)[0]
        try:
            if path in ("/metrics", "/"):
                body, status, ctype = self._generate(self._registry), 200, self._content_type
            elif path == "/health":
                health = self._conn.health()
                body = json.dumps(health).encode()
                status, ctype = (200 if health["ready"] else 503), "application/json"
            else:
                body, status, ctype = b"not found: try /metrics or /health\n", 404, "text/plain"
        except Exception as exc:  # noqa: BLE001 - answer 500, keep serving
            _crashed(self._conn, f"metrics server ({path})", exc)
            body, status, ctype = f"error: {type(exc).__name__}\n".encode(), 500, "text/plain"
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop serving and close the socket; True when the thread ended within ``timeout``."""
        with self._stop_lock:
            if not self._stopped:
                self._stopped = True
                self._httpd.shutdown()
                self._httpd.server_close()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> "MetricsServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"MetricsServer(url={self.url!r}, stopped={self._stopped})"


def serve(conn: "Connector", port: int = 9108, addr: str = "127.0.0.1", *, registry: Any = None,
          name: Optional[str] = None) -> MetricsServer:
    """Serve ``conn``'s metrics on ``http://addr:port/metrics`` and its health on ``/health``.

    ``registry``: serve this registry (``conn`` registered into it); default a registry of this
    server's own holding only ``conn``.  Returns a running :class:`MetricsServer` (``.stop()``).
    Any thread; returns at once.

    Raises:
        ImportError: ``prometheus_client`` is not installed.
        ValidationError: a bad ``port`` or ``name`` (see :func:`register`); ``port`` in use or not
            allowed, or ``addr`` not one of this host's (chained from the ``OSError``).  Nothing is
            left behind then: no thread, no socket, ``conn`` not registered by this call.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValidationError("port", port, "must be an int in 0..65535 (0: any free port)")
    pc = _prometheus()
    if registry is None:
        registry = pc.CollectorRegistry()
    with _COLLECTORS_LOCK:
        before = _COLLECTORS.get(registry)
    was = before is not None and conn in before._conns.values()
    collector = register(conn, registry, name=name)
    try:
        return MetricsServer(conn, registry, addr, port)  # binds before its thread starts
    except OSError as exc:
        if not was:
            collector.remove(conn)
        raise _listen_error(exc, addr, port) from exc


def _listen_error(exc: OSError, addr: str, port: int) -> ValidationError:
    if exc.errno == errno.EADDRINUSE:
        return ValidationError("port", port, f"port {port} on {addr} is in use")
    if exc.errno == errno.EACCES:
        return ValidationError("port", port, f"port {port} on {addr} is not allowed here (permission denied)")
    return ValidationError("addr", addr, f"cannot listen on {addr} port {port} ({exc.strerror or exc})")
