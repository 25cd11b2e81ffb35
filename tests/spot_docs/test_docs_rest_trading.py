"""The trading endpoints against the spot docs: the endpoint table (params, mandatory params,
weights, WebSocket API methods) matches the docs' parameter tables, and every JSON example of
a trading route (rest-api.md) or method (web-socket-api.md) runs through the public typed
method, REST via ``responses`` and WebSocket API via a scripted link, coming back with Decimals
or the mapped error."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest
import responses
from _trading_calls import CALLS, ROUTES, WS_METHODS, ScriptedLink, assert_decimals
from _trading_doc_tables import DOCS, DocSection, extract, load

import binance_conn as bc
from binance_conn._core import catalog, spec_trading
from binance_conn._core.endpoints import TRADE
from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn._userdata.client import WsApiClient
from binance_conn.errors import BinanceError
from binance_conn.rest import RestClient

BASE = "https://api.test.invalid"
EXAMPLES: List[Dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "spot_docs" / "examples.json").read_text())
TABLES = load()  # tests/fixtures/spot_docs/trading_params.json, extracted from the docs' parameter tables
REST_DOCS = TABLES["rest-api.md"]
WS_DOCS = TABLES["web-socket-api.md"]
ADDED_REST = {"timestamp"}
ADDED_WS = {"timestamp", "apiKey", "signature"}


def _id(rec: Dict[str, Any]) -> str:
    return f"{rec['doc'].split('.')[0]}:{rec['line']}:{rec['route']}"


REST_EXAMPLES = [r for r in EXAMPLES if r["doc"] == "rest-api.md" and r["route"] in ROUTES]
WS_EXAMPLES = [r for r in EXAMPLES if r["doc"] == "web-socket-api.md" and r["route"] in WS_METHODS]
WS_ANSWERS = [r for r in WS_EXAMPLES if isinstance(r["json"], dict) and ("result" in r["json"] or "error" in r["json"]
                                                                           or "code" in r["json"])]
WS_REQUESTS = [r for r in WS_EXAMPLES if isinstance(r["json"], dict) and "method" in r["json"]]


def _doc_params(docs: Dict[str, DocSection], key: str, added: set) -> set:
    sec = docs[key]
    names = set(sec.params)
    if sec.extends is not None:  # "In addition to all parameters accepted by <parent>"
        parent = sec.extends.split(" ", 1)[-1] if " /" in sec.extends else sec.extends
        parent_key = next(k for k in docs if k == sec.extends or k.endswith(" " + parent))
        names |= set(docs[parent_key].params)
    return names - added


# ---------------------------------------------------------------- the table against the docs


@pytest.mark.skipif(not DOCS.is_dir(), reason="the spot docs snapshot is not beside the checkout")
def test_extracted_tables_are_up_to_date() -> None:
    assert extract(DOCS) == TABLES, "run: python tests/spot_docs/_trading_doc_tables.py DOCS_DIR"


def test_every_trade_section_of_the_docs_is_in_the_table() -> None:
    assert set(REST_DOCS) == set(ROUTES)
    assert set(WS_DOCS) == set(WS_METHODS)
    for ep in spec_trading.ENDPOINTS:
        assert ep.security == TRADE and ep.signed
        assert catalog.lookup(str(ep.http), str(ep.path)) is ep and catalog.BY_WS_METHOD[str(ep.ws_method)] is ep


@pytest.mark.parametrize("ep", spec_trading.ENDPOINTS, ids=lambda ep: ep.name)
def test_params_match_the_docs_tables(ep: Any) -> None:
    route = f"{ep.http} {ep.path}"
    assert set(ep.params) == _doc_params(REST_DOCS, route, ADDED_REST)
    assert set(ep.params) == _doc_params(WS_DOCS, ep.ws_method, ADDED_WS)
    assert len(ep.params) == len(set(ep.params))
    rest_mandatory = set(REST_DOCS[route].mandatory) - ADDED_REST
    if REST_DOCS[route].extends:
        rest_mandatory = set(REST_DOCS[route.rsplit("/", 1)[0]].mandatory) - ADDED_REST
    assert set(ep.required) == rest_mandatory
    assert set(ep.required) <= set(ep.params)


def _weights(text: str) -> Dict[str, int]:
    """``{"": n}`` for a plain weight, or the condition table's rows."""
    plain = re.match(r"\s*(\d+)", text)
    if plain:
        return {"": int(plain.group(1))}
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"\|\s*(With(?:out)? `\w+`)\s*\|\s*(\d+)", text)}


@pytest.mark.parametrize("ep", spec_trading.ENDPOINTS, ids=lambda ep: ep.name)
def test_weights_match_the_docs(ep: Any) -> None:
    for docs, key, weigh in ((REST_DOCS, f"{ep.http} {ep.path}", ep.weight_of),
                             (WS_DOCS, ep.ws_method, ep.ws_weight_of)):
        table = _weights(docs[key].weight_text)
        assert table, docs[key].weight_text
        if "" in table:
            assert weigh({}) == table[""]
        else:
            assert weigh({}) == table["Without `computeCommissionRates`"]
            assert weigh({"computeCommissionRates": "false"}) == table["Without `computeCommissionRates`"]
            for on in (True, "true"):
                assert weigh({"computeCommissionRates": on}) == table["With `computeCommissionRates`"] == 20


