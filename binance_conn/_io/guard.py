"""Safety nets for the threads the library starts: no silent death.

Every long-lived thread (stream readers, supervisors, probers, user-data readers and
tickers, reconciliation, dispatch workers) runs its loop through :func:`run_guarded`
(or reports through :meth:`ThreadGuard.crashed` where the loop has its own shape).  An
unexpected exception -- a bug in binance_conn, in a dependency, or an injected fault --
is then:

* logged at ERROR with its traceback, the component and the exception in the message
  text (readable under a plain ``logging.basicConfig()``);
* reported as an :class:`~binance_conn.errors.InternalError` (``__cause__`` = the
  original exception) through the owner's ``report`` callable, i.e. ``on_error``;
* followed by the owner's recovery: ``run_guarded`` calls ``recover`` (tear down the
  affected connection so the normal reconnect path runs and ``state``/``ready``/
  ``on_connection`` reflect it), waits a short, growing, interruptible pause so a
  deterministic bug cannot spin a core, and runs the loop again.

Nothing here knows about Binance; the owner supplies names and callbacks.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Optional

from ..errors import BinanceError, InternalError

__all__ = ["ThreadGuard", "run_guarded", "CRASH_PAUSE_MIN", "CRASH_PAUSE_MAX"]

CRASH_PAUSE_MIN = 0.05
"""Seconds a crashed loop waits before it runs again (doubles per consecutive crash)."""
CRASH_PAUSE_MAX = 2.0


class ThreadGuard:
    """Turns an unexpected exception of a library thread into a log record and an error event.

    Args:
        log: the owner's logger.
        exchange: the exchange name carried by the reported error.
        report: publishes the error (the connector's ``on_error`` topic); must not raise.
    """

    def __init__(self, log: logging.Logger, exchange: str, report: Callable[[BinanceError], None]) -> None:
        self._log = log
        self._exchange = exchange
        self._report = report
        self.crashes = 0
        self.last_crash: Optional[str] = None

    def crashed(self, component: str, exc: BaseException) -> InternalError:
        """Log ``exc`` (with traceback) and report it as an :class:`InternalError`; returns the error."""
        self.crashes += 1
        text = f"{type(exc).__name__}: {exc}"
        self.last_crash = f"{component}: {text}"
        self._log.error("%s crashed (%s); recovering", component, text, exc_info=exc,
                        extra={"component": component})
        err = InternalError(f"{component} crashed: {text}", exchange=self._exchange,
                            details={"component": component, "exception": type(exc).__name__})
        err.__cause__ = exc
        try:
            self._report(err)
        except Exception:  # pragma: no cover - reporting must never take the thread down too
            self._log.exception("reporting a crash failed", extra={"component": component})
        return err


def run_guarded(
    loop: Callable[[], None],
    *,
    guard: ThreadGuard,
    component: str,
    stop_event: threading.Event,
    recover: Optional[Callable[[BaseException], None]] = None,
    is_done: Optional[Callable[[], bool]] = None,
) -> None:
    """Run ``loop`` until it returns normally (or ``stop_event``/``is_done``), restarting it after a crash.

    ``loop`` returning means the owner is finished (stop, retired).  An exception is
    reported through ``guard``, then ``recover(exc)`` runs (its own exceptions are reported
    too), then the thread pauses (``CRASH_PAUSE_MIN`` doubling to ``CRASH_PAUSE_MAX``,
    reset after a loop that ran for a while) and the loop runs again.  Blocking: the
    caller is the guarded thread itself.
    """
    pause = CRASH_PAUSE_MIN
    while not stop_event.is_set() and not (is_done is not None and is_done()):
        try:
            loop()
            return
        except Exception as exc:  # noqa: BLE001 - the whole point: nothing dies silently
            guard.crashed(component, exc)
            if recover is not None:
                try:
                    recover(exc)
                except Exception as rexc:  # noqa: BLE001
                    guard.crashed(f"{component} recovery", rexc)
        if stop_event.wait(pause):
            return
        pause = min(CRASH_PAUSE_MAX, pause * 2)
