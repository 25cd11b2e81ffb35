"""The error tree, error_from_response / error_from_ws_api mapping, retry_after, details, pickling."""

from __future__ import annotations

import builtins
import json
import pickle
import time
from typing import Any, Dict, Optional, Type

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binance_conn.errors import (
    AmendRejectedError,
    APIError,
    AuthenticationError,
    BinanceError,
    CancelRejectedError,
    CancelReplaceError,
    ConnectionError,
    DuplicateOrderError,
    FilterFailureError,
    InsufficientBalanceError,
    InsufficientLiquidityError,
    IPBannedError,
    NotConnectedError,
    NotFoundError,
    OrderArchivedError,
    OrderRejectedError,
    ParameterError,
    RateLimitError,
    ServiceUnavailableError,
    SessionError,
    SubscriptionError,
    TimestampError,
    UnknownStatusError,
    UnsupportedOperationError,
    UnsupportedOrderError,
    ValidationError,
    WAFError,
    error_for_code,
    error_from_response,
    error_from_ws_api,
    parse_retry_after,
)

NOW = 1_700_000_000_000


def _resp(status: int, code: Optional[int], msg: str = "x", headers: Optional[Dict[str, str]] = None, **kw: Any):  # type: ignore[no-untyped-def]
    body = json.dumps({"code": code, "msg": msg}) if code is not None else json.dumps({"msg": msg})
    return error_from_response(status, headers or {}, body, exchange="binance", request_id="req-1", now_ms=NOW, **kw)


# --------------------------------------------------------------------------- tree


@pytest.mark.parametrize(
    "cls, bases",
    [
        (ValidationError, (BinanceError, ValueError)),
        (ConnectionError, (BinanceError, builtins.ConnectionError, OSError)),
        (NotConnectedError, (ConnectionError, builtins.ConnectionError)),
        (UnknownStatusError, (BinanceError,)),
        (APIError, (BinanceError,)),
        (RateLimitError, (APIError,)),
        (IPBannedError, (RateLimitError, APIError)),
        (AuthenticationError, (APIError,)),
        (TimestampError, (APIError,)),
        (NotFoundError, (APIError,)),
        (OrderRejectedError, (APIError,)),
    ],
)
def test_error_tree(cls: Type[BaseException], bases: tuple) -> None:
    for base in bases:
        assert issubclass(cls, base), (cls, base)


def test_unknown_status_is_not_an_api_error() -> None:
    # "may have executed" must never be caught by a generic `except APIError: resend` handler.
    assert not issubclass(UnknownStatusError, APIError)
    assert not issubclass(UnknownStatusError, ConnectionError)
    assert not issubclass(ConnectionError, APIError)


def test_connection_error_caught_as_builtin() -> None:
    with pytest.raises(builtins.ConnectionError):
        raise ConnectionError("refused")
    err = ConnectionError("refused")
    assert err.is_temporary() is True and err.is_retryable() is True and err.code == "connection"
    assert ConnectionError("bad host", temporary=False).is_temporary() is False
    assert NotConnectedError("down").code == "not_connected"
    assert NotConnectedError("down").is_temporary() is True


def test_validation_error_is_value_error() -> None:
    with pytest.raises(ValueError) as info:
        raise ValidationError("quantity", -1, "must be > 0")
    err = info.value
    assert isinstance(err, ValidationError)
    assert (err.field, err.value, err.constraint) == ("quantity", -1, "must be > 0")
    assert err.code == "validation" and err.is_retryable() is False
    assert "quantity" in str(err) and "must be > 0" in str(err)
    assert err.details["field"] == "quantity" and err.details["constraint"] == "must be > 0"


# --------------------------------------------------------------------------- code mapping (reference section 5)

ELEVEN_XX = [
    -1100, -1101, -1102, -1103, -1104, -1105, -1106, -1108, -1111, -1112, -1114, -1115, -1116, -1117, -1118,
    -1119, -1120, -1122, -1125, -1127, -1128, -1130, -1134, -1135, -1139, -1145, -1151, -1152, -1153, -1155,
    -1158, -1160, -1161, -1165, -1166, -1168, -1169, -1181, -1182, -1191, -1194, -1196, -1197, -1198, -1199,
    -1210, -1211, -1220, -1221, -1222, -1223, -1224, -1225,
]  # fmt: skip

