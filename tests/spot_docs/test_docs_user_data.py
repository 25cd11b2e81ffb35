"""Every user-data event example of the spot docs, end to end through the public path.

The examples come from ``tests/fixtures/spot_docs/examples.json``: every record of
user-data-stream.md, and every record of web-socket-api.md whose ``event`` is a user-data event
(the "Event format" example).  Each is pushed by ``FakeBinance.push_user_event`` to a
``Connector`` with credentials, received by the public callbacks (``on_order``, ``on_balance``,
``on_order_list``, ``on_external_lock``) and checked KEY BY KEY: every key of the documented
payload must map to an attribute of the event that carries its value, so a dropped or
mis-mapped field fails.  ``M`` ("Ignore" in the docs) is the one key left out on purpose.

The conditional fields of the executionReport table are pushed one at a time; malformed values
(NaN/Infinity prices, a non-int order id) and unknown event types are counted, not delivered.
"""

from __future__ import annotations

import json
import re
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

import pytest
from _helpers import scaled, wait_until
from _spot_docs import find_docs

import binance_conn as bc
from binance_conn.testing import FakeBinance

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "spot_docs" / "examples.json"
USER_TYPES = ("executionReport", "outboundAccountPosition", "balanceUpdate", "listStatus", "externalLockUpdate",
              "eventStreamTerminated")
IGNORED = {"executionReport": {"M"}}  # documented as "Ignore"
ENVELOPE = {"subscriptionId", "event"}  # web-socket-api.md "Event fields": consumed by the session

# doc key -> event attribute, per event type (nested arrays: "B" and "O" below)
FIELDS: Dict[str, Dict[str, str]] = {
    "executionReport": {
        "E": "event_time", "s": "symbol", "c": "client_order_id", "S": "side", "o": "order_type",
        "f": "time_in_force", "q": "quantity", "p": "price", "P": "stop_price", "F": "iceberg_quantity",
        "g": "order_list_id", "C": "orig_client_order_id", "x": "execution_type", "X": "status",
        "r": "reject_reason", "i": "order_id", "l": "last_fill_quantity", "z": "filled_quantity",
        "L": "last_fill_price", "n": "commission", "N": "commission_asset", "T": "transaction_time",
        "t": "trade_id", "I": "execution_id", "w": "is_on_book", "m": "is_maker", "O": "creation_time",
        "Z": "cumulative_quote_quantity", "Y": "last_quote_quantity", "Q": "quote_order_quantity",
        "W": "working_time", "V": "self_trade_prevention_mode", "eR": "expiry_reason",
        # conditional fields
        "d": "trailing_delta", "D": "trailing_time", "j": "strategy_id", "J": "strategy_type",
        "v": "prevented_match_id", "A": "prevented_quantity", "B": "last_prevented_quantity",
        "u": "trade_group_id", "U": "counter_order_id", "Cs": "counter_symbol",
        "pl": "prevented_execution_quantity", "pL": "prevented_execution_price",
        "pY": "prevented_execution_quote_quantity", "b": "match_type", "a": "allocation_id",
        "k": "working_floor", "uS": "used_sor", "gP": "peg_price_type", "gOT": "peg_offset_type",
        "gOV": "peg_offset_value", "gp": "pegged_price",
    },
    "outboundAccountPosition": {"E": "event_time", "u": "update_time"},
    "outboundAccountPosition.B": {"a": "asset", "f": "free", "l": "locked"},
    "balanceUpdate": {"E": "event_time", "a": "asset", "d": "delta", "T": "update_time"},
    "listStatus": {
        "E": "event_time", "s": "symbol", "g": "order_list_id", "c": "contingency_type", "l": "list_status_type",
        "L": "list_order_status", "r": "reject_reason", "C": "list_client_order_id", "T": "transaction_time",
    },
    "listStatus.O": {"s": "symbol", "i": "order_id", "c": "client_order_id"},
    "externalLockUpdate": {"E": "event_time", "a": "asset", "d": "delta", "T": "transaction_time"},
    "eventStreamTerminated": {"E": "event_time"},
}
NESTED = {"outboundAccountPosition": {"B": "outboundAccountPosition.B"}, "listStatus": {"O": "listStatus.O"}}
EVENT_CLASS = {
    "executionReport": bc.OrderUpdate, "outboundAccountPosition": bc.BalanceUpdate, "balanceUpdate": bc.BalanceUpdate,
    "listStatus": bc.OrderListUpdate, "externalLockUpdate": bc.ExternalLockUpdate,
    "eventStreamTerminated": bc.EventStreamTerminated,
}

