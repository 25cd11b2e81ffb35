"""WebSocket API session brain (sans-I/O): requests with ids, responses, user-data events.

Theory of operation
-------------------
A WebSocket API connection (``/ws-api/v3``, reference section 10) carries one JSON
request per text frame, many in flight, each answered by one frame echoing its ``id``.
Once subscribed it also carries user-data events wrapped as
``{"subscriptionId": N, "event": {...}}`` (section 8), and unsolicited frames:
``serverShutdown`` and errors with ``"id": null`` (401 / -2015: key revoked).

:class:`WsApiProtocol` decides, with no socket.  :meth:`~WsApiProtocol.request`
builds a frame with a fresh id; a signed one gets ``apiKey`` (not once logged on),
``timestamp`` (``now`` + injected clock offset), optional ``recvWindow`` and a
``signature`` over the section 3.2 canonical string (all params but ``signature``,
sorted by name, ``name=value`` joined by ``&``, **no** percent-encoding, unlike REST)
made by an injected ``sign(payload) -> str`` (HMAC, Ed25519 or RSA).  Pending
requests carry deadlines (:meth:`~WsApiProtocol.expired`).
:meth:`~WsApiProtocol.receive_text` turns one frame into exactly one of
:class:`Response` (result, or an error mapped by ``errors.error_from_ws_api``),
:class:`UserDataEvent`, :class:`ServerShutdown`, :class:`UnsolicitedError`,
:class:`Malformed`.  A successful ``session.logon`` marks the session logged on.

:class:`UserDataSession` is the subscription plan on top, a pure state machine: each
input (connected, frame, tick, timeout, disconnected) returns a :class:`Step` with
frames to send and flags.  Ed25519: ``session.logon`` then ``userDataStream.subscribe``;
HMAC/RSA: ``userDataStream.subscribe.signature`` (section 8.1).  Redone after every
reconnect; ``eventStreamTerminated`` resubscribes at once, a failed subscribe after a
backoff delay; -2035/-2036 are no-ops; rejected credentials (-2015, -1022, -2014,
-1002, 401) are fatal, so there is no retry storm against a key that will never
work.  ``is_ready`` while acknowledged; a subscribe that closes a gap sets
``Step.reconcile`` (run ``_core.userdata.OrderTracker`` reconciliation).

Time is an argument: ``now`` is seconds on any monotonic clock and
``clock_offset_ms`` maps it to Binance epoch ms.  No clock reads, sleeps or sockets.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from ..errors import AuthenticationError, BinanceError, ValidationError, error_from_ws_api
from .backoff import Backoff
from .numbers import format_param
from .timing import format_recv_window, recv_window

__all__ = [
    "Signer",
    "ws_api_payload",
    "encode_params",
    "WsApiProtocol",
    "Response",
    "UserDataEvent",
    "ServerShutdown",
    "UnsolicitedError",
    "Malformed",
    "WsApiMessage",
    "UserDataSession",
    "Step",
    "is_auth_failure",
    "SUBSCRIPTION_ACTIVE",
    "SUBSCRIPTION_INACTIVE",
    "MAXIMUM_SUBSCRIPTION_IDS",
]

Signer = Callable[[str], str]
"""``sign(payload) -> signature``: HMAC hex, or base64 for Ed25519/RSA (section 3.2 step 4)."""

SUBSCRIPTION_ACTIVE = -2035
SUBSCRIPTION_INACTIVE = -2036
MAXIMUM_SUBSCRIPTION_IDS = -2042
_AUTH_CODES = frozenset({-1002, -1022, -2014, -2015})

ParamValue = Union[str, int, bool, List[Any], Dict[str, Any]]


def _text(value: Any) -> str:
    """The canonical text of one (already encoded) param value: raw, never percent-encoded."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def ws_api_payload(params: Mapping[str, Any]) -> str:
    """The section 3.2 canonical string: all params but ``signature``, sorted, joined, not encoded."""
    return "&".join(f"{name}={_text(value)}" for name, value in sorted(params.items()) if name != "signature")


