"""Every error example of the spot docs (examples.json) through the error mapping and the
public REST path; the cancel-replace 409/400 examples carry their ``data``; every
errors.md code raised by ``RestClient`` against ``responses``."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any, Dict

import pytest
import responses
from _error_expectations import CODE_EXPECT, ERRORS_DOC, EXAMPLES, expect, expect_status, sample

from binance_conn import errors as e
from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn.config import Config
from binance_conn.rest import RestClient

BASE = "https://api.errors.invalid"
KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def _is_error_object(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("code"), int) and isinstance(value.get("msg"), str)


# Bare {"code", "msg"} error bodies (REST answers; web-socket-api.md shows a few bare too).
BARE = [r for r in EXAMPLES if _is_error_object(r["json"])]
# WebSocket API envelopes {"id", "status", "error": {...}}.
ENVELOPES = [r for r in EXAMPLES if isinstance(r["json"], dict) and _is_error_object(r["json"].get("error"))]
CANCEL_REPLACE = [r for r in BARE + ENVELOPES
                  if (r["json"].get("error") or r["json"])["code"] in (-2021, -2022)]


def _id(rec: Dict[str, Any]) -> str:
    return f"{rec['doc']}:{rec['line']}"


def _rest_status(code: int) -> int:
    return 409 if code == -2021 else 400  # rest-api.md "HTTP Return Codes" and the cancelReplace table


def test_the_docs_have_error_examples() -> None:
    assert len(BARE) >= 10 and len(ENVELOPES) >= 8
    assert len(CANCEL_REPLACE) == 10  # 5 REST + 5 WebSocket API examples of -2021 / -2022
    assert len([r for r in CANCEL_REPLACE if "error" not in r["json"]]) == 5


@pytest.mark.parametrize("rec", BARE, ids=_id)
def test_bare_error_examples(rec: Dict[str, Any]) -> None:
    body = rec["json"]
    code, msg = body["code"], body["msg"]
    want = expect(code, msg)
    status = _rest_status(code)
    err = e.error_from_response(status, {}, json.dumps(body), exchange="binance")
    assert (type(err), err.code) == want
    assert err.binance_code == code and err.message == msg and err.http_status == status
    err = e.error_from_ws_api(status, body)
    assert (type(err), err.code) == want


@pytest.mark.parametrize("rec", ENVELOPES, ids=_id)
def test_ws_api_error_envelopes(rec: Dict[str, Any]) -> None:
    status, error = rec["json"]["status"], rec["json"]["error"]
    err = e.error_from_ws_api(status, error, exchange="binance", request_id=rec["json"]["id"],
                              now_ms=1659142907531)
    assert (type(err), err.code) == expect_status(status, error["code"], error["msg"])
    assert err.binance_code == error["code"] and err.http_status == status


def _decimalized(data: Dict[str, Any]) -> Dict[str, Any]:
    from binance_conn._core.params import decimalize

    result: Dict[str, Any] = decimalize(copy.deepcopy(data))
    return result


def _check_cancel_replace(err: e.BinanceError, body: Dict[str, Any]) -> None:
    data = body["data"]
    assert isinstance(err, e.CancelReplaceError)
    assert err.code == ("cancel_replace_partially_failed" if body["code"] == -2021 else "cancel_replace_failed")
    assert err.data == _decimalized(data)
    assert err.new_order_placed is (data["newOrderResult"] == "SUCCESS")
    assert err.cancel_succeeded is (data["cancelResult"] == "SUCCESS")
    assert err.cancel_response == _decimalized(data)["cancelResponse"]
    assert err.new_order_response == (_decimalized(data)["newOrderResponse"] if data["newOrderResponse"] else None)
    for half, half_err in ((err.cancel_response, err.cancel_error), (err.new_order_response, err.new_order_error)):
        if half is not None and "code" in half:
            assert half_err is not None and (type(half_err), half_err.code) == expect(half["code"], half["msg"])
        else:
            assert half_err is None
        if half is not None:
            for key in ("price", "origQty", "executedQty", "cummulativeQuoteQty"):
                if key in half:
                    assert isinstance(half[key], Decimal), key
    assert not err.is_retryable()


@pytest.mark.parametrize("rec", CANCEL_REPLACE, ids=_id)
def test_cancel_replace_examples_carry_their_data(rec: Dict[str, Any]) -> None:
    if "error" in rec["json"]:
        body, status = rec["json"]["error"], rec["json"]["status"]
        err = e.error_from_ws_api(status, body)
    else:
        body, status = rec["json"], _rest_status(rec["json"]["code"])
        err = e.error_from_response(status, {}, json.dumps(body))
    assert status == (409 if body["code"] == -2021 else 400)
    _check_cancel_replace(err, body)


def test_cancel_replace_new_order_placed_cases_are_covered() -> None:
    placed = {(r["json"].get("error") or r["json"])["data"]["newOrderResult"] for r in CANCEL_REPLACE}
    assert placed == {"SUCCESS", "FAILURE", "NOT_ATTEMPTED"}


# --------------------------------------------------------------------------- the public path: RestClient


def _client(attempts: int = 1) -> RestClient:
    cfg = (Config.builder().with_rest_url(BASE).with_api_key(KEY).with_api_secret(SECRET)
           .with_backoff(base=0.01, max=0.02, jitter=0.0).with_retry(attempts=attempts).build())
    return RestClient(cfg, limiter_registry=WeightLimiterRegistry())


def _add_time(rsps: responses.RequestsMock) -> None:
    import time

    rsps.add_callback(responses.GET, f"{BASE}/api/v3/time",
                      callback=lambda _r: (200, {}, json.dumps({"serverTime": int(time.time() * 1000)})))


@pytest.mark.parametrize("rec", [r for r in CANCEL_REPLACE if "error" not in r["json"]], ids=_id)
def test_rest_client_raises_cancel_replace_error(rec: Dict[str, Any]) -> None:
    body = rec["json"]
    client = _client()
    with responses.RequestsMock() as rsps:
        _add_time(rsps)
        rsps.add(responses.POST, f"{BASE}/api/v3/order/cancelReplace", json=body, status=_rest_status(body["code"]))
        with pytest.raises(e.CancelReplaceError) as info:
            client.request("POST", "/api/v3/order/cancelReplace",
                           {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT",
                            "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrderId": 3, "quantity": "1",
                            "price": "1", "timeInForce": "GTC"}, signed=True)
    _check_cancel_replace(info.value, body)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value.details)


PUBLIC_CASES = [(c["code"], sample((c["messages"] or [c["name"]])[0])) for c in ERRORS_DOC["codes"]]
PUBLIC_CASES += [(-2010, m) for m in ERRORS_DOC["engine_messages"]]
PUBLIC_CASES += [(-1013, m) for m in ERRORS_DOC["filter_messages"]]


@pytest.mark.parametrize("code, msg", PUBLIC_CASES, ids=[f"{c}:{m[:30]}" for c, m in PUBLIC_CASES])
def test_rest_client_raises_the_class(code: int, msg: str) -> None:
    client = _client()
    want = expect(code, msg.replace("`", ""))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _add_time(rsps)
        rsps.add(responses.GET, f"{BASE}/api/v3/openOrders", json={"code": code, "msg": msg.replace("`", "")},
                 status=400)
        with pytest.raises(e.BinanceError) as info:
            client.request("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, signed=True)
    err = info.value
    assert (type(err), err.code) == want, (code, msg)
    assert err.binance_code == code and err.http_status == 400


@pytest.mark.parametrize("body, status", [
    ("<html><head><title>403 Forbidden</title></head><body>Request blocked.</body></html>", 403),
    ('{"code": -1003, "msg": "WAF"}', 403),
])
def test_rest_client_raises_waf_error(body: str, status: int) -> None:
    client = _client(attempts=3)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{BASE}/api/v3/ticker/price", body=body, status=status,
                 content_type="text/html")
        with pytest.raises(e.WAFError) as info:
            client.request("GET", "/api/v3/ticker/price", {"symbol": "BTCUSDT"})
        assert len(rsps.calls) == 1  # a safe GET, yet not retried: slow down instead
    assert info.value.code == "waf_blocked" and info.value.http_status == 403


def test_rest_client_other_4xx_html_is_malformed() -> None:
    client = _client()
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{BASE}/api/v3/ticker/price", body="<html>Not Found</html>", status=404)
        with pytest.raises(e.BinanceError) as info:
            client.request("GET", "/api/v3/ticker/price", {"symbol": "BTCUSDT"})
    assert type(info.value) is e.BinanceError and info.value.code == "malformed_response"


def test_every_code_is_exercised_on_the_public_path() -> None:
    assert {c for c, _ in PUBLIC_CASES} == set(CODE_EXPECT)


@pytest.mark.parametrize("rec", [r for r in EXAMPLES if isinstance(r["json"], dict) and r["json"].get("status") == 200
                                 and _is_error_object(r["json"].get("result"))], ids=_id)
def test_status_200_with_an_error_shaped_result_is_no_error(rec: Dict[str, Any]) -> None:
    # web-socket-api.md shows referencePrice answering status 200 with {"code": -2043, ...} as its
    # result; a 200 is a success envelope, so nothing maps it to an error (the -2043 REST example does).
    assert rec["json"]["result"]["code"] == -2043
