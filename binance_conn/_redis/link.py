"""One process's link to the Redis that holds a fleet's shared limits, and its outages.

Theory of operation: every shared-limit operation is one Lua script run through
:meth:`RedisLink.run`, which answers the script's result or ``None`` when Redis cannot
be used right now.  ``None`` means "limit locally": the callers keep a local limiter
beside the shared one and fall back to it at once.

* Every command has a short socket timeout (``timeout``, a fraction of
  ``rate_limit.max_wait``) and no retries, so a dead or stalled Redis costs a call at
  most that long, once; after a failure the link is *down*.
* While down, :meth:`run` answers ``None`` without touching the network, except for
  one caller at a time once the reconnect delay has passed (backoff with jitter,
  0.1 s doubling up to 1 s): that caller tries the real command.  Reconnecting is
  therefore lazy, driven by the calls themselves, and needs no thread.
* One WARNING per outage (with the URL minus its password), one INFO when Redis
  answers again.

Links are shared per (URL, timeout) within a process (:func:`link_for`), so an
outage is logged once however many limiters use that Redis.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from typing import Any, Dict, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from .client import make_client, safe_url

__all__ = ["RedisLink", "link_for", "op_timeout"]

_log = logging.getLogger("binance_conn.redis")
_monotonic = time.monotonic

RETRY_FIRST = 0.1
"""Seconds before the first reconnect attempt of an outage (then doubling, jittered)."""
RETRY_MAX = 1.0
"""Longest pause between reconnect attempts."""


def op_timeout(max_wait: float) -> float:
    """The socket timeout of every Redis command for a limiter with ``max_wait``: a quarter
    of it, between 50 ms and 250 ms (a call's Redis time stays inside a ``max_wait`` of 0.2 s
    or more; shorter ones would turn a busy machine's scheduling delays into outages)."""
    return min(0.25, max(0.05, float(max_wait) / 4.0))


class RedisLink:
    """A Redis client with an up/down state, a reconnect backoff and the scripts it runs.

    Thread-safe: any thread may call :meth:`run`; it blocks at most ``timeout`` seconds
    (one command), and not at all while Redis is known to be down.

    Args:
        url: ``redis://...`` (kept private: only :attr:`safe_url` is ever shown).
        timeout: socket timeout of each command, seconds.
    """

    def __init__(self, url: str, timeout: float) -> None:
        self._url = url
        self.safe_url = safe_url(url)
        self.timeout = float(timeout)
        try:
            self._password = urlsplit(url).password or ""
        except ValueError:
            self._password = ""
        self._client: Any = None
        self._scripts: Dict[str, Any] = {}
        self._lock = threading.Lock()  # state transitions and the script table
        self._probe = threading.Lock()  # held by the one caller trying Redis during an outage
        self.is_down = False
        self.outages = 0
        self._down_since = 0.0
        self._failures = 0
        self._retry_at = 0.0

    def __repr__(self) -> str:
        return f"RedisLink({self.safe_url!r}, {'down' if self.is_down else 'up'})"

    def _reset_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._probe = threading.Lock()

    def _script(self, text: str) -> Any:
        script = self._scripts.get(text)
        if script is None:
            with self._lock:
                if self._client is None:
                    self._client = make_client(self._url, timeout=self.timeout, name="binance_conn-limits")
                script = self._scripts.get(text)
                if script is None:
                    # redis-py's Script: EVALSHA, and SCRIPT LOAD again after NOSCRIPT (a restarted Redis)
                    script = self._scripts[text] = self._client.register_script(text)
        return script

    def run(self, text: str, keys: Sequence[str], args: Sequence[Any]) -> Optional[Any]:
        """Run the Lua script ``text``; its result, or None when Redis is unusable (down,
        timed out, or the script failed): the caller limits locally this time."""
        if self.is_down:
            if _monotonic() < self._retry_at or not self._probe.acquire(blocking=False):
                return None
            try:
                return self._attempt(text, keys, args, True)
            finally:
                self._probe.release()
        return self._attempt(text, keys, args, False)

    def _attempt(self, text: str, keys: Sequence[str], args: Sequence[Any], probing: bool) -> Optional[Any]:
        try:
            script = self._script(text)
            result = script(keys=keys, args=args, client=self._client)
        except Exception as exc:  # noqa: BLE001 - any failure of the shared path means: limit locally
            self._failed(exc, probing)
            return None
        if self.is_down:
            self._recovered()
        return result

    def _failed(self, exc: BaseException, probing: bool) -> None:
        now = _monotonic()
        with self._lock:
            first = not self.is_down
            if first:
                self.is_down = True
                self.outages += 1
                self._down_since = now
                self._failures = 1
            elif probing:  # only failed reconnect attempts lengthen the pause, not the calls that
                self._failures += 1  # were already under way when the outage began
            else:
                return
            pause = min(RETRY_MAX, RETRY_FIRST * 2.0 ** (self._failures - 1))
            self._retry_at = now + pause * (0.5 + random.random() / 2.0)  # jitter: a fleet does not probe in step
        if first:
            text = str(exc)
            if self._password:
                text = text.replace(self._password, "***")
            expected = _is_redis_error(exc)
            _log.warning("shared limits: Redis at %s unusable (%s: %s); limiting locally and reconnecting",
                         self.safe_url, type(exc).__name__, text[:200], exc_info=not expected,
                         extra={"redis": self.safe_url, "error": type(exc).__name__})

    def _recovered(self) -> None:
        with self._lock:
            if not self.is_down:
                return
            self.is_down = False
            down_for = _monotonic() - self._down_since
        _log.info("shared limits: Redis at %s answers again after %.1f s; limits shared again",
                  self.safe_url, down_for, extra={"redis": self.safe_url, "down_seconds": round(down_for, 3)})


def _is_redis_error(exc: BaseException) -> bool:
    """A Redis or socket failure (expected during an outage), not a bug worth a traceback."""
    if isinstance(exc, OSError):
        return True
    return any(cls.__name__ == "RedisError" for cls in type(exc).__mro__)


_LINKS: Dict[Tuple[str, float], RedisLink] = {}
_LINKS_LOCK = threading.Lock()


def link_for(url: str, timeout: float) -> RedisLink:
    """The process's one :class:`RedisLink` for ``url`` and ``timeout``. Any thread."""
    key = (url, float(timeout))
    with _LINKS_LOCK:
        link = _LINKS.get(key)
        if link is None:
            link = _LINKS[key] = RedisLink(url, timeout)
        return link


def _reset_after_fork() -> None:
    global _LINKS_LOCK
    _LINKS_LOCK = threading.Lock()
    for link in _LINKS.values():
        link._reset_after_fork()  # redis-py's pool opens fresh sockets in a new pid by itself


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
