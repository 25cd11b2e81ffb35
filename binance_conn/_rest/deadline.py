"""The total deadline of a REST call, enforced in the calling thread (no extra thread).

requests/urllib3 timeouts bound each socket operation, not a call: a server that
sends its headers one byte per second never lets a read time out, so a call with
``timeout=2`` could block for minutes.  :class:`DeadlineAdapter` mounts urllib3
connection classes whose responses read through :class:`_DeadlineReader`: every
``recv`` waits at most until the call's deadline (and at most the per-read
timeout urllib3 set), so headers and body together end by the deadline whatever
the server's pace.  When a call carries an abort event (the connector's REST
prober), reads wait in slices of ``POLL`` seconds and give up as soon as the
event is set, so ``stop()`` never waits for a prober.

:class:`RestClient` sets the calling thread's :class:`CallLimit` around
``Session.send`` (:func:`limit_calls`); the readers raise ``socket.timeout``,
which urllib3/requests turn into their timeout errors and ``RestClient._send``
(the one boundary that maps requests' errors) reports as a deadline or a stop.

Limits: connecting (DNS, TCP, TLS handshake) is bounded by the connect timeout,
itself never more than what is left of the deadline, but cannot be aborted by the
event; a SOCKS proxy brings its own connection classes and an injected
``requests.Session`` its own adapters, so for them only the per-attempt timeouts
(capped by the time left) and the checks between attempts apply.
"""

from __future__ import annotations

import http.client
import io
import socket
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["CallLimit", "DeadlineAdapter", "limit_calls", "POLL"]

POLL = 0.05
"""Read slice (seconds) of a call with an abort event: it is cut at most this late."""

_monotonic = time.monotonic
_active = threading.local()  # .limit: the CallLimit of the request this thread is sending


class CallLimit:
    """When the request under way on this thread must end: ``deadline`` (monotonic) or
    as soon as ``abort_event`` is set."""

    __slots__ = ("deadline", "abort_event")

    def __init__(self, deadline: float, abort_event: Optional[threading.Event] = None) -> None:
        self.deadline = deadline
        self.abort_event = abort_event


@contextmanager
def limit_calls(limit: CallLimit) -> Iterator[None]:
    """Calling thread: responses read inside this block honour ``limit``."""
    _active.limit = limit
    try:
        yield
    finally:
        _active.limit = None


class _DeadlineReader(io.RawIOBase):
    """A socket's read side that never waits past the call's limit (see the module docstring).

    Holds a reference on the socket as ``socket.makefile`` does, so a connection closed
    while its response is still being read (``Connection: close``) stays open until then.
    """

    def __init__(self, sock: socket.socket, limit: CallLimit) -> None:
        super().__init__()
        self._sock = sock
        self._limit = limit
        sock._io_refs += 1  # type: ignore[attr-defined]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        sock, limit = self._sock, self._limit
        per_read = sock.gettimeout()  # urllib3's read timeout for this attempt
        started = _monotonic()
        abort = limit.abort_event
        try:
            while True:
                now = _monotonic()
                left = limit.deadline - now
                if per_read is not None:
                    left = min(left, started + per_read - now)
                if abort is not None and abort.is_set():
                    raise socket.timeout("read aborted: the client is stopping")
                if left <= 0.0:
                    raise socket.timeout("read timed out (call deadline)")
                sock.settimeout(min(left, POLL) if abort is not None else left)
                try:
                    return sock.recv_into(buffer)
                except socket.timeout:
                    if abort is None:
                        raise
        finally:
            sock.settimeout(per_read)

    def close(self) -> None:
        if not self.closed:
            super().close()
            self._sock._decref_socketios()  # type: ignore[attr-defined]


class _Source:
    """What ``http.client.HTTPResponse`` takes as its socket: only ``makefile`` is used."""

    __slots__ = ("_sock", "_limit")

    def __init__(self, sock: socket.socket, limit: CallLimit) -> None:
        self._sock = sock
        self._limit = limit

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._limit))


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        limit: Optional[CallLimit] = getattr(_active, "limit", None)
        if limit is not None and isinstance(sock, socket.socket):  # plain or TLS; not TLS-in-TLS
            sock = _Source(sock, limit)
        super().__init__(sock, *args, **kwargs)


class _LimitedHTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class _LimitedHTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse


class DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _LimitedHTTPConnection


class DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _LimitedHTTPSConnection


_POOLS = {"http": DeadlineHTTPConnectionPool, "https": DeadlineHTTPSConnectionPool}


class DeadlineAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose responses honour the calling thread's :class:`CallLimit`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: Any, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # Plain HTTP(S) proxies only: a SOCKS manager brings its own connection classes.
        if manager.pool_classes_by_scheme is urllib3.poolmanager.pool_classes_by_scheme:
            manager.pool_classes_by_scheme = _POOLS
        return manager
