"""StreamProtocol: the sans-I/O brain of one market-stream WebSocket session.

Theory of operation
-------------------
Like ``websockets``' ``protocol.py``, this object never touches a socket or a
clock.  The I/O layer (``_market/link.py``, one reader thread per connection) does
exactly this, and nothing more::

    proto.on_connected(now)                    # socket open (URL: /stream)
    loop:
        if proto.take_ping(now): ws.ping()     # paced client ping is due
        for text in proto.data_to_send(now):   # paced SUBSCRIBE/UNSUBSCRIBE
            ws.send(text)
        frame = ws.recv() (until proto.next_wakeup(now))
        text frame -> for stream, event in proto.receive_text(text, now): route
        pong frame -> proto.on_pong(now)
        if proto.is_zombie(now) or proto.needs_rollover(now): tell the supervisor
        for err in proto.errors_received(): on_error

Inside, each text frame goes through :class:`.wire.WireParser` (one dict
lookup per stream name).  Data events are returned with their stream name;
control replies are consumed here: acknowledgements move
:class:`.subscriptions.SessionSubscriptions` towards the desired set (and make
:attr:`StreamProtocol.is_ready` true once everything is acknowledged), errors
become :class:`~binance_conn.errors.APIError` objects naming the rejected
streams.  ``serverShutdown`` sets :attr:`StreamProtocol.shutdown_requested`.
Outgoing requests and pings share one :class:`.pacing.TokenBucket` (4 msg/s)
so the connection stays under Binance's 5 incoming messages per second.
:class:`.health.HealthMonitor` tracks liveness (see its module for timings).

Thread-safety: none; the owner serialises calls (the reader thread, with the
supervisor taking the same lock only for ``add_streams``/``remove_streams``).
"""

from __future__ import annotations

from typing import Any, Iterable, List, Optional, Tuple

from ..errors import APIError
from ..events import DepthUpdate, Event, Kline, RollingWindowTicker
from .health import (
    DEFAULT_PING_INTERVAL,
    DEFAULT_PONG_TIMEOUT,
    DEFAULT_PROBE_INTERVAL,
    DEFAULT_SILENCE_TIMEOUT,
    HealthMonitor,
)
from .pacing import TokenBucket
from .subscriptions import MAX_PARAMS_PER_MESSAGE, SessionSubscriptions
from .wire import ERROR, EVENT, EVENT_TYPE_KINDS, EVENTS, MALFORMED, RESULT, SHUTDOWN, WireParser, encode_request

__all__ = ["StreamProtocol", "DEFAULT_MAX_LIFETIME"]

DEFAULT_MAX_LIFETIME = 23.5 * 3600.0
"""Binance closes a connection after 24 h (§9); roll over 30 min before."""

_SAMPLE = 120  # characters of a bad frame kept for (rate-limited) logging and stats()


