"""Every code and message of errors.md mapped to its class (issue 11): the table, the
message matching, the new classes' attributes, retryability, pickling, str()."""

from __future__ import annotations

import copy
import json
import pickle
import re
from decimal import Decimal
from typing import Any, Dict, List, Optional, Tuple, Type

import pytest
from _error_expectations import (
    CODE_EXPECT,
    ERRORS_DOC,
    GENERIC,
    MESSAGE_EXPECT,
    OVERLOADED,
    expect,
    in_context,
    sample,
)

import binance_conn as bc
from binance_conn import errors as e
from binance_conn._core import error_codes

NOW = 1_700_000_000_000
DOC_CODES: List[Dict[str, Any]] = ERRORS_DOC["codes"]


def rest(code: Optional[int], msg: str, status: int = 400, **kw: Any) -> e.BinanceError:
    body = {"code": code, "msg": msg} if code is not None else {"msg": msg}
    body.update(kw.pop("extra", {}))
    return e.error_from_response(status, kw.pop("headers", {}), json.dumps(body), exchange="binance",
                                 request_id="req-9", now_ms=NOW, **kw)


def ws(code: int, msg: str, status: int = 400, **kw: Any) -> e.BinanceError:
    return e.error_from_ws_api(status, {"code": code, "msg": msg, **kw}, exchange="binance", request_id="ws-9",
                               now_ms=NOW)


def check(err: e.BinanceError, want: Tuple[Type[e.BinanceError], str], code: int, msg: str) -> None:
    cls, slug = want
    assert type(err) is cls, f"{code} {msg!r}: expected {cls.__name__}, got {type(err).__name__}"
    assert err.code == slug, f"{code} {msg!r}: .code {err.code!r} != {slug!r}"
    assert err.binance_code == code and err.message == msg


# --------------------------------------------------------------------------- the fixture and the table


def test_fixture_holds_every_code_of_errors_md() -> None:
    codes = [c["code"] for c in DOC_CODES]
    assert len(codes) == len(set(codes)) == 106  # 104 "### -xxxx" headings + -1010 and -2038
    assert {-1010, -2038} <= set(codes)
    assert ERRORS_DOC["overloaded"] == [-1010, -2010, -2011, -2038]
    assert len(ERRORS_DOC["engine_messages"]) == 41 and len(ERRORS_DOC["filter_messages"]) == 18


def test_table_has_exactly_the_documented_codes() -> None:
    assert set(error_codes.BY_CODE) == {c["code"] for c in DOC_CODES}
    assert len(error_codes.CODES) == len(error_codes.BY_CODE)


@pytest.mark.parametrize("rec", DOC_CODES, ids=lambda r: str(r["code"]))
def test_table_names_are_the_docs_names(rec: Dict[str, Any]) -> None:
    name = error_codes.BY_CODE[rec["code"]].name
    if re.fullmatch(r"[A-Z0-9_]+", rec["name"]):
        assert name == rec["name"]
    else:  # -2021 / -2022 have a sentence for a heading
        assert name.replace("_", " ").lower() in ("cancel replace partially failed", "cancel replace failed")


def test_expectations_cover_every_code() -> None:
    assert set(CODE_EXPECT) == {c["code"] for c in DOC_CODES}


def test_no_code_is_left_generic() -> None:
    generic = sorted(code for code, (cls, _) in CODE_EXPECT.items() if cls is e.APIError)
    assert generic == sorted(GENERIC), "a code left as plain APIError needs a reason in GENERIC"
    for code in error_codes.BY_CODE:
        assert e.error_for_code(code, "") is not e.APIError, code


def test_table_messages_are_the_docs_messages() -> None:
    assert [m.text for m in error_codes.MESSAGES] == ERRORS_DOC["engine_messages"]
    assert set(MESSAGE_EXPECT) == set(ERRORS_DOC["engine_messages"])


def test_overloaded_codes() -> None:
    assert set(error_codes.OVERLOADED) == set(OVERLOADED)
    assert set(ERRORS_DOC["overloaded"]) | {-1013} == set(OVERLOADED)


# --------------------------------------------------------------------------- every code, both paths

DOC_CASES = [(c["code"], sample(m)) for c in DOC_CODES for m in (c["messages"] or [c["name"]])]


@pytest.mark.parametrize("code, msg", DOC_CASES, ids=[f"{c}:{m[:30]}" for c, m in DOC_CASES])
def test_every_documented_code_and_message_rest(code: int, msg: str) -> None:
    err = rest(code, msg)
    check(err, expect(code, msg), code, msg)
    assert isinstance(err, e.APIError) or isinstance(err, e.UnknownStatusError)
    assert err.http_status == 400 and err.details["binance_code"] == code
    assert err.details["binance_name"] == error_codes.BY_CODE[code].name
    assert e.error_for_code(code, msg) is type(err)


