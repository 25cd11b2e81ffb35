"""User-data side of ``FakeBinance.replay`` (``_replay.py``): recorded ``wsapi`` / ``user`` lines.

* ``wsapi`` lines (the spot WebSocket API connection): the user-data events
  (``{"subscriptionId": n, "event": {...}}``: ``executionReport``, ``outboundAccountPosition``,
  ``balanceUpdate``, ``listStatus``...) are pushed, verbatim, to every user-data subscription
  of the replaying fake's WebSocket API connections (each under its own subscription id), in
  recorded order.  The answers to our requests (``{"id": ..., "status": ...}``: logon,
  subscribe, order placements) are not replayed: the fake's own engine answers the new
  client's requests.  The control events ``eventStreamTerminated`` / ``serverShutdown`` are
  not replayed either (the fake's own subscription lifecycle runs).
* ``user`` lines (a futures listenKey stream): every event (``ORDER_TRADE_UPDATE``,
  ``ACCOUNT_UPDATE``, ``TRADE_LITE``...) but ``listenKeyExpired`` goes, verbatim, to the fake's
  open private connections of a valid listenKey, in recorded order.
* a recorded loss of a user-data link that carried events (a ``close`` line followed by more
  events; not a ``"planned"`` close: a make-before-break rollover) cuts the fake's user-data
  connections of that kind at the same point: the connector reconnects, resubscribes and
  reconciles over REST, answered from the recorded responses.

Before each event the replay waits (``subscribe_timeout``) until some connection takes user
data, so nothing goes into the void.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set, Tuple

from ._util import dumps

if TYPE_CHECKING:
    from ._replay import Replay

__all__ = ["USER_KINDS", "load_user_line", "send_user", "cut_user"]

USER_KINDS = frozenset({"wsapi", "user"})
_TARGET = {"wsapi": "api", "user": "private"}
_NOT_REPLAYED = frozenset({"eventStreamTerminated", "serverShutdown", "listenKeyExpired"})


def load_user_line(line: Dict[str, Any], carried: Set[Any]) -> Optional[Tuple[str, Any]]:
    """A recorded user-data line -> a step ``("user", (target, event_text))`` / ``("ucut", target)``, or None."""
    kind = line.get("k")
    if kind == "close":
        link = line.get("link")
        conn = line.get("conn")
        if link in _TARGET and conn in carried:
            carried.discard(conn)
            if not line.get("planned"):  # a make-before-break rollover: the successor carried on, no loss
                return "ucut", _TARGET[str(link)]
        return None
    frame = line.get("frame")
    if not isinstance(frame, str) or '"e"' not in frame:
        return None
    try:
        msg = json.loads(frame)
    except ValueError:
        return None
    if not isinstance(msg, dict):
        return None
    if kind == "wsapi":
        event = msg.get("event")
    else:
        event = msg.get("data") if isinstance(msg.get("data"), dict) and "stream" in msg else msg
    if not isinstance(event, dict) or not isinstance(event.get("e"), str) or event["e"] in _NOT_REPLAYED:
        return None
    carried.add(line.get("conn"))
    return "user", (_TARGET[str(kind)], dumps(event))


def _takers(replay: "Replay", target: str) -> List[Any]:
    """The fake's open connections that take user data of ``target`` (``api`` / ``private``)."""
    fake = replay.fake
    out = []
    if target == "private":
        valid = set(fake.listen_keys())
        for s in fake._open_sessions("private"):
            if getattr(s, "listen_key", None) in valid and not s.closed.is_set():
                out.append(s)
        return out
    for s in fake._open_sessions("api"):
        with s.lock:
            if s.user_subs and not s.closed.is_set():
                out.append(s)
    return out


def send_user(replay: "Replay", target: str, text: str) -> None:
    """Push one recorded user-data event (waits for a connection that takes user data)."""
    fake = replay.fake
    found: List[Any] = []

    def ready() -> bool:
        found[:] = _takers(replay, target)
        return bool(found) or replay._stop.is_set()

    if not fake.wait_until(ready, replay.subscribe_timeout) or not found:
        if not replay._stop.is_set():
            replay.user_missed += 1
        return
    for s in found:
        if target == "private":
            s.enqueue(s.wrap(s.listen_key, text))
        else:
            with s.lock:
                subs = sorted(s.user_subs)
            for sid in subs:
                s.enqueue('{"subscriptionId":%d,"event":%s}' % (sid, text))
    replay.user_sent += 1


def cut_user(replay: "Replay", target: str) -> None:
    """Replay a recorded user-data link loss: cut the connections taking user data, after what was
    queued before the loss reached the client."""
    cut_sessions(replay, _takers(replay, target), "replayed user-data connection loss")


def cut_sessions(replay: "Replay", victims: List[Any], reason: str) -> None:
    """Cut ``victims`` (fake sessions) the way a recorded loss happened: each after what was queued
    for it before the loss reached the client; then wait until they are closed."""
    fake = replay.fake
    for s in victims:
        sent = threading.Event()
        s.outq.put(("sync", sent))
        fake.wait_until(functools.partial(_any_set, sent, s.closed, replay._stop), replay.subscribe_timeout)
        s.abort(reason)
    replay.cuts += 1
    fake.wait_until(lambda: all(s.closed.is_set() for s in victims) or replay._stop.is_set(),
                    replay.subscribe_timeout)


def _any_set(*events: threading.Event) -> bool:
    return any(e.is_set() for e in events)
