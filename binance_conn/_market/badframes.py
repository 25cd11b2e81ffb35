"""Bad frames of one shard: totals that survive reconnects, the last sample, a rate-limited WARNING.

Malformed JSON, invalid UTF-8, binary and unknown frames are counted by each connection's
:class:`~binance_conn._core.protocol.StreamProtocol`; when a connection ends its counts are
folded into the shard's totals here, so ``stats()`` shows session totals.  The reader asks
:meth:`BadFrames.report` only when a read brought a bad frame (never per good message) and
logs the returned text at WARNING: at most once per :data:`LOG_INTERVAL` seconds per shard,
with the count since the last line and a truncated sample in the message text.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from .._core.protocol import StreamProtocol

__all__ = ["BadFrames", "LOG_INTERVAL"]

LOG_INTERVAL = 5.0
"""Seconds between two WARNING lines about bad frames of one shard."""


class BadFrames:
    """Called under the shard's lock (reader threads, ``stats()``)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.totals: Dict[str, int] = {"malformed": 0, "unknown": 0, "binary": 0}
        self.last: Optional[Tuple[str, str]] = None  # (kind, truncated sample)
        self._logged = 0
        self._log_at = float("-inf")

    def fold(self, proto: StreamProtocol) -> None:
        """A connection ended: its counts join the totals."""
        totals = self.totals
        totals["malformed"] += proto.malformed
        totals["unknown"] += proto.unknown
        totals["binary"] += proto.binary
        proto.malformed = proto.unknown = proto.binary = proto.bad_frames = 0

    def counts(self, live: List[StreamProtocol]) -> Dict[str, int]:
        """Totals over every connection, the ``live`` ones included."""
        out = dict(self.totals)
        for proto in live:
            out["malformed"] += proto.malformed
            out["unknown"] += proto.unknown
            out["binary"] += proto.binary
        return out

    @property
    def sample(self) -> Optional[str]:
        return f"{self.last[0]}: {self.last[1]}" if self.last is not None else None

    def report(self, proto: StreamProtocol, live: List[StreamProtocol], now: float) -> Optional[str]:
        """``proto`` just read bad frame(s): the WARNING text if one is due, else None."""
        if proto.last_bad_frame is not None:
            self.last = proto.last_bad_frame
        if now < self._log_at:
            return None
        self._log_at = now + LOG_INTERVAL
        total = sum(self.counts(live).values())
        new, self._logged = total - self._logged, total
        kind, sample = self.last or ("?", "")
        return (f"{self.what} received {new} bad frame(s) ({total} in all; further ones logged at most every "
                f"{LOG_INTERVAL:.0f} s); last: {kind}: {sample!r}")
