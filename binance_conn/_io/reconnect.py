"""The connect-forever loop shared by the market readers (``_market/link.py``) and the user-data links.

tenacity only executes the policy (STYLE.md, example 5): ``attempt`` is called until it
returns; an :class:`~binance_conn.errors.ConnectionError` is retried after the configured
backoff, forever, and any other exception (the callers' own "stop trying" signal, or a
bug) ends the loop at once.  The wait before retry ``n`` is ``backoff.delay(n, u)`` with
``n`` read from, and then incremented on, the caller's ``counter.retry``: the counter
outlives one loop, so the next outage continues the sequence, and the caller resets it
to 0 when a connection is demonstrably good (subscribed / ready).  The sleep is
``stop_event.wait``, so ``stop()`` cuts a backoff wait short.  A handshake answered 429 or
418 carries the server's ``Retry-After`` (``err.retry_after``): the wait is then
``max(backoff delay, retry_after)``, because Binance escalates repeated 429s to IP bans.

Budgets (the per-host connection budget of the market side) belong in ``attempt``: they
gate every try, the first one included.
"""

from __future__ import annotations

import random
import threading
from typing import Callable, Optional, Protocol, TypeVar

import tenacity

from .._core.backoff import Backoff
from ..errors import ConnectionError

__all__ = ["RetryCounter", "Stopped", "connect_forever"]

T = TypeVar("T")


class Stopped(Exception):
    """Raised by an ``attempt`` to end the connect loop at once (stop() or the link was retired)."""


class RetryCounter(Protocol):
    """Whatever carries the retry index across connection attempts (a shard, a link)."""

    retry: int


def _retry_after(err: Optional[BaseException]) -> Optional[float]:
    """The wait the server asked for (``Retry-After`` of a handshake answered 429/418), if any."""
    value = getattr(err, "retry_after", None)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def connect_forever(
    attempt: Callable[[], T],
    *,
    backoff: Backoff,
    counter: RetryCounter,
    stop_event: threading.Event,
    on_retry: Callable[[Optional[BaseException], Optional[float]], None],
) -> T:
    """Call ``attempt`` until it returns; retry ``ConnectionError`` with backoff, forever.

    Runs on the calling (reader) thread and blocks it between attempts.

    Args:
        attempt: one connection attempt; raises ``ConnectionError`` to be retried.
        backoff: the configured policy.
        counter: its ``retry`` attribute is the next retry index (incremented per wait).
        stop_event: set by ``stop()``; ends a backoff wait at once.
        on_retry: called before each wait with the failure and the wait in seconds.
    """

    def wait(state: tenacity.RetryCallState) -> float:
        delay = float(backoff.delay(counter.retry, random.random()))
        counter.retry += 1
        outcome = state.outcome
        retry_after = _retry_after(outcome.exception() if outcome is not None else None)
        return retry_after if retry_after is not None and retry_after > delay else delay

    def before_sleep(state: tenacity.RetryCallState) -> None:
        outcome = state.outcome
        next_action = state.next_action
        on_retry(outcome.exception() if outcome is not None else None,
                 next_action.sleep if next_action is not None else None)

    def sleep(seconds: float) -> None:
        stop_event.wait(seconds)

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(ConnectionError),
        wait=wait,
        stop=tenacity.stop_never,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(attempt)