# user-data-stream.md "Conditional Fields in Execution Report": (key, the docs' example value)
CONDITIONAL: List[Tuple[str, Any]] = [
    ("d", 4), ("D", 1668680518494), ("j", 1), ("J", 1000000), ("v", 3), ("A", "3.000000"), ("B", "3.000000"),
    ("u", 1), ("U", 37), ("Cs", "BTCUSDT"), ("pl", "2.123456"), ("pL", "0.10000001"), ("pY", "0.21234562"),
    ("W", 1668683798379), ("b", "ONE_PARTY_TRADE_REPORT"), ("a", 1234), ("k", "SOR"), ("uS", True),
    ("gP", "PRIMARY_PEG"), ("gOT", "PRICE_LEVEL"), ("gOV", 5), ("gp", "1.00000000"),
    ("eR", "INSUFFICIENT_LIQUIDITY"),
]
CONDITIONAL_KEYS = {k for k, _ in CONDITIONAL}


def _records() -> List[Dict[str, Any]]:
    return list(json.loads(EXAMPLES.read_text()))


def _is_user_frame(rec: Mapping[str, Any]) -> bool:
    body = rec.get("json")
    return isinstance(body, dict) and isinstance(body.get("event"), dict) and body["event"].get("e") in USER_TYPES


def _user_records() -> List[Dict[str, Any]]:
    recs = _records()
    return [r for r in recs if r["doc"] == "user-data-stream.md"] + [
        r for r in recs if r["doc"] == "web-socket-api.md" and _is_user_frame(r)
    ]


USER_RECORDS = _user_records()
DELIVERED = [r for r in USER_RECORDS if r["json"]["event"]["e"] != "eventStreamTerminated"]


def _rid(rec: Mapping[str, Any]) -> str:
    return f"{rec['doc']}:{rec['line']}:{rec['json']['event']['e']}"


def _doc_example(kind: str) -> Dict[str, Any]:
    (rec,) = [r for r in USER_RECORDS if r["doc"] == "user-data-stream.md" and r["json"]["event"]["e"] == kind]
    return dict(rec["json"]["event"])


# -- key-by-key check ------------------------------------------------------------------------------


def _check_value(where: str, doc_value: Any, got: Any) -> None:
    if doc_value is None or doc_value == "" or (where.endswith(".t") and doc_value == -1):
        assert got is None, f"{where}: docs {doc_value!r} (none) -> {got!r}"
    elif isinstance(doc_value, bool):
        assert got is doc_value, f"{where}: docs {doc_value!r} -> {got!r}"
    elif isinstance(got, Decimal):
        assert type(got) is Decimal and got == Decimal(str(doc_value)), f"{where}: docs {doc_value!r} -> {got!r}"
    elif isinstance(doc_value, int):
        assert type(got) is int and got == doc_value, f"{where}: docs {doc_value!r} -> {got!r}"
    else:
        assert isinstance(got, str) and got == doc_value, f"{where}: docs {doc_value!r} -> {got!r}"
        if isinstance(doc_value, str) and re.fullmatch(r"-?\d+\.\d+", doc_value):
            pytest.fail(f"{where}: a number {doc_value!r} delivered as text")


def check_keys(kind: str, doc: Mapping[str, Any], event: Any) -> None:
    """Every key of ``doc`` (one flat object of type ``kind``) maps to an attribute of ``event`` with its value."""
    table = FIELDS[kind]
    for key, value in doc.items():
        if key == "e" or key in IGNORED.get(kind, ()) or isinstance(value, list):
            continue
        assert key in table, f"{kind}.{key}: documented key with no event attribute (dropped field?)"
        _check_value(f"{kind}.{key}", value, getattr(event, table[key]))


def check_event(doc: Mapping[str, Any], events: List[Any]) -> None:
    """The events one documented payload produced, key by key (nested arrays included)."""
    kind = doc["e"]
    assert events and all(type(e) is EVENT_CLASS[kind] for e in events), (kind, events)
    if kind == "outboundAccountPosition":
        assert [e.asset for e in events] == [b["a"] for b in doc["B"]]
        for item, ev in zip(doc["B"], events):
            check_keys(kind, doc, ev)
            check_keys("outboundAccountPosition.B", item, ev)
            assert ev.kind == kind and ev.delta is None
        return
    (ev,) = events
    check_keys(kind, doc, ev)
    assert ev.exchange == "binance"
    if kind == "listStatus":
        assert len(ev.orders) == len(doc["O"])
        for item, member in zip(doc["O"], ev.orders):
            assert isinstance(member, bc.ListOrder)
            check_keys("listStatus.O", item, member)
    if kind == "balanceUpdate":
        assert ev.kind == kind and ev.free is None and ev.locked is None