# 11xx codes that are not ParameterError (issue 11: every errors.md code has its class)
_ELEVEN_XX_CLASS: Dict[int, Type[BinanceError]] = {
    -1112: InsufficientLiquidityError, -1153: UnsupportedOperationError, -1155: UnsupportedOperationError,
    -1161: UnsupportedOperationError, -1125: NotFoundError, -1181: RateLimitError, -1190: SubscriptionError,
    -1191: SubscriptionError,
}  # fmt: skip
for _c in (-1175, -1176, -1178, -1179, -1180, -1183, -1184, -1185, -1186, -1187):
    _ELEVEN_XX_CLASS[_c] = SessionError

CODE_CASES = [
    (-1000, "An unknown error occurred while processing the request.", UnknownStatusError),
    (-1006, "An unexpected response was received from the message bus.", UnknownStatusError),
    (-1007, "Timeout waiting for response from backend server. Send status unknown.", UnknownStatusError),
    (-1003, "Too much request weight used; current limit is 6000 request weight per 1 MINUTE.", RateLimitError),
    (-1015, "Too many new orders; current limit is 100 orders per 10 SECOND.", RateLimitError),
    (-1034, "Too many concurrent connections.", RateLimitError),
    (-1021, "Timestamp for this request is outside of the recvWindow.", TimestampError),
    (-1022, "Signature for this request is not valid.", AuthenticationError),
    (-2014, "API-key format invalid.", AuthenticationError),
    (-2015, "Invalid API-key, IP, or permissions for action.", AuthenticationError),
    (-1002, "You are not authorized to execute this request.", AuthenticationError),
    (-2013, "Order does not exist.", NotFoundError),
    (
        -2026,
        "Order was canceled or expired with no executed qty over 90 days ago and has been archived.",
        OrderArchivedError,  # a NotFoundError (issue 11: errors.md classes)
    ),
    (-2011, "Unknown order sent.", NotFoundError),
    (-2011, "Order was not canceled due to cancel restrictions.", CancelRejectedError),
    (-2010, "Account has insufficient balance for requested action.", InsufficientBalanceError),
    (-2010, "Duplicate order sent.", DuplicateOrderError),
    (-1013, "Filter failure: LOT_SIZE", FilterFailureError),
    (-1013, "Filter failure: MIN_NOTIONAL", FilterFailureError),
    (-1013, "Invalid quantity.", OrderRejectedError),
    (-1014, "Unsupported order combination.", UnsupportedOrderError),
    (-2038, "Order amend (quantity increase) rejected.", AmendRejectedError),
    (-1121, "Invalid symbol.", NotFoundError),  # API.md: NotFoundError covers "unknown symbol"
    (-1001, "Internal error; unable to process your request. Please try again.", ServiceUnavailableError),
    (-1008, "Server is currently overloaded with other requests.", ServiceUnavailableError),
    (-1010, "ERROR_MSG_RECEIVED", OrderRejectedError),
    (-1016, "This service is no longer available.", ServiceUnavailableError),
    (-1020, "This operation is not supported.", UnsupportedOperationError),
    (-1033, "SenderCompId(49) is currently in use.", SessionError),
    (-1035, "Please send Logout<5> message to close the session.", SessionError),
    (-2016, "No trading window could be found for the symbol.", NotFoundError),
    (-2021, "Order cancel-replace partially failed.", CancelReplaceError),
    (-2022, "Order cancel-replace failed.", CancelReplaceError),
    (-2035, "User Data Stream subscription already active.", SubscriptionError),
    (-2036, "User Data Stream subscription not active.", SubscriptionError),
    (-2039, "Client order ID is not correct for this order ID.", ParameterError),
    (-2042, "Maximum subscription ID reached for this connection.", SubscriptionError),
    (-2043, "Symbol does not have a reference price.", NotFoundError),
    (-9999, "A code Binance invents next year.", APIError),
    (12345, "Positive, even.", APIError),
] + [(code, "some request problem", _ELEVEN_XX_CLASS.get(code, ParameterError)) for code in ELEVEN_XX]


