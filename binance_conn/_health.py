"""Connector mixin: ``conn.health()`` (a small JSON-able dict for a web health route), the
event-lag figures of ``conn.stats()["lag"]`` and the prober hook that keeps the server-clock
offset behind them fresh (issue 16).

Event lag = Binance event time -> the start of the callback, on the server's clock: each
callback worker records ``local now + clock offset - event_time`` (:mod:`._core.lag`).  The
offset is the REST client's measured one: the connector's prober (every
``websocket.health_check_interval``) pings REST and, when the offset is missing or older than
``rest.time_sync_interval``, measures it (``GET /api/v3/time``) and hands it to the workers
(``Dispatcher.clock_offset``).  No lag is recorded before the first measurement was attempted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from ._core.lag import LagHistogram, merge, summary
from .errors import BinanceError

if TYPE_CHECKING:  # the Connector's parts (no import at run time: the connector imports this module)
    from ._io.dispatch import Dispatcher
    from ._market.books import BookManager
    from ._market.gaps import GapMonitor
    from ._market.session import MarketSession
    from ._userdata.session import UserDataLink
    from .rest import RestClient

__all__ = ["HealthMixin"]

_log = logging.getLogger("binance_conn.connector")


class HealthMixin:
    """``health()`` on :class:`~binance_conn.Connector`, and its lag figures."""

    rest: "RestClient"
    _dispatcher: "Dispatcher"
    _market: "MarketSession"
    _user: "UserDataLink"
    _gaps: "GapMonitor"
    _books: "BookManager"

    def _probe_rest(self, timeout: float) -> None:
        """The market prober's REST check (its thread): a ping, then the clock offset when due.

        Raises when the ping fails (REST unreachable); a failed clock sync only marks the offset
        unsynced (the lag is then recorded with the last offset, or 0)."""
        rest = self.rest
        rest.probe(timeout)
        offset = self._dispatcher.clock_offset
        sync = getattr(rest, "sync_clock_if_due", None)
        if offset is None or sync is None:
            return
        try:
            offset.set(sync(timeout))
        except BinanceError as exc:
            offset.set(None)
            _log.info("server clock offset not measured: %s", exc.message, extra={"error_code": exc.code})

    def _lag_histograms(self) -> Dict[str, LagHistogram]:
        """Topic -> the event-lag histogram of its current subscribers (merged copies)."""
        return {t: merge(hs) for t, hs in sorted(self._dispatcher.lag_histograms().items())}

    def _lag_stats(self) -> Dict[str, Any]:
        """``conn.stats()["lag"]``: the clock offset in use, overall and per stream figures."""
        offset = self._dispatcher.clock_offset
        merged = self._lag_histograms()
        streams = {t: summary(h) for t, h in sorted(merged.items()) if h.count}
        return {
            "clock_offset_ms": offset.ms if offset is not None else None,
            "clock_synced": bool(offset is not None and offset.is_synced),
            "overall": summary(merge(merged.values())),
            "streams": streams,
        }

    def health(self) -> Dict[str, Any]:
        """A small JSON-serialisable dict for a web app's health route (Flask, Django ...).

        Keys: ``ready`` (bool, as :attr:`ready`), ``state`` (the connector's state), ``sessions``
        (``market`` and ``user_data``: ``state``, ``ready``, ``reconnects``; user data also
        ``wanted``), ``worst_lag_ms`` (the latest event's lag of the worst stream, None before
        any), ``clock_synced``, ``open_gaps`` (gaps being backfilled now), ``books_out_of_sync``
        (books not SYNCED: all of them once stopped),
        ``rest_ban`` (``None``, or ``{"kind": "ip_banned"|"rate_limited", "seconds_left": s}``),
        ``callback_errors`` and ``dropped`` (totals over the current subscribers).

        Any thread; never blocks on the network (a few short locks).  Serve it as
        ``return jsonify(conn.health()), 200 if h["ready"] else 503``.
        """
        market = self._market.stats()
        user = self._user.stats()
        gaps = self._gaps.stats()
        books = self._books.stats()["books"]
        offset = self._dispatcher.clock_offset
        lasts: List[float] = [h.last_ms for hs in self._dispatcher.lag_histograms().values() for h in hs
                              if h.last_ms is not None]
        errors = dropped = 0
        for subs in self._dispatcher.stats().values():
            for s in subs:
                errors += s["errors"]
                dropped += s["dropped"]
        ban: Optional[Dict[str, Any]] = None
        state = getattr(self.rest, "ban_state", ("", 0.0))
        if state[0]:
            ban = {"kind": state[0], "seconds_left": round(state[1], 1)}
        return {
            "ready": bool(market["ready"]),  # the connector's ready: user data included when wanted
            "state": market["state"],
            "sessions": {
                "market": {"state": market["state"], "ready": bool(market["ready"]),
                           "reconnects": int(market["reconnects"])},
                "user_data": {"state": user.get("state"), "ready": bool(user.get("ready")),
                              "wanted": bool(user.get("wanted")), "reconnects": int(user.get("reconnects", 0))},
            },
            "worst_lag_ms": round(max(lasts), 1) if lasts else None,
            "clock_synced": bool(offset is not None and offset.is_synced),
            "open_gaps": max(0, int(gaps["gaps"]) - int(gaps["filled"]) - int(gaps["unfilled"])),
            "books_out_of_sync": sum(1 for b in books.values() if b["state"] != "SYNCED"),
            "rest_ban": ban,
            "callback_errors": errors,
            "dropped": dropped,
        }