@pytest.mark.parametrize("code, msg", DOC_CASES, ids=[f"{c}:{m[:30]}" for c, m in DOC_CASES])
def test_every_documented_code_and_message_ws_api(code: int, msg: str) -> None:
    err = ws(code, msg)
    check(err, expect(code, msg), code, msg)
    assert err.details["http_status"] == 400 and err.request_id == "ws-9"


def test_unknown_codes_stay_api_error() -> None:
    for code in (-9999, -1009, -2999, 5):
        err = rest(code, "new")
        assert type(err) is e.APIError and err.code == "api_error" and "binance_name" not in err.details


# --------------------------------------------------------------------------- the overloaded codes' messages

ENGINE_CASES = [(code, m) for code in OVERLOADED for m in ERRORS_DOC["engine_messages"]]


@pytest.mark.parametrize("code, msg", ENGINE_CASES, ids=[f"{c}:{m[:40]}" for c, m in ENGINE_CASES])
def test_every_engine_message_under_every_overloaded_code(code: int, msg: str) -> None:
    want = in_context(code, MESSAGE_EXPECT[msg])
    real = msg.replace("`", "")  # the docs quote filter names; Binance does not
    for text in (msg, real):
        check(rest(code, text), want, code, text)
        check(ws(code, text), want, code, text)


@pytest.mark.parametrize("msg", ERRORS_DOC["engine_messages"])
def test_engine_messages_survive_case_blanks_and_periods(msg: str) -> None:
    want = in_context(-2010, MESSAGE_EXPECT[msg])
    base = msg.replace("`", "")
    variants = [base.upper(), f"  {base}  ", base.rstrip(".") + ".", base.rstrip("."), base.lower()]
    for text in variants:
        err = rest(-2010, text)
        assert (type(err), err.code) == want, text


def test_existing_contract_kept() -> None:
    # API.md: -2010 and other rejections of a new order -> OrderRejectedError (now through subclasses)
    for msg in ERRORS_DOC["engine_messages"]:
        assert isinstance(rest(-2010, msg), e.OrderRejectedError), msg
        assert isinstance(rest(-2038, msg), e.OrderRejectedError), msg
        assert isinstance(rest(-2011, msg), (e.NotFoundError, e.CancelRejectedError)), msg
    assert type(rest(-2011, "Unknown order sent.")) is e.NotFoundError
    assert type(rest(-1010, "Unknown order sent.")) is e.NotFoundError
    assert type(rest(-2013, "Unknown order sent.")) is e.NotFoundError
    assert isinstance(rest(-1013, "Filter failure: PRICE_FILTER"), e.OrderRejectedError)
    assert isinstance(rest(-2026, "archived"), e.NotFoundError)
    assert isinstance(rest(-1014, "Unsupported order combination."), e.OrderRejectedError)


def test_unknown_order_under_amend_keeps_the_amend_class_with_not_found_code() -> None:
    err = rest(-2038, "Unknown order sent.")
    assert type(err) is e.AmendRejectedError and err.code == "not_found"


@pytest.mark.parametrize(
    "msg, want",
    [
        ("Unknown order.", (e.NotFoundError, "not_found")),
        ("Account has insufficient balance.", (e.InsufficientBalanceError, "insufficient_balance")),
        ("Limit maker orders are not supported for this symbol.", (e.UnsupportedOrderError, "unsupported_order")),
        ("Order book liquidity is less than NOTIONAL minimum.", (e.InsufficientLiquidityError,
                                                                  "insufficient_liquidity")),
        ("SOR API trading is not enabled.", (e.TradingDisabledError, "api_trading_disabled")),
        ("Stop price would trigger immediately.", (e.WouldTriggerImmediatelyError, "would_trigger_immediately")),
        ("Order amend (price change) is not supported.", (e.AmendRejectedError, "amend_not_supported")),
        ("Something Binance adds next year.", (e.OrderRejectedError, "order_rejected")),
        ("", (e.OrderRejectedError, "order_rejected")),
    ],
)
def test_reworded_messages_fall_back_on_patterns(msg: str, want: Tuple[Type[e.BinanceError], str]) -> None:
    err = rest(-1010, msg)
    assert (type(err), err.code) == want
    err = rest(-2010, msg)
    assert (type(err), err.code) == in_context(-2010, want)