def _exact(cls: Type[BaseException], err: BaseException) -> None:
    assert type(err) is cls, f"expected {cls.__name__}, got {type(err).__name__}"


@pytest.mark.parametrize("code, msg, cls", CODE_CASES, ids=[f"{c}-{k.__name__}" for c, _, k in CODE_CASES])
def test_every_reference_code_maps_to_its_class(code: int, msg: str, cls: Type[BinanceError]) -> None:
    err = _resp(400, code, msg)
    _exact(cls, err)
    assert err.binance_code == code
    assert err.details["binance_code"] == code
    assert err.details["http_status"] == 400
    assert err.message == msg
    assert msg in str(err)
    assert error_for_code(code, msg) is cls


@pytest.mark.parametrize("code, msg, cls", CODE_CASES, ids=[f"{c}-{k.__name__}" for c, _, k in CODE_CASES])
def test_ws_api_maps_codes_like_rest(code: int, msg: str, cls: Type[BinanceError]) -> None:
    err = error_from_ws_api(400, {"code": code, "msg": msg}, exchange="binance", request_id="r", now_ms=NOW)
    _exact(cls, err)
    assert err.binance_code == code


def test_minus_2011_unknown_order_case_insensitive() -> None:
    _exact(NotFoundError, _resp(400, -2011, "UNKNOWN ORDER SENT."))


def test_banned_until_message_with_status_400_is_ip_banned() -> None:
    err = _resp(400, -1003, f"Way too much request weight used; IP banned until {NOW + 60_000}.")
    assert isinstance(err, IPBannedError) and isinstance(err, RateLimitError)
    assert err.retry_after == pytest.approx(60.0)


def test_no_code_uses_status() -> None:
    _exact(AuthenticationError, _resp(401, None, "unauthorized"))
    _exact(APIError, _resp(400, None, "bad"))
    _exact(WAFError, _resp(403, None, "waf"))  # 403 is the WAF (rest-api.md "HTTP Return Codes")


# --------------------------------------------------------------------------- HTTP status precedence


@pytest.mark.parametrize("code", [None, -1003, -2010, -1021, -2015, -1121])
def test_418_is_ip_banned_whatever_the_code(code: Optional[int]) -> None:
    err = _resp(418, code, "IP banned", headers={"Retry-After": "120"})
    _exact(IPBannedError, err)
    assert err.code == "ip_banned"
    assert err.retry_after == 120.0
    assert err.is_retryable() is True
    assert err.details["http_status"] == 418


@pytest.mark.parametrize("code", [None, -1003, -1015, -2010, -1013, -1121])
def test_429_is_rate_limited_whatever_the_code(code: Optional[int]) -> None:
    err = _resp(429, code, "too many", headers={"Retry-After": "7"})
    _exact(RateLimitError, err)
    assert err.code == "rate_limited"
    assert err.retry_after == 7.0
    assert err.details["retry_after"] == 7.0
    assert err.is_retryable() is True


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
@pytest.mark.parametrize("code", [None, -1000, -2010, -1013, -2015, -1003])
def test_5xx_is_unknown_status_even_with_a_code(status: int, code: Optional[int]) -> None:
    err = _resp(status, code, "Service Unavailable.")
    _exact(UnknownStatusError, err)
    assert err.code == "unknown_status"
    assert err.binance_code == code
    assert err.details["http_status"] == status
    assert err.is_retryable() is False  # execution status unknown: never resend blindly


def test_5xx_html_body_is_unknown_status_with_raw() -> None:
    err = error_from_response(502, {}, "<html>Bad Gateway</html>", exchange="binance", request_id="r")
    _exact(UnknownStatusError, err)
    assert "Bad Gateway" in err.details["raw"]


