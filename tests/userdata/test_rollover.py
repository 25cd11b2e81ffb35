"""User-data make-before-break on the in-memory transport: the session executes ``_core/lifecycle.LinkSet``.

Each test pins one rule the issue names as a seeded bug that survived the old suite:
the duplicate filter during the overlap, the unsubscribe drain before the old link is
closed, and the replacement holding its events until the switch.
"""

from __future__ import annotations

import json
from typing import Iterator

import pytest
from _harness import Harness, balance_event, make_harness
from _helpers import scaled, wait_until

import binance_conn as bc
from binance_conn._io.memory import MemoryTransport

S = bc.ConnectionState

SHUTDOWN = json.dumps({"event": {"e": "serverShutdown", "E": 1_700_000_000_000}})


@pytest.fixture
def h() -> Iterator[Harness]:
    yield from make_harness(overlap=0.3)


def _state(h: Harness) -> str:
    return h.link.links.state.value


def _unsubscribed(t: MemoryTransport) -> bool:
    return t.wait_sent(lambda sent: any("userDataStream.unsubscribe" in x for x in sent), scaled(10))


def _roll(h: Harness, t1: MemoryTransport) -> MemoryTransport:
    """serverShutdown on ``t1``; returns the replacement once its subscribe is acknowledged."""
    t1.feed_text(SHUTDOWN)
    t2 = h.net.wait_for_connection(scaled(10))
    assert t2.wait_sent(lambda sent: any("subscribe" in x for x in sent), scaled(10))
    assert wait_until(lambda: h.api.sub_id(t2) != 0 and _state(h) in ("overlap", "draining", "grace"), timeout=10)
    return t2


def test_duplicates_of_the_overlap_are_delivered_once(h: Harness) -> None:
    t1 = h.start()
    s1 = h.api.sub_id(t1)
    t1.feed_text(balance_event(1, s1))
    assert h.wait_deltas(1) == [1]
    h.api.answer_unsubscribe = False
    t2 = _roll(h, t1)
    s2 = h.api.sub_id(t2)
    # both links carry events 2 and 3 (the server sends to every subscription)
    t1.feed_text(balance_event(2, s1), balance_event(3, s1))
    t2.feed_text(balance_event(2, s2), balance_event(3, s2))
    assert _unsubscribed(t1)
    t1.feed_text(balance_event(3, s1))  # late copy on the old link while it drains
    h.api.release(t1)
    assert wait_until(lambda: t1.close_sent, timeout=10)
    t2.feed_text(balance_event(4, s2))
    assert h.wait_deltas(3) == [2, 3, 4]
    assert h.drain_balances() == []
    assert h.link.stats()["duplicates_dropped"] >= 3


def test_old_link_is_drained_before_it_is_closed(h: Harness) -> None:
    t1 = h.start()
    s1 = h.api.sub_id(t1)
    h.api.answer_unsubscribe = False
    t2 = _roll(h, t1)
    assert _unsubscribed(t1), "the switch sends userDataStream.unsubscribe on the old link"
    assert not t1.aborted, "not closed before its unsubscribe is answered"
    # still in flight on the old link when the unsubscribe went out: must be read, not cut off
    h.api.release(t1, before=[balance_event(5, s1)])
    assert h.wait_deltas(1) == [5]
    assert wait_until(lambda: t1.close_sent, timeout=10), "closed with a close frame once drained"
    assert h.link.ready.is_set() and not t2.aborted
    assert wait_until(lambda: _state(h) in ("grace", "steady"), timeout=10)


def test_replacement_holds_its_events_until_the_switch() -> None:
    gen = make_harness(overlap=1.5)
    h = next(gen)
    try:
        t1 = h.start()
        s1 = h.api.sub_id(t1)
        t2 = _roll(h, t1)
        assert _state(h) == "overlap"
        t2.feed_text(balance_event(10, h.api.sub_id(t2)))  # read first, but the newer link's
        assert wait_until(lambda: h.link.links.held == 1, timeout=10), "held back by the replacement"
        t1.feed_text(balance_event(9, s1))
        assert h.wait_deltas(1) == [9], "the old link's event is delivered first"
        assert h.wait_deltas(1) == [10]  # released by the switch
        assert _unsubscribed(t1)
        assert wait_until(lambda: t1.close_sent, timeout=10)
    finally:
        next(gen, None)


