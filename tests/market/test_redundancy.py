"""with_redundancy(2) on the in-memory transport: two live links per shard, each event once, in order."""

from __future__ import annotations

import logging
import queue
import random
import threading
from typing import Any, Callable, Iterator, List

import pytest
from _market_helpers import Market, refused, scaled, start, stop, trade, wait_until

from binance_conn._core.pacing import ConnectionBudget
from binance_conn._io.dispatch import Dispatcher
from binance_conn._io.memory import MemoryNetwork, MemoryTransport
from binance_conn._io.topics import ERROR_TOPIC
from binance_conn._market.session import MarketSession
from binance_conn.config import ConfigBuilder
from binance_conn.enums import ConnectionState
from binance_conn.errors import ValidationError

S = ConnectionState


def make_redundant(n: int = 2, **ws: Any) -> Market:
    net = MemoryNetwork()
    opts = dict(ping_interval=0.5, pong_timeout=0.5, silence_timeout=1.0, handshake_timeout=1.0)
    opts.update(ws)
    config = (ConfigBuilder().with_rest_url("http://memory.invalid").with_ws_url("wss://memory.invalid")
              .with_backoff(base=0.02, max=0.2, jitter=0.0).with_health_check(1.0).with_debounce(0.0)
              .with_websocket(**opts).with_redundancy(n).build())
    dispatcher = Dispatcher(error_topic=ERROR_TOPIC, name="test-redundancy")
    session = MarketSession(config, dispatcher, lambda timeout: None, ConnectionBudget(10_000, 1.0),
                            transport_factory=net)
    return Market(net, session, dispatcher)


@pytest.fixture
def red() -> Iterator[Market]:
    m = make_redundant()
    m.subscribe("btcusdt@trade")
    start(m)
    m.first = [m.link(), m.link()]  # type: ignore[attr-defined]
    assert wait_until(lambda: m.session.ready.is_set() and all(
        x["ready"] for x in m.session.stats()["links"]) and len(m.session.stats()["links"]) == 2)
    yield m
    stop(m)


class Feed:
    """Publishes trades 1..n to every live link of the network (new connections join as they appear),
    in a random link order per trade; ``fault(i, links)`` runs before trade ``i``."""

    def __init__(self, m: Market, n: int, fault: Callable[[int, List[MemoryTransport]], None],
                 seed: int = 0) -> None:
        self.m, self.n, self.fault = m, n, fault
        self.rnd = random.Random(seed)
        self.live: List[MemoryTransport] = [t for t in m.net.transports if not t.aborted and not t.frozen]
        self.seen = len(m.net.transports)
        self.pace = threading.Event()

    def run(self) -> None:
        net = self.m.net
        for i in range(1, self.n + 1):
            if len(net.transports) > self.seen:
                self.live.extend(net.transports[self.seen:])
                self.seen = len(net.transports)
            self.fault(i, self.live)
            self.live = [t for t in self.live if not t.aborted and not t.frozen and t._closed is None]
            order = list(self.live)
            self.rnd.shuffle(order)
            for t in order:
                t.feed_text(trade(i))
            if i % 20 == 0:
                self.pace.wait(0.002)  # ~5,000 trades/s


def received(m: Market, last: int, timeout: float = 10.0) -> List[int]:
    out: List[int] = []
    deadline_ok = wait_until(lambda: bool(out.extend(e.trade_id for e in m.drain(m.events))) or (
        bool(out) and out[-1] >= last), timeout)
    assert deadline_ok, f"last trade {last} never arrived (got {len(out)}, last {out[-1:]})"
    # a straggler duplicate would arrive right behind: give it a moment
    try:
        out.append(m.events.get(timeout=scaled(0.2)).trade_id)
    except queue.Empty:
        pass
    return out


def test_config_validation() -> None:
    assert ConfigBuilder().build().websocket.redundancy == 1
    assert ConfigBuilder().with_redundancy(2).build().websocket.redundancy == 2
    assert ConfigBuilder().with_redundancy(1).build().websocket.redundancy == 1
    for bad in (0, 3, -1, True, 2.0, "2", None):
        with pytest.raises(ValidationError) as info:
            ConfigBuilder().with_redundancy(bad).build()  # type: ignore[arg-type]
        assert info.value.field == "websocket.redundancy"