@pytest.mark.parametrize(
    "status, cls",
    [(418, IPBannedError), (429, RateLimitError), (500, UnknownStatusError), (503, UnknownStatusError)],
)
def test_ws_api_status_precedence(status: int, cls: Type[BinanceError]) -> None:
    _exact(cls, error_from_ws_api(status, {"code": -2010, "msg": "m"}, now_ms=NOW))


def test_ws_api_401_without_code_is_authentication() -> None:
    _exact(AuthenticationError, error_from_ws_api(401, {"msg": "revoked"}))
    _exact(APIError, error_from_ws_api(400, {}))


# --------------------------------------------------------------------------- .code / is_retryable / details

NORMALIZED = [
    (BinanceError, "error"),
    (APIError, "api_error"),
    (RateLimitError, "rate_limited"),
    (IPBannedError, "ip_banned"),
    (AuthenticationError, "authentication"),
    (TimestampError, "timestamp"),
    (NotFoundError, "not_found"),
    (OrderRejectedError, "order_rejected"),
    (UnknownStatusError, "unknown_status"),
    (ConnectionError, "connection"),
    (NotConnectedError, "not_connected"),
]


@pytest.mark.parametrize("cls, code", NORMALIZED)
def test_normalized_codes(cls: Type[BinanceError], code: str) -> None:
    err = cls("m")
    assert err.code == code
    assert isinstance(err.code, str) and err.code == err.code.lower() and " " not in err.code


def test_normalized_codes_are_distinct() -> None:
    codes = [c for _, c in NORMALIZED] + ["validation", "malformed_response"]
    assert len(codes) == len(set(codes))


def test_code_override() -> None:
    assert BinanceError("m", code="custom").code == "custom"


@pytest.mark.parametrize(
    "err, retryable",
    [
        (lambda: _resp(429, -1003), True),
        (lambda: _resp(418, None), True),
        (lambda: _resp(400, -1015), True),
        (lambda: _resp(400, -1021), True),
        (lambda: _resp(400, -1001), True),
        (lambda: _resp(400, -1008), True),
        (lambda: _resp(400, -1022), False),
        (lambda: _resp(400, -2015), False),
        (lambda: _resp(400, -2013), False),
        (lambda: _resp(400, -2010), False),
        (lambda: _resp(400, -1013, "Filter failure: PRICE_FILTER"), False),
        (lambda: _resp(400, -1121), False),
        (lambda: _resp(400, -1100), False),
        (lambda: _resp(400, -9999), False),
        (lambda: _resp(400, -1000), False),
        (lambda: _resp(503, None), False),
        (lambda: ConnectionError("x"), True),
        (lambda: ValidationError("f", 1, "c"), False),
    ],
)
def test_is_retryable(err, retryable: bool) -> None:  # type: ignore[no-untyped-def]
    assert err().is_retryable() is retryable


def test_details_keys() -> None:
    before = int(time.time() * 1000)
    err = _resp(400, -2010, "rejected")
    after = int(time.time() * 1000)
    d = err.details
    assert d["exchange"] == "binance"
    assert d["request_id"] == "req-1"
    assert isinstance(d["timestamp"], int) and not isinstance(d["timestamp"], bool)
    assert before <= d["timestamp"] <= after
    assert d["http_status"] == 400
    assert d["binance_code"] == -2010
    assert err.http_status == 400 and err.request_id == "req-1" and err.exchange == "binance"
    assert "stack" not in d


def test_details_always_have_the_three_keys_but_omit_unknowns() -> None:
    err = BinanceError("plain")
    assert {"exchange", "request_id", "timestamp"} <= set(err.details)
    assert "http_status" not in err.details and "binance_code" not in err.details
    assert err.binance_code is None and err.http_status is None


def test_debug_adds_stack() -> None:
    err = _resp(400, -2010, "rejected", debug=True)
    stack = err.details["stack"]
    assert isinstance(stack, str) and "test_debug_adds_stack" in stack
    assert "stack" in BinanceError("m", debug=True).details
    assert "stack" in error_from_ws_api(400, {"code": -1}, debug=True).details


