"""Helpers for the FakeBinance self-tests: plain requests / websocket-client, waits with deadlines."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from typing import Any, Callable, List, Optional, Sequence, Tuple
from urllib.parse import urlencode

import requests
import websocket

from binance_conn.testing import FakeBinance

SLOWDOWN = float(os.environ.get("BINANCE_CONN_TEST_SLOWDOWN", "1"))


def scaled(seconds: float) -> float:
    return seconds * SLOWDOWN


def hmac_hex(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signed(fake: FakeBinance, method: str, path: str, params: Sequence[Tuple[str, Any]] = (),
           api_key: Optional[str] = None, secret: Optional[str] = None, timestamp: Optional[int] = None,
           session: Optional[requests.Session] = None, **kw: Any) -> requests.Response:
    """A correctly signed HMAC request (query string), as section 3.1 describes."""
    items = list(params) + [("timestamp", timestamp if timestamp is not None else fake.now_ms())]
    query = urlencode(items)
    sig = hmac_hex(secret or fake.api_secret, query)
    http = session or requests
    return http.request(method, f"{fake.rest_url}{path}?{query}&signature={sig}",
                        headers={"X-MBX-APIKEY": api_key or fake.api_key}, timeout=scaled(5), **kw)


def connect(url: str, timeout: float = 5.0) -> websocket.WebSocket:
    return websocket.create_connection(url, timeout=scaled(timeout))


def recv_json(ws: websocket.WebSocket) -> Any:
    return json.loads(ws.recv())


def recv_until(ws: websocket.WebSocket, pred: Callable[[Any], bool], timeout: float = 5.0) -> Any:
    """Receive JSON messages until one satisfies ``pred``; fail at the deadline."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "expected message never arrived"
        ws.settimeout(remaining)
        msg = json.loads(ws.recv())
        if pred(msg):
            return msg


def recv_n(ws: websocket.WebSocket, n: int, timeout: float = 5.0) -> List[Any]:
    ws.settimeout(scaled(timeout))
    return [json.loads(ws.recv()) for _ in range(n)]


def wait_close(ws: websocket.WebSocket, timeout: float = 5.0) -> Optional[int]:
    """Read until the connection ends: the close code, or None if TCP died with no close frame."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "connection did not close"
        ws.settimeout(remaining)
        try:
            frame = ws.recv_data_frame(True)[1]
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            ws.shutdown()
            return None
        if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
            ws.shutdown()  # the close reply went out; now close TCP as a client should
            return int.from_bytes(frame.data[:2], "big") if len(frame.data) >= 2 else 1005


def api_call(ws: websocket.WebSocket, method: str, params: Optional[dict[str, Any]] = None,
             req_id: Any = "r1", timeout: float = 5.0) -> Any:
    """One WebSocket API request; returns its response (skipping events)."""
    msg: dict[str, Any] = {"id": req_id, "method": method}
    if params is not None:
        msg["params"] = params
    ws.send(json.dumps(msg))
    return recv_until(ws, lambda m: isinstance(m, dict) and m.get("id") == req_id and "status" in m, timeout)


def ws_sign_hmac(secret: str, params: dict[str, Any]) -> str:
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return hmac_hex(secret, payload)
