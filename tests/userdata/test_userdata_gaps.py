"""User-data gaps: a reconnect's reconciliation pass is reported as a GapEvent (OPEN, then FILLED/UNFILLED)."""

from __future__ import annotations

import queue
from typing import Any, Iterator, List

import pytest
from _harness import Harness, make_harness, scaled

import binance_conn as bc
from binance_conn._io.topics import GAP_TOPIC


@pytest.fixture
def h() -> Iterator[Harness]:
    yield from make_harness()


def _gaps(h: Harness) -> "queue.Queue[bc.GapEvent]":
    q: "queue.Queue[bc.GapEvent]" = queue.Queue()
    h.dispatcher.subscribe(GAP_TOPIC, queue=q)
    return q


def _two(q: "queue.Queue[bc.GapEvent]") -> List[bc.GapEvent]:
    return [q.get(timeout=scaled(10)), q.get(timeout=scaled(10))]


def test_reconnect_gap_is_filled_by_reconciliation(h: Harness) -> None:
    q = _gaps(h)
    t = h.start()
    t.drop()
    opened, closed = _two(q)
    assert (opened.kind, opened.stream, opened.state, opened.cause) == ("user_data", "user_data",
                                                                       bc.GapState.OPEN, "reconnect")
    assert (closed.state, closed.gap_id, closed.reason) == (bc.GapState.FILLED, opened.gap_id, None)
    assert opened.first_missing is None and opened.missing is None
    assert h.link.stats()["gaps"] >= 1


def test_failed_reconciliation_leaves_the_gap_unfilled(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h.expected_crashes = 1
    q = _gaps(h)
    t = h.start()
    real = h.link.tracker.begin_reconcile
    state = {"armed": True}

    def failing(*args: Any, **kw: Any) -> Any:
        if state["armed"]:
            state["armed"] = False
            raise RuntimeError("injected reconcile")
        return real(*args, **kw)

    monkeypatch.setattr(h.link.tracker, "begin_reconcile", failing)
    t.drop()
    opened, closed = _two(q)
    assert closed.state == bc.GapState.UNFILLED and closed.gap_id == opened.gap_id
    assert "injected reconcile" in (closed.reason or "")
    assert h.link.stats()["unfilled_gaps"] == 1


def test_a_pass_cut_by_stop_leaves_the_gap_unfilled(h: Harness) -> None:
    seen: List[bc.GapEvent] = []
    rec = h.link.reconciler
    rec.publish_gap = seen.append
    rec._is_stopping = lambda: True
    rec._once()
    assert [g.state for g in seen] == [bc.GapState.OPEN, bc.GapState.UNFILLED]
    assert seen[1].reason == "stopped" and rec.unfilled == 1