def test_places_order_and_client_id_params() -> None:
    placing = {ep.name: ep.order_id_param for ep in spec_trading.ENDPOINTS if ep.places_order}
    assert placing == {
        "new_order": "newClientOrderId", "cancel_replace": "newClientOrderId", "new_sor_order": "newClientOrderId",
        "new_oco": "listClientOrderId", "new_order_list_oco": "listClientOrderId",
        "new_order_list_oto": "listClientOrderId", "new_order_list_otoco": "listClientOrderId",
        "new_order_list_opo": "listClientOrderId", "new_order_list_opoco": "listClientOrderId"}
    for ep in spec_trading.ENDPOINTS:
        if ep.order_id_param is not None:
            assert ep.order_id_param in ep.params


@pytest.mark.parametrize("rec", WS_REQUESTS, ids=_id)
def test_ws_request_examples_use_documented_params(rec: Dict[str, Any]) -> None:
    ep = catalog.BY_WS_METHOD[rec["json"]["method"]]
    assert set(rec["json"].get("params", {})) - ADDED_WS <= set(ep.params)


# ---------------------------------------------------------------- REST examples


def _client() -> RestClient:
    cfg = (bc.Config.builder().with_rest_url(BASE).with_api_key("k" * 64).with_api_secret("s" * 64)
           .with_backoff(base=0.01, max=0.02, jitter=0.0).build())
    return RestClient(cfg, limiter_registry=WeightLimiterRegistry())


def _status_of(code: int) -> int:
    return {-2021: 409, -1015: 429}.get(code, 400)


@responses.activate
@pytest.mark.parametrize("rec", REST_EXAMPLES, ids=_id)
def test_rest_example_through_the_typed_method(rec: Dict[str, Any]) -> None:
    responses.add(responses.GET, f"{BASE}/api/v3/time", json={"serverTime": 1})
    method, path = rec["route"].split(" ")
    body = copy.deepcopy(rec["json"])
    is_error = isinstance(body, dict) and "code" in body and "msg" in body
    status = _status_of(body["code"]) if is_error else 200
    responses.add(method, f"{BASE}{path}", json=body, status=status)
    call = CALLS[ROUTES[rec["route"]]]
    if not is_error:
        assert_decimals(rec["json"], call(_client()))
        return
    with pytest.raises(BinanceError) as info:
        call(_client())
    assert info.value.binance_code == body["code"]
    if body["code"] in (-2021, -2022):
        _check_cancel_replace_error(info.value, body["data"])


def _check_cancel_replace_error(err: BaseException, data: Dict[str, Any]) -> None:
    assert isinstance(err, bc.CancelReplaceError)
    assert_decimals(data, err.data)
    assert_decimals(data["cancelResponse"], err.cancel_response)
    if data["newOrderResponse"] is None:
        assert err.new_order_response is None
    else:
        assert_decimals(data["newOrderResponse"], err.new_order_response)


# ---------------------------------------------------------------- WebSocket API examples


@pytest.mark.parametrize("rec", WS_ANSWERS, ids=_id)
def test_ws_api_example_through_the_typed_method(rec: Dict[str, Any]) -> None:
    doc = copy.deepcopy(rec["json"])
    if "code" in doc:  # a bare error object quoted in the text
        doc = {"status": 400, "error": doc}
    link = ScriptedLink(lambda frame: doc)
    client = WsApiClient(lambda: link)
    call = CALLS[WS_METHODS[rec["route"]]]
    if "error" not in doc:
        assert_decimals(rec["json"]["result"], call(client))
        assert link.sent[0]["method"] == rec["route"]
        return
    with pytest.raises(BinanceError) as info:
        call(client)
    assert info.value.binance_code == doc["error"]["code"]
    data = doc["error"].get("data")
    if doc["error"]["code"] in (-2021, -2022):
        _check_cancel_replace_error(info.value, data)


@responses.activate
def test_cancel_replace_partial_success_rest_keeps_the_data() -> None:
    rec = next(r for r in REST_EXAMPLES if r["route"] == "POST /api/v3/order/cancelReplace"
               and r["json"].get("code") == -2021 and r["json"]["data"]["newOrderResult"] == "SUCCESS")
    responses.add(responses.GET, f"{BASE}/api/v3/time", json={"serverTime": 1})
    responses.add(responses.POST, f"{BASE}/api/v3/order/cancelReplace", json=rec["json"], status=409)
    with pytest.raises(bc.CancelReplaceError) as info:
        CALLS["cancel_replace"](_client())
    assert info.value.new_order_response["orderId"] == 11
    assert info.value.data["cancelResult"] == "FAILURE"


def test_cancel_replace_partial_success_ws_tracks_the_new_order() -> None:
    rec = next(r for r in WS_ANSWERS if r["route"] == "order.cancelReplace" and r["json"].get("status") == 409
               and r["json"]["error"]["data"]["newOrderResult"] == "SUCCESS")
    link = ScriptedLink(lambda frame: copy.deepcopy(rec["json"]))
    with pytest.raises(bc.CancelReplaceError) as info:
        CALLS["cancel_replace"](WsApiClient(lambda: link))
    new = info.value.new_order_response
    assert link.tracked == [new] and new["orderId"] == rec["json"]["error"]["data"]["newOrderResponse"]["orderId"]