def recv_window_param(value: Any, fieldname: str = "recvWindow") -> ParamValue:
    """A ``recvWindow`` as it goes in a frame: validated (> 0, <= 60000, at most 3 decimals,
    no float), an int when whole, else its exact decimal text (``"6000.346"``), so the JSON
    value and the signed text agree."""
    canonical = recv_window(fieldname, value)
    return canonical if isinstance(canonical, int) else format_recv_window(canonical)


def encode_params(params: Optional[Mapping[str, Any]], *, allow_float: bool = False) -> Dict[str, ParamValue]:
    """Params as they go on the wire, ``None`` dropped: the REST rule of :func:`.numbers.format_param`.

    ``Decimal`` becomes plain decimal text without exponent (``Decimal("1E-7")`` ->
    ``"0.0000001"``); ``str`` (enums included) is sent as written, ``int``/``bool``
    and lists/objects as JSON values.  A ``float`` raises :class:`ValidationError`
    naming the parameter unless ``allow_float`` (config ``rest.allow_float``), in which
    case its shortest ``repr`` is used.  The same encoded values feed both the JSON
    frame and the signature, so the server verifies exactly the text it receives;
    encoding an already encoded dict returns it unchanged.
    """
    out: Dict[str, ParamValue] = {}
    if not params:
        return out
    for name, value in params.items():
        if value is None:
            continue
        tp = type(value)
        if tp is str or tp is int or tp is bool or tp is list or tp is dict:
            out[name] = value
        elif isinstance(value, (Decimal, float, str)):  # str subclasses: enums (their value, never "Side.BUY")
            out[name] = format_param(name, value, allow_float=allow_float)
        elif isinstance(value, tuple):
            out[name] = list(value)
        elif isinstance(value, (int, list, dict)):
            out[name] = value
        else:
            out[name] = str(value)
    return out


class _Value:
    """Plain ``__slots__`` value with a readable repr."""

    __slots__: Tuple[str, ...] = ()

    def __init__(self, *values: Any) -> None:
        for name, value in zip(self.__slots__, values):
            setattr(self, name, value)

    def __repr__(self) -> str:
        body = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__ if n not in ("text", "payload"))
        return f"{type(self).__name__}({body})"


class Response(_Value):
    """The answer to one of our requests (``id`` matched, or a late one after its deadline).

    ``method`` is None when the id was not pending (already expired or unknown).
    ``error`` is the mapped exception for a failure; ``result`` the payload on success.
    """

    __slots__ = ("id", "method", "status", "result", "error", "rate_limits")
    id: str
    method: Optional[str]
    status: Optional[int]
    result: Any
    error: Optional[BinanceError]
    rate_limits: Optional[List[Any]]


class UserDataEvent(_Value):
    """One user-data event unwrapped from ``{"subscriptionId": N, "event": {...}}`` (section 8.3)."""

    __slots__ = ("subscription_id", "event_type", "payload")
    subscription_id: Optional[int]
    event_type: str
    payload: Dict[str, Any]


class ServerShutdown(_Value):
    """``serverShutdown``: the server will close this connection soon; replace it (make-before-break)."""

    __slots__ = ("event_time",)
    event_time: Optional[int]


class UnsolicitedError(_Value):
    """An error frame with ``"id": null`` (e.g. 401 / -2015 session revoked, section 10)."""

    __slots__ = ("status", "error")
    status: Optional[int]
    error: BinanceError


class Malformed(_Value):
    """A frame that is not JSON or has no recognisable shape; count and log it, never crash."""

    __slots__ = ("text", "reason")
    text: str
    reason: str


WsApiMessage = Union[Response, UserDataEvent, ServerShutdown, UnsolicitedError, Malformed]


class _Pending:
    __slots__ = ("method", "deadline")

    def __init__(self, method: str, deadline: float) -> None:
        self.method = method
        self.deadline = deadline


