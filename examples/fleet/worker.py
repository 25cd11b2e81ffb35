"""This worker's market data (a RedisFeed reading the hub) and its RestClient (signed calls).

One of each per gunicorn worker, created in the worker (gunicorn.conf.py's ``post_fork``):

- the **RedisFeed** reads the events the one hub publishes (no Binance connection here): the
  latest trade and the best bid/ask of each symbol, kept under a lock for the request threads;
- the **RestClient** signs this worker's calls; its config has ``with_shared_limits(REDIS_URL)``,
  so the weight budget, order counts and a 429/418 ban are shared with every other worker, the
  cron job and the hub. It starts no thread.

Nothing here opens a socket or starts a thread until :func:`start`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from decimal import Decimal
from typing import Any, Dict, Optional

import settings

import binance_conn as bc

__all__ = ["ensure_started", "feed", "health", "latest", "plain", "rest", "start", "stop"]

log = logging.getLogger("example.worker")

_lock = threading.Lock()
_start_lock = threading.Lock()
_feed: Optional[bc.RedisFeed] = None
_rest: Optional[bc.RestClient] = None
_started_in: Optional[int] = None  # pid of the process that started them
_trades: Dict[str, Dict[str, Any]] = {}  # symbol -> latest trade
_tops: Dict[str, Dict[str, Any]] = {}  # symbol -> best bid / ask


def plain(d: Decimal) -> str:
    """A Decimal for JSON as Binance writes it: no exponent, its decimals kept ("0.00000000", never
    ``str()``'s "0E-8"); a string, never a float."""
    return format(d, "f")


def _on_trade(t: bc.Trade) -> None:
    # Runs on the feed's worker thread for this subscriber, never on a request thread.
    with _lock:
        _trades[t.symbol] = {"price": plain(t.price), "qty": plain(t.quantity), "trade_id": t.trade_id,
                             "trade_time": t.trade_time}


def _on_book_ticker(b: bc.BookTicker) -> None:
    with _lock:
        _tops[b.symbol] = {"bid": plain(b.bid_price), "bid_qty": plain(b.bid_qty), "ask": plain(b.ask_price),
                           "ask_qty": plain(b.ask_qty), "update_id": b.update_id}


def _on_connection(ev: bc.ConnectionEvent) -> None:
    # The hub's connection events (session "market"), and the feed's own link to Redis (session "redis").
    log.info("pid %d: %s %s (%s)", os.getpid(), ev.session, ev.state, ev.reason)


def _on_error(err: bc.BinanceError) -> None:
    log.warning("pid %d: feed error %s: %s", os.getpid(), err.code, err)


def start() -> None:
    """Create and start this process's feed and REST client (idempotent in a process).

    Returns at once: the feed connects to Redis in the background and never raises for network
    trouble. Raises bc.ValidationError for a bad setting (gunicorn then shows it and stops).
    """
    global _feed, _rest, _started_in
    with _lock:
        if _started_in == os.getpid():
            return
        cfg = settings.build_config()
        f = bc.RedisFeed(settings.REDIS_URL, prefix=settings.HUB_PREFIX)  # unnamed: starts at the newest event
        f.on_trade(settings.SYMBOLS, _on_trade)
        f.on_book_ticker(settings.SYMBOLS, _on_book_ticker)
        f.on_connection(_on_connection)
        f.on_error(_on_error)
        _feed, _rest, _started_in = f, bc.RestClient(cfg), os.getpid()
    f.start()
    log.info("pid %d: feed started (Redis %s, symbols %s)", os.getpid(), settings.redis_for_logs(),
             ",".join(settings.SYMBOLS))


def ensure_started() -> None:
    """The lazy path (``flask run``, servers without a post_fork hook); cheap on every request."""
    if _started_in != os.getpid():
        with _start_lock:
            start()


def stop(timeout: float = 5.0) -> bool:
    """Stop the feed and close the REST client's pool (never raises). True when every thread ended."""
    with _lock:
        f, r = _feed, _rest
    ok = f.stop(timeout=timeout) if f is not None else True
    if r is not None:
        r.close()
    return ok


def feed() -> bc.RedisFeed:
    ensure_started()
    assert _feed is not None
    return _feed


def rest() -> bc.RestClient:
    ensure_started()
    assert _rest is not None
    return _rest


def latest(symbol: str) -> Dict[str, Any]:
    """The latest trade and best bid/ask this worker received for ``symbol`` (copies)."""
    with _lock:
        trade = dict(_trades.get(symbol, {}))
        top = dict(_tops.get(symbol, {}))
    if trade:
        trade["age_s"] = round(time.time() - trade["trade_time"] / 1000, 3)
    return {"trade": trade or None, "top": top or None}


def health() -> Dict[str, Any]:
    """A JSON-friendly summary: ``ready`` when the hub is CONNECTED (its heartbeat fresh) and the
    feed reads every topic; the hub's topics. (A REST ban shows on the signed routes, as a 429.)"""
    f = feed()
    st = f.stats()
    reading = all(sid is not None for sids in st["positions"].values() for sid in sids)
    state = f.state
    return {
        "ready": state is bc.ConnectionState.CONNECTED and reading,
        "state": state.value,          # the hub's state (DISCONNECTED: its heartbeat stopped)
        "reading": reading,            # every subscribed topic has a position in its Redis stream
        "hub_topics": json.loads(st["hub"].get("topics") or "[]"),  # what the hub holds
        "redis_outages": st["redis_outages"],
    }
