"""Parameter tables and weights of the spot docs' trading sections (rest-api.md, web-socket-api.md).

A small reader for the two table styles the docs use (markdown pipes and HTML ``<table>``):
``doc_endpoints(doc)`` maps a route (``"POST /api/v3/order"``) or WebSocket API method
(``"order.place"``) to its section: documented parameter names, the mandatory ones, and the
weight text.  Only sections whose heading says ``(TRADE)`` are read.

The docs snapshot is not part of the repository: the tables are extracted to
``tests/fixtures/spot_docs/trading_params.json`` (``load()`` reads it); regenerate with
``python tests/spot_docs/_trading_doc_tables.py [DOCS_DIR]``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for _spot_docs
from typing import Dict, List, NamedTuple, Optional, Tuple

import _spot_docs  # noqa: E402

_ROOT = Path(__file__).resolve().parents[2]
# The snapshot beside the checkout (as tests/fixtures/spot_docs/extract.py expects it), or beside a worktree's parent.
DOCS = _spot_docs.DOCS  # the snapshot, wherever it is (tests/_spot_docs.py)
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "spot_docs" / "trading_params.json"
_NAME = re.compile(r"^[a-z][A-Za-z0-9]*$")
_ROUTE = re.compile(r"```\s*\n(GET|POST|PUT|DELETE) (\S+)\s*\n```")
_WS_METHOD = re.compile(r'"method":\s*"([^"]+)"')


class DocSection(NamedTuple):
    heading: str
    params: Tuple[str, ...]
    mandatory: Tuple[str, ...]
    weight_text: str
    extends: Optional[str]  # "In addition to all parameters accepted by <x>"


def _sections(text: str) -> List[Tuple[str, str]]:
    lines = text.split("\n")
    heads = [i for i, line in enumerate(lines) if line.startswith("#")] + [len(lines)]
    return [(lines[a], "\n".join(lines[a + 1:b])) for a, b in zip(heads, heads[1:])]


def _first_table(body: str) -> List[Tuple[str, str]]:
    m = re.search(r"\*\*Parameters:?\*\*:?", body)
    if m is None:
        return []
    lines = body[m.end():].split("\n")
    rows: List[Tuple[str, str]] = []
    i = 0
    while i < len(lines) and not (lines[i].lstrip().startswith("<table") or "|" in lines[i]):
        i += 1
    if i == len(lines):
        return []
    if lines[i].lstrip().startswith("<table"):
        html = "\n".join(lines[i:])
        html = html[: html.index("</table>")]
        pending_mand = ""
        span = 0
        for tr in re.findall(r"<tr>(.*?)</tr>", html, re.S):
            tds = re.findall(r"<td([^>]*)>(.*?)</td>", tr, re.S)
            if not tds:
                continue
            name = re.sub(r"<[^>]+>", "", tds[0][1]).strip()
            if span > 0:  # the mandatory cell spans rows: this row has one cell less
                mand = pending_mand
                span -= 1
            else:
                attrs, cell = tds[2] if len(tds) > 2 else ("", "")
                mand = re.sub(r"<[^>]+>", "", cell).strip()
                rs = re.search(r'rowspan="(\d+)"', attrs)
                if rs:
                    pending_mand, span = mand, int(rs.group(1)) - 1
            rows.append((name, mand))
    else:
        while i < len(lines) and "|" in lines[i]:
            cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
            if len(cells) >= 3:
                rows.append((cells[0].strip("` "), cells[2]))
            i += 1
    return [(n, mand) for n, mand in rows if _NAME.match(n)]


def doc_endpoints(doc: str, docs_dir: Path = DOCS) -> Dict[str, DocSection]:
    """Every ``(TRADE)`` section of ``doc`` by route or WebSocket API method (read from the docs)."""
    out: Dict[str, DocSection] = {}
    for heading, body in _sections((docs_dir / doc).read_text()):
        if "(TRADE)" not in heading:
            continue
        m = _ROUTE.search(body)
        key = f"{m.group(1)} {m.group(2)}" if m else None
        if key is None:
            w = _WS_METHOD.search(body)
            key = w.group(1) if w else None
        if key is None:
            continue
        rows = _first_table(body)
        wm = re.search(r"\*\*Weight:?\*\*:?(.*?)\*\*Parameters", body, re.S)
        ext = re.search(r"In addition to all parameters accepted by \[`([^`]+)`\]", body)
        out[key] = DocSection(heading.lstrip("# ").strip(), tuple(n for n, _ in rows),
                              tuple(n for n, mand in rows if mand.upper().startswith("YES")),
                              wm.group(1).strip() if wm else "", ext.group(1) if ext else None)
    return out


DOC_NAMES = ("rest-api.md", "web-socket-api.md")


def extract(docs_dir: Path = DOCS) -> Dict[str, Dict[str, DocSection]]:
    return {doc: doc_endpoints(doc, docs_dir) for doc in DOC_NAMES}


def load() -> Dict[str, Dict[str, DocSection]]:
    """The extracted tables (the fixture), as ``{doc: {route or method: DocSection}}``."""
    raw = json.loads(FIXTURE.read_text())
    return {doc: {key: DocSection(sec["heading"], tuple(sec["params"]), tuple(sec["mandatory"]), sec["weight_text"],
                                  sec["extends"]) for key, sec in secs.items()} for doc, secs in raw.items()}


def dump(tables: Dict[str, Dict[str, DocSection]]) -> str:
    return json.dumps({doc: {key: sec._asdict() for key, sec in secs.items()} for doc, secs in tables.items()},
                      indent=1) + "\n"


if __name__ == "__main__":
    FIXTURE.write_text(dump(extract(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS)))
    print(f"wrote {FIXTURE}")
