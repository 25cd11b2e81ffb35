"""Concurrency of the Connector lifecycle (issue 9): any interleaving of start(), stop() and
start(config=...) from many threads -- and from callbacks -- ends in a consistent state: a final
start() gets ready and delivers, a final stop() returns True and leaves no library thread."""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from typing import Any, Iterator, List

import pytest
from _connector_helpers import FakeBinance, Recorder, conn_threads, fast_builder, scaled, wait_live, wait_until

import binance_conn as bc

S = bc.ConnectionState
pytestmark = pytest.mark.usefixtures("no_conn_threads")


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    # A storm of restarts opens hundreds of connections in seconds: lift Binance's 300 per 5 minutes
    # on both sides (the point here is the lifecycle, not the attempt budget).
    with FakeBinance(seed=7, connection_attempts_limit=1_000_000) as f:
        yield f


@pytest.fixture
def conn(fake: FakeBinance) -> Iterator[bc.Connector]:
    c = bc.Connector(_unbudgeted(fast_builder(fake).build()))
    yield c
    c.stop(timeout=5.0)


def _unbudgeted(cfg: bc.Config) -> bc.Config:
    return dataclasses.replace(cfg, websocket=dataclasses.replace(cfg.websocket, connection_budget=1_000_000))


def _assert_healthy_cycle(fake: FakeBinance, conn: bc.Connector, rec: Recorder) -> None:
    """start() + ready + events delivered, then stop() True with no library thread alive."""
    conn.start()
    wait_live(conn, fake, 10)
    assert conn.state is S.CONNECTED
    n = len(rec)
    fake.publish_trade("BTCUSDT", "1", "1")
    assert rec.wait_count(n + 1, 5), f"no event delivered after the storm: {conn.stats()}"
    assert conn.stop(timeout=5.0) is True
    assert conn.state is S.STOPPED
    assert conn_threads() == [], conn_threads()


def test_start_during_stop_does_not_wedge(fake: FakeBinance, conn: bc.Connector) -> None:
    """The reported wedge: a start() that lands while stop() is tearing down."""
    rec = Recorder()
    conn.on_trade("BTCUSDT", rec)
    results: List[Any] = []
    for _ in range(5):
        conn.start()
        assert conn.wait_ready(scaled(5))
        results.clear()
        stopper = threading.Thread(target=lambda: results.append(conn.stop(timeout=2.0)))
        stopper.start()
        conn.start()  # before, during or after the stop: each is a valid order
        stopper.join(scaled(5))
        assert results and results[0] is True, results
        assert conn.state in (S.STOPPED, S.CONNECTING, S.CONNECTED), conn.state
        if conn.state is not S.STOPPED:  # the start came last: it must really be running
            assert conn.wait_ready(scaled(5)), conn.stats()
            assert conn.stop(timeout=2.0) is True
    _assert_healthy_cycle(fake, conn, rec)