# -- the public path --------------------------------------------------------------------------------


class _Sink:
    """A callback recording every event it gets."""

    def __init__(self) -> None:
        self.items: List[Any] = []
        self.lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        with self.lock:
            self.items.append(event)

    def since(self, mark: int) -> List[Any]:
        with self.lock:
            return self.items[mark:]

    def __len__(self) -> int:
        with self.lock:
            return len(self.items)


class Live:
    def __init__(self, fake: FakeBinance, conn: bc.Connector) -> None:
        self.fake = fake
        self.conn = conn
        self.sinks = {"order": _Sink(), "balance": _Sink(), "order_list": _Sink(), "external_lock": _Sink()}
        conn.on_order(self.sinks["order"])
        conn.on_balance(self.sinks["balance"])
        conn.on_order_list(self.sinks["order_list"])
        conn.on_external_lock(self.sinks["external_lock"])

    def stats(self) -> Dict[str, Any]:
        user: Dict[str, Any] = self.conn.stats()["user_data"]
        return user

    def push(self, frame: Dict[str, Any]) -> None:
        assert self.fake.push_user_event(frame) == 1

    def push_and_collect(self, frame: Dict[str, Any], sink: str, pred: Callable[[List[Any]], bool],
                         timeout: float = 5.0) -> List[Any]:
        mark = len(self.sinks[sink])
        self.push(frame)
        assert wait_until(lambda: pred(self.sinks[sink].since(mark)), timeout), f"not delivered: {frame}"
        return self.sinks[sink].since(mark)

    def events_seen(self) -> int:
        return sum(len(s) for s in self.sinks.values())


def _start(fake: FakeBinance) -> Live:
    cfg = (fake.config_builder().with_backoff(base=0.05, max=0.5, jitter=0.0).with_debounce(0.0)
           .with_websocket(ping_interval=0.5, pong_timeout=0.5, handshake_timeout=2.0).build())
    live = Live(fake, bc.Connector(cfg))
    live.conn.start()
    assert live.conn.wait_ready(scaled(10)) and fake.wait_for_user_subscriptions(1)
    return live


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with FakeBinance(seed=5) as fake:
        got = _start(fake)
        try:
            yield got
        finally:
            assert got.conn.stop(5.0)


SINK_OF = {"executionReport": "order", "outboundAccountPosition": "balance", "balanceUpdate": "balance",
           "listStatus": "order_list", "externalLockUpdate": "external_lock"}


def _deliver(live: Live, frame: Dict[str, Any]) -> List[Any]:
    """Push one docs frame; the events it produced (found by its event time ``E``)."""
    doc = frame["event"]
    when = doc["E"]
    want = len(doc["B"]) if doc["e"] == "outboundAccountPosition" else 1
    got = live.push_and_collect(frame, SINK_OF[doc["e"]],
                                lambda items: len([e for e in items if e.event_time == when]) >= want)
    return [e for e in got if e.event_time == when]


# -- the records themselves -------------------------------------------------------------------------


def test_every_user_data_doc_example_is_a_user_event_and_every_type_is_covered() -> None:
    ours = [r for r in _records() if r["doc"] == "user-data-stream.md"]
    assert ours and all(_is_user_frame(r) for r in ours), "a user-data-stream.md example this test cannot run"
    assert {r["json"]["event"]["e"] for r in ours} == set(USER_TYPES)
    assert any(r["doc"] == "web-socket-api.md" for r in USER_RECORDS)  # the "Event format" example


def test_every_documented_key_has_a_mapping() -> None:
    for rec in USER_RECORDS:
        ev = rec["json"]["event"]
        kind = ev["e"]
        assert set(rec["json"]) <= ENVELOPE
        nested = NESTED.get(kind, {})
        assert set(ev) - {"e"} - IGNORED.get(kind, set()) - set(nested) <= set(FIELDS[kind]), _rid(rec)
        for key, table in nested.items():
            assert ev[key] and all(set(item) <= set(FIELDS[table]) for item in ev[key]), _rid(rec)
    assert CONDITIONAL_KEYS <= set(FIELDS["executionReport"])


