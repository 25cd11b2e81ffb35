"""The process's one Connector and the latest trade it has seen (shared by app.py and gunicorn.conf.py).

One connector per process: under gunicorn every worker is a process, so every worker
gets its own connector, its own WebSocket connection and its own callback threads.
Nothing here opens a socket or starts a thread until :func:`start` is called.

Configuration comes from the environment (so the same code runs against Binance, the
testnet, or a local fake exchange):

    BINANCE_SYMBOL        symbol to follow (default BTCUSDT)
    BINANCE_EXCHANGE      "binance" (default) or "binance-testnet"
    BINANCE_REST_URL      optional base URL overrides, e.g. the URLs that
    BINANCE_WS_URL        ``python -m binance_conn.testing`` prints
    BINANCE_WS_API_URL
    BINANCE_API_KEY ...   read by ``from_env()`` (not needed for public market data)
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Dict, Optional

import binance_conn as bc

__all__ = ["SYMBOL", "build_config", "connector", "ensure_started", "latest", "start", "stop"]

log = logging.getLogger("example.feed")

SYMBOL = os.environ.get("BINANCE_SYMBOL", "BTCUSDT").upper()

_lock = threading.Lock()
_start_lock = threading.Lock()
_conn: Optional[bc.Connector] = None
_started_in: Optional[int] = None  # pid of the process that started _conn
_latest: Dict[str, Any] = {"price": None, "trade_id": None, "trade_time": None, "trades_seen": 0}


def build_config() -> bc.Config:
    """A Config from the environment; raises bc.ValidationError for a bad value."""
    b = bc.Config.builder().with_exchange(os.environ.get("BINANCE_EXCHANGE", "binance")).from_env()
    if os.environ.get("BINANCE_REST_URL"):
        b = b.with_rest_url(os.environ["BINANCE_REST_URL"])
    if os.environ.get("BINANCE_WS_URL"):
        b = b.with_ws_url(os.environ["BINANCE_WS_URL"])
    if os.environ.get("BINANCE_WS_API_URL"):
        b = b.with_ws_api_url(os.environ["BINANCE_WS_API_URL"])
    return b.build()


def _on_trade(t: bc.Trade) -> None:
    # Runs on the connector's worker thread for this subscriber, never on a request thread.
    with _lock:
        _latest.update(price=format(t.price, "f"), trade_id=t.trade_id, trade_time=t.trade_time,
                       trades_seen=_latest["trades_seen"] + 1)


def _on_connection(ev: bc.ConnectionEvent) -> None:
    log.info("pid %d: %s %s (%s)", os.getpid(), ev.session, ev.state, ev.reason)


def _on_error(err: bc.BinanceError) -> None:
    log.warning("pid %d: connector error %s: %s", os.getpid(), err.code, err)


def connector() -> bc.Connector:
    """The process's connector, created (with its subscriptions, but not started) on first use.

    Creating a Connector opens nothing and starts no thread, so this is safe at import time,
    also in gunicorn's master with ``--preload``: each forked worker then inherits a STOPPED
    copy (inherited sockets dropped, subscriptions and callbacks kept) that :func:`start`
    brings up in that worker.
    """
    global _conn
    with _lock:
        if _conn is None:
            conn = bc.Connector(build_config())
            conn.on_trade(SYMBOL, _on_trade)
            conn.on_connection(_on_connection)
            conn.on_error(_on_error)
            _conn = conn
        return _conn


def start() -> bc.Connector:
    """Start this process's connector (idempotent: starting a running connector does nothing).

    Returns at once; it connects in the background and never raises for network trouble.
    """
    global _started_in
    conn = connector()
    conn.start()
    _started_in = os.getpid()
    return conn


def ensure_started() -> bc.Connector:
    """The lazy path (servers without a post_fork hook): start once in this process.

    Cheap enough for every request; it does not restart a connector stopped at exit.
    """
    if _started_in != os.getpid():
        with _start_lock:
            if _started_in != os.getpid():
                return start()
    return connector()


def stop(timeout: float = 5.0) -> bool:
    """Stop the connector if there is one (never raises). Returns True when every thread ended."""
    with _lock:
        conn = _conn
    return conn.stop(timeout=timeout) if conn is not None else True


def latest() -> Dict[str, Any]:
    """A copy of the latest trade seen by this process (request threads call this)."""
    with _lock:
        return dict(_latest)