# --------------------------------------------------------------------------- str / cause


def test_str_includes_chained_cause() -> None:
    try:
        try:
            raise OSError("Connection reset by peer")
        except OSError as exc:
            raise ConnectionError("stream link lost") from exc
    except ConnectionError as err:
        text = str(err)
    assert "stream link lost" in text
    assert "Connection reset by peer" in text


def test_str_without_cause_and_with_binance_code() -> None:
    assert str(BinanceError("just this")) == "just this"
    err = _resp(400, -2010, "Account has insufficient balance")
    assert "Account has insufficient balance" in str(err) and "-2010" in str(err)


def test_str_cause_chain_of_binance_errors() -> None:
    cause = _resp(503, None, "Service Unavailable.")
    try:
        raise UnknownStatusError("order placement uncertain", client_order_id="abc") from cause
    except UnknownStatusError as err:
        assert "Service Unavailable." in str(err)
        assert err.client_order_id == "abc"


def test_repr_names_class_and_code() -> None:
    r = repr(_resp(400, -2013, "Order does not exist."))
    assert r.startswith("NotFoundError(") and "not_found" in r and "-2013" in r


# --------------------------------------------------------------------------- retry_after: three forms


@pytest.mark.parametrize("name", ["Retry-After", "retry-after", "RETRY-AFTER", "rEtRy-AfTeR"])
def test_retry_after_header_case_insensitive(name: str) -> None:
    err = _resp(429, -1003, "Too much request weight used", headers={name: "42"})
    assert err.retry_after == 42.0
    assert isinstance(err.retry_after, float)
    assert parse_retry_after({name: "1.5"}) == 1.5


def test_retry_after_header_on_a_requests_style_mapping() -> None:
    requests = pytest.importorskip("requests")
    headers = requests.structures.CaseInsensitiveDict({"retry-after": "3"})
    assert _resp(429, -1003, headers=headers).retry_after == 3.0  # type: ignore[arg-type]


def test_retry_after_banned_until_message() -> None:
    msg = f"Way too much request weight used; IP banned until {NOW + 90_500}. Please use WebSocket Streams."
    err = _resp(418, -1003, msg)
    _exact(IPBannedError, err)
    assert err.retry_after == pytest.approx(90.5)
    assert parse_retry_after(None, msg, now_ms=NOW) == pytest.approx(90.5)


def test_retry_after_banned_until_in_the_past_is_zero() -> None:
    assert parse_retry_after(None, f"IP banned until {NOW - 5_000}.", now_ms=NOW) == 0.0


def test_header_wins_over_banned_until() -> None:
    err = _resp(418, -1003, f"IP banned until {NOW + 90_000}.", headers={"Retry-After": "10"})
    assert err.retry_after == 10.0


def test_retry_after_ws_api_epoch_ms() -> None:
    err = error_from_ws_api(
        429,
        {"code": -1003, "msg": "Too much request weight used.", "data": {"retryAfter": NOW + 12_000}},
        exchange="binance",
        request_id="ws-7",
        now_ms=NOW,
    )
    _exact(RateLimitError, err)
    assert err.retry_after == pytest.approx(12.0)
    assert err.details["retry_after"] == pytest.approx(12.0)
    assert err.details["http_status"] == 429
    assert err.details["request_id"] == "ws-7"


def test_retry_after_ws_api_418() -> None:
    err = error_from_ws_api(
        418, {"code": -1003, "msg": "banned", "data": {"serverTime": NOW, "retryAfter": NOW + 120_000}}, now_ms=NOW
    )
    _exact(IPBannedError, err)
    assert err.retry_after == pytest.approx(120.0)