@pytest.mark.parametrize("rec", DELIVERED, ids=_rid)
def test_doc_example_delivered_key_by_key(live: Live, rec: Dict[str, Any]) -> None:
    doc = rec["json"]["event"]
    kind = doc["e"]
    before = live.stats()["events_by_type"][kind]
    check_event(doc, _deliver(live, rec["json"]))
    stats = live.stats()
    assert stats["events_by_type"][kind] == before + 1
    assert isinstance(stats["subscription_id"], int)  # the envelope's subscriptionId: the session's own


def test_event_stream_terminated_resubscribes_and_is_counted() -> None:
    rec = [r for r in USER_RECORDS if r["json"]["event"]["e"] == "eventStreamTerminated"][0]
    with FakeBinance(seed=6) as fake:
        live = _start(fake)
        try:
            subscribes = live.stats()["subscribes"]
            live.push(rec["json"])
            assert wait_until(lambda: live.stats()["stream_terminations"] == 1)
            assert wait_until(lambda: live.stats()["subscribes"] > subscribes)  # the plan subscribed again
            assert live.conn.wait_ready(scaled(5))
            stats = live.stats()
            assert stats["events_by_type"]["eventStreamTerminated"] == 1 and stats["malformed"] == 0
            assert live.events_seen() == 0  # a control event: never on a callback
            # still live: the next event is delivered
            got = live.push_and_collect(_frame(_doc_example("externalLockUpdate")), "external_lock", bool)
            check_event(_doc_example("externalLockUpdate"), got)
        finally:
            assert live.conn.stop(5.0)


# -- conditional fields, one at a time --------------------------------------------------------------

_NEXT_ID = [900_000]


def _frame(event: Dict[str, Any]) -> Dict[str, Any]:
    return {"subscriptionId": 0, "event": event}


def _base_report() -> Dict[str, Any]:
    base = {k: v for k, v in _doc_example("executionReport").items() if k not in CONDITIONAL_KEYS}
    _NEXT_ID[0] += 1
    base["i"] = _NEXT_ID[0]
    return base


def _push_report(live: Live, report: Dict[str, Any]) -> bc.OrderUpdate:
    got = live.push_and_collect(_frame(report), "order", lambda items: any(e.order_id == report["i"] for e in items))
    (ev,) = [e for e in got if e.order_id == report["i"]]
    assert isinstance(ev, bc.OrderUpdate)
    return ev


@pytest.mark.parametrize("key,value", CONDITIONAL, ids=[k for k, _ in CONDITIONAL])
def test_conditional_field_alone_appears_on_order_update(live: Live, key: str, value: Any) -> None:
    report = dict(_base_report(), **{key: value})
    ev = _push_report(live, report)
    check_keys("executionReport", report, ev)
    for other in CONDITIONAL_KEYS - {key}:
        assert getattr(ev, FIELDS["executionReport"][other]) is None, f"{key} leaked into {other}"


def test_all_conditional_fields_at_once(live: Live) -> None:
    report = dict(_base_report(), **dict(CONDITIONAL))
    check_keys("executionReport", report, _push_report(live, report))


def test_conditional_table_matches_the_docs() -> None:
    docs = _find_docs()
    if docs is None:
        pytest.skip("spot docs snapshot (shared/binance-spot-api-docs) not found beside the repository")
    text = (docs / "user-data-stream.md").read_text()
    section = text.split("#### Conditional Fields in Execution Report", 1)[1].split("#### ", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section, re.S)
    table: List[Tuple[str, Any]] = []
    for row in rows[1:]:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        field = re.fullmatch(r"<code>(\w+)</code>", cells[0].strip())
        example = re.fullmatch(r"<code>(.*)</code>", cells[-1].strip())
        assert field and example, row
        (key, value), = json.loads("{" + example.group(1) + "}").items()
        assert key == field.group(1)
        table.append((key, value))
    assert table == CONDITIONAL


