"""The process's one Connector and the latest trade it saw (any thread may read it).

Configuration from the environment: BINANCE_SYMBOL (default BTCUSDT), BINANCE_EXCHANGE,
BINANCE_REST_URL / BINANCE_WS_URL / BINANCE_WS_API_URL (e.g. the fake exchange's URLs) and
what ``from_env()`` reads (BINANCE_API_KEY, ...; public market data needs no key).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Dict, Optional

import binance_conn as bc

__all__ = ["SYMBOL", "connector", "latest", "start", "stop"]

log = logging.getLogger("prices.feed")
SYMBOL = os.environ.get("BINANCE_SYMBOL", "BTCUSDT").upper()

_lock = threading.Lock()
_conn: Optional[bc.Connector] = None
_latest: Dict[str, Any] = {"price": None, "trade_id": None, "trades_seen": 0}


def _config() -> bc.Config:
    b = bc.Config.builder().with_exchange(os.environ.get("BINANCE_EXCHANGE", "binance")).from_env()
    for var, setter in (("BINANCE_REST_URL", b.with_rest_url), ("BINANCE_WS_URL", b.with_ws_url),
                        ("BINANCE_WS_API_URL", b.with_ws_api_url)):
        if os.environ.get(var):
            setter(os.environ[var])
    return b.build()


def _on_trade(t: bc.Trade) -> None:  # on the connector's worker thread
    with _lock:
        _latest.update(price=format(t.price, "f"), trade_id=t.trade_id, trades_seen=_latest["trades_seen"] + 1)


def connector() -> Optional[bc.Connector]:
    """The connector, or None before :func:`start` (views must cope: it may not run here)."""
    return _conn


def start() -> bc.Connector:
    """Create and start the connector (once per process; later calls return it)."""
    global _conn
    with _lock:
        if _conn is None:
            conn = bc.Connector(_config())
            conn.on_trade(SYMBOL, _on_trade)
            conn.on_connection(lambda ev: log.info("%s %s (%s)", ev.session, ev.state, ev.reason))
            conn.on_error(lambda err: log.warning("connector error %s: %s", err.code, err))
            _conn = conn
    _conn.start()  # returns at once; connects in the background, never raises for network trouble
    return _conn


def stop(timeout: float = 5.0) -> bool:
    """Stop the connector if there is one (never raises)."""
    conn = _conn
    if conn is None:
        return True
    clean = conn.stop(timeout=timeout)
    log.info("pid %d: connector stopped%s", os.getpid(), "" if clean else " (timed out)")
    return clean


def latest() -> Dict[str, Any]:
    with _lock:
        return dict(_latest)
