"""Connect failures are never silent: one reporter per link (market shard, user-data link).

A failed connect attempt (``errors.ConnectionError`` and subclasses from the transport)
is turned into:

* a WARNING log line whose *text* states the session, the reason and the next wait
  (``market stream connect failed (certificate): ...; retrying in 1.2 s``); repeats of
  the same reason kind are logged at WARNING for the first few, then every
  ``_LOG_EVERY``-th (INFO in between), so a long outage does not flood the log;
* the error itself on ``on_error`` whenever the reason *kind* changes (certificate,
  hostname, proxy_auth, proxy_down, http_status, refused, timeout ...);
* :attr:`last_reason` for ``stats()`` and the ``ConnectionEvent.reason`` of the session.

:meth:`succeeded` logs (INFO) that the link is connected again after N failures.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional

from ..errors import BinanceError

__all__ = ["ConnectFailureReporter", "reason_kind"]

_LOG_FIRST = 3
_LOG_EVERY = 20


def reason_kind(err: BaseException) -> str:
    """The stable kind of a connect failure: ``details["reason"]`` when the transport set it,
    else ``http_status`` for a handshake answered with an HTTP status, else the class name."""
    details = getattr(err, "details", None)
    if isinstance(details, dict):
        kind = details.get("reason")
        if isinstance(kind, str) and kind:
            return kind
        if details.get("http_status") is not None:
            return f"http_{details['http_status']}"
    return type(err).__name__


class ConnectFailureReporter:
    """Reports the connect failures of one link; called from that link's reader thread only.

    Args:
        log: the session's logger.
        what: names the link in the text, e.g. ``"market stream (shard 0)"``.
        report_error: publishes a :class:`BinanceError` on the error topic (``on_error``).
    """

    def __init__(self, log: logging.Logger, what: str, report_error: Callable[[BinanceError], None]) -> None:
        self._log = log
        self.what = what
        self._report = report_error
        self.failures = 0
        self.total_failures = 0
        self.last_reason: Optional[str] = None
        self.last_kind: Optional[str] = None
        self._same = 0

    def failed(self, err: Optional[BaseException], delay: Optional[float]) -> str:
        """Report one failed attempt; returns the reason text (for stats and connection events)."""
        kind = reason_kind(err) if err is not None else "unknown"
        text = str(err) if err is not None else "unknown failure"
        reason = text if text.startswith(kind) else f"{kind}: {text}"
        self.failures += 1
        self.total_failures += 1
        changed = kind != self.last_kind
        self._same = 1 if changed else self._same + 1
        self.last_kind = kind
        self.last_reason = reason
        wait = f"; retrying in {delay:.1f} s" if delay is not None else ""
        level = logging.WARNING if self._same <= _LOG_FIRST or self._same % _LOG_EVERY == 0 else logging.INFO
        if self._log.isEnabledFor(level):
            self._log.log(level, "%s connect failed (%s): %s%s [attempt %d]", self.what, kind, text, wait,
                          self.failures, extra={"reason": kind, "error": text, "delay": delay,
                                                "attempt": self.failures})
        if changed and isinstance(err, BinanceError):
            self._report(err)
        return reason

    def succeeded(self) -> None:
        """The link connected: log the recovery (if it had failed) and reset the kind."""
        if self.failures and self._log.isEnabledFor(logging.INFO):
            self._log.info("%s connected after %d failed attempt(s) (last: %s)", self.what, self.failures,
                           self.last_reason, extra={"attempts": self.failures, "reason": self.last_kind})
        self.failures = 0
        self.last_kind = None
        self._same = 0