def test_old_link_death_mid_rollover_promotes_the_replacement(h: Harness) -> None:
    h.api.answer_subscribe = True
    t1 = h.start()
    t1.feed_text(SHUTDOWN)
    t2 = h.net.wait_for_connection(scaled(10))
    assert wait_until(lambda: h.api.sub_id(t2) != 0, timeout=10)
    t1.drop()
    assert wait_until(lambda: h.link.links.primary is not None and h.link.links.primary.transport is t2, timeout=10)
    assert h.link.ready.wait(scaled(10))
    t2.feed_text(balance_event(11, h.api.sub_id(t2)))
    assert h.wait_deltas(1) == [11]
    assert wait_until(lambda: h.link.reconciler.reconciliations >= 1, timeout=10), "a gap is reconciled"


def test_max_lifetime_rolls_over_without_a_gap() -> None:
    gen = make_harness(max_lifetime=0.5, overlap=0.1)
    h = next(gen)
    try:
        t1 = h.start()
        t2 = h.net.wait_for_connection(scaled(10))
        assert _unsubscribed(t1)
        assert wait_until(lambda: t1.close_sent, timeout=10)
        assert h.link.ready.is_set()
        t2.feed_text(balance_event(12, h.api.sub_id(t2)))
        assert h.wait_deltas(1) == [12]
        assert h.link.stats()["reconnects"] == 0 and h.link.stats()["rollovers"] >= 1
    finally:
        next(gen, None)


def test_zombie_link_is_an_outage_until_replaced() -> None:
    gen = make_harness(ping_interval=0.2, pong_timeout=0.3)
    h = next(gen)
    try:
        t1 = h.start()
        t1.freeze()  # TCP open, nothing answered
        down = h.conn_event(lambda e: e.state is S.DISCONNECTED and e.reason.startswith("zombie:"), timeout=5)
        assert down.session == "user_data"
        t2 = h.net.wait_for_connection(scaled(10))
        assert t1.aborted
        assert h.link.ready.wait(scaled(10))
        assert h.link.stats()["zombies_replaced"] == 1
        t2.feed_text(balance_event(13, h.api.sub_id(t2)))
        assert h.wait_deltas(1) == [13]
    finally:
        next(gen, None)


def test_crash_while_releasing_held_events_never_parks_events_for_good(monkeypatch: pytest.MonkeyPatch) -> None:
    from binance_conn._userdata import delivery as delivery_mod

    gen = make_harness(overlap=0.5)
    h = next(gen)
    h.expected_crashes = 1
    try:
        t1 = h.start()
        t2 = _roll(h, t1)
        real = delivery_mod.parse_user_event
        armed = {"on": True}

        def boom(*args: object, **kw: object) -> object:
            if armed["on"]:
                armed["on"] = False
                raise RuntimeError("injected parse at the switch")
            return real(*args, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(delivery_mod, "parse_user_event", boom)
        t2.feed_text(balance_event(20, h.api.sub_id(t2)))  # held, then released (and crashing) at the switch
        err = h.error()
        assert "user-data ticker" in str(err)
        t3 = h.net.wait_for_connection(scaled(5))  # the torn-down primary reconnects
        assert h.link.ready.wait(scaled(10))
        t3.feed_text(balance_event(21, h.api.sub_id(t3)))
        assert h.wait_deltas(1) == [21]
    finally:
        next(gen, None)


def test_request_in_flight_on_the_old_link_is_answered_before_it_closes(h: Harness) -> None:
    import threading

    t1 = h.start()
    h.api.hold_methods.add("ping")
    out: dict = {}

    def call() -> None:
        try:
            out["result"] = h.link.request("ping", timeout=scaled(10))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            out["error"] = exc

    caller = threading.Thread(target=call)
    caller.start()
    assert t1.wait_sent(lambda sent: any('"ping"' in x for x in sent), scaled(10))
    _roll(h, t1)
    assert _unsubscribed(t1)
    assert not t1.aborted, "a request waits on the old link"
    h.api.release(t1)  # the ping answer
    caller.join(scaled(5))
    assert out.get("result") == {}, out
    assert wait_until(lambda: t1.close_sent, timeout=5)