@pytest.mark.parametrize("header", ["", "soon", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_unparseable_retry_after_header_gives_none(header: str) -> None:
    err = _resp(429, -1003, "Too much request weight used", headers={"Retry-After": header})
    assert err.retry_after is None
    assert "retry_after" not in err.details


def test_no_retry_after_is_none() -> None:
    assert _resp(429, -1003, "x").retry_after is None
    assert parse_retry_after() is None
    assert error_from_ws_api(429, {"code": -1003, "msg": "x", "data": {"retryAfter": "garbage"}}).retry_after is None


@given(delta_ms=st.integers(min_value=0, max_value=3 * 24 * 3600 * 1000))
def test_ws_retry_after_property(delta_ms: int) -> None:
    got = parse_retry_after(None, None, NOW + delta_ms, now_ms=NOW)
    assert got == pytest.approx(delta_ms / 1000.0)


# --------------------------------------------------------------------------- malformed bodies


@pytest.mark.parametrize(
    "body",
    [
        "<html><body>403 Forbidden</body></html>",
        '{"code": -1003, "msg": ',
        "[1, 2, 3]",
        '"just a string"',
        b"\xff\xfe not utf-8",
        "null",
    ],
)
def test_malformed_body_gives_binance_error_with_raw(body: Any) -> None:
    err = error_from_response(404, {}, body, exchange="binance", request_id="r")  # 403 is WAFError
    _exact(BinanceError, err)
    assert err.code == "malformed_response"
    assert not isinstance(err, json.JSONDecodeError) and not isinstance(err, ValueError)
    raw = err.details["raw"]
    assert isinstance(raw, str) and raw
    expected = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    assert raw == expected
    assert err.details["http_status"] == 404
    assert err.details["exchange"] == "binance"


def test_malformed_body_raw_text_truncated() -> None:
    body = "<html>" + "A" * 100_000 + "</html>"
    err = error_from_response(400, {}, body)
    assert err.code == "malformed_response"
    assert err.details["raw"].startswith("<html>AAAA")
    assert len(err.details["raw"]) < 1024
    assert len(str(err)) < 2048
    assert "truncated" in err.details["raw"]


def test_empty_body_does_not_crash() -> None:
    for body in ("", b"", None):
        err = error_from_response(400, None, body)
        assert isinstance(err, BinanceError)
        assert "400" in str(err)


def test_mapping_body_accepted() -> None:
    _exact(NotFoundError, error_from_response(400, {}, {"code": -2013, "msg": "Order does not exist."}))


def test_bool_code_is_not_a_binance_code() -> None:
    err = error_from_response(400, {}, '{"code": true, "msg": "weird"}')
    assert err.binance_code is None


@given(st.binary(max_size=200))
def test_any_bytes_body_yields_a_binance_error(body: bytes) -> None:
    for status in (400, 404, 418, 429, 500):
        err = error_from_response(status, {}, body)
        assert isinstance(err, BinanceError)


# --------------------------------------------------------------------------- pickling


@pytest.mark.parametrize(
    "make",
    [
        lambda: _resp(400, -2010, "Account has insufficient balance"),
        lambda: _resp(429, -1003, "too many", headers={"Retry-After": "5"}),
        lambda: _resp(418, -1003, "banned", headers={"Retry-After": "60"}),
        lambda: _resp(503, None, "Service Unavailable."),
        lambda: _resp(400, -2013, "Order does not exist.", debug=True),
        lambda: error_from_response(400, {}, "<html>"),
        lambda: ValidationError("rest.timeout", -1, "must be > 0"),
        lambda: ConnectionError("reset", temporary=False, exchange="binance"),
        lambda: NotConnectedError("down"),
        lambda: UnknownStatusError("x", client_order_id="cid", symbol="BTCUSDT", method="POST", path="/api/v3/order"),
    ],
)
def test_errors_pickle_round_trip(make) -> None:  # type: ignore[no-untyped-def]
    err = make()
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert back.code == err.code
    assert back.binance_code == err.binance_code
    assert back.message == err.message
    assert back.details == err.details
    assert str(back) == str(err)
    assert back.is_retryable() == err.is_retryable()
    for attr in ("retry_after", "field", "value", "constraint", "temporary", "client_order_id", "symbol", "path"):
        if hasattr(err, attr):
            assert getattr(back, attr) == getattr(err, attr)