def test_fallbacks_per_overloaded_code() -> None:
    unknown = "Something new."
    assert (type(rest(-2011, unknown)), rest(-2011, unknown).code) == (e.CancelRejectedError, "cancel_rejected")
    assert (type(rest(-2038, unknown)), rest(-2038, unknown).code) == (e.AmendRejectedError, "amend_rejected")
    assert (type(rest(-1013, unknown)), rest(-1013, unknown).code) == (e.OrderRejectedError, "order_rejected")
    assert (type(rest(-1010, unknown)), rest(-1010, unknown).code) == (e.OrderRejectedError, "order_rejected")
    # a message that fits no action of the code keeps its meaning in .code
    err = rest(-2011, "Account has insufficient balance for requested action.")
    assert type(err) is e.CancelRejectedError and err.code == "insufficient_balance"
    err = rest(-2010, "Order was not canceled due to cancel restrictions.")
    assert type(err) is e.OrderRejectedError and err.code == "cancel_restricted"


def test_messages_only_decide_for_overloaded_codes() -> None:
    err = rest(-2013, "Account has insufficient balance for requested action.")
    assert type(err) is e.NotFoundError
    err = rest(-1100, "Filter failure: PRICE_FILTER")
    assert type(err) is e.ParameterError and not hasattr(err, "filter")


# --------------------------------------------------------------------------- filter failures

FILTER_CASES = [(code, m) for code in OVERLOADED for m in ERRORS_DOC["filter_messages"]]


@pytest.mark.parametrize("code, msg", FILTER_CASES, ids=[f"{c}:{m}" for c, m in FILTER_CASES])
def test_every_filter_failure(code: int, msg: str) -> None:
    name = msg.split(": ", 1)[1]
    for err in (rest(code, msg), ws(code, msg)):
        if code == -2011:  # a cancel cannot fail a filter; if Binance says so it stays a cancel rejection
            assert type(err) is e.CancelRejectedError and err.code == "filter_failure"
            continue
        assert type(err) is e.FilterFailureError and err.code == "filter_failure"
        assert err.filter == name and err.details["filter"] == name
        assert isinstance(err, e.OrderRejectedError) and not err.is_retryable()
        assert msg in str(err)


@pytest.mark.parametrize("msg, name", [("filter failure: lot_size", "LOT_SIZE"),
                                       ("Filter failure: NOTIONAL ", "NOTIONAL"),
                                       ("Filter failure:PERCENT_PRICE_BY_SIDE", "PERCENT_PRICE_BY_SIDE")])
def test_filter_name_is_parsed_robustly(msg: str, name: str) -> None:
    err = rest(-1013, msg)
    assert isinstance(err, e.FilterFailureError) and err.filter == name
    assert error_codes.filter_name(msg) == name
    assert error_codes.filter_name("Filter failures are bad") is None


# --------------------------------------------------------------------------- the class tree

NEW_CLASSES: List[Tuple[Type[e.BinanceError], Type[e.BinanceError], str]] = [
    (e.OrderArchivedError, e.NotFoundError, "order_archived"),
    (e.InsufficientBalanceError, e.OrderRejectedError, "insufficient_balance"),
    (e.FilterFailureError, e.OrderRejectedError, "filter_failure"),
    (e.WouldTriggerImmediatelyError, e.OrderRejectedError, "would_trigger_immediately"),
    (e.WouldMatchImmediatelyError, e.OrderRejectedError, "would_match_immediately"),
    (e.DuplicateOrderError, e.OrderRejectedError, "duplicate_order"),
    (e.MarketClosedError, e.OrderRejectedError, "market_closed"),
    (e.UnsupportedOrderError, e.OrderRejectedError, "unsupported_order"),
    (e.InvalidOrderError, e.OrderRejectedError, "invalid_order"),
    (e.TradingDisabledError, e.OrderRejectedError, "trading_disabled"),
    (e.InsufficientLiquidityError, e.OrderRejectedError, "insufficient_liquidity"),
    (e.AmendRejectedError, e.OrderRejectedError, "amend_rejected"),
    (e.CancelRejectedError, e.APIError, "cancel_rejected"),
    (e.CancelReplaceError, e.APIError, "cancel_replace_failed"),
    (e.ParameterError, e.APIError, "bad_parameter"),
    (e.UnsupportedOperationError, e.APIError, "unsupported_operation"),
    (e.ServiceUnavailableError, e.APIError, "service_unavailable"),
    (e.SessionError, e.APIError, "session_error"),
    (e.SubscriptionError, e.APIError, "subscription_error"),
    (e.WAFError, e.APIError, "waf_blocked"),
]


