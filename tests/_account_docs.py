"""Shared pieces of the account-endpoint tests: the docs' JSON examples of the account routes,
one typed call per endpoint, the Decimal expectation, Markdown/HTML parameter tables of the
docs, and a scripted WebSocket API rig (a ``UserDataLink`` on the in-memory transport whose
server answers each method with a given ``result`` and records every frame)."""

from __future__ import annotations

import html
import json
import re
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from _helpers import scaled

from binance_conn._core import spec_account
from binance_conn._core.endpoints import Endpoint
from binance_conn._io.dispatch import Dispatcher
from binance_conn._io.memory import MemoryNetwork, MemoryTransport
from binance_conn._io.topics import ERROR_TOPIC
from binance_conn._userdata.client import WsApiClient
from binance_conn._userdata.session import UserDataLink
from binance_conn.config import Config

__all__ = ["DOCS", "EXAMPLES", "ACCOUNT", "CALLS", "examples_for", "expected_decimals", "doc_section",
           "param_table", "WsRig"]

# The docs snapshot the examples were extracted from (tests reading its Markdown skip without it).
from _spot_docs import DOCS  # noqa: E402

EXAMPLES: List[Dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures" / "spot_docs" / "examples.json").read_text(encoding="utf-8"))
ACCOUNT: Tuple[Endpoint, ...] = spec_account.ENDPOINTS

# One typed call per endpoint name: (positional args, keyword args) fitting the docs' examples.
CALLS: Dict[str, Tuple[Tuple[Any, ...], Dict[str, Any]]] = {
    "account": ((), {}),
    "get_order": (("LTCBTC",), {"order_id": 1}),
    "open_orders": (("LTCBTC",), {}),
    "all_orders": (("LTCBTC",), {"limit": 1}),
    "get_order_list": ((), {"order_list_id": 27}),
    "all_order_lists": ((), {"from_id": 28, "limit": 2}),
    "open_order_lists": ((), {}),
    "my_trades": (("BNBBTC",), {"order_id": 100234}),
    "order_rate_limit": ((), {}),
    "my_prevented_matches": (("BTCUSDT",), {"prevented_match_id": 1}),
    "my_allocations": (("BTCUSDT",), {"order_id": 1}),
    "commission_rates": (("BTCUSDT",), {}),
    "order_amendments": (("BTCUSDT", 9), {"limit": 2}),
    "my_filters": (("BTCUSDT",), {}),
}

_NUMERIC = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def examples_for(doc: str, labels: Tuple[Optional[str], ...] = ("Response",)) -> List[Dict[str, Any]]:
    """The examples of ``doc`` whose route is an account endpoint (REST route or WS method)."""
    routes = ({f"{e.http} {e.path}" for e in ACCOUNT} if doc == "rest-api.md"
              else {e.ws_method for e in ACCOUNT})
    return [r for r in EXAMPLES if r["doc"] == doc and r["route"] in routes and r["label"] in labels]


def expected_decimals(obj: Any) -> Any:
    """The example as the typed methods must return it: every numeric string a Decimal."""
    if isinstance(obj, dict):
        return {k: expected_decimals(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [expected_decimals(v) for v in obj]
    if isinstance(obj, str) and _NUMERIC.match(obj):
        return Decimal(obj)
    return obj


def exact_types(a: Any, b: Any) -> bool:
    """``a == b`` with the same types all the way down (a str "1.0" never equals Decimal("1.0"))."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(exact_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(exact_types(x, y) for x, y in zip(a, b))
    return bool(a == b)


# -- the docs' Markdown ---------------------------------------------------------------------

def doc_section(doc: str, anchor: str) -> str:
    """The text of ``doc`` from the heading section that names ``anchor`` (a REST route line such
    as ``GET /api/v3/account``, or a WS ``"method": "account.status"``) up to the next heading."""
    text = (DOCS / doc).read_text(encoding="utf-8")
    lines = text.splitlines()
    heads = [i for i, ln in enumerate(lines) if ln.startswith("#")]
    if doc == "rest-api.md":
        hit = next(i for i, ln in enumerate(lines) if ln.strip() == anchor)
    else:
        pat = re.compile(r'"method":\s*"' + re.escape(anchor) + r'"')
        hit = next(i for i, ln in enumerate(lines) if pat.search(ln))
    start = max(h for h in heads if h < hit)
    end = min((h for h in heads if h > hit), default=len(lines))
    return "\n".join(lines[start:end])


def _clean(cell: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", cell)).strip().strip("`").strip()


def param_table(section: str) -> List[Tuple[str, str]]:
    """The ``(name, mandatory)`` rows of the section's parameter table (Markdown or HTML)."""
    after = section.split("**Parameters", 1)
    if len(after) < 2:
        return []
    body = after[1]
    body = re.split(r"\n\*\*(?!Parameters)|\n#", body, maxsplit=1)[0]
    rows: List[Tuple[str, str]] = []
    if "<table" in body:
        # A "Mandatory" cell with rowspan=N covers N rows: "one of these" (marked "ONE OF <value>").
        span_left, spanned = 0, ""
        for tr in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S):
            cells = re.findall(r"<td([^>]*)>(.*?)</td>", tr, flags=re.S)
            if not cells:
                continue
            name = _clean(cells[0][1])
            if span_left:
                span_left -= 1
                rows.append((name, spanned))
                continue
            attrs, value = cells[2]
            m = re.search(r'rowspan="(\d+)"', attrs)
            mandatory = _clean(value).upper()
            if m and int(m.group(1)) > 1:
                span_left, spanned = int(m.group(1)) - 1, f"ONE OF {mandatory}"
                mandatory = spanned
            rows.append((name, mandatory))
        return rows
    lines = [ln for ln in body.splitlines() if "|" in ln]
    for ln in lines[2:] if lines else []:
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        if len(cells) < 3 or set(cells[0]) <= set("-: "):
            continue
        rows.append((_clean(cells[0]), _clean(cells[2]).upper()))
    return rows


# -- scripted WebSocket API --------------------------------------------------------------------

class _Rest:
    clock_offset_ms = 0

    def sync_clock(self, force: bool = False) -> int:
        return 0

    def request(self, method: str, path: str, params: Any = None, signed: bool = False, timeout: Any = None) -> Any:
        raise AssertionError(f"unexpected REST call {method} {path}")


class WsRig:
    """``client`` (a :class:`WsApiClient`) over a started ``UserDataLink`` whose scripted server
    answers ``results[method]`` (default ``{}``) and keeps every request frame in ``frames``."""

    def __init__(self, *, allow_float: bool = False, results: Optional[Dict[str, Any]] = None) -> None:
        self.results: Dict[str, Any] = dict(results or {})
        self.frames: List[Dict[str, Any]] = []
        self.texts: List[str] = []
        self._lock = threading.Lock()
        self.net = MemoryNetwork(on_send=self._answer)
        b = (Config.builder().with_api_key("k").with_api_secret("s").with_ws_api_url("wss://api.test")
             .with_backoff(base=0.05, max=0.2, jitter=0.0).with_debounce(0.0))
        if allow_float:
            b = b.with_float_conversion()
        self.config = b.build()
        self.dispatcher = Dispatcher(error_topic=ERROR_TOPIC)
        self.link = UserDataLink(self.config, self.dispatcher, lambda: _Rest(), transport_factory=self.net)
        self.client = WsApiClient(lambda: self.link)

    def _answer(self, transport: MemoryTransport, text: str) -> None:
        req = json.loads(text)
        with self._lock:
            self.frames.append(req)
            self.texts.append(text)
            result = self.results.get(req["method"], {})
        transport.feed_text(json.dumps({"id": req["id"], "status": 200, "result": result}))

    def requests(self, method: str) -> List[Dict[str, Any]]:
        with self._lock:
            return [f for f in self.frames if f["method"] == method]

    def __enter__(self) -> "WsRig":
        self.dispatcher.start()
        self.link.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.link.begin_stop()
        for th in self.link.threads():
            th.join(scaled(10))
        self.link.finish_stop("stopped")
        self.dispatcher.stop(deadline=time.monotonic() + 2)


def call(api: Any, name: str, **override: Any) -> Any:
    """Run the typed method ``name`` of ``api`` with its :data:`CALLS` arguments."""
    args, kw = CALLS[name]
    method: Callable[..., Any] = getattr(api, name)
    return method(*args, **dict(kw, **override))