def test_two_links_ready_and_stats(red: Market) -> None:
    st = red.session.stats()
    assert st["redundancy"] == 2
    assert sorted(x["role"] for x in st["links"]) == ["peer", "primary"]
    assert all(x["state"] == "ready" and x["shard"] == 0 for x in st["links"])
    conn = st["connections"][0]
    assert conn["redundancy"] == 2 and conn["links_up"] == 2
    assert red.net.attempts == 2  # two connections (and two budget slots) for one shard


def test_memory_stays_bounded(red: Market) -> None:
    a, b = red.first  # type: ignore[attr-defined]
    frames = [trade(i) for i in range(1, 20_001)]
    a.feed_text(*frames)
    b.feed_text(*frames)
    assert received(red, 20_000, timeout=30)[-1] >= 20_000
    assert wait_until(lambda: red.session.stats()["connections"][0]["duplicates_dropped"] == 20_000, 10)
    shard = red.session.links[0]
    assert shard.dedupe.size() == (1, 0)  # a trade stream keeps one high-water mark, no key set


def test_duplicates_from_both_links_never_delivered_twice(red: Market) -> None:
    a, b = red.first  # type: ignore[attr-defined]
    for i in range(1, 201):
        a.feed_text(trade(i))
    for i in range(1, 201):
        b.feed_text(trade(i))
    assert received(red, 200) == list(range(1, 201))
    conn = red.session.stats()["connections"][0]
    assert conn["duplicates_dropped"] == 200
    assert red.session.stats()["streams"]["btcusdt@trade"]["events"] == 200


@pytest.mark.parametrize("which", [0, 1])
def test_drop_one_link_loses_nothing(red: Market, which: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="binance_conn.stream")
    state: dict = {}

    def fault(i: int, live: List[MemoryTransport]) -> None:
        if i == 500:
            victim = red.first[which]  # type: ignore[attr-defined]
            red.net.refuse_next(refused())  # and its first reconnect is refused
            victim.drop()
            state["victim"] = victim
        if i == 600:
            state["ready_during"] = red.session.ready.is_set()

    Feed(red, 3000, fault, seed=which).run()
    assert received(red, 3000) == list(range(1, 3001))
    assert state["ready_during"], "one link up keeps the shard ready"
    assert wait_until(lambda: red.session.stats()["connections"][0]["links_up"] == 2)
    assert any("runs on 1 of 2 connections" in r.getMessage() for r in caplog.records)
    assert sum(x["reconnects"] for x in red.session.stats()["links"]) == 1


def test_freeze_one_link_loses_nothing(red: Market) -> None:
    def fault(i: int, live: List[MemoryTransport]) -> None:
        if i == 300:
            red.first[0].freeze()  # type: ignore[attr-defined]  # no data, no pongs: a zombie

    feed = Feed(red, 6000, fault)
    feed.run()
    assert received(red, 6000) == list(range(1, 6001))


def test_freeze_then_replacement_rejoins(red: Market) -> None:
    """The frozen link is condemned and reconnects while trades keep flowing on the other."""
    ids: List[int] = []
    a = red.first[0]  # type: ignore[attr-defined]
    a.freeze()
    n = 0
    deadline_ok = wait_until(lambda: red.session.stats()["zombies_replaced"] >= 1, 10)
    assert deadline_ok
    new = red.link()
    assert wait_until(lambda: red.session.stats()["connections"][0]["links_up"] == 2)
    b = red.first[1]  # type: ignore[attr-defined]
    for i in range(1, 1001):
        n = i
        for t in (new, b) if i % 2 else (b, new):
            t.feed_text(trade(i))
    ids = received(red, n)
    assert ids == list(range(1, n + 1))