class StreamProtocol:
    """One combined-stream (``/stream``) session's state and decisions.

    Args:
        exchange: exchange name stored on events and errors.
        send_rate: outgoing messages per second (pings + control requests).
        max_lifetime: seconds after which :meth:`needs_rollover` turns true.
        max_params_per_message: streams per SUBSCRIBE/UNSUBSCRIBE.
        ping_interval, pong_timeout, silence_timeout, probe_interval: see
            :class:`.health.HealthMonitor`.
    """

    def __init__(
        self,
        exchange: str,
        *,
        send_rate: float = 4.0,
        max_lifetime: float = DEFAULT_MAX_LIFETIME,
        max_params_per_message: int = MAX_PARAMS_PER_MESSAGE,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        pong_timeout: float = DEFAULT_PONG_TIMEOUT,
        silence_timeout: float = DEFAULT_SILENCE_TIMEOUT,
        probe_interval: float = DEFAULT_PROBE_INTERVAL,
        product: str = "spot",
    ) -> None:
        self.exchange = exchange
        self.max_lifetime = float(max_lifetime)
        self.parser = WireParser(exchange, product)
        self._parse = self.parser.parse
        self.subscriptions = SessionSubscriptions(max_params_per_message)
        self.bucket = TokenBucket(send_rate, 1.0)
        self.health = HealthMonitor(ping_interval, pong_timeout, silence_timeout, probe_interval)
        self.connected_at: Optional[float] = None
        self.is_open = False
        self.shutdown_requested = False
        # counters (read by stats(); plain ints, written by the reader only)
        self.frames = 0
        self.events = 0
        self.control = 0
        self.unknown = 0
        self.malformed = 0
        self.requests_sent = 0
        self.pings_sent = 0
        self.binary = 0
        self.bad_frames = 0  # malformed + unknown + binary/invalid UTF-8: one int the reader compares
        self.last_bad_frame: Optional[Tuple[str, str]] = None  # (kind, truncated sample)
        self._errors: List[APIError] = []

    @classmethod
    def from_settings(cls, exchange: str, ws: Any, product: str = "spot") -> StreamProtocol:
        """Build from a ``config.websocket``-like object (missing fields use defaults).

        Futures (``product`` ``usdm``/``coinm``) allow 10 incoming messages per second: the
        default pace (4/s) becomes 8/s there, an explicit rate is kept (capped at 9/s)."""
        rate = float(getattr(ws, "send_rate", 4.0))
        if product != "spot":
            rate = 8.0 if rate == 4.0 else min(rate, 9.0)
        return cls(
            exchange,
            product=product,
            send_rate=rate,
            max_lifetime=getattr(ws, "max_lifetime", DEFAULT_MAX_LIFETIME),
            ping_interval=getattr(ws, "ping_interval", DEFAULT_PING_INTERVAL),
            pong_timeout=getattr(ws, "pong_timeout", DEFAULT_PONG_TIMEOUT),
            silence_timeout=getattr(ws, "silence_timeout", DEFAULT_SILENCE_TIMEOUT),
            probe_interval=getattr(ws, "health_check_interval", DEFAULT_PROBE_INTERVAL),
        )

    # -- desired streams (any time, also while disconnected) ------------------------

    def add_streams(self, streams: Iterable[str]) -> None:
        """Want ``streams`` on this connection; sent (paced) by :meth:`data_to_send`."""
        self.subscriptions.add(streams)

    def remove_streams(self, streams: Iterable[str]) -> None:
        self.subscriptions.remove(streams)

    def set_streams(self, streams: Iterable[str]) -> None:
        self.subscriptions.set_desired(streams)

    @property
    def streams(self) -> List[str]:
        """The desired streams of this connection."""
        return self.subscriptions.desired

    # -- lifecycle --------------------------------------------------------------------

    def on_connected(self, now: float, initial_streams: Iterable[str] = ()) -> None:
        """The socket is open.  The whole desired set is queued for (re)subscription,
        except ``initial_streams`` already subscribed through the URL."""
        self.subscriptions.reset()
        self.subscriptions.set_initial(initial_streams)
        self.health.on_connected(now)
        self.bucket.reset()
        self.connected_at = now
        self.is_open = True
        self.shutdown_requested = False

    def on_disconnected(self) -> None:
        """The socket is gone (nothing more is sent until :meth:`on_connected`)."""
        self.is_open = False

    # -- incoming ---------------------------------------------------------------------

    def receive_text(self, text: str, now: float) -> List[Tuple[str, Event]]:
        """Feed one text frame; returns the ``(stream, event)`` pairs to route."""
        self.frames += 1
        tag, stream, value = self._parse(text)
        if tag is EVENT:
            h = self.health
            h.last_rx = now
            h.last_data = now
            h.data_count += 1
            self.events += 1
            if stream is None:
                stream = self._raw_stream_name(value)
            return [(stream, value)]
        if tag is EVENTS:  # one frame of an all-market array: one event per element
            h = self.health
            h.last_rx = now
            h.last_data = now
            h.data_count += 1
            self.events += len(value)
            name = stream or ""  # always named: a combined envelope, or the array's stream
            return [(name, ev) for ev in value]
        self.health.on_frame(now)
        if tag is RESULT:
            self.control += 1
            self.subscriptions.on_result(value[0])
        elif tag is ERROR:
            self.control += 1
            self._on_error_reply(*value)
        elif tag is SHUTDOWN:
            self.control += 1
            self.shutdown_requested = True
        elif tag is MALFORMED:
            self.malformed += 1
            self.bad_frames += 1
            self.last_bad_frame = (str(value), text[:_SAMPLE])
        else:
            self.unknown += 1
            self.bad_frames += 1
            self.last_bad_frame = (str(value), text[:_SAMPLE])
        return []

    def receive_bad(self, kind: str, payload: bytes, now: float) -> None:
        """A frame that is no text event: invalid UTF-8 (counted as malformed) or a binary /
        unknown-opcode frame (counted in ``binary``).  Rare path."""
        self.health.on_frame(now)
        self.frames += 1
        self.bad_frames += 1
        if kind == "invalid UTF-8":
            self.malformed += 1
        else:
            self.binary += 1
        self.last_bad_frame = (kind, payload[:_SAMPLE].decode("utf-8", "replace"))

    def _raw_stream_name(self, event: Event) -> str:
        # Only for raw (/ws-style) payloads, which carry no stream name: rare path.
        kind = EVENT_TYPE_KINDS.get(type(event), "")
        sym = str(getattr(event, "symbol", "")).lower()
        if isinstance(event, Kline):
            name = sym + "@kline_" + event.interval
            offset = name + "@+08:00"  # the payload does not say: the subscribed one
            return offset if name not in self.subscriptions.desired and offset in self.subscriptions.desired else name
        if isinstance(event, RollingWindowTicker):
            return sym + "@ticker_" + event.window
        if isinstance(event, DepthUpdate):
            for name in (sym + "@depth@100ms", sym + "@depth"):
                if name in self.subscriptions.desired:
                    return name
            return sym + "@depth"
        return sym + "@" + kind

    def _on_error_reply(self, request_id: Any, code: Any, msg: Any) -> None:
        failure = self.subscriptions.on_error(request_id, code, msg)
        binance_code = code if isinstance(code, int) and not isinstance(code, bool) else None
        if failure is None:
            err = APIError(
                f"stream server error: {msg}",
                binance_code=binance_code,
                exchange=self.exchange,
                details={"request_id": request_id, "streams": []},
            )
        else:
            req = failure.request
            err = APIError(
                f"{req.method} rejected for {', '.join(req.params)}: {failure.msg}",
                binance_code=binance_code,
                exchange=self.exchange,
                details={"streams": list(req.params), "method": req.method, "ws_request_id": req.id},
            )
        self._errors.append(err)

    def errors_received(self) -> List[APIError]:
        """Errors the server sent since the last call (drained)."""
        errors, self._errors = self._errors, []
        return errors

    def on_pong(self, now: float) -> None:
        self.health.on_pong(now)

    # -- outgoing ---------------------------------------------------------------------

    def take_ping(self, now: float) -> bool:
        """True when a client ping must be sent now (a send token is consumed).

        Call before :meth:`data_to_send` so a due ping is not starved by a replay.
        """
        if not self.is_open:
            return False
        due = self.health.next_ping_due(now)
        if due is None or due > 0.0 or self.bucket.try_acquire(now) > 0.0:
            return False
        self.health.on_ping_sent(now)
        self.pings_sent += 1
        return True

    def data_to_send(self, now: float) -> List[str]:
        """Text frames to send now, as far as the send budget allows."""
        out: List[str] = []
        if not self.is_open:
            return out
        subs = self.subscriptions
        while subs.has_work() and self.bucket.try_acquire(now) == 0.0:
            req = subs.next_request()
            if req is None:  # pragma: no cover - has_work() said otherwise
                break
            out.append(encode_request(req.method, req.params, req.id))
            self.requests_sent += 1
        return out

    def next_wakeup(self, now: float, lifetime: bool = True) -> Optional[float]:
        """The next instant (same clock as ``now``) at which this session has work.

        ``lifetime=False`` leaves the max-lifetime deadline out: once a rollover runs it is
        past and would be due at every tick (a spinning supervisor) while the replacement
        cannot connect."""
        if not self.is_open:
            return None
        candidates: List[float] = []
        if self.subscriptions.has_work():
            candidates.append(now + self.bucket.delay(now))
        deadline = self.health.next_deadline(now)
        if deadline is not None:
            candidates.append(deadline)
        if lifetime and self.connected_at is not None:
            candidates.append(self.connected_at + self.max_lifetime)
        return min(candidates) if candidates else None

    # -- verdicts ---------------------------------------------------------------------

    @property
    def is_ready(self) -> bool:
        """Connected and every desired stream acknowledged (none in flight)."""
        return self.is_open and self.subscriptions.is_ready

    def is_zombie(self, now: float) -> Optional[str]:
        """Why this open link should be replaced, or None."""
        return self.health.is_zombie(now) if self.is_open else None

    def rollover_reason(self, now: float) -> Optional[str]:
        """``"server shutdown"``, ``"max lifetime"`` or None."""
        if not self.is_open:
            return None
        if self.shutdown_requested:
            return "server shutdown"
        if self.connected_at is not None and now - self.connected_at >= self.max_lifetime:
            return "max lifetime"
        return None

    def needs_rollover(self, now: float) -> bool:
        """True when a make-before-break replacement should start (lifetime or serverShutdown)."""
        return self.rollover_reason(now) is not None

    def pause(self, now: float) -> None:
        """The reader blocks on a BLOCK-policy subscriber: not silence."""
        self.health.pause(now)

    def resume(self, now: float) -> None:
        self.health.resume(now)

    def counters(self) -> dict[str, int]:
        """Snapshot of the counters."""
        return {
            "frames": self.frames,
            "events": self.events,
            "control": self.control,
            "unknown": self.unknown,
            "malformed": self.malformed,
            "binary": self.binary,
            "requests_sent": self.requests_sent,
            "pings_sent": self.pings_sent,
        }


