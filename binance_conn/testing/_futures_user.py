"""The futures user-data side of the fake: listenKeys with expiry and the ``/private`` stream route.

binance-futures-reference.md 7.1: ``POST /fapi/v1/listenKey`` (``/dapi`` on COIN-M) returns the
account's active key (extending it 60 minutes) or a new one; ``PUT`` extends it or answers
``-1125`` "This listenKey does not exist."; ``DELETE`` invalidates it.  A key past its validity
(``listen_key_validity`` seconds after the last POST/PUT) is expired the next time anything
would be delivered on it: ``listenKeyExpired`` is pushed, then silence (the socket stays
open).  :meth:`FuturesUserMixin.expire_listen_keys` does the same at once.

Streams: USD-M ``/private/ws?listenKey=<key>&events=A/B`` (``/private/stream?...`` combined),
COIN-M ``/ws/<key>`` for a key this fake issued.  A bogus key completes the handshake and
gets nothing (as reported for Binance).  :meth:`FuturesUserMixin.push_futures_event` sends a
raw event to every private connection of a valid key whose ``events`` include it; if the
futures engine exposes ``fake.futures_events`` (a list of callables), the push is registered
there so the engine's generated events flow to the user stream.

The listenKey routes check no API key (the REST handlers of the fake see parameters only).
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs

from ._util import JSON, BinanceFault, dumps

if TYPE_CHECKING:
    from ._ws import Session

__all__ = ["FuturesUserMixin", "futures_user_routes"]


class FuturesUserMixin:
    """Mixed into ``FakeBinance``: listenKey lifecycle, private route, event push."""

    product: str
    clock: Any
    listen_key_validity: float

    def _init_futures_user(self) -> None:
        self.listen_key_validity = 3600.0
        self._lk_lock = threading.Lock()
        self._listen_keys: Dict[str, float] = {}  # key -> monotonic expiry (valid keys only)
        self._active_key: Optional[str] = None
        self.listen_key_deletes = 0
        hooks = getattr(self, "futures_events", None)
        if isinstance(hooks, list):
            hooks.append(self.push_futures_event)

    def _open_sessions(self, kind: Optional[str] = None, path_prefix: Optional[str] = None
                       ) -> List["Session"]:  # pragma: no cover - FakeBinance's
        raise NotImplementedError

    # -- REST ---------------------------------------------------------------------------------
    def _listen_key_create(self, p: Dict[str, str]) -> JSON:
        now = time.monotonic()
        with self._lk_lock:
            key = self._active_key
            if key is None or self._listen_keys.get(key, 0.0) <= now:
                if key is not None:
                    self._listen_keys.pop(key, None)
                key = secrets.token_hex(32)
                self._active_key = key
            self._listen_keys[key] = now + self.listen_key_validity
        return {"listenKey": key}

    def _listen_key_keepalive(self, p: Dict[str, str]) -> JSON:
        now = time.monotonic()
        with self._lk_lock:
            key = self._active_key
            if key is None or self._listen_keys.get(key, 0.0) <= now:
                raise BinanceFault(-1125, "This listenKey does not exist.")
            self._listen_keys[key] = now + self.listen_key_validity
        return {"listenKey": key}

    def _listen_key_delete(self, p: Dict[str, str]) -> JSON:
        with self._lk_lock:
            key, self._active_key = self._active_key, None
            if key is not None:
                self._listen_keys.pop(key, None)
            self.listen_key_deletes += 1
        return {}

    # -- stream route ---------------------------------------------------------------------------
    def _private_target(self, path: str, query: str) -> Optional[Tuple[str, Optional[List[str]]]]:
        """``(listenKey, events or None for all)`` when ``path`` is a user-data stream URL, else None."""
        if self.product == "usdm" and path in ("/private/ws", "/private/stream"):
            q = parse_qs(query)
            key = (q.get("listenKey") or [""])[0]
            events = (q.get("events") or [""])[0]
            return key, [e for e in events.split("/") if e] or None
        if self.product == "coinm" and path.startswith("/ws/"):
            key = path[len("/ws/"):]
            with self._lk_lock:
                known = key in self._listen_keys or key == self._active_key
            if known:
                return key, None
        return None

    def listen_keys(self) -> List[str]:
        """The valid listenKeys."""
        now = time.monotonic()
        with self._lk_lock:
            return [k for k, exp in self._listen_keys.items() if exp > now]

    def expire_listen_keys(self) -> int:
        """Expire every key now: ``listenKeyExpired`` to their private connections, PUT answers -1125
        from now on.  Returns how many connections were told."""
        with self._lk_lock:
            keys = list(self._listen_keys)
            self._listen_keys.clear()
        return sum(self._tell_expired(k) for k in keys)

    def _tell_expired(self, key: str) -> int:
        ev = {"e": "listenKeyExpired", "E": self.clock.now_ms(), "listenKey": key}
        n = 0
        for s in self._open_sessions("private"):
            if getattr(s, "listen_key", None) == key:
                s.enqueue(s.wrap(key, dumps(ev)))
                n += 1
        return n

    def _check_expiry(self) -> None:
        now = time.monotonic()
        with self._lk_lock:
            gone = [k for k, exp in self._listen_keys.items() if exp <= now]
            for k in gone:
                del self._listen_keys[k]
        for k in gone:
            self._tell_expired(k)

    def push_futures_event(self, event: JSON) -> int:
        """Send a raw futures user-data event to every private connection of a valid key that asked for
        its type (``events=``).  Returns how many connections got it."""
        self._check_expiry()
        kind = event.get("e")
        text = dumps(event)
        with self._lk_lock:
            valid = set(self._listen_keys)
        n = 0
        for s in self._open_sessions("private"):
            key = getattr(s, "listen_key", None)
            events = getattr(s, "user_events", None)
            if key in valid and (events is None or kind in events):
                s.enqueue(s.wrap(key, text))
                n += 1
        return n


def futures_user_routes(fake: Any) -> Dict[Tuple[str, str], Tuple[Callable[[Dict[str, str]], Any],
                                                                   Callable[[Dict[str, str]], int], bool]]:
    """The listenKey REST routes of a futures fake (weight 1 each, API key only: not signed)."""
    path = "/dapi/v1/listenKey" if fake.product == "coinm" else "/fapi/v1/listenKey"
    return {
        ("POST", path): (fake._listen_key_create, lambda p: 1, False),
        ("PUT", path): (fake._listen_key_keepalive, lambda p: 1, False),
        ("DELETE", path): (fake._listen_key_delete, lambda p: 1, False),
    }
