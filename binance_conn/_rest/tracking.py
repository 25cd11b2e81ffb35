"""The connector's RestClient: it reports the orders it placed (the connector feeds them to the
user-data session's order tracker, so a user-data gap also covers REST placements), counts calls
by endpoint and outcome, and keeps the server-clock offset fresh for the event-lag figures.

Call counts (``call_counts``): one per attempt that got an answer (its HTTP status), failed on the
network (the failure kind: ``connect``, ``read_timeout``, ``connection_lost``) or was refused
without contacting Binance (``refused``: the ban gate or the client-side weight budget).  Counted
under a small lock per attempt: REST calls are not on the per-message hot path.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import requests

from .._api.base import placed_orders
from .._core.retry import FailureKind
from ..errors import BinanceError, RateLimitError
from . import futures as _futures  # noqa: F401 - registers the futures variants of RestClient
from .client import RestClient, _Call

__all__ = ["TrackingRestClient"]

_log = logging.getLogger("binance_conn.rest")


class TrackingRestClient(RestClient):
    """A :class:`RestClient` that tells an observer about every order it placed (typed
    placements: single orders, order lists, cancel-replace, SOR; and raw ``POST /api/v3/order``
    answers), so a user-data gap also covers REST placements."""

    order_observer: Optional[Callable[[Any], None]] = None

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        self._calls: Dict[Tuple[str, str], int] = {}
        self._calls_lock = threading.Lock()
        super().__init__(config, *args, **kwargs)

    # ---------------------------------------------------------------- metrics hooks
    @property
    def call_counts(self) -> Dict[Tuple[str, str], int]:
        """``{(path, status): attempts}`` since creation: status is the HTTP status (``"200"``,
        ``"418"``...), a network failure kind or ``"refused"`` (see the module doc).  Any thread."""
        with self._calls_lock:
            return dict(self._calls)

    def _count(self, path: str, status: str) -> None:
        key = (path, status)
        with self._calls_lock:
            self._calls[key] = self._calls.get(key, 0) + 1

    def _attempt_once(self, call: _Call) -> Tuple[Optional[BinanceError], Any]:
        try:
            return super()._attempt_once(call)
        except RateLimitError as exc:
            if exc.details.get("fail_fast") or exc.details.get("client_side"):
                self._count(call.path, "refused")
            raise

    def _handle(self, call: _Call, response: requests.Response) -> Tuple[Optional[BinanceError], Any]:
        self._count(call.path, str(response.status_code))
        return super()._handle(call, response)

    def _failure(self, call: _Call, kind: FailureKind, text: str, cause: Optional[BaseException],
                 **kwargs: Any) -> Tuple[BinanceError, FailureKind]:
        self._count(call.path, kind.value)
        return super()._failure(call, kind, text, cause, **kwargs)

    def sync_clock_if_due(self, timeout: float) -> int:
        """Measure the server-clock offset (``GET .../time``) when none is valid or it is older than
        ``rest.time_sync_interval``; returns the offset (ms).  At most ``timeout`` seconds and cut at
        once by the stop event, as :meth:`probe` (the connector's prober calls it after each ping).

        Raises:
            BinanceError: the time request failed (the previous offset stays).
        """
        clock = self._clock
        if not clock.needs_sync(int(time.time() * 1000)):
            return clock.offset_ms
        with self._sync_lock:
            if clock.needs_sync(int(time.time() * 1000)):
                sent = int(time.time() * 1000)
                data = self._execute("GET", self._product_spec.time_path, None, False, timeout, abort=self._stop)
                offset = clock.update(sent, int(data["serverTime"]), int(time.time() * 1000))
                _log.info("server clock offset %d ms (rtt %s ms)", offset, clock.rtt_ms,
                          extra={"exchange": self._exchange, "offset_ms": offset})
        return clock.offset_ms

    def request(self, method: str, path: str, params: Optional[Mapping[str, Any]] = None,
                signed: bool = False, timeout: Any = None) -> Any:
        result = super().request(method, path, params, signed, timeout)
        observer = self.order_observer
        if observer is not None and path == self._product_spec.order_path and method.upper() == "POST":
            try:
                observer(result)
            except Exception:  # pragma: no cover - tracking must never break a placement
                _log.exception("order tracking failed")
        return result

    def _placed(self, result: Any) -> None:
        observer = self.order_observer
        if observer is None:
            return
        for order in placed_orders(result):
            try:
                observer(order)
            except Exception:  # pragma: no cover - tracking must never break a placement
                _log.exception("order tracking failed")
