"""Every JSON example of the docs that carries a ``recvWindow`` or a ``serverTime`` through the
timing code: recvWindow validation and its exact wire text (WebSocket API signatures of the docs'
HMAC vectors reproduced through the per-call path), and the server clock fed the same instant in
milliseconds and in microseconds (opt-in time unit)."""

from __future__ import annotations

import hashlib
import hmac
import json
import pathlib
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from binance_conn._core.clock import ServerClock
from binance_conn._core.timing import epoch_ms, format_recv_window, recv_window
from binance_conn._core.wsapi import WsApiProtocol

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "spot_docs" / "examples.json"
from _spot_docs import DOCS  # noqa: E402

DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"  # the docs' example secret


def _records() -> List[Dict[str, Any]]:
    return json.loads(EXAMPLES.read_text(encoding="utf-8")) if EXAMPLES.exists() else []


def _walk(obj: Any) -> Iterator[Tuple[str, Any, Any]]:
    """(key, value, parent mapping) of every key in a JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k, v, obj
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


def _with_key(key: str) -> List[Any]:
    out = []
    for rec in _records():
        for k, v, parent in _walk(rec["json"]):
            if k == key:
                out.append(pytest.param(rec, v, parent, id=f"{rec['doc']}:{rec['line']}"))
    return out


RECV = _with_key("recvWindow")
SERVER_TIMES = _with_key("serverTime")
# The HMAC vectors with a real signature (the docs' RSA/Ed25519 ones need their private keys).
HMAC_SIGNED = [p for p in RECV if "HMAC" in (p.values[0].get("heading") or "")
               and isinstance(p.values[2].get("signature"), str) and "FILL" not in p.values[2]["signature"]]


def test_the_docs_have_examples_of_both() -> None:
    if not EXAMPLES.exists():
        pytest.skip("examples not extracted")
    assert len(RECV) >= 10 and len(SERVER_TIMES) >= 3 and len(HMAC_SIGNED) >= 2


def test_timing_security_text_documents_three_decimals() -> None:
    for doc in ("rest-api.md", "web-socket-api.md"):
        path = DOCS / doc
        if not path.exists():
            pytest.skip("docs snapshot not present")
        text = path.read_text(encoding="utf-8")
        assert "`recvWindow` supports up to three decimal places of precision (e.g., 6000.346)" in text
        assert "Maximum `recvWindow` is 60000 milliseconds." in text
        assert recv_window("recvWindow", "6000.346") is not None


@pytest.mark.parametrize("rec,value,params", RECV)
def test_docs_recv_window_accepted_and_sent_as_written(rec: Dict[str, Any], value: Any, params: Any) -> None:
    canonical = recv_window("recvWindow", value)
    assert format_recv_window(canonical) == str(value)


@pytest.mark.parametrize("rec,value,params", HMAC_SIGNED)
def test_docs_hmac_signatures_through_the_per_call_recv_window(rec: Dict[str, Any], value: Any, params: Any) -> None:
    signature = params["signature"]
    sign = lambda payload: hmac.new(DOC_SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()  # noqa: E731
    proto = WsApiProtocol(api_key=params["apiKey"], sign=sign, recv_window=60000)  # the per-call value wins
    given = {k: v for k, v in params.items() if k not in ("apiKey", "signature")}
    _, text = proto.request(rec["json"]["method"], given, signed=True, now=0.0)
    sent = json.loads(text)["params"]
    assert sent["recvWindow"] == value and sent["timestamp"] == params["timestamp"]
    assert sent["signature"] == signature


@pytest.mark.parametrize("rec,value,parent", SERVER_TIMES)
def test_docs_server_time_same_offset_in_both_units(rec: Dict[str, Any], value: Any, parent: Any) -> None:
    assert isinstance(value, int) and value < 10**14  # the docs' examples are milliseconds
    assert epoch_ms(value * 1000) == value
    local_sent, local_received = value - 1234, value - 1200  # a clock 1217 ms behind
    in_ms, in_us = ServerClock(), ServerClock()
    assert in_ms.update(local_sent, value, local_received) == 1217
    assert in_us.update(local_sent, value * 1000 + 400, local_received) == 1217  # +0.4 ms rounds away
