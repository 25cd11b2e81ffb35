"""Subscription bookkeeping (reference §9, "Live control").

Two layers:

* :class:`StreamRegistry` (one per connector): the *desired* streams,
  refcounted (many subscribers of one stream make one server subscription),
  sharded over connections so that none carries more than
  ``max_streams_per_connection`` (Binance: 1024).
* :class:`SessionSubscriptions` (one per WebSocket session): the streams this
  connection should carry, what the server has acknowledged, and the batched
  SUBSCRIBE/UNSUBSCRIBE requests (many params per message, integer ids) that
  move the server towards the desired set.  After a reconnect, :meth:`reset`
  forgets the server side so the whole desired set is replayed.

Model: ``_expected`` is what the server will hold once every request sent so far
is processed (updated when a request is *taken* for sending); ``_acked`` is what
it has confirmed.  Diffing desired against expected gives the next requests, so a
stream added and removed while a request is in flight ends up right.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

__all__ = [
    "MAX_STREAMS_PER_CONNECTION",
    "MAX_PARAMS_PER_MESSAGE",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "ControlRequest",
    "RequestFailure",
    "StreamRegistry",
    "SessionSubscriptions",
]

MAX_STREAMS_PER_CONNECTION = 1024
MAX_PARAMS_PER_MESSAGE = 200
"""Binance rejects over-long requests ("too many parameters", code 2) without
documenting the bound; 200 names keep a frame well under any limit while a full
1024-stream replay still takes only 6 messages (1.5 s at 4 msg/s)."""

SUBSCRIBE = "SUBSCRIBE"
UNSUBSCRIBE = "UNSUBSCRIBE"


class ControlRequest(NamedTuple):
    """One live-control request to send: ``{"method":..,"params":[..],"id":..}``."""

    id: int
    method: str
    params: Tuple[str, ...]


class RequestFailure(NamedTuple):
    """A request the server rejected (``{"code":..,"msg":..,"id":..}``)."""

    request: ControlRequest
    code: Optional[int]
    msg: str


class StreamRegistry:
    """Refcounted desired streams of one connector, sharded over connections.

    Args:
        max_streams_per_connection: shard capacity (>= 1).
        route_of: the route of a stream name (USD-M futures: ``"public"``/``"market"``);
            a shard then holds streams of one route only, never mixed.  None: one route.
    """

    def __init__(self, max_streams_per_connection: int = MAX_STREAMS_PER_CONNECTION,
                 route_of: Optional[Callable[[str], str]] = None) -> None:
        if max_streams_per_connection < 1:
            raise ValueError("max_streams_per_connection must be >= 1")
        self.max_streams_per_connection = max_streams_per_connection
        self.route_of = route_of
        self._refs: Dict[str, int] = {}
        self._shard_of: Dict[str, int] = {}
        self._shards: List[Dict[str, None]] = []
        self._routes: List[Optional[str]] = []  # route of each shard (reassigned when it is empty)

    def add(self, stream: str) -> Optional[int]:
        """Count one more subscriber of ``stream``.

        Returns:
            The shard index when the stream just became desired, else None.
        """
        n = self._refs.get(stream, 0)
        self._refs[stream] = n + 1
        if n:
            return None
        cap = self.max_streams_per_connection
        route = None if self.route_of is None else self.route_of(stream)
        routes = self._routes
        index = next((i for i, shard in enumerate(self._shards)
                      if len(shard) < cap and (not shard or routes[i] == route)), len(self._shards))
        if index == len(self._shards):
            self._shards.append({})
            routes.append(route)
        elif not self._shards[index]:
            routes[index] = route
        self._shards[index][stream] = None
        self._shard_of[stream] = index
        return index

    def remove(self, stream: str) -> Optional[int]:
        """Count one subscriber less.

        Returns:
            The shard index when the stream is no longer desired, else None
            (also for a stream that was not subscribed: removal is idempotent).
        """
        n = self._refs.get(stream, 0)
        if n <= 0:
            return None
        if n > 1:
            self._refs[stream] = n - 1
            return None
        del self._refs[stream]
        index = self._shard_of.pop(stream)
        del self._shards[index][stream]
        return index

    def refcount(self, stream: str) -> int:
        return self._refs.get(stream, 0)

    def __contains__(self, stream: object) -> bool:
        return stream in self._refs

    def __len__(self) -> int:
        return len(self._refs)

    def streams(self) -> List[str]:
        """Every desired stream, in subscription order per shard."""
        return [s for shard in self._shards for s in shard]

    @property
    def shard_count(self) -> int:
        """Number of shards that hold at least one stream (trailing empty ones excluded)."""
        n = len(self._shards)
        while n and not self._shards[n - 1]:
            n -= 1
        return n

    def shard(self, index: int) -> List[str]:
        """The desired streams of shard ``index`` (empty when out of range)."""
        if 0 <= index < len(self._shards):
            return list(self._shards[index])
        return []

    def shard_of(self, stream: str) -> Optional[int]:
        return self._shard_of.get(stream)

    def route(self, index: int) -> Optional[str]:
        """The route of shard ``index`` (None without routes or out of range)."""
        return self._routes[index] if 0 <= index < len(self._routes) else None


class SessionSubscriptions:
    """Desired vs. acknowledged streams of one WebSocket session.

    Args:
        max_params_per_message: streams per SUBSCRIBE/UNSUBSCRIBE message.
        first_id: the first request id; ids only grow, across :meth:`reset` too,
            so a late reply from a previous connection can never match.
    """

    def __init__(self, max_params_per_message: int = MAX_PARAMS_PER_MESSAGE, first_id: int = 1) -> None:
        if max_params_per_message < 1:
            raise ValueError("max_params_per_message must be >= 1")
        self.max_params_per_message = max_params_per_message
        self._next_id = first_id
        self._desired: Dict[str, None] = {}
        self._expected: Dict[str, None] = {}
        self._acked: Set[str] = set()
        self._failed: Set[str] = set()
        self._pending: Dict[int, ControlRequest] = {}

    # -- desired set -----------------------------------------------------------------

    def add(self, streams: Iterable[str]) -> None:
        """Want ``streams`` on this session (a re-added failed stream is retried)."""
        for s in streams:
            self._desired[s] = None
            self._failed.discard(s)

    def remove(self, streams: Iterable[str]) -> None:
        """Stop wanting ``streams`` on this session."""
        for s in streams:
            self._desired.pop(s, None)
            self._failed.discard(s)

    def set_desired(self, streams: Iterable[str]) -> None:
        """Replace the desired set."""
        new = dict.fromkeys(streams)
        self._failed &= set(new)
        self._desired = new

    @property
    def desired(self) -> List[str]:
        return list(self._desired)

    @property
    def acknowledged(self) -> Set[str]:
        return set(self._acked)

    @property
    def failed(self) -> Set[str]:
        """Streams whose request the server rejected (not retried until re-added)."""
        return set(self._failed)

    @property
    def pending(self) -> List[ControlRequest]:
        return list(self._pending.values())

    # -- connection lifecycle ---------------------------------------------------------

    def reset(self) -> None:
        """A new connection: the server holds nothing; everything desired is replayed.

        Streams that failed before are retried too: the new server may accept them.
        """
        self._expected.clear()
        self._acked.clear()
        self._pending.clear()
        self._failed.clear()

    def set_initial(self, streams: Iterable[str]) -> None:
        """The connection URL (``/stream?streams=a/b``) already subscribed ``streams``."""
        for s in streams:
            self._expected[s] = None
            self._acked.add(s)

    # -- diff -> requests -------------------------------------------------------------

    def has_work(self) -> bool:
        """True when :meth:`next_request` would return a request."""
        desired, expected, failed = self._desired, self._expected, self._failed
        if any(s not in desired and s not in failed for s in expected):
            return True
        return any(s not in expected and s not in failed for s in desired)

    def next_request(self) -> Optional[ControlRequest]:
        """Take the next batched request (UNSUBSCRIBE before SUBSCRIBE), or None.

        The caller must send it: the session assumes it is on the wire.
        """
        limit = self.max_params_per_message
        desired, expected, failed = self._desired, self._expected, self._failed
        method = UNSUBSCRIBE
        batch = [s for s in expected if s not in desired and s not in failed][:limit]
        if not batch:
            method = SUBSCRIBE
            batch = [s for s in desired if s not in expected and s not in failed][:limit]
            if not batch:
                return None
            for s in batch:
                expected[s] = None
        else:
            for s in batch:
                del expected[s]
        req = ControlRequest(self._next_id, method, tuple(batch))
        self._next_id += 1
        self._pending[req.id] = req
        return req

    # -- replies ----------------------------------------------------------------------

    def on_result(self, request_id: object) -> Optional[ControlRequest]:
        """A ``{"result":null,"id":..}`` reply; returns the request it answers (None: not ours)."""
        req = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
        if req is None:
            return None
        if req.method == SUBSCRIBE:
            self._acked.update(req.params)
        else:
            self._acked.difference_update(req.params)
        return req

    def on_error(self, request_id: object, code: Optional[int], msg: Optional[str]) -> Optional[RequestFailure]:
        """A ``{"code":..,"msg":..,"id":..}`` reply; returns the failure (None: not ours).

        The request's streams are marked failed (no retry storm) until re-added
        or the next :meth:`reset`.
        """
        req = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
        if req is None:
            return None
        for s in req.params:
            if req.method == SUBSCRIBE:
                self._expected.pop(s, None)
            elif s in self._acked:
                self._expected[s] = None
            self._failed.add(s)
        return RequestFailure(req, code, msg or "")

    @property
    def is_ready(self) -> bool:
        """Nothing in flight and every desired (not failed) stream acknowledged."""
        if self._pending:
            return False
        acked, failed = self._acked, self._failed
        return all(s in acked or s in failed for s in self._desired)