@pytest.mark.parametrize("cls, parent, code", NEW_CLASSES, ids=lambda v: getattr(v, "__name__", v))
def test_new_classes(cls: Type[e.BinanceError], parent: Type[e.BinanceError], code: str) -> None:
    assert cls.__bases__ == (parent,)
    assert cls("m").code == code and cls.default_code == code
    assert re.fullmatch(r"[a-z][a-z0-9_]*", code)
    assert getattr(bc, cls.__name__) is cls and cls.__name__ in bc.__all__ and cls.__name__ in e.__all__
    assert not issubclass(cls, e.ValidationError)  # ValidationError is for checks before sending


def test_default_codes_are_distinct() -> None:
    classes = [c for c in vars(e).values() if isinstance(c, type) and issubclass(c, e.BinanceError)]
    codes = [c.default_code for c in classes]
    assert len(codes) == len(set(codes)), sorted(codes)


def test_every_normalized_code_is_snake_case() -> None:
    slugs = {spec.slug for spec in error_codes.CODES} | {m.slug for m in error_codes.MESSAGES}
    slugs |= {o.slug for o in error_codes.OVERLOADED.values()}
    for slug in slugs - {None}:
        assert slug is not None and re.fullmatch(r"[a-z][a-z0-9_]*", slug), slug


RETRYABLE = {e.ServiceUnavailableError, e.RateLimitError, e.IPBannedError, e.TimestampError}


@pytest.mark.parametrize("code", sorted(CODE_EXPECT))
def test_is_retryable_per_class(code: int) -> None:
    cls, _ = CODE_EXPECT[code]
    err = rest(code, "m")
    assert err.is_retryable() is (cls in RETRYABLE), (code, cls.__name__)


def test_server_busy_family_is_retryable() -> None:
    for code in (-1001, -1008, -1016):
        assert rest(code, "busy").is_retryable() is True
        assert ws(code, "busy").is_retryable() is True


# --------------------------------------------------------------------------- WAF (HTTP 403)

WAF_PAGE = ("<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\"><HTML><HEAD><TITLE>ERROR: The request "
            "could not be satisfied</TITLE></HEAD><BODY><H1>403 ERROR</H1><H2>The request could not be satisfied."
            "</H2><HR noshade size=\"1px\">Request blocked. We can't connect to the server for this app or website "
            "at this time. " + "x" * 2000 + "</BODY></HTML>")


@pytest.mark.parametrize("body", [WAF_PAGE, WAF_PAGE.encode(), "", None, "<html>403 Forbidden</html>",
                                  "the WAF limit (Web Application Firewall) has been violated."])
def test_http_403_is_waf(body: Any) -> None:
    err = e.error_from_response(403, {"Content-Type": "text/html"}, body, exchange="binance", request_id="r")
    assert type(err) is e.WAFError and err.code == "waf_blocked" and isinstance(err, e.APIError)
    assert err.http_status == 403 and err.is_retryable() is False
    assert "WAF" in str(err) and "Web Application Firewall" in str(err) and len(str(err)) < 400
    if body:
        raw = err.details["raw"]
        assert raw.startswith(body[:20] if isinstance(body, str) else body[:20].decode())
        assert len(raw) < 1024


def test_http_403_with_json_and_retry_after() -> None:
    err = rest(-1003, "blocked", status=403, headers={"Retry-After": "30"})
    assert type(err) is e.WAFError and err.binance_code == -1003 and err.message == "blocked"
    assert str(err) == "blocked by Binance's WAF (HTTP 403): blocked [binance code -1003]"
    assert err.retry_after == 30.0 and err.details["retry_after"] == 30.0
    assert e.error_from_response(403, {}, WAF_PAGE).retry_after is None


def test_ws_api_403_is_waf() -> None:
    err = e.error_from_ws_api(403, {"msg": "blocked"})
    assert type(err) is e.WAFError and err.message == "blocked"
    assert type(e.error_from_ws_api(403, {})) is e.WAFError


@pytest.mark.parametrize("status", [400, 404, 405, 409, 415])
def test_other_4xx_html_stays_malformed(status: int) -> None:
    err = e.error_from_response(status, {}, "<html><body>nope</body></html>")
    assert type(err) is e.BinanceError and err.code == "malformed_response"


# --------------------------------------------------------------------------- cancel-replace

CR_DATA = {
    "cancelResult": "SUCCESS",
    "newOrderResult": "FAILURE",
    "cancelResponse": {"symbol": "BTCUSDT", "orderId": 3, "price": "0.006123", "origQty": "10000.000000",
                       "status": "CANCELED"},
    "newOrderResponse": {"code": -2010, "msg": "Order would immediately match and take."},
}