def test_random_interleavings_from_many_threads(fake: FakeBinance, conn: bc.Connector) -> None:
    cfg_a = conn.config
    cfg_b = _unbudgeted(fast_builder(fake).with_debounce(0.05).build())
    rec = Recorder()
    conn.on_trade("BTCUSDT", rec)
    stops_from_callbacks: List[bool] = []

    storm_over = threading.Event()

    def on_connection(ev: Any) -> None:  # stop() and start() from a callback take part too
        if storm_over.is_set():
            return
        if ev.state is S.CONNECTED and random.random() < 0.3:
            stops_from_callbacks.append(conn.stop(timeout=1.0))
        elif random.random() < 0.2:
            conn.start()

    conn.on_connection(on_connection)
    failures: List[BaseException] = []
    ops: List[str] = []
    budget = time.monotonic() + scaled(6.0)

    def worker(seed: int) -> None:
        rnd = random.Random(seed)
        while time.monotonic() < budget:
            op = rnd.random()
            ops.append("x")
            try:
                if op < 0.35:
                    conn.start()
                elif op < 0.5:
                    try:
                        conn.start(config=rnd.choice([cfg_a, cfg_b]))
                    except bc.ValidationError:
                        pass  # re-configuring a running connector is refused: a valid outcome
                elif op < 0.85:
                    conn.stop(timeout=rnd.choice([0.0, 0.05, 0.5, 2.0]))
                elif op < 0.92:
                    sub = conn.on_trade("ETHUSDT", lambda e: None)
                    sub()
                else:
                    conn.state, conn.is_connected(), conn.stats(), conn.ready.is_set()
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
                return
            threading.Event().wait(rnd.random() * 0.02)  # jitter between operations

    threads = [threading.Thread(target=worker, args=(seed,), name=f"storm-{seed}") for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(scaled(20))
    assert not any(t.is_alive() for t in threads), "a lifecycle call hung"
    assert not failures, failures
    assert len(ops) >= 200, f"the storm was too mild: {len(ops)} operations"
    storm_over.set()
    assert conn.stop(timeout=5.0) is True
    assert conn_threads() == [], conn_threads()
    assert conn.stats()["streams"] == {} or set(conn.stats()["streams"]) == {"btcusdt@trade"}
    _assert_healthy_cycle(fake, conn, rec)


def test_two_callbacks_stopping_at_once(fake: FakeBinance, conn: bc.Connector) -> None:
    """Two workers call stop(): the first leads and joins the other worker; the second calls
    stop() once the leader has closed every worker, and must not join the leader's worker in
    turn (a mutual join would hold both until their deadlines)."""
    results: List[Any] = []
    took: List[float] = []
    fired = [threading.Event(), threading.Event()]

    def timed_stop() -> None:
        t0 = time.monotonic()
        results.append(conn.stop(timeout=3.0))
        took.append(time.monotonic() - t0)

    def leader(ev: Any) -> None:
        if not fired[0].is_set():
            fired[0].set()
            timed_stop()

    def follower(ev: Any) -> None:
        if not fired[1].is_set():
            fired[1].set()
            deadline = time.monotonic() + scaled(5)
            while conn._dispatcher.running and time.monotonic() < deadline:
                threading.Event().wait(0.002)  # until the leader's stop closed every worker
            timed_stop()

    conn.on_trade("BTCUSDT", leader)
    conn.on_trade("BTCUSDT", follower)
    conn.start()
    wait_live(conn, fake)
    fake.publish_trade("BTCUSDT", "1", "1")
    deadline = time.monotonic() + scaled(8)
    while len(results) < 2 and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert results == [True, True], (results, took)
    assert max(took) < 1.5, took
    assert conn.state is S.STOPPED
    assert conn.stop(timeout=2.0) is True
    assert conn_threads() == [], conn_threads()


def _park_a_callback(fake: FakeBinance, conn: bc.Connector, rec: Recorder) -> threading.Event:
    """Running, with one callback blocked until the returned gate is set."""
    gate, entered = threading.Event(), threading.Event()

    def slow(ev: Any) -> None:
        if not entered.is_set():
            entered.set()
            gate.wait(scaled(5))

    conn.on_trade("BTCUSDT", rec)
    conn.on_trade("BTCUSDT", slow)
    conn.start()
    wait_live(conn, fake)
    fake.publish_trade("BTCUSDT", "1", "1")
    assert entered.wait(scaled(5))
    return gate


def test_start_during_a_stop_in_progress_comes_after_it(fake: FakeBinance, conn: bc.Connector) -> None:
    """Deterministic: the stop is held in its drain (a callback is busy) when start() arrives.
    start() waits for that stop, which ends cleanly; then the connector runs and delivers."""
    rec = Recorder()
    gate = _park_a_callback(fake, conn, rec)
    results: List[Any] = []
    stopper = threading.Thread(target=lambda: results.append(conn.stop(timeout=5.0)))
    stopper.start()
    assert wait_until(lambda: not conn._dispatcher.running, 5), "the stop did not reach the drain"
    starter = threading.Thread(target=conn.start)
    starter.start()
    starter.join(scaled(0.3))
    assert starter.is_alive(), "start() did not wait for the stop in progress"
    gate.set()
    stopper.join(scaled(5))
    starter.join(scaled(5))
    assert results == [True]
    wait_live(conn, fake)
    n = len(rec)
    fake.publish_trade("BTCUSDT", "2", "1")
    assert rec.wait_count(n + 1, 5)
    assert conn.stop(timeout=5.0) is True
    assert conn_threads() == [], conn_threads()


def test_a_stop_racing_a_stop_returns_true_only_when_all_is_gone(fake: FakeBinance, conn: bc.Connector) -> None:
    """A second stop() arriving while the first still joins the sessions' threads (a REST probe
    is stuck for a second) waits for the whole first stop: when it returns True no thread is left,
    not even the worker the first stop drains last."""
    rec = Recorder()
    gate = _park_a_callback(fake, conn, rec)
    fake.delay_responses(1.0, count=1000, path="/api/v3/ping")
    pings = sum(1 for r in fake.request_log if r["path"] == "/api/v3/ping")
    assert fake.wait_for_requests("/api/v3/ping", pings + 1, 5)  # the prober is stuck in it now
    first: List[Any] = []
    leader = threading.Thread(target=lambda: first.append(conn.stop(timeout=5.0)))
    leader.start()
    assert wait_until(lambda: conn.state is S.STOPPED or not conn.ready.is_set(), 2)
    threading.Timer(scaled(1.5), gate.set).start()  # the drain ends only after the probe
    second = conn.stop(timeout=5.0)
    alive = conn_threads()
    leader.join(scaled(5))
    assert second is True and first == [True], (second, first)
    assert alive == [], alive


def test_subscribe_during_a_reconfiguring_start_is_not_lost(fake: FakeBinance, conn: bc.Connector,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A first subscriber arrives while start(config=...) moves the wanted streams to new sessions."""
    conn.on_trade("BTCUSDT", lambda e: None)
    conn.start()
    wait_live(conn, fake)
    assert conn.stop(timeout=5.0) is True
    make_market = conn._make_market
    entered, gate = threading.Event(), threading.Event()

    def slow_make_market(cfg: bc.Config) -> Any:
        entered.set()  # the old sessions' streams are copied; the new ones do not exist yet
        gate.wait(scaled(5))
        return make_market(cfg)

    monkeypatch.setattr(conn, "_make_market", slow_make_market)
    starter = threading.Thread(target=lambda: conn.start(config=_unbudgeted(fast_builder(fake).build())))
    starter.start()
    assert entered.wait(scaled(5))
    eth = Recorder()
    subscriber = threading.Thread(target=lambda: conn.on_trade("ETHUSDT", eth))
    subscriber.start()
    assert wait_until(lambda: bool(conn._dispatcher.subscribers("ethusdt@trade")), 5)
    threading.Event().wait(0.05)  # let the subscriber reach its topic hook (it waits for the start)
    gate.set()
    starter.join(scaled(5))
    subscriber.join(scaled(5))
    wait_live(conn, fake)
    assert set(conn.stats()["streams"]) == {"btcusdt@trade", "ethusdt@trade"}
    fake.publish_trade("ETHUSDT", "1", "1")
    assert eth.wait_count(1, 5)