def test_both_links_down_reconnect_normally(red: Market) -> None:
    events: List[Any] = []
    red.net.refuse_all = refused()  # held down until the outage is seen
    for t in red.first:  # type: ignore[attr-defined]
        t.drop()
    assert wait_until(lambda: bool(events.extend(red.drain(red.connection)) or any(
        e.state is S.DISCONNECTED for e in events)), 5), "a full outage is visible"
    assert not red.session.ready.is_set()
    red.net.refuse_all = None
    c1, c2 = red.link(), red.link()
    assert wait_until(lambda: red.session.ready.is_set() and red.session.stats()["connections"][0]["links_up"] == 2)
    for i in range(1, 101):
        c1.feed_text(trade(i))
        c2.feed_text(trade(i))
    assert received(red, 100) == list(range(1, 101))


def test_rejoining_link_ahead_is_ordered(red: Market) -> None:
    """The reconnected link reads newer trades before the slower one has caught up."""
    a, b = red.first  # type: ignore[attr-defined]
    a.feed_text(*(trade(i) for i in range(1, 11)))  # a delivers first: the high-water mark is a's
    assert received(red, 10) == list(range(1, 11))
    b.feed_text(*(trade(i) for i in range(1, 11)))
    assert wait_until(lambda: red.session.stats()["connections"][0]["duplicates_dropped"] == 10)
    a.drop()  # a's slot reconnects: a new connection, not the one that delivered the mark
    new = red.link()
    assert wait_until(lambda: red.session.stats()["connections"][0]["links_up"] == 2)
    new.feed_text(*(trade(i) for i in range(14, 21)))  # ahead: 11..13 not yet read on b
    assert wait_until(lambda: red.session.stats()["connections"][0]["held_for_order"] >= 1, 3)
    b.feed_text(*(trade(i) for i in range(11, 21)))
    assert received(red, 20) == list(range(11, 21))


def test_peer_rollover_on_server_shutdown(red: Market) -> None:
    """serverShutdown on the peer: it is replaced by reconnecting while the primary carries the shard."""
    _, b = red.first  # type: ignore[attr-defined]
    state: dict = {}

    def fault(i: int, live: List[MemoryTransport]) -> None:
        if i == 200:
            b.feed_text('{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1}}')
        if i == 1400:
            state["links"] = len(red.net.transports)

    Feed(red, 1500, fault).run()
    assert received(red, 1500) == list(range(1, 1501))
    assert state["links"] == 3 and b.aborted
    assert red.session.stats()["rollovers"] == 1


def test_quiet_stream_held_event_is_released(red: Market) -> None:
    """A rejoined link ahead of a hole nobody fills, then silence: released after the hold (supervisor)."""
    a, b = red.first  # type: ignore[attr-defined]
    a.feed_text(trade(1))
    assert received(red, 1) == [1]
    a.drop()
    new = red.link()
    assert wait_until(lambda: red.session.stats()["connections"][0]["links_up"] == 2)
    new.feed_text(trade(5))  # b never delivers 2..4 (a real hole)
    assert received(red, 5, timeout=3) == [5]


def test_block_subscriber_pauses_and_resumes_both_links() -> None:
    """A BLOCK subscriber that stalls: the reader waiting for the other reader's delivery is not judged
    a zombie, and afterwards both links' health timers run again (a later freeze is still caught)."""
    from binance_conn._core.lifecycle import Liveness

    m = make_redundant()
    release = threading.Event()
    got: List[int] = []

    def slow(ev: Any) -> None:
        if ev.trade_id == 5:
            release.wait(scaled(2.0))
        got.append(ev.trade_id)

    m.dispatcher.subscribe("btcusdt@trade", callback=slow, buffer=2, overflow="block")
    m.session.add_stream("btcusdt@trade")
    start(m)
    try:
        a, b = m.link(), m.link()
        assert wait_until(lambda: m.session.stats()["connections"][0]["links_up"] == 2)
        for i in range(1, 31):
            a.feed_text(trade(i))
            b.feed_text(trade(i))
        assert wait_until(lambda: len(got) >= 30, 10), got
        assert got == list(range(1, 31))
        shard = m.session.links[0]
        assert m.session.stats()["zombies_replaced"] == 0
        assert wait_until(lambda: all(c.life.liveness is Liveness.TRACKING for c in shard.members()), 3)
        a.freeze()
        assert wait_until(lambda: m.session.stats()["zombies_replaced"] >= 1, 10)
    finally:
        release.set()
        stop(m)
