"""Server-clock offset (sans-I/O).

Binance rejects a signed request whose ``timestamp`` is more than 1000 ms ahead
of its clock or older than ``recvWindow`` (reference section 3.3, ``-1021``).
The fix the reference gives: ``offset = serverTime - local midpoint`` of a
``GET /api/v3/time`` round trip.  A peer's classic bug is to measure it once at
start-up; here the offset is refreshed every ``interval`` seconds and
invalidated at once on ``-1021``.

All instants are local epoch milliseconds passed in by the caller (the I/O layer
reads ``time.time()``); this module never reads a clock.  A local clock that
jumps backwards past the last sync also forces a resync.

The ``serverTime`` may be in milliseconds or, with the opt-in time unit
(``X-MBX-TIME-UNIT: MICROSECOND``), in microseconds: :meth:`ServerClock.update`
tells them apart by magnitude (:func:`._core.timing.epoch_ms`), so the offset is
always in milliseconds, and right even if a server ignored the header.
"""

from __future__ import annotations

from typing import Optional, Union

from .timing import epoch_ms

__all__ = ["ServerClock"]


class ServerClock:
    """Tracks ``server_time - local_time`` in milliseconds.

    Not locked: the owner (``RestClient``) serialises :meth:`update` under its
    own lock; reads of the two attributes are atomic in CPython and a stale read
    only means a slightly older offset.

    Args:
        interval: seconds after which :meth:`needs_sync` asks for a new measurement.
    """

    __slots__ = ("interval_ms", "offset_ms", "rtt_ms", "synced_at", "_valid")

    def __init__(self, interval: float = 300.0) -> None:
        self.interval_ms = interval * 1000.0
        self.offset_ms = 0
        self.rtt_ms: Optional[int] = None
        self.synced_at: Optional[int] = None
        self._valid = False

    @property
    def is_synced(self) -> bool:
        """True once a measurement was taken and not invalidated since."""
        return self._valid

    def update(self, sent_ms: int, server_time_ms: Union[int, str], received_ms: int) -> int:
        """Record one round trip and return the new offset (ms).

        Args:
            sent_ms: local epoch ms just before the request was sent.
            server_time_ms: the ``serverTime`` the server answered: epoch ms, or epoch µs
                when microseconds were asked for (told apart by magnitude).
            received_ms: local epoch ms just after the answer arrived.
        """
        if received_ms < sent_ms:  # the local clock stepped back mid-flight: use the end
            sent_ms = received_ms
        midpoint = (sent_ms + received_ms) // 2
        self.offset_ms = round(epoch_ms(server_time_ms)) - midpoint
        self.rtt_ms = received_ms - sent_ms
        self.synced_at = received_ms
        self._valid = True
        return self.offset_ms

    def invalidate(self) -> None:
        """Force the next :meth:`needs_sync` to answer True (after a ``-1021``)."""
        self._valid = False

    def needs_sync(self, now_ms: int) -> bool:
        """True when no valid measurement exists, it is older than ``interval``, or
        the local clock went backwards since it was taken."""
        if not self._valid or self.synced_at is None:
            return True
        age = now_ms - self.synced_at
        return age < 0 or age >= self.interval_ms

    def server_time(self, now_ms: int) -> int:
        """The server's time estimated at local epoch ms ``now_ms``."""
        return now_ms + self.offset_ms

    def __repr__(self) -> str:
        return f"ServerClock(offset_ms={self.offset_ms}, rtt_ms={self.rtt_ms}, synced={self._valid})"