def is_auth_failure(error: Optional[BaseException]) -> bool:
    """True for rejected credentials: -1002/-1022/-2014/-2015 or status 401 (never worth a retry)."""
    if error is None:
        return False
    if isinstance(error, AuthenticationError):
        return True
    if isinstance(error, BinanceError):
        return error.binance_code in _AUTH_CODES or error.http_status == 401
    return False


class WsApiProtocol:
    """One WebSocket API connection's brain: frames out with ids, frames in classified.

    Not thread-safe: the owning I/O object calls it under its own lock.  Never blocks.

    Args:
        api_key: the API key (required for signed requests unless logged on).
        sign: signer over the canonical string; required for signed requests.
        exchange: exchange name put on errors.
        recv_window: ``recvWindow`` in ms added to signed requests (None: omit, server default 5000);
            up to 3 decimals (``Decimal("6000.346")``), sent as that exact text.
        timeout: seconds a request may stay unanswered before :meth:`expired` reports it.
        clock_offset_ms: Binance epoch ms minus ``now * 1000`` (from the clock sync).
        id_prefix: prefix of request ids (distinguishes connections in logs).
        allow_float: send ``float`` params via ``repr`` instead of raising ``ValidationError``
            (config ``rest.allow_float``, the REST rule).
    """

    def __init__(
        self,
        *,
        api_key: Optional[str] = None,
        sign: Optional[Signer] = None,
        exchange: str = "binance",
        recv_window: Optional[Union[int, Decimal, str]] = None,
        timeout: float = 10.0,
        clock_offset_ms: float = 0.0,
        id_prefix: str = "r",
        allow_float: bool = False,
    ) -> None:
        self.api_key = api_key
        self.allow_float = allow_float
        self.exchange = exchange
        self.recv_window = recv_window
        # Validated and formatted once, not per request (ValidationError "rest.recv_window").
        self._recv_wire = None if recv_window is None else recv_window_param(recv_window, "rest.recv_window")
        self.timeout = float(timeout)
        self.clock_offset_ms = float(clock_offset_ms)
        self._sign = sign
        self._prefix = id_prefix
        self._counter = 0
        self._pending: Dict[str, _Pending] = {}
        self._logged_on = False

    def set_clock_offset(self, offset_ms: float) -> None:
        """Update the server-clock offset (Binance epoch ms minus ``now * 1000``)."""
        self.clock_offset_ms = float(offset_ms)

    def server_time(self, now: float) -> int:
        """Binance epoch ms at local instant ``now``."""
        return int(now * 1000.0 + self.clock_offset_ms)

    @property
    def is_logged_on(self) -> bool:
        """True after a successful ``session.logon`` on this connection (until logout or reset)."""
        return self._logged_on

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def mark_logged_off(self) -> None:
        """Forget the logon (the next signed request carries ``apiKey`` and ``signature`` again)."""
        self._logged_on = False

    def connection_lost(self) -> List[str]:
        """Forget the connection: returns the ids still pending (their outcome is unknown); logs off."""
        ids = list(self._pending)
        self._pending.clear()
        self._logged_on = False
        return ids

    def next_id(self) -> str:
        self._counter += 1
        return f"{self._prefix}{self._counter}"

    def request(
        self,
        method: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        signed: bool = False,
        now: float,
        timeout: Optional[float] = None,
    ) -> Tuple[str, str]:
        """Build one request frame and register it as pending.

        Returns ``(request_id, frame_text)``.  For ``signed`` requests this adds
        ``apiKey`` (omitted once logged on, except for ``session.logon`` itself),
        ``timestamp``, ``recvWindow`` (if configured and not given) and ``signature``.

        Raises:
            ValidationError: a signed request without the needed key or signer; a ``float``
                param while floats are not allowed (nothing is registered or sent).
        """
        wire = encode_params(params, allow_float=self.allow_float)
        if params and params.get("recvWindow") is not None:  # per call: validated like the configured one
            wire["recvWindow"] = recv_window_param(params["recvWindow"])
        if signed:
            self._add_signature(method, wire, now)
        request_id = self.next_id()
        frame: Dict[str, Any] = {"id": request_id, "method": method}
        if wire:
            frame["params"] = wire
        limit = self.timeout if timeout is None else float(timeout)
        self._pending[request_id] = _Pending(method, now + limit)
        return request_id, json.dumps(frame, separators=(",", ":"), ensure_ascii=False)

    def _add_signature(self, method: str, wire: Dict[str, ParamValue], now: float) -> None:
        wire.setdefault("timestamp", self.server_time(now))
        if self._recv_wire is not None and "recvWindow" not in wire:
            wire["recvWindow"] = self._recv_wire
        if self._logged_on and method != "session.logon" and "apiKey" not in wire:
            # Section 10: after session.logon, SIGNED methods carry timestamp only.
            return
        if not self.api_key:
            raise ValidationError("api_key", None, "required for signed WebSocket API requests")
        if self._sign is None:
            raise ValidationError("api_secret", None, "a secret or private key is required to sign requests")
        wire["apiKey"] = self.api_key
        wire.pop("signature", None)
        wire["signature"] = self._sign(ws_api_payload(wire))

    def expired(self, now: float) -> List[str]:
        """Ids whose deadline passed by ``now``; they are removed from the pending table."""
        gone = [rid for rid, p in self._pending.items() if p.deadline <= now]
        for rid in gone:
            del self._pending[rid]
        return gone

    def next_deadline(self) -> Optional[float]:
        """The earliest pending deadline (for the I/O layer's wait), or None."""
        if not self._pending:
            return None
        return min(p.deadline for p in self._pending.values())

    def receive_text(self, text: str, now: float) -> WsApiMessage:
        """Classify one text frame.  Never raises on bad input (returns :class:`Malformed`)."""
        try:
            msg = json.loads(text, parse_float=Decimal)
        except ValueError as exc:
            return Malformed(text, f"invalid JSON: {exc}")
        if not isinstance(msg, dict):
            return Malformed(text, "not a JSON object")
        event = msg.get("event")
        if isinstance(event, dict) and "id" not in msg:
            etype = event.get("e")
            if etype == "serverShutdown":
                return ServerShutdown(_int_or_none(event.get("E")))
            if not isinstance(etype, str):
                return Malformed(text, "event without type")
            return UserDataEvent(_int_or_none(msg.get("subscriptionId")), etype, event)
        if msg.get("e") == "serverShutdown":
            return ServerShutdown(_int_or_none(msg.get("E")))
        data = msg.get("data")
        if isinstance(data, dict) and data.get("e") == "serverShutdown":
            return ServerShutdown(_int_or_none(data.get("E")))
        if "id" not in msg or not ("status" in msg or "result" in msg or "error" in msg):
            return Malformed(text, "unknown frame shape")
        status = _int_or_none(msg.get("status"))
        raw_id = msg.get("id")
        error_obj = msg.get("error")
        if raw_id is None:
            if not isinstance(error_obj, dict):
                return Malformed(text, "response with null id and no error")
            err = error_from_ws_api(status, error_obj, exchange=self.exchange, now_ms=self.server_time(now))
            return UnsolicitedError(status, err)
        request_id = str(raw_id)
        pending = self._pending.pop(request_id, None)
        method = pending.method if pending is not None else None
        if method == "session.logout":
            self._logged_on = False
        rate_limits = msg.get("rateLimits")
        rate_limits = rate_limits if isinstance(rate_limits, list) else None
        failed = isinstance(error_obj, dict) or (status is not None and status >= 400)
        if failed:
            err = error_from_ws_api(
                status,
                error_obj if isinstance(error_obj, dict) else {},
                exchange=self.exchange,
                request_id=request_id,
                now_ms=self.server_time(now),
            )
            return Response(request_id, method, status, None, err, rate_limits)
        if method == "session.logon":
            self._logged_on = True
        return Response(request_id, method, status, msg.get("result"), None, rate_limits)