def test_cancel_replace_attributes() -> None:
    body = {"code": -2021, "msg": "Order cancel-replace partially failed.", "data": CR_DATA}
    err = e.error_from_response(409, {}, json.dumps(body))
    assert type(err) is e.CancelReplaceError and err.code == "cancel_replace_partially_failed"
    assert err.http_status == 409 and err.is_retryable() is False
    assert err.new_order_placed is False and err.cancel_succeeded is True
    assert err.cancel_response is not None and err.cancel_response["price"] == Decimal("0.006123")
    assert isinstance(err.cancel_response["origQty"], Decimal)
    assert err.new_order_response == {"code": -2010, "msg": "Order would immediately match and take."}
    assert err.data is not None and err.data["cancelResult"] == "SUCCESS"
    half = err.new_order_error
    assert type(half) is e.WouldMatchImmediatelyError and half.binance_code == -2010
    assert err.cancel_error is None
    text = str(err)
    assert "partially failed" in text and "-2021" in text and "cancel SUCCESS" in text
    assert "new order FAILURE (Order would immediately match and take.)" in text


def test_cancel_replace_does_not_touch_the_callers_mapping() -> None:
    data = copy.deepcopy(CR_DATA)
    err = e.error_from_ws_api(409, {"code": -2021, "msg": "x", "data": data})
    assert isinstance(err, e.CancelReplaceError) and data == CR_DATA
    assert isinstance(err.cancel_response["price"], Decimal)  # type: ignore[index]


def test_cancel_replace_without_data() -> None:
    err = rest(-2022, "Order cancel-replace failed.")
    assert isinstance(err, e.CancelReplaceError) and err.data is None
    assert err.cancel_response is None and err.new_order_response is None
    assert err.new_order_placed is False and err.cancel_succeeded is False
    assert err.cancel_error is None and err.new_order_error is None
    assert str(err) == "Order cancel-replace failed. [binance code -2022]"
    odd = rest(-2021, "x", extra={"data": {"newOrderResponse": "junk", "cancelResponse": {"code": "bad"}}})
    assert isinstance(odd, e.CancelReplaceError)
    assert odd.new_order_response is None and odd.cancel_error is None


def test_cancel_replace_placed_new_order() -> None:
    data = {"cancelResult": "FAILURE", "newOrderResult": "SUCCESS",
            "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
            "newOrderResponse": {"symbol": "BTCUSDT", "orderId": 11, "price": "1.5"}}
    err = rest(-2021, "Order cancel-replace partially failed.", status=409, extra={"data": data})
    assert isinstance(err, e.CancelReplaceError) and err.new_order_placed is True
    assert err.new_order_response == {"symbol": "BTCUSDT", "orderId": 11, "price": Decimal("1.5")}
    assert type(err.cancel_error) is e.NotFoundError and err.new_order_error is None


# --------------------------------------------------------------------------- pickling, copies, str, secrets


def _made() -> List[e.BinanceError]:
    out = [rest(code, "Some message.") for code in sorted(CODE_EXPECT)]
    out += [rest(-1013, "Filter failure: LOT_SIZE"), rest(403, "x", status=403, headers={"Retry-After": "3"})]
    out.append(rest(-2021, "partial", status=409, extra={"data": CR_DATA}))
    out.append(e.error_from_response(403, {}, WAF_PAGE))
    return out


def test_every_error_pickles_and_copies() -> None:
    for err in _made():
        for back in (pickle.loads(pickle.dumps(err)), copy.copy(err), copy.deepcopy(err)):
            assert type(back) is type(err)
            assert (back.code, back.binance_code, back.message, back.details) == (
                err.code, err.binance_code, err.message, err.details)
            assert str(back) == str(err) and back.is_retryable() == err.is_retryable()
            for attr in ("filter", "data", "retry_after", "new_order_placed", "cancel_response",
                         "new_order_response"):
                if hasattr(err, attr):
                    assert getattr(back, attr) == getattr(err, attr), attr


def test_str_is_readable() -> None:
    for err in _made():
        text = str(err)
        assert text and "\n" not in text and len(text) < 600
        if err.binance_code is not None and err.http_status != 403:
            assert f"[binance code {err.binance_code}]" in text


def test_no_secret_reaches_an_error() -> None:
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    for code in sorted(CODE_EXPECT):
        err = rest(code, "Signature for this request is not valid.")
        assert secret not in str(err) and secret not in repr(err) and secret not in json.dumps(err.details,
                                                                                                default=str)