def _faq_user_events() -> List[Dict[str, Any]]:
    """The user-data payloads shown in the docs' FAQ pages (not in examples.json), [] without the docs."""
    docs = _find_docs()
    found: List[Dict[str, Any]] = []
    for page in sorted((docs / "faqs").glob("*.md")) if docs is not None else ():
        for block in re.findall(r"```(?:json|javascript)?\n(.*?)```", page.read_text(), re.S):
            if not any(f'"{kind}"' in block for kind in USER_TYPES):
                continue
            try:
                body = json.loads(block)
            except ValueError:
                body = json.loads("[" + block + "]")  # several payloads one after the other
            for item in body if isinstance(body, list) else [body]:
                found.append(dict(item.get("event", item)))
    return found


def test_faq_user_data_examples_delivered_key_by_key(live: Live) -> None:
    events = _faq_user_events()
    if not events:
        pytest.skip("spot docs snapshot (shared/binance-spot-api-docs/faqs) not found beside the repository")
    for n, doc in enumerate(events):
        doc = dict(doc, E=1_800_000_000_000 + n)  # unique, to find it among the others
        mine = _deliver(live, _frame(doc))
        check_event(doc, mine)
        if doc["e"] == "executionReport" and doc["x"] == "TRADE":
            (fill,) = mine[0].fills
            assert (fill.trade_id, fill.price, fill.quantity) == (doc["t"], Decimal(doc["L"]), Decimal(doc["l"]))


def _find_docs() -> Optional[Path]:
    return find_docs()


# -- counted, not delivered -------------------------------------------------------------------------


@pytest.mark.parametrize("change", [
    {"p": "NaN"}, {"p": "Infinity"}, {"q": "-Infinity"}, {"L": "sNaN"}, {"z": "nan"}, {"pl": "NaN"}, {"gp": "Inf"},
    {"p": float("nan")},  # JSON's NaN literal on the wire
    {"i": "4293153"}, {"i": 4293153.0}, {"i": True}, {"i": None}, {"E": "1499405658658"}, {"g": "x"},
], ids=repr)
def test_malformed_execution_report_is_counted_not_delivered(live: Live, change: Dict[str, Any]) -> None:
    bad = dict(_base_report(), **change)
    before = live.stats()["malformed"]
    marker = _base_report()  # a good one after the bad one: once it arrives, the bad one was handled
    mark = len(live.sinks["order"])
    live.push(_frame(bad))
    _push_report(live, marker)
    assert live.stats()["malformed"] == before + 1
    assert live.stats()["last_malformed_event"].startswith("executionReport: ")
    assert [e.order_id for e in live.sinks["order"].since(mark)] == [marker["i"]]


@pytest.mark.parametrize("kind,change", [
    ("balanceUpdate", {"d": "NaN"}), ("externalLockUpdate", {"d": "Infinity"}), ("externalLockUpdate", {"T": "1"}),
    ("listStatus", {"g": "2"}), ("outboundAccountPosition", {"E": None}),
], ids=repr)
def test_other_malformed_events_are_counted_not_delivered(live: Live, kind: str, change: Dict[str, Any]) -> None:
    before = live.stats()["malformed"]
    live.push(_frame(dict(_doc_example(kind), **change)))
    _push_report(live, _base_report())
    assert live.stats()["malformed"] == before + 1
    assert live.stats()["last_malformed_event"].startswith(kind + ": ")


def test_unknown_event_type_is_counted_not_delivered(live: Live) -> None:
    stats = live.stats()
    seen = live.events_seen()
    live.push(_frame({"e": "brandNewEvent", "E": 1}))
    _push_report(live, _base_report())
    after = live.stats()
    assert after["unknown_events"] == stats["unknown_events"] + 1 and after["last_unknown_event"] == "brandNewEvent"
    assert after["malformed"] == stats["malformed"]
    assert live.events_seen() == seen + 1  # only the marker


def test_external_lock_reaches_on_external_lock_only(live: Live) -> None:
    doc = dict(_doc_example("externalLockUpdate"), E=1581557507999)
    others = len(live.sinks["balance"]) + len(live.sinks["order"]) + len(live.sinks["order_list"])
    (ev,) = live.push_and_collect(_frame(doc), "external_lock", bool)
    assert ev == bc.ExternalLockUpdate("binance", "NEO", Decimal("10.00000000"), 1581557507268, 1581557507999)
    assert len(live.sinks["balance"]) + len(live.sinks["order"]) + len(live.sinks["order_list"]) == others


def test_on_external_lock_needs_credentials() -> None:
    conn = bc.Connector(bc.Config.builder().build())
    with pytest.raises(bc.ValidationError) as info:
        conn.on_external_lock(lambda e: None)
    assert "on_external_lock" in str(info.value)
