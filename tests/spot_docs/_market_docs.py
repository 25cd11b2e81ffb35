"""The general and market-data sections of the spot docs, parsed: per endpoint its route (REST) or
method (WebSocket API), its parameter table (names and which are mandatory) and its Weight text.

Reads the Markdown of /work/shared/binance-spot-api-docs (or ``BINANCE_SPOT_DOCS``); tests skip
when the snapshot is not there.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

__all__ = ["DOCS", "DocEndpoint", "rest_endpoints", "ws_endpoints", "examples", "FIXTURE"]

from _spot_docs import DOCS  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "spot_docs" / "examples.json"


class DocEndpoint(NamedTuple):
    key: str  # "GET /api/v3/klines" or the WebSocket API method "klines"
    heading: str
    params: Tuple[str, ...]
    mandatory: Tuple[str, ...]  # marked YES (an either/or pair such as symbol/symbols: both)
    weight_text: str


def _section(text: str, start: str, end: str) -> str:
    i = text.index(start)
    return text[i:text.index(end, i)]


def _strip(cell: str) -> str:
    cell = re.sub(r"<[^>]+>", "", cell)
    return html.unescape(cell).replace("`", "").strip()


def _markdown_table(lines: List[str]) -> List[List[str]]:
    rows = []
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if all(re.fullmatch(r":?-+:?", c) for c in cells if c):
            continue  # the separator
        rows.append([_strip(c) for c in cells])
    return rows[1:]  # without the header


def _html_table(block: str) -> List[List[str]]:
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", block, re.S):
        if "<th" in tr:
            continue
        rows.append([_strip(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)])
    return rows


def _params(body: str) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    m = re.search(r"\*\*Parameters\**:?\**", body)
    if m is None:
        return (), ()
    rest = body[m.end():]
    stop = re.search(r"\n\*\*(?!Parameters)|\nNotes?:|\n<a id=|\nSupported kline", rest)
    rest = rest[:stop.start()] if stop else rest
    if "<table" in rest:
        rows = _html_table(rest[rest.index("<table"):rest.index("</table>")])
    else:
        lines = [ln for ln in rest.splitlines() if "|" in ln]
        rows = _markdown_table(lines) if lines else []
    names: List[str] = []
    mandatory: List[str] = []
    last = "NO"
    for row in rows:
        if not row or not row[0]:
            continue
        flag = row[2].upper() if len(row) > 2 and row[2].upper() in ("YES", "NO") else last
        last = flag
        names.append(row[0])
        if flag == "YES":
            mandatory.append(row[0])
    return tuple(names), tuple(mandatory)


def _weight(body: str) -> str:
    m = re.search(r"\*\*Weight\**:?\**", body)
    if m is None:
        return ""
    rest = body[m.end():]
    stop = rest.find("**Parameters")
    return rest[:stop if stop >= 0 else None].strip()


def _split(text: str) -> List[Tuple[str, str]]:
    parts = re.split(r"\n(### .+)\n", text)
    return [(parts[i][4:].strip(), parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


def rest_endpoints() -> Dict[str, DocEndpoint]:
    """``"GET /api/v3/..."`` -> its documentation, for rest-api.md "General" and "Market Data" endpoints."""
    text = (DOCS / "rest-api.md").read_text(encoding="utf-8")
    out: Dict[str, DocEndpoint] = {}
    for heading, body in _split(_section(text, "## General endpoints", "## Trading endpoints")):
        m = re.search(r"```\s*\n\s*(GET|POST|PUT|DELETE) (/api/v3/\S+)\s*\n```", body)
        if m is None:
            continue
        key = f"{m.group(1)} {m.group(2)}"
        names, mandatory = _params(body)
        out[key] = DocEndpoint(key, heading, names, mandatory, _weight(body))
    return out


def ws_endpoints() -> Dict[str, DocEndpoint]:
    """WebSocket API method -> its documentation, for web-socket-api.md "General" and "Market data" requests."""
    text = (DOCS / "web-socket-api.md").read_text(encoding="utf-8")
    out: Dict[str, DocEndpoint] = {}
    for heading, body in _split(_section(text, "## General requests", "## Authentication requests")):
        m = re.search(r'"method":\s*"([^"]+)"', body)
        if m is None:
            continue
        names, mandatory = _params(body)
        out[m.group(1)] = DocEndpoint(m.group(1), heading, names, mandatory, _weight(body))
    return out


def examples(doc: str, routes: Any, request: bool = False) -> List[Dict[str, Any]]:
    """The examples.json records of ``doc`` for ``routes``: answers (label "Response..."), or with
    ``request`` the WebSocket API request frames."""
    records = json.loads(FIXTURE.read_text(encoding="utf-8"))
    out = []
    for r in records:
        if r["doc"] != doc or r["route"] not in routes:
            continue
        if request:
            if r["label"] is None and isinstance(r["json"], dict) and "method" in r["json"]:
                out.append(r)
        elif (r["label"] or "").startswith("Response"):
            out.append(r)
    return out


def example_id(r: Dict[str, Any]) -> str:
    return f"{r['route']}@{r['line']}"


def optional_weight_int(text: str) -> Optional[int]:
    """The weight when the docs give one fixed number, else None."""
    m = re.fullmatch(r"\s*(\d+)\s*", text)
    return int(m.group(1)) if m else None
