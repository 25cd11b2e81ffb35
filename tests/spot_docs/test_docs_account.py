"""The account endpoints against the spot docs themselves (rest-api.md "Account Endpoints",
web-socket-api.md "Account requests").

* every JSON response example of an account route is served (``responses`` for REST, the
  scripted WebSocket API for ``conn.ws_api``) and comes back from the typed method in the same
  shape with every numeric string as a ``Decimal``;
* the table's parameter names and mandatory flags equal the docs' parameter tables (Markdown
  or HTML, REST and WebSocket API), and the frames ``ws_api`` sends use only documented names;
* the table's weights equal the docs' weight text, rule by rule.

Parametrized over the records of ``tests/fixtures/spot_docs/examples.json``: a new example in
the docs is a new test case.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import responses
from _account_docs import (
    ACCOUNT,
    CALLS,
    DOCS,
    WsRig,
    call,
    doc_section,
    exact_types,
    examples_for,
    expected_decimals,
    param_table,
)

from binance_conn._core import catalog
from binance_conn._core.endpoints import USER_DATA, Endpoint
from binance_conn._core.ratelimit import endpoint_weight
from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn.config import Config
from binance_conn.errors import ValidationError
from binance_conn.rest import RestClient

BASE = "https://api.test.invalid"
REST_EXAMPLES = examples_for("rest-api.md")
WS_EXAMPLES = examples_for("web-socket-api.md")
WS_REQUESTS = examples_for("web-socket-api.md", labels=(None,))
# What the library adds to every signed request, documented in a table or not (account.commission's
# table lists only ``symbol``, its request example carries ``timestamp`` too).
SIGNING = {"apiKey", "signature", "timestamp", "recvWindow"}
needs_docs = pytest.mark.skipif(not DOCS.is_dir(), reason=f"spot docs snapshot not found at {DOCS}")


def _id(rec: Dict[str, Any]) -> str:
    return f"{rec['route']}@{rec['line']}"


def _rest_client() -> RestClient:
    cfg = (Config.builder().with_rest_url(BASE).with_api_key("k").with_api_secret("s")
           .with_backoff(base=0.01, max=0.02, jitter=0.0).build())
    return RestClient(cfg, limiter_registry=WeightLimiterRegistry())


def test_every_account_route_has_examples() -> None:
    assert {r["route"] for r in REST_EXAMPLES} == {f"{e.http} {e.path}" for e in ACCOUNT}
    assert {r["route"] for r in WS_EXAMPLES} == {e.ws_method for e in ACCOUNT}
    assert set(CALLS) == {e.name for e in ACCOUNT}


def test_table_shape() -> None:
    for ep in ACCOUNT:
        assert ep.security == USER_DATA and ep.signed and ep.http == "GET" and not ep.places_order
        assert catalog.lookup(ep.http, ep.path or "") is ep and catalog.BY_WS_METHOD[ep.ws_method or ""] is ep
        assert catalog.by_name(ep.name) is ep


# -- response examples -------------------------------------------------------------------------

@pytest.mark.parametrize("rec", REST_EXAMPLES, ids=_id)
@responses.activate
def test_rest_example_returned_with_decimals(rec: Dict[str, Any]) -> None:
    method, path = rec["route"].split(" ", 1)
    ep = catalog.lookup(method, path)
    assert ep is not None
    responses.add(responses.GET, f"{BASE}/api/v3/time", json={"serverTime": 1_700_000_000_000})
    responses.add(method, f"{BASE}{path}", json=rec["json"])
    result = call(_rest_client(), ep.name)
    assert exact_types(result, expected_decimals(rec["json"])), result


@pytest.fixture(scope="module")
def rig() -> Iterator[WsRig]:
    results = {rec["route"]: rec["json"]["result"] for rec in WS_EXAMPLES}
    with WsRig(results=results) as r:
        yield r


@pytest.mark.parametrize("rec", WS_EXAMPLES, ids=_id)
def test_ws_api_example_returned_with_decimals(rec: Dict[str, Any], rig: WsRig) -> None:
    ep = catalog.BY_WS_METHOD[rec["route"]]
    before = len(rig.requests(rec["route"]))
    result = call(rig.client, ep.name)
    assert exact_types(result, expected_decimals(rec["json"]["result"])), result
    sent = rig.requests(rec["route"])[before:]
    assert len(sent) == 1
    params = sent[0]["params"]
    assert set(params) - SIGNING <= set(ep.params)
    assert {"apiKey", "signature", "timestamp"} <= set(params)  # USER_DATA: signed


@pytest.mark.parametrize("rec", WS_REQUESTS, ids=_id)
def test_ws_request_examples_use_table_names(rec: Dict[str, Any]) -> None:
    ep = catalog.BY_WS_METHOD[rec["route"]]
    params = rec["json"].get("params") or {}
    assert set(params) - SIGNING <= set(ep.params)
    assert set(ep.required) <= set(params)


# -- parameter tables --------------------------------------------------------------------------

@needs_docs
@pytest.mark.parametrize("ep", ACCOUNT, ids=lambda e: e.name)
def test_params_match_rest_table(ep: Endpoint) -> None:
    rows = param_table(doc_section("rest-api.md", f"{ep.http} {ep.path}"))
    assert [name for name, _ in rows] == list(ep.params)
    assert {n for n, m in rows if m == "YES"} - {"timestamp"} == set(ep.required)


@needs_docs
@pytest.mark.parametrize("ep", ACCOUNT, ids=lambda e: e.name)
def test_params_match_ws_table(ep: Endpoint) -> None:
    rows = param_table(doc_section("web-socket-api.md", ep.ws_method or ""))
    names = {name for name, _ in rows} - {"apiKey", "signature"}
    assert names == set(ep.params)
    required = {n for n, m in rows if m.upper() == "YES"} - {"apiKey", "signature", "timestamp"}
    assert required == set(ep.required)
    one_of = [n for n, m in rows if m.startswith("ONE OF")]  # a rowspan "YES": one of these rows
    if one_of:
        args, kw = CALLS[ep.name]
        names = {"orderId": "order_id", "origClientOrderId": "client_order_id" if ep.name == "get_order"
                 else "list_client_order_id", "orderListId": "order_list_id"}
        for n in one_of:
            kw = {k: v for k, v in kw.items() if k != names[n]}
        with pytest.raises(ValidationError):
            getattr(_rest_client(), ep.name)(*args, **kw)


# -- weights -----------------------------------------------------------------------------------

def _weight_text(section: str) -> str:
    m = re.search(r"\*\*Weight(?::\*\*|\*\*:?)(.*?)(?=\n\*\*|\n#|\Z)", section, flags=re.S)
    assert m, "no weight in section"
    return m.group(1).strip()


def _condition(text: str) -> Optional[Dict[str, Any]]:
    """The parameters a weight condition of the docs describes (None: not knowable client-side)."""
    t = text.replace("`", "").strip().lower()
    if "invalid" in t:
        return None  # "If symbol is invalid": the server's verdict
    m = re.match(r"(with|without|querying by)\s+(\w+)$", t)
    if m:
        given = {"symbol": "BTCUSDT"}
        if m.group(1) != "without":
            given[_camel(m.group(2))] = 1
        return given
    if t == "symbol" or "single symbol" in t:
        return {"symbol": "BTCUSDT"}
    if t == "none" or "omitted" in t:
        return {}
    raise AssertionError(f"unknown weight condition {text!r}")


def _camel(lower: str) -> str:
    names = {p.lower(): p for ep in ACCOUNT for p in ep.params}
    return names[lower]


def weight_cases(section: str) -> List[Tuple[Optional[Dict[str, Any]], int]]:
    """``(params, weight)`` pairs stated by a section's weight text: a bare number, a table of
    condition rows, or "6 for a single symbol; **80** when the symbol parameter is omitted"."""
    text = _weight_text(section)
    if re.fullmatch(r"\d+", text):
        return [({}, int(text)), ({"symbol": "BTCUSDT", "orderId": 1}, int(text))]
    cases: List[Tuple[Optional[Dict[str, Any]], int]] = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[1].isdigit():
            cases.append((_condition(cells[0]), int(cells[1])))
    if not cases:
        for part in text.replace("*", "").split(";"):
            m = re.search(r"(\d+)\s+(.*)", part.strip())
            if m:
                cases.append((_condition(m.group(2)), int(m.group(1))))
    assert cases, f"unparsed weight text {text!r}"
    return cases


@needs_docs
@pytest.mark.parametrize("ep", ACCOUNT, ids=lambda e: e.name)
def test_rest_weight_matches_docs(ep: Endpoint) -> None:
    cases = weight_cases(doc_section("rest-api.md", f"{ep.http} {ep.path}"))
    checked = [(params, w) for params, w in cases if params is not None]
    assert checked
    for params, w in checked:
        assert ep.weight_of(params) == w, (params, w)
        # the REST client's reservation (fallback rules included) agrees
        assert endpoint_weight(ep.http or "", ep.path or "", {k: str(v) for k, v in params.items()}) == w


@needs_docs
@pytest.mark.parametrize("ep", ACCOUNT, ids=lambda e: e.name)
def test_ws_weight_matches_docs(ep: Endpoint) -> None:
    cases = weight_cases(doc_section("web-socket-api.md", ep.ws_method or ""))
    checked = [(params, w) for params, w in cases if params is not None]
    assert checked
    for params, w in checked:
        assert ep.ws_weight_of(params) == w, (params, w)