def _int_or_none(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return None


# Plan states; WAITING: a subscribe failed, retried at a deadline (poll); FAILED: credentials rejected.
IDLE, LOGGING_ON, SUBSCRIBING, SUBSCRIBED = "idle", "logging_on", "subscribing", "subscribed"
WAITING, STOPPED, FAILED = "waiting", "stopped", "failed"


class Step(_Value):
    """What to do after one input: send ``frames`` in order; ``subscribed`` (just acknowledged),
    ``reconcile`` (acknowledged after a gap), ``reconnect`` (serverShutdown, -2042), ``fatal``
    (credentials rejected, stopped for good), ``is_noop`` (a -2035/-2036 answer)."""

    __slots__ = ("frames", "subscribed", "reconcile", "reconnect", "fatal", "is_noop")

    def __init__(self) -> None:
        self.frames: List[str] = []
        self.subscribed = False
        self.reconcile = False
        self.reconnect = False
        self.fatal: Optional[BinanceError] = None
        self.is_noop = False


class UserDataSession:
    """The user-data subscription plan of one WebSocket API session (pure state machine).

    Args:
        protocol: the connection's :class:`WsApiProtocol` (builds and signs the frames).
        key_type: ``"ed25519"``, ``"hmac"`` or ``"rsa"`` (``config.auth.key_type``).
        backoff: delay policy for resubscribing after a failed subscribe.
    """

    def __init__(self, protocol: WsApiProtocol, key_type: str, *, backoff: Optional[Backoff] = None) -> None:
        if key_type not in ("ed25519", "hmac", "rsa"):
            raise ValidationError("key_type", key_type, "one of 'ed25519', 'hmac', 'rsa'")
        self.protocol = protocol
        self.key_type = key_type
        self.backoff = backoff if backoff is not None else Backoff(0.5, 30.0, 0.0)
        self.state = IDLE
        self.subscription_id: Optional[int] = None
        self.error: Optional[BinanceError] = None
        self._has_subscribed = False  # ever: a later subscribe closes a gap
        self._in_gap = False
        self._failures = 0
        self._retry_at: Optional[float] = None
        self._ours: Dict[str, str] = {}  # request id -> method, for our own requests

    @property
    def is_ready(self) -> bool:
        """True while the subscription is acknowledged."""
        return self.state == SUBSCRIBED

    @property
    def is_fatal(self) -> bool:
        return self.state == FAILED

    @property
    def in_gap(self) -> bool:
        """True between losing a live subscription and re-acknowledging it."""
        return self._in_gap

    def _send(self, step: Step, method: str, *, signed: bool, now: float) -> None:
        rid, frame = self.protocol.request(method, None, signed=signed, now=now)
        self._ours[rid] = method
        step.frames.append(frame)

    def _subscribe(self, step: Step, now: float) -> None:
        """Section 8.1: Ed25519 logs on then subscribes; HMAC/RSA use the signed variant."""
        self._retry_at = None
        if self.key_type == "ed25519":
            if self.protocol.is_logged_on:
                self.state = SUBSCRIBING
                self._send(step, "userDataStream.subscribe", signed=False, now=now)
            else:
                self.state = LOGGING_ON
                self._send(step, "session.logon", signed=True, now=now)
        else:
            self.state = SUBSCRIBING
            self._send(step, "userDataStream.subscribe.signature", signed=True, now=now)

    def _lose(self) -> None:
        if self._has_subscribed:
            self._in_gap = True
        self.subscription_id = None

    def _fail(self, step: Step, error: BinanceError) -> None:
        self.state = FAILED
        self.error = error
        self._retry_at = None
        step.fatal = error

    def _schedule_retry(self, now: float, error: Optional[BinanceError] = None) -> None:
        if self.key_type == "ed25519":
            # The failure may mean the logon is gone (e.g. logout elsewhere): log on again.
            self.protocol.mark_logged_off()
        self.state = WAITING
        # A 429/418 answer says when to come back (retryAfter); never earlier than that.
        wait = max(self.backoff.nominal(self._failures), getattr(error, "retry_after", None) or 0.0)
        self._retry_at = now + wait
        self._failures += 1

    def on_connected(self, now: float, protocol: Optional[WsApiProtocol] = None) -> Step:
        """A (new) connection is open: the frames that (re)establish the subscription.

        Pass the new connection's ``protocol`` when the I/O layer builds one per connection.
        """
        if protocol is not None:
            self.protocol = protocol
        step = Step()
        if self.state in (FAILED, STOPPED):
            return step
        self._ours.clear()
        self._subscribe(step, now)
        return step

    def on_disconnected(self) -> None:
        """The connection is gone: not ready; a later subscribe closes a gap."""
        self._ours.clear()
        self._retry_at = None
        if self.state in (FAILED, STOPPED):
            return
        self._lose()
        self.state = IDLE

    def stop(self, now: float) -> Step:
        """Stop the plan; unsubscribes when a subscription is active (and the link is up)."""
        step = Step()
        if self.state == SUBSCRIBED:
            params = {"subscriptionId": self.subscription_id} if self.subscription_id is not None else None
            rid, frame = self.protocol.request("userDataStream.unsubscribe", params, now=now)
            self._ours[rid] = "userDataStream.unsubscribe"
            step.frames.append(frame)
        if self.state != FAILED:
            self.state = STOPPED
        self._retry_at = None
        return step

    def poll(self, now: float) -> Step:
        """Periodic tick: resubscribes once a retry delay has passed."""
        step = Step()
        if self.state == WAITING and self._retry_at is not None and now >= self._retry_at:
            self._subscribe(step, now)
        return step

    def on_expired(self, request_ids: List[str], now: float) -> Step:
        """Some requests timed out (from ``protocol.expired(now)``): retry ours after a delay."""
        step = Step()
        mine = [rid for rid in request_ids if rid in self._ours]
        for rid in mine:
            method = self._ours.pop(rid)
            if method != "userDataStream.unsubscribe" and self.state in (LOGGING_ON, SUBSCRIBING):
                self._schedule_retry(now)
        return step

    def handle(self, message: WsApiMessage, now: float) -> Step:
        """Feed one classified frame; responses to other requests are ignored here."""
        step = Step()
        if self.state == FAILED:
            return step
        if isinstance(message, Response):
            method = self._ours.pop(message.id, None)
            if method is not None:
                self._on_response(step, method, message, now)
        elif isinstance(message, UserDataEvent):
            if message.event_type == "eventStreamTerminated" and self.state == SUBSCRIBED:
                if message.subscription_id is None or message.subscription_id == self.subscription_id:
                    self._lose()
                    self._subscribe(step, now)
        elif isinstance(message, UnsolicitedError):
            if is_auth_failure(message.error):
                self._fail(step, message.error)
        elif isinstance(message, ServerShutdown):
            step.reconnect = self.state != STOPPED
        return step

    def _on_response(self, step: Step, method: str, resp: Response, now: float) -> None:
        err = resp.error
        if method == "userDataStream.unsubscribe":
            step.is_noop = err is not None and err.binance_code == SUBSCRIPTION_INACTIVE
            return
        if self.state == STOPPED:
            return
        if err is None:
            if method == "session.logon":
                self._subscribe(step, now)
                return
            sub = resp.result.get("subscriptionId") if isinstance(resp.result, dict) else None
            self.subscription_id = _int_or_none(sub)
            self._acknowledge(step)
            return
        if is_auth_failure(err):
            self._fail(step, err)
        elif err.binance_code == SUBSCRIPTION_ACTIVE:
            # Already subscribed on this connection: nothing to change, we are live.
            step.is_noop = True
            self._acknowledge(step)
        elif err.binance_code == MAXIMUM_SUBSCRIPTION_IDS:
            self.state = IDLE
            step.reconnect = True
        else:
            self._schedule_retry(now, err)

    def _acknowledge(self, step: Step) -> None:
        was_ready = self.state == SUBSCRIBED
        self.state = SUBSCRIBED
        self._failures = 0
        self._retry_at = None
        if not was_ready:
            step.subscribed = True
            step.reconcile = self._in_gap
        self._in_gap = False
        self._has_subscribed = True
