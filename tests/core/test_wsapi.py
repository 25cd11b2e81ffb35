"""WebSocket API brain and user-data session plan: pure tests, no sockets, no clock."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binance_conn import errors
from binance_conn._core import wsapi
from binance_conn._core.backoff import Backoff
from binance_conn._core.wsapi import (
    Malformed,
    Response,
    ServerShutdown,
    UnsolicitedError,
    UserDataEvent,
    UserDataSession,
    WsApiProtocol,
    ws_api_payload,
)

FIXTURES = Path(__file__).parent / "fixtures" / "user_data"

# Section 3.4: the spot docs' key pair.
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def hmac_sign(payload: str) -> str:
    return hmac.new(SECRET.encode(), payload.encode("utf-8"), hashlib.sha256).hexdigest()


W1_PARAMS = {
    "symbol": "BTCUSDT",
    "side": "SELL",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.01000000",
    "price": "52000.00",
    "recvWindow": 100,
    "timestamp": 1645423376532,
    "apiKey": API_KEY,
}
W1_PAYLOAD = (
    "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&price=52000.00&quantity=0.01000000"
    "&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
)
W1_SIG = "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
W2_PARAMS = {
    "symbol": "１２３４５６",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "1.00000000",
    "price": "0.10000000",
    "recvWindow": 5000,
    "timestamp": 1645423376532,
    "apiKey": API_KEY,
}
W2_PAYLOAD = (
    "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&price=0.10000000&quantity=1.00000000"
    "&recvWindow=5000&side=BUY&symbol=１２３４５６&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
)
W2_SIG = "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"
W3_PAYLOAD = "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&timestamp=1649729878532"
W3_SIG = "1cf54395b336b0a9727ef27d5d98987962bc47aca6e13fe978612d0adee066ed"


def proto(**kw: Any) -> WsApiProtocol:
    kw.setdefault("api_key", API_KEY)
    kw.setdefault("sign", hmac_sign)
    return WsApiProtocol(**kw)


def at_ms(ms: int, now: float = 100.0) -> float:
    """The clock offset that makes ``server_time(now) == ms``."""
    return ms - now * 1000.0


def frame(text: str) -> Dict[str, Any]:
    decoded = json.loads(text)
    assert isinstance(decoded, dict)
    return decoded


def answer(rid: str, result: Any = None, *, status: int = 200, error: Optional[Dict[str, Any]] = None) -> str:
    msg: Dict[str, Any] = {"id": rid, "status": status}
    if error is not None:
        msg["error"] = error
    else:
        msg["result"] = result if result is not None else {}
    return json.dumps(msg)


# -- canonical string and vectors ------------------------------------------------------------


@pytest.mark.parametrize(
    "params,payload,sig",
    [
        (W1_PARAMS, W1_PAYLOAD, W1_SIG),
        (W2_PARAMS, W2_PAYLOAD, W2_SIG),
        ({"apiKey": API_KEY, "timestamp": 1649729878532}, W3_PAYLOAD, W3_SIG),
    ],
    ids=["W1", "W2", "W3"],
)
def test_vectors(params: Dict[str, Any], payload: str, sig: str) -> None:
    assert ws_api_payload(params) == payload
    assert ws_api_payload({**params, "signature": "x"}) == payload
    assert hmac_sign(payload) == sig


def test_w1_through_request_builder() -> None:
    p = proto(recv_window=100, clock_offset_ms=at_ms(1645423376532))
    params = {k: v for k, v in W1_PARAMS.items() if k not in ("apiKey", "timestamp", "recvWindow")}
    rid, text = p.request("order.place", params, signed=True, now=100.0)
    msg = frame(text)
    assert msg["id"] == rid and msg["method"] == "order.place"
    assert msg["params"]["apiKey"] == API_KEY
    assert msg["params"]["timestamp"] == 1645423376532
    assert msg["params"]["recvWindow"] == 100
    assert msg["params"]["signature"] == W1_SIG


def test_w2_non_ascii_is_signed_raw_and_sent_raw() -> None:
    p = proto(recv_window=5000, clock_offset_ms=at_ms(1645423376532))
    params = {k: v for k, v in W2_PARAMS.items() if k not in ("apiKey", "timestamp", "recvWindow")}
    _, text = p.request("order.place", params, signed=True, now=100.0)
    assert "１２３４５６" in text  # not \u-escaped, not percent-encoded
    assert frame(text)["params"]["signature"] == W2_SIG


def test_w3_session_logon() -> None:
    p = proto(clock_offset_ms=at_ms(1649729878532))
    _, text = p.request("session.logon", signed=True, now=100.0)
    params = frame(text)["params"]
    assert params == {"apiKey": API_KEY, "timestamp": 1649729878532, "signature": W3_SIG}


def test_matches_the_signing_module_for_scalar_values() -> None:
    signing = pytest.importorskip("binance_conn._core.signing")
    assert signing.ws_api_payload(W1_PARAMS) == W1_PAYLOAD
    assert signing.Signer.hmac_sha256(SECRET).sign(W1_PAYLOAD) == W1_SIG


_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12)
_value = st.one_of(st.text(min_size=0, max_size=12), st.integers(-(10**12), 10**12), st.booleans())


@given(st.dictionaries(_name, _value, max_size=10), st.randoms())
def test_payload_is_order_independent(params: Dict[str, Any], rnd: Any) -> None:
    items = list(params.items())
    rnd.shuffle(items)
    assert ws_api_payload(dict(items)) == ws_api_payload(params)
    if params:
        assert ws_api_payload(params).startswith(min(params) + "=")
    assert "%" not in ws_api_payload({k: v for k, v in params.items() if "%" not in str(v)})


@given(st.dictionaries(_name, _value, max_size=10))
def test_payload_agrees_with_signing_module(params: Dict[str, Any]) -> None:
    signing = pytest.importorskip("binance_conn._core.signing")
    assert ws_api_payload(params) == signing.ws_api_payload(params)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=-(10**9), max_value=10**9))
def test_decimal_params_are_plain_strings(value: Decimal) -> None:
    encoded = wsapi.encode_params({"price": value})["price"]
    assert isinstance(encoded, str)
    assert "E" not in encoded and Decimal(encoded) == value


# -- request building -------------------------------------------------------------------------


def test_ids_are_unique_and_pending() -> None:
    p = proto()
    ids = {p.request("ping", now=0.0)[0] for _ in range(100)}
    assert len(ids) == 100 and p.pending_count == 100


def test_unsigned_request_shape() -> None:
    p = proto()
    rid, text = p.request("ping", now=0.0)
    assert frame(text) == {"id": rid, "method": "ping"}
    _, text = p.request("depth", {"symbol": "BTCUSDT", "limit": 5, "x": None}, now=0.0)
    assert frame(text)["params"] == {"symbol": "BTCUSDT", "limit": 5}


def test_signed_request_shape_and_signature_covers_everything() -> None:
    p = proto(recv_window=Decimal("6000.346"), clock_offset_ms=at_ms(1_700_000_000_000, 5.0))
    _, text = p.request(
        "order.place", {"symbol": "BTCUSDT", "price": Decimal("1.10"), "postOnly": True}, signed=True, now=5.0
    )
    params = frame(text)["params"]
    assert params["price"] == "1.10" and params["recvWindow"] == "6000.346" and params["postOnly"] is True
    assert params["timestamp"] == 1_700_000_000_000
    signature = params.pop("signature")
    assert signature == hmac_sign(ws_api_payload(params))
    assert "postOnly=true" in ws_api_payload(params)


def test_caller_timestamp_and_recv_window_win() -> None:
    p = proto(recv_window=5000)
    _, text = p.request("account.status", {"timestamp": 1, "recvWindow": 10}, signed=True, now=0.0)
    params = frame(text)["params"]
    assert params["timestamp"] == 1 and params["recvWindow"] == 10


def test_clock_offset_is_injected() -> None:
    p = proto()
    p.set_clock_offset(1_000.0)
    assert p.server_time(2.5) == 3_500
    _, text = p.request("account.status", signed=True, now=2.5)
    assert frame(text)["params"]["timestamp"] == 3_500


def test_signed_without_credentials_raises_validation_error() -> None:
    with pytest.raises(errors.ValidationError):
        WsApiProtocol().request("account.status", signed=True, now=0.0)
    with pytest.raises(errors.ValidationError):
        WsApiProtocol(api_key=API_KEY).request("account.status", signed=True, now=0.0)


def test_logged_on_session_sends_timestamp_only() -> None:
    p = proto()
    rid, _ = p.request("session.logon", signed=True, now=0.0)
    assert not p.is_logged_on
    assert p.receive_text(answer(rid, {"apiKey": API_KEY, "authorizedSince": 1}), 0.1).error is None  # type: ignore[union-attr]
    assert p.is_logged_on
    _, text = p.request("account.status", signed=True, now=0.2)
    params = frame(text)["params"]
    assert set(params) == {"timestamp"}
    rid, _ = p.request("session.logout", now=0.3)
    p.receive_text(answer(rid, {}), 0.4)
    assert not p.is_logged_on
    assert "signature" in frame(p.request("account.status", signed=True, now=0.5)[1])["params"]


def test_expired_returns_timed_out_ids_once() -> None:
    p = proto(timeout=10.0)
    a, _ = p.request("ping", now=0.0)
    b, _ = p.request("ping", now=5.0, timeout=1.0)
    c, _ = p.request("ping", now=5.0)
    assert p.next_deadline() == 6.0
    assert p.expired(5.9) == []
    assert p.expired(6.0) == [b]
    assert p.expired(10.0) == [a]
    assert p.expired(10.0) == []
    late = p.receive_text(answer(a), 11.0)
    assert isinstance(late, Response) and late.method is None
    assert p.connection_lost() == [c] and p.pending_count == 0


def test_connection_lost_logs_off() -> None:
    p = proto()
    rid, _ = p.request("session.logon", signed=True, now=0.0)
    p.receive_text(answer(rid, {}), 0.0)
    assert p.is_logged_on
    p.connection_lost()
    assert not p.is_logged_on


# -- response classification ------------------------------------------------------------------


def test_success_response() -> None:
    p = proto()
    rid, _ = p.request("time", now=0.0)
    msg = p.receive_text(
        json.dumps({"id": rid, "status": 200, "result": {"serverTime": 1656400526260}, "rateLimits": [{"count": 1}]}),
        0.1,
    )
    assert isinstance(msg, Response)
    assert (msg.id, msg.method, msg.status, msg.error) == (rid, "time", 200, None)
    assert msg.result == {"serverTime": 1656400526260} and msg.rate_limits == [{"count": 1}]
    assert p.pending_count == 0


@pytest.mark.parametrize(
    "status,code,cls",
    [
        (400, -2010, errors.OrderRejectedError),
        (400, -1021, errors.TimestampError),
        (400, -2013, errors.NotFoundError),
        (401, -2015, errors.AuthenticationError),
        (400, -1022, errors.AuthenticationError),
        (429, -1003, errors.RateLimitError),
        (503, -1007, errors.UnknownStatusError),
        (400, -1121, errors.NotFoundError),
        (400, -1100, errors.APIError),
    ],
)
def test_error_response_is_mapped(status: int, code: int, cls: type) -> None:
    p = proto(exchange="binance-testnet")
    rid, _ = p.request("order.place", {"symbol": "BTCUSDT"}, signed=True, now=0.0)
    msg = p.receive_text(answer(rid, status=status, error={"code": code, "msg": "nope"}), 0.0)
    assert isinstance(msg, Response) and msg.method == "order.place"
    err = msg.error
    assert isinstance(err, cls) and isinstance(err, errors.BinanceError) and err.binance_code == code
    assert err.request_id == rid and err.exchange == "binance-testnet"


def test_retry_after_epoch_ms_becomes_seconds() -> None:
    text = (FIXTURES / "ws_api_ip_banned.json").read_text()
    rid = frame(text)["id"]
    p = proto(id_prefix="fc93a61a-a192-4cf4-bb2a-a8f0f0c51e0", clock_offset_ms=at_ms(1659142907531, 0.0))
    assert p.next_id() == "fc93a61a-a192-4cf4-bb2a-a8f0f0c51e01"
    msg = p.receive_text(text, 0.0)
    assert isinstance(msg, Response) and msg.id == rid
    assert isinstance(msg.error, errors.IPBannedError)
    assert msg.error.retry_after == pytest.approx((1659146400000 - 1659142907531) / 1000.0)


def test_429_retry_after() -> None:
    p = proto(clock_offset_ms=at_ms(1_000_000, 1.0))
    rid, _ = p.request("order.place", now=1.0)
    err = {"code": -1003, "msg": "Too much request weight used", "data": {"retryAfter": 1_030_000}}
    msg = p.receive_text(answer(rid, status=429, error=err), 1.0)
    assert isinstance(msg, Response) and isinstance(msg.error, errors.RateLimitError)
    assert msg.error.retry_after == pytest.approx(30.0)


def test_user_data_event_is_unwrapped() -> None:
    msg = proto().receive_text((FIXTURES / "execution_report_new.json").read_text(), 0.0)
    assert isinstance(msg, UserDataEvent)
    assert msg.subscription_id == 0 and msg.event_type == "executionReport"
    assert msg.payload["c"] == "mUvoqJxFIILMdfAW5iGSOW" and msg.payload["q"] == "1.00000000"


@pytest.mark.parametrize(
    "text",
    [
        '{"e":"serverShutdown","E":1700000000000}',
        '{"event":{"e":"serverShutdown","E":1700000000000}}',
        '{"subscriptionId":3,"event":{"e":"serverShutdown","E":1700000000000}}',
        '{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1700000000000}}',
    ],
)
def test_server_shutdown(text: str) -> None:
    msg = proto().receive_text(text, 0.0)
    assert isinstance(msg, ServerShutdown) and msg.event_time == 1700000000000


def test_unsolicited_session_revoked_is_authentication_error() -> None:
    text = '{"id":null,"status":401,"error":{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}}'
    msg = proto().receive_text(text, 0.0)
    assert isinstance(msg, UnsolicitedError) and msg.status == 401
    assert isinstance(msg.error, errors.AuthenticationError)
    assert wsapi.is_auth_failure(msg.error)


@pytest.mark.parametrize(
    "text",
    ["not json", "[1,2]", '{"foo":1}', '{"id":null,"status":200,"result":{}}', '{"event":{"x":1}}', ""],
)
def test_malformed_never_raises(text: str) -> None:
    assert isinstance(proto().receive_text(text, 0.0), Malformed)


@given(st.text(max_size=200))
def test_receive_text_total(text: str) -> None:
    proto().receive_text(text, 0.0)  # never raises


def test_is_auth_failure() -> None:
    assert wsapi.is_auth_failure(errors.APIError("x", http_status=401))
    assert wsapi.is_auth_failure(errors.APIError("x", binance_code=-2014))
    assert not wsapi.is_auth_failure(errors.APIError("x", binance_code=-2010))
    assert not wsapi.is_auth_failure(None)
    assert not wsapi.is_auth_failure(ValueError("x"))


# -- user-data session plan -------------------------------------------------------------------


def sent(step: wsapi.Step) -> List[Dict[str, Any]]:
    return [frame(t) for t in step.frames]


def respond(session: UserDataSession, msg: Dict[str, Any], now: float, **kw: Any) -> wsapi.Step:
    return session.handle(session.protocol.receive_text(answer(msg["id"], **kw), now), now)


def subscribed_session(key_type: str = "hmac") -> UserDataSession:
    s = UserDataSession(proto(), key_type)
    (req,) = sent(s.on_connected(0.0))
    if key_type == "ed25519":
        (req,) = sent(respond(s, req, 0.0, result={"apiKey": API_KEY}))
    step = respond(s, req, 0.0, result={"subscriptionId": 0})
    assert step.subscribed and s.is_ready
    return s


def test_plan_ed25519_logs_on_then_subscribes() -> None:
    s = UserDataSession(proto(), "ed25519")
    assert not s.is_ready
    (logon,) = sent(s.on_connected(0.0))
    assert logon["method"] == "session.logon"
    assert set(logon["params"]) == {"apiKey", "timestamp", "signature"}
    (sub,) = sent(respond(s, logon, 0.1, result={"apiKey": API_KEY, "userDataStream": False}))
    assert sub["method"] == "userDataStream.subscribe" and "params" not in sub
    assert not s.is_ready
    step = respond(s, sub, 0.2, result={"subscriptionId": 0})
    assert step.subscribed and not step.reconcile and not step.frames
    assert s.is_ready and s.subscription_id == 0


@pytest.mark.parametrize("key_type", ["hmac", "rsa"])
def test_plan_hmac_rsa_use_subscribe_signature(key_type: str) -> None:
    s = UserDataSession(proto(recv_window=5000), key_type)
    (req,) = sent(s.on_connected(0.0))
    assert req["method"] == "userDataStream.subscribe.signature"
    params = dict(req["params"])
    assert set(params) == {"apiKey", "timestamp", "recvWindow", "signature"}
    assert params.pop("signature") == hmac_sign(ws_api_payload(params))
    step = respond(s, req, 0.1, result={"subscriptionId": 7})
    assert step.subscribed and s.is_ready and s.subscription_id == 7


def test_unknown_key_type_rejected() -> None:
    with pytest.raises(errors.ValidationError):
        UserDataSession(proto(), "dsa")


@pytest.mark.parametrize("key_type", ["ed25519", "hmac"])
def test_reconnect_resubscribes_and_asks_for_reconciliation(key_type: str) -> None:
    s = subscribed_session(key_type)
    s.protocol.connection_lost()
    s.on_disconnected()
    assert not s.is_ready and s.in_gap and s.subscription_id is None
    (req,) = sent(s.on_connected(5.0, proto()))
    assert req["method"] == ("session.logon" if key_type == "ed25519" else "userDataStream.subscribe.signature")
    if key_type == "ed25519":
        (req,) = sent(respond(s, req, 5.0, result={}))
    step = respond(s, req, 5.1, result={"subscriptionId": 1})
    assert step.subscribed and step.reconcile and not s.in_gap


def test_subscription_active_is_a_noop() -> None:
    s = UserDataSession(proto(), "hmac")
    (req,) = sent(s.on_connected(0.0))
    step = respond(
        s, req, 0.1, status=400, error={"code": -2035, "msg": "User Data Stream subscription already active."}
    )
    assert step.is_noop and s.is_ready and step.fatal is None and not step.frames


def test_subscription_inactive_on_unsubscribe_is_a_noop() -> None:
    s = subscribed_session()
    (req,) = sent(s.stop(1.0))
    assert req["method"] == "userDataStream.unsubscribe" and req["params"] == {"subscriptionId": 0}
    step = respond(s, req, 1.1, status=400, error={"code": -2036, "msg": "User Data Stream subscription not active."})
    assert step.is_noop and not step.frames and step.fatal is None
    assert s.state == "stopped" and not s.on_connected(2.0).frames


def test_event_stream_terminated_resubscribes() -> None:
    s = subscribed_session()
    text = (FIXTURES / "event_stream_terminated.json").read_text()
    step = s.handle(s.protocol.receive_text(text, 1.0), 1.0)
    (req,) = sent(step)
    assert req["method"] == "userDataStream.subscribe.signature"
    assert not s.is_ready and s.in_gap
    step = respond(s, req, 1.1, result={"subscriptionId": 1})
    assert step.subscribed and step.reconcile and s.subscription_id == 1


def test_event_stream_terminated_for_another_subscription_is_ignored() -> None:
    s = subscribed_session()
    step = s.handle(s.protocol.receive_text('{"subscriptionId":9,"event":{"e":"eventStreamTerminated"}}', 1.0), 1.0)
    assert not step.frames and s.is_ready


def test_ed25519_terminated_while_logged_on_subscribes_directly() -> None:
    s = subscribed_session("ed25519")
    text = (FIXTURES / "event_stream_terminated.json").read_text()
    (req,) = sent(s.handle(s.protocol.receive_text(text, 1.0), 1.0))
    assert req["method"] == "userDataStream.subscribe"


def test_subscription_error_retries_after_backoff() -> None:
    s = UserDataSession(proto(), "hmac", backoff=Backoff(1.0, 8.0, 0.0))
    (req,) = sent(s.on_connected(0.0))
    step = respond(s, req, 0.0, status=400, error={"code": -1021, "msg": "Timestamp outside recvWindow"})
    assert not step.frames and step.fatal is None and s.state == "waiting"
    assert not s.poll(0.99).frames
    (req,) = sent(s.poll(1.0))
    step = respond(s, req, 1.0, status=503, error={"code": -1007, "msg": "Timeout"})
    assert not s.poll(2.9).frames  # second failure waits 2 s
    (req,) = sent(s.poll(3.0))
    assert respond(s, req, 3.1, result={"subscriptionId": 0}).subscribed and s.is_ready


def test_rate_limited_subscribe_waits_for_retry_after() -> None:
    p = proto(clock_offset_ms=at_ms(1_000_000, 0.0))
    s = UserDataSession(p, "hmac", backoff=Backoff(0.5, 30.0, 0.0))
    (req,) = sent(s.on_connected(0.0))
    respond(s, req, 0.0, status=429, error={"code": -1003, "msg": "slow down", "data": {"retryAfter": 1_020_000}})
    assert not s.poll(19.9).frames
    assert sent(s.poll(20.0))[0]["method"] == "userDataStream.subscribe.signature"


def test_ed25519_failed_subscribe_logs_on_again() -> None:
    s = UserDataSession(proto(), "ed25519", backoff=Backoff(0.5, 1.0, 0.0))
    (logon,) = sent(s.on_connected(0.0))
    (sub,) = sent(respond(s, logon, 0.0, result={}))
    respond(s, sub, 0.0, status=400, error={"code": -1100, "msg": "odd"})
    (req,) = sent(s.poll(1.0))
    assert req["method"] == "session.logon"


def test_timed_out_subscribe_is_retried() -> None:
    p = proto(timeout=5.0)
    s = UserDataSession(p, "hmac", backoff=Backoff(1.0, 1.0, 0.0))
    sent(s.on_connected(0.0))
    assert not s.on_expired(p.expired(5.0), 5.0).frames
    assert s.state == "waiting"
    (req,) = sent(s.poll(6.0))
    assert respond(s, req, 6.1, result={"subscriptionId": 0}).subscribed


@pytest.mark.parametrize(
    "status,code",
    [(401, -2015), (400, -2015), (400, -1022), (400, -2014), (401, None)],
)
def test_rejected_credentials_are_fatal_no_retry_storm(status: int, code: Optional[int]) -> None:
    s = UserDataSession(proto(), "hmac", backoff=Backoff(0.1, 0.1, 0.0))
    (req,) = sent(s.on_connected(0.0))
    error: Dict[str, Any] = {"msg": "Invalid API-key, IP, or permissions for action."}
    if code is not None:
        error["code"] = code
    step = respond(s, req, 0.1, status=status, error=error)
    assert isinstance(step.fatal, errors.AuthenticationError) or wsapi.is_auth_failure(step.fatal)
    assert s.is_fatal and not s.is_ready and s.error is step.fatal
    # Nothing is ever sent again: not on ticks, not after reconnects.
    for t in range(1, 50):
        assert not s.poll(float(t)).frames
    s.on_disconnected()
    assert not s.on_connected(100.0).frames


def test_ed25519_logon_rejected_is_fatal() -> None:
    s = UserDataSession(proto(), "ed25519")
    (logon,) = sent(s.on_connected(0.0))
    step = respond(s, logon, 0.1, status=400, error={"code": -1022, "msg": "Signature for this request is not valid."})
    assert step.fatal is not None and s.is_fatal and not step.frames


def test_session_revoked_unsolicited_is_fatal() -> None:
    s = subscribed_session()
    text = '{"id":null,"status":401,"error":{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}}'
    step = s.handle(s.protocol.receive_text(text, 2.0), 2.0)
    assert isinstance(step.fatal, errors.AuthenticationError) and s.is_fatal and not s.is_ready


def test_unsolicited_non_auth_error_changes_nothing() -> None:
    s = subscribed_session()
    step = s.handle(s.protocol.receive_text('{"id":null,"status":400,"error":{"code":-1100,"msg":"x"}}', 2.0), 2.0)
    assert step.fatal is None and s.is_ready


def test_server_shutdown_asks_for_reconnect() -> None:
    s = subscribed_session()
    step = s.handle(s.protocol.receive_text('{"e":"serverShutdown","E":1}', 1.0), 1.0)
    assert step.reconnect and not step.frames


def test_maximum_subscription_ids_asks_for_reconnect() -> None:
    s = UserDataSession(proto(), "hmac")
    (req,) = sent(s.on_connected(0.0))
    step = respond(s, req, 0.1, status=400, error={"code": -2042, "msg": "Maximum subscription ID reached"})
    assert step.reconnect and not s.is_ready and not s.is_fatal


def test_other_responses_and_events_are_ignored_by_plan() -> None:
    s = subscribed_session()
    rid, _ = s.protocol.request("order.place", {"symbol": "X"}, signed=True, now=1.0)
    step = s.handle(s.protocol.receive_text(answer(rid, status=400, error={"code": -2015, "msg": "no"}), 1.0), 1.0)
    assert step.fatal is None and s.is_ready  # an order's error is the caller's, not the session's
    step = s.handle(s.protocol.receive_text((FIXTURES / "balance_update.json").read_text(), 1.0), 1.0)
    assert not step.frames and s.is_ready


def test_duplicate_ack_does_not_signal_twice() -> None:
    s = subscribed_session()
    rid, text = s.protocol.request("userDataStream.subscribe.signature", signed=True, now=1.0)
    step = s.handle(s.protocol.receive_text(answer(rid, result={"subscriptionId": 0}), 1.0), 1.0)
    assert not step.subscribed and s.is_ready


def test_step_repr() -> None:
    assert "frames" in repr(wsapi.Step())
    assert "ServerShutdown(event_time=1)" == repr(proto().receive_text('{"e":"serverShutdown","E":1}', 0.0))
