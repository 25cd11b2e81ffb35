"""Dispatcher: per-subscriber buffers and workers.  Waits on events with timeouts, never fixed sleeps."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Any, Iterator, List

import pytest

from binance_conn._io.dispatch import Dispatcher, Subscription
from binance_conn.enums import OverflowPolicy
from binance_conn.errors import BinanceError, ValidationError

T = 5.0 * float(os.environ.get("BINANCE_CONN_TEST_SLOWDOWN", "1"))


def deadline(seconds: float = T) -> float:
    return time.monotonic() + seconds


def wait_for(predicate: Any, timeout: float = T) -> bool:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return bool(predicate())
        time.sleep(0.002)
    return True


def workers() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if "-sub-" in t.name and t.is_alive()]


@pytest.fixture
def disp() -> Iterator[Dispatcher]:
    d = Dispatcher(name="test")
    yield d
    d.stop(deadline(1.0))


class Collector:
    def __init__(self, until: int = 1) -> None:
        self.items: List[Any] = []
        self.until = until
        self.done = threading.Event()

    def __call__(self, ev: Any) -> None:
        self.items.append(ev)
        if len(self.items) >= self.until:
            self.done.set()


def test_slow_subscriber_does_not_delay_fast_one(disp: Dispatcher) -> None:
    release = threading.Event()
    slow_entered = threading.Event()

    def slow(ev: Any) -> None:
        slow_entered.set()
        release.wait(T)

    fast = Collector(until=100)
    disp.subscribe("t", slow, buffer=10)
    disp.subscribe("t", fast)
    disp.start()
    try:
        disp.publish("t", 0)
        assert slow_entered.wait(T)  # the slow callback now sits on `release`
        for i in range(1, 100):
            disp.publish("t", i)
        assert fast.done.wait(T), "fast subscriber stalled behind the slow one"
        assert fast.items == list(range(100))
    finally:
        release.set()


def test_ten_thousand_events_in_order_per_subscriber(disp: Dispatcher) -> None:
    cols = [Collector(until=10_000) for _ in range(3)]
    subs = [disp.subscribe("t", c, buffer=100, overflow=OverflowPolicy.BLOCK) for c in cols]
    disp.start()
    events = [object() for _ in range(10_000)]
    for ev in events:
        disp.publish("t", ev)
    for c, s in zip(cols, subs):
        assert c.done.wait(T)
        assert len(c.items) == 10_000
        assert all(a is b for a, b in zip(c.items, events)), "order broken or event copied"
        assert s.delivered == 10_000 and s.dropped == 0


def test_drop_oldest_keeps_newest_and_counts(disp: Dispatcher) -> None:
    gate = threading.Event()
    first = threading.Event()
    got: List[int] = []

    def cb(ev: int) -> None:
        got.append(ev)
        first.set()
        gate.wait(T)

    sub = disp.subscribe("t", cb, buffer=5, overflow="drop_oldest")
    disp.start()
    disp.publish("t", 0)
    assert first.wait(T)  # the worker holds event 0; the buffer is empty
    for i in range(1, 21):
        assert disp.publish("t", i) == 0.0
    assert sub.pending == 5
    assert sub.dropped == 15
    gate.set()
    assert wait_for(lambda: sub.delivered == 6)
    assert got == [0, 16, 17, 18, 19, 20]
    assert sub.dropped == 15


def test_block_blocks_and_stop_interrupts() -> None:
    d = Dispatcher(name="test")
    gate = threading.Event()
    first = threading.Event()

    def cb(ev: int) -> None:
        first.set()
        gate.wait(T)

    sub = d.subscribe("t", cb, buffer=2, overflow=OverflowPolicy.BLOCK)
    d.start()
    d.publish("t", 0)
    assert first.wait(T)
    d.publish("t", 1)
    d.publish("t", 2)
    blocked_result: List[float] = []
    returned = threading.Event()

    def producer() -> None:
        blocked_result.append(d.publish("t", 3))
        returned.set()

    p = threading.Thread(target=producer)
    p.start()
    assert wait_for(lambda: d.blocked_since() is not None), "producer did not block"
    assert d.blocked_since(p.ident) is not None
    assert d.blocked_since(threading.get_ident()) is None
    assert not returned.is_set()
    t0 = time.monotonic()
    stopped = threading.Thread(target=lambda: d.stop(deadline(0.2)))
    stopped.start()
    assert returned.wait(T)
    assert time.monotonic() - t0 < 1.0
    gate.set()
    stopped.join(T)
    p.join(T)
    assert blocked_result[0] > 0.0
    assert d.blocked_since() is None
    assert sub.dropped >= 1  # the blocked event
    assert not workers()


def test_block_released_by_caller_stop_event_and_by_room(disp: Dispatcher) -> None:
    gate = threading.Event()
    first = threading.Event()
    got: List[int] = []

    def cb(ev: int) -> None:
        got.append(ev)
        first.set()
        gate.wait(T)

    sub = disp.subscribe("t", cb, buffer=1, overflow="BLOCK")
    disp.start()
    disp.publish("t", 0)
    assert first.wait(T)
    disp.publish("t", 1)
    stop = threading.Event()
    stop.set()
    assert disp.publish("t", 99, stop) >= 0.0  # caller's stop event: dropped, returns
    assert sub.dropped == 1
    done = threading.Event()
    threading.Thread(target=lambda: (disp.publish("t", 2), done.set())).start()
    assert wait_for(lambda: sub.blocked_since is not None)
    gate.set()  # room appears: the producer proceeds
    assert done.wait(T)
    assert wait_for(lambda: got == [0, 1, 2])


@pytest.mark.parametrize("bounded", [True, False])
def test_queue_delivery_drop_oldest(disp: Dispatcher, bounded: bool) -> None:
    q: "queue.Queue[int]" = queue.Queue(maxsize=3 if bounded else 0)
    sub = disp.subscribe("t", queue=q, buffer=3, overflow="DROP_OLDEST")
    disp.start()
    assert not workers(), "queue= delivery needs no worker thread"
    for i in range(10):
        disp.publish("t", i)
    assert [q.get_nowait() for _ in range(q.qsize())] == [7, 8, 9]
    assert sub.dropped == 7 and sub.delivered == 10
    assert q.unfinished_tasks == 3  # dropped items were task_done()'d, so q.join() stays usable
    assert sub.active


def test_queue_delivery_block(disp: Dispatcher) -> None:
    q: "queue.Queue[int]" = queue.Queue(maxsize=2)
    sub = disp.subscribe("t", queue=q, overflow=OverflowPolicy.BLOCK)
    disp.start()
    disp.publish("t", 1)
    disp.publish("t", 2)
    done = threading.Event()
    threading.Thread(target=lambda: (disp.publish("t", 3), done.set())).start()
    assert wait_for(lambda: sub.blocked_since is not None)
    assert not done.is_set()
    assert q.get(timeout=T) == 1
    assert done.wait(T)
    assert [q.get_nowait(), q.get_nowait()] == [2, 3]
    assert sub.dropped == 0 and sub.delivered == 3
    # and stop interrupts a producer blocked on the caller's queue
    disp.publish("t", 4)
    disp.publish("t", 5)
    done2 = threading.Event()
    threading.Thread(target=lambda: (disp.publish("t", 6), done2.set())).start()
    assert wait_for(lambda: sub.blocked_since is not None)
    assert disp.stop(deadline())
    assert done2.wait(T)
    assert sub.dropped == 1


def test_queue_delivery_block_unbounded_queue_uses_buffer(disp: Dispatcher) -> None:
    q: "queue.Queue[int]" = queue.Queue()
    sub = disp.subscribe("t", queue=q, buffer=1, overflow="BLOCK")
    disp.start()
    disp.publish("t", 1)
    done = threading.Event()
    threading.Thread(target=lambda: (disp.publish("t", 2), done.set())).start()
    assert wait_for(lambda: sub.blocked_since is not None)
    assert q.get(timeout=T) == 1
    assert done.wait(T)
    assert q.get(timeout=T) == 2


def test_raising_callback_logged_counted_hooked_and_worker_continues(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooked: List[BinanceError] = []
    hook_called = threading.Event()

    def on_error(err: BinanceError) -> None:
        hooked.append(err)
        hook_called.set()
        raise RuntimeError("the hook itself fails")  # must not kill anything

    d = Dispatcher(name="test", on_error=on_error)
    col = Collector(until=2)

    def cb(ev: int) -> None:
        if ev == 1:
            raise ZeroDivisionError("boom")
        col(ev)

    sub = d.subscribe("t", cb)
    caplog.set_level(logging.WARNING, logger="binance_conn.dispatch")
    d.start()
    try:
        for i in range(3):
            d.publish("t", i)
        assert col.done.wait(T)
        assert hook_called.wait(T)
        assert col.items == [0, 2]
        assert sub.errors == 1 and sub.delivered == 2
        err = hooked[0]
        assert isinstance(err, BinanceError) and err.code == "callback_error"
        assert isinstance(err.__cause__, ZeroDivisionError)
        assert err.details["topic"] == "t" and err.details["subscriber_id"] == sub.id
        recs = [r for r in caplog.records if r.name == "binance_conn.dispatch" and "raised" in r.getMessage()]
        cb_rec = [r for r in recs if getattr(r, "subscriber_id", None) == sub.id and "hook" not in r.getMessage()]
        assert cb_rec and cb_rec[0].levelno == logging.WARNING
        assert cb_rec[0].exc_info and cb_rec[0].exc_info[0] is ZeroDivisionError
        assert getattr(cb_rec[0], "topic", None) == "t"
        assert "ZeroDivisionError" in caplog.text and "Traceback" in caplog.text
        assert any("hook" in r.getMessage() for r in recs), "a raising hook is logged"
    finally:
        assert d.stop(deadline())


def test_binance_error_passed_through_and_error_topic_not_looped() -> None:
    hooked: List[BinanceError] = []
    got = threading.Event()
    d = Dispatcher(name="test", error_topic="error")
    d._on_error = lambda e: (hooked.append(e), d.publish("error", e), got.set())  # type: ignore[assignment]
    original = BinanceError("mine", code="custom")

    def raise_it(ev: Any) -> None:
        raise original

    err_seen = threading.Event()

    def error_cb(e: Any) -> None:
        err_seen.set()
        raise ValueError("error handler fails too")

    esub = d.subscribe("error", error_cb)
    d.subscribe("t", raise_it)
    d.start()
    d.publish("t", 1)
    assert got.wait(T) and err_seen.wait(T)
    assert wait_for(lambda: esub.errors == 1)
    assert hooked == [original]  # the error subscriber's own failure is not fed back
    assert d.stop(deadline())


def test_none_callback_returns_inactive_handle(disp: Dispatcher) -> None:
    sub = disp.subscribe("t", None)
    assert isinstance(sub, Subscription)
    assert not sub.active and sub.delivered == 0 and sub.dropped == 0 and sub.errors == 0
    sub()
    sub()
    assert disp.topics() == []
    disp.start()
    assert not workers()


def test_unsubscribe_idempotent_and_topic_hook() -> None:
    changes: List[Any] = []
    d = Dispatcher(name="test", on_topics_changed=lambda t, added: changes.append((t, added)))
    col = Collector()
    a = d.subscribe("t", col)
    b = d.subscribe("t", Collector())
    assert changes == [("t", True)]
    d.start()
    a()
    assert not a.active
    a()
    assert d.unsubscribe(a) is False
    assert d.subscribers("t") == (b,)
    assert changes == [("t", True)]
    b()
    assert changes == [("t", True), ("t", False)]
    assert d.topics() == []
    d.publish("t", 1)
    assert col.items == []
    assert d.stop(deadline())
    assert not workers()


def test_unsubscribe_from_own_callback(disp: Dispatcher) -> None:
    holder: List[Subscription] = []
    done = threading.Event()

    def cb(ev: int) -> None:
        holder[0]()
        done.set()

    holder.append(disp.subscribe("t", cb))
    disp.start()
    disp.publish("t", 1)
    assert done.wait(T)
    assert not holder[0].active
    assert disp.stop(deadline())
    assert not workers()


def test_stop_from_inside_callback() -> None:
    d = Dispatcher(name="test")
    result: List[bool] = []
    done = threading.Event()
    other = Collector(until=1)

    def cb(ev: int) -> None:
        if ev == 0:
            result.append(d.stop(deadline()))
            done.set()

    sub = d.subscribe("t", cb)
    d.subscribe("u", other)
    d.start()
    d.publish("u", "x")
    assert other.done.wait(T)
    d.publish("t", 0)
    assert done.wait(T), "stop() from a callback deadlocked"
    assert result == [True]
    assert wait_for(lambda: not workers())
    assert not d.running and sub.active


def test_no_worker_alive_after_stop_and_restart() -> None:
    d = Dispatcher(name="test")
    cols = [Collector(until=1) for _ in range(5)]
    subs = [d.subscribe(f"t{i}", c) for i, c in enumerate(cols)]
    d.start()
    assert len(workers()) == 5
    assert all(t.daemon for t in workers())
    assert d.stop(deadline())
    assert not workers()
    d.publish("t0", "ignored while stopped")
    d.start()  # restart: handles stay valid and resume delivering
    for i in range(5):
        d.publish(f"t{i}", i)
    for i, c in enumerate(cols):
        assert c.done.wait(T)
        assert c.items == [i]
        assert subs[i].delivered == 1
    assert d.stop(deadline())
    assert not workers()


def test_stop_delivers_queued_then_deadline_drops_rest(caplog: pytest.LogCaptureFixture) -> None:
    d = Dispatcher(name="test")
    gate = threading.Event()
    first = threading.Event()
    quick = Collector(until=50)

    def slow(ev: int) -> None:
        first.set()
        gate.wait(T)

    s_slow = d.subscribe("t", slow, buffer=100)
    s_quick = d.subscribe("q", quick, buffer=100)
    d.start()
    d.publish("t", 0)
    assert first.wait(T)
    for i in range(10):
        d.publish("t", i)
    for i in range(50):
        d.publish("q", i)
    caplog.set_level(logging.WARNING, logger="binance_conn.dispatch")
    assert d.stop(deadline(0.2)) is False
    assert quick.items == list(range(50)) and s_quick.dropped == 0  # drained in time
    assert s_slow.dropped == 10 and d.last_stop_dropped == 10
    assert "10 queued events dropped" in caplog.text
    gate.set()
    assert wait_for(lambda: not workers())
    assert s_slow.delivered == 1


def test_stats_and_validation(disp: Dispatcher) -> None:
    col = Collector()
    sub = disp.subscribe("t", col)
    disp.start()
    disp.publish("t", 1)
    assert col.done.wait(T)
    assert wait_for(lambda: sub.last_delivery_age is not None)
    st = disp.stats()
    assert list(st) == ["t"]
    row = st["t"][0]
    assert row["delivered"] == 1 and row["dropped"] == 0 and row["errors"] == 0 and row["pending"] == 0
    assert row["id"] == sub.id and row["last_delivery_age"] >= 0.0
    with pytest.raises(ValidationError):
        disp.subscribe("t", col, queue=queue.Queue())
    with pytest.raises(ValidationError):
        disp.subscribe("t", col, buffer=0)
    with pytest.raises(ValidationError):
        disp.subscribe("t", col, overflow="sometimes")


def test_concurrent_subscribe_unsubscribe_keeps_topic_hook_consistent() -> None:
    state: dict = {}
    lock = threading.Lock()

    def hook(topic: str, added: bool) -> None:
        with lock:
            assert state.get(topic, False) != added, "hook out of order"
            state[topic] = added

    d = Dispatcher(name="test", on_topics_changed=hook)
    d.start()

    def churn() -> None:
        for _ in range(200):
            d.subscribe("x", Collector())()

    threads = [threading.Thread(target=churn) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T)
    assert state.get("x") is False and d.topics() == []
    assert d.stop(deadline())
    assert not workers()


def test_stop_then_start_from_inside_callback_resumes() -> None:
    d = Dispatcher(name="test")
    got: List[int] = []
    restarted = threading.Event()
    second = threading.Event()

    def cb(ev: int) -> None:
        got.append(ev)
        if ev == 0:
            d.stop(deadline())
            d.start()
            restarted.set()
        else:
            second.set()

    d.subscribe("t", cb)
    d.start()
    d.publish("t", 0)
    assert restarted.wait(T)
    d.publish("t", 1)
    assert second.wait(T), "no delivery after a stop/start made from a callback"
    assert got == [0, 1]
    assert d.stop(deadline())
    assert wait_for(lambda: not workers())


def test_block_self_publish_from_own_callback_does_not_deadlock(disp: Dispatcher) -> None:
    done = threading.Event()
    holder: List[Subscription] = []

    def cb(ev: int) -> None:
        if ev == 0:
            for i in range(1, 5):  # buffer 2: the third self-publish would wait on itself
                disp.publish("t", i)
            done.set()

    holder.append(disp.subscribe("t", cb, buffer=2, overflow="BLOCK"))
    disp.start()
    disp.publish("t", 0)
    assert done.wait(T)
    assert wait_for(lambda: holder[0].delivered == 3)
    assert holder[0].dropped == 2


# -- issue 9: per-thread blocked producers; the worker's own safety net; fork re-arm ---------------------

def test_two_producers_blocked_on_one_subscriber_are_tracked_each() -> None:
    """A rollover overlap: two readers wait on the same full BLOCK subscriber.  The first one's
    wait must not be forgotten when the second starts waiting, nor when the second is released."""
    d = Dispatcher(name="test")
    gate = threading.Event()
    first = threading.Event()

    def cb(ev: int) -> None:
        first.set()
        gate.wait(T)

    sub = d.subscribe("t", cb, buffer=1, overflow=OverflowPolicy.BLOCK)
    d.start()
    try:
        d.publish("t", 0)
        assert first.wait(T)
        d.publish("t", 1)  # the buffer is full now
        stop_a, stop_b = threading.Event(), threading.Event()
        a = threading.Thread(target=lambda: d.publish("t", 2, stop_a))
        a.start()
        assert wait_for(lambda: d.blocked_since(a.ident) is not None)
        since_a = d.blocked_since(a.ident)
        b = threading.Thread(target=lambda: d.publish("t", 3, stop_b))
        b.start()
        assert wait_for(lambda: d.blocked_since(b.ident) is not None)
        assert d.blocked_since(a.ident) == since_a, "the second waiter overwrote the first"
        assert d.blocked_since() == since_a == sub.blocked_since  # the longest wait
        stop_b.set()  # b gives up (its event dropped): a still waits
        b.join(T)
        assert d.blocked_since(b.ident) is None
        assert d.blocked_since(a.ident) == since_a, "releasing the second cleared the first"
        stop_a.set()
        a.join(T)
        assert d.blocked_since() is None and sub.blocked_since is None
        assert sub.snapshot()["blocked_since"] is None
    finally:
        gate.set()
        assert d.stop(deadline())


def test_an_internal_failure_of_a_worker_is_reported_and_delivery_goes_on(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Inject one exception into the dispatcher's own worker code (not the callback): it is logged
    with its traceback, reported as InternalError through on_error, and the worker keeps delivering."""
    from binance_conn._io import subscribers
    from binance_conn.errors import InternalError

    reported: List[BinanceError] = []
    d = Dispatcher(name="test", on_error=reported.append, exchange="binance")
    got = Collector(until=3)
    sub = d.subscribe("t", got)
    real = subscribers._monotonic
    armed = threading.Event()
    armed.set()

    def flaky_clock() -> float:
        # The worker stamps last_delivery with this clock after a batch: fail there once.
        if armed.is_set() and threading.current_thread() is sub._thread():
            armed.clear()
            raise RuntimeError("injected")
        return real()

    monkeypatch.setattr(subscribers, "_monotonic", flaky_clock)
    d.start()
    try:
        with caplog.at_level(logging.ERROR, logger="binance_conn.dispatch"):
            d.publish("t", 1)
            assert wait_for(lambda: len(reported) == 1), "the crash was not reported"
            d.publish("t", 2)
            d.publish("t", 3)
            assert got.done.wait(T), got.items
        assert got.items == [1, 2, 3]
        err = reported[0]
        assert isinstance(err, InternalError) and err.details["exchange"] == "binance"
        assert isinstance(err.__cause__, RuntimeError)
        assert d.crashes == 1 and sub.errors == 0, "an internal failure is no callback error"
        assert any(r.levelno == logging.ERROR and r.exc_info and "injected" in r.getMessage()
                   for r in caplog.records), caplog.records
        assert sub._thread() is not None and sub._thread().is_alive()
    finally:
        assert d.stop(deadline())
    assert not workers()


def test_after_fork_in_child_rearms_the_same_handles() -> None:
    """What a forked child sees: the parent's handles, locks possibly held by parent threads,
    queued events of the parent.  after_fork_in_child() keeps the handles and re-arms them."""
    d = Dispatcher(name="test")
    gate = threading.Event()
    got = Collector(until=1)

    def slow(ev: int) -> None:
        gate.wait(T)

    parked = d.subscribe("parked", slow)
    sub = d.subscribe("t", got)
    d.start()
    d.publish("parked", 0)
    d.publish("parked", 1)  # queued behind the running callback
    assert wait_for(lambda: parked.pending == 1)
    # Simulate the child: a lock is left held, and the parent's worker threads do not exist (here the
    # parked one is told to end as soon as its callback returns, as if it had vanished).
    parent_run = parked._run
    assert parent_run is not None
    d._lock.acquire()
    d.after_fork_in_child()
    parent_run.aborted = True
    assert not d.running and parked.pending == 0 and parked.active and sub.active
    d.start()  # would deadlock on the held lock without the re-arm
    try:
        d.publish("t", "x")
        assert got.done.wait(T) and got.items == ["x"]
        assert d.subscribers("t") == (sub,)
    finally:
        gate.set()
        assert d.stop(deadline())
