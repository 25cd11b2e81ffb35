"""DROP_OLDEST under bursts: a full buffer makes the producer yield to the worker before dropping.

The policy (``_io/subscribers.py``): when a ``DROP_OLDEST`` buffer is full, the producer wakes the worker and waits
until it has drained to half, at most ``YIELD_WAIT``.  A worker that misses that bound is *slow*: the producer drops
the oldest at once, without waiting, until the worker has drained its buffer back to half.  The policy's decisions are
tested without threads (a scripted ``_space`` stands in for the worker); the real-thread tests use generous bounds
and wait on conditions.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Iterator, List, Optional

import pytest

from binance_conn._io import subscribers
from binance_conn._io.dispatch import Dispatcher
from binance_conn._io.subscribers import CallbackSubscription
from binance_conn.enums import OverflowPolicy

T = 5.0 * float(os.environ.get("BINANCE_CONN_TEST_SLOWDOWN", "1"))


def wait_for(predicate: Callable[[], bool], timeout: float = T) -> bool:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return bool(predicate())
        time.sleep(0.002)
    return True


# ---------------------------------------------------------------------------------------------- without threads
class ScriptedSpace:
    """Stands in for ``_space`` and the worker: each ``wait`` records its timeout and plays the next script step
    (``"drain"``: the worker takes events down to the low mark and signals; ``"stuck"``: a timeout)."""

    def __init__(self, sub: CallbackSubscription, script: List[str]) -> None:
        self.sub = sub
        self.script = list(script)
        self.timeouts: List[float] = []
        self.taken: List[Any] = []
        self.flag = False

    def clear(self) -> None:
        self.flag = False

    def set(self) -> None:
        self.flag = True

    def is_set(self) -> bool:
        return self.flag

    def wait(self, timeout: Optional[float] = None) -> bool:
        assert timeout is not None
        self.timeouts.append(timeout)
        step = self.script.pop(0) if self.script else "stuck"
        dq = self.sub._dq
        if step == "drain":
            while len(dq) > self.sub._low:
                self.taken.append(dq.popleft())
            return True
        if step == "partial":  # took one, not down to the low mark
            self.taken.append(dq.popleft())
        if step == "unsignalled":  # drained to the low mark, but the wait ended first (a race)
            while len(dq) > self.sub._low:
                self.taken.append(dq.popleft())
        return False


def bare_sub(size: int, policy: OverflowPolicy = OverflowPolicy.DROP_OLDEST) -> CallbackSubscription:
    """A subscription accepting events with no worker thread (the test plays the worker)."""
    d = Dispatcher(name="bare")
    sub = CallbackSubscription(d, "t", 1, lambda ev: None, size, policy, "bare-sub")
    sub._accepting = True
    return sub


def fill(sub: CallbackSubscription, start: int, n: int) -> None:
    for i in range(start, start + n):
        assert sub.offer(i) == 0.0


def test_full_buffer_waits_for_the_worker_and_drops_nothing() -> None:
    sub = bare_sub(8)
    space = sub._space = ScriptedSpace(sub, ["drain", "drain", "drain"])  # type: ignore[assignment]
    fill(sub, 0, 8)
    assert space.timeouts == []  # not full yet: the hot path never waits
    fill(sub, 8, 3 * 4)  # full three times (every fourth offer); each time the worker drains to half (4)
    assert space.timeouts == pytest.approx([subscribers.YIELD_WAIT] * 3)
    assert sub.dropped == 0 and not sub._slow
    assert space.taken + list(sub._dq) == list(range(20))  # nothing lost, order kept
    assert not sub._producer_waiting


def test_worker_missing_the_bound_is_slow_and_later_offers_drop_at_once() -> None:
    sub = bare_sub(8)
    space = sub._space = ScriptedSpace(sub, ["stuck"])  # type: ignore[assignment]
    fill(sub, 0, 8)
    fill(sub, 8, 1)
    assert space.timeouts == pytest.approx([subscribers.YIELD_WAIT]) and sub._slow
    assert sub.dropped == 1 and list(sub._dq) == list(range(1, 9))  # the oldest went
    fill(sub, 9, 100)
    assert len(space.timeouts) == 1  # slow: no further wait
    assert sub.dropped == 101 and list(sub._dq) == list(range(101, 109))


def test_the_verdict_reads_the_buffer_not_the_signal() -> None:
    sub = bare_sub(8)
    space = sub._space = ScriptedSpace(sub, ["unsignalled"])  # type: ignore[assignment]
    fill(sub, 0, 9)
    assert len(space.timeouts) == 1
    assert not sub._slow and sub.dropped == 0


def test_worker_short_of_the_low_mark_after_the_wait_is_slow() -> None:
    sub = bare_sub(8)
    space = sub._space = ScriptedSpace(sub, ["drain", "partial"])  # type: ignore[assignment]
    fill(sub, 0, 9)
    fill(sub, 9, 4)  # the second time it took one event in YIELD_WAIT, not four: slower than the feed
    assert space.timeouts == pytest.approx([subscribers.YIELD_WAIT] * 2)
    assert sub._slow and sub.dropped == 0  # the one it took made room: nothing dropped yet
    fill(sub, 13, 3)
    assert len(space.timeouts) == 2 and sub.dropped == 3


def test_slow_ends_when_the_worker_is_back_at_half() -> None:
    d = Dispatcher(name="burst")
    gate, entered = threading.Event(), threading.Event()
    seen: List[bool] = []

    def cb(ev: int) -> None:
        entered.set()
        gate.wait(T)
        seen.append(sub._slow)  # type: ignore[attr-defined]

    sub = d.subscribe("t", cb, buffer=8)
    assert isinstance(sub, CallbackSubscription)
    d.start()
    try:
        d.publish("t", 0)
        assert entered.wait(T)
        for i in range(1, 9):
            d.publish("t", i)
        sub._slow = True
        gate.set()
        assert wait_for(lambda: sub.delivered == 9)
        # events 0..3 are delivered with five or more still queued: slow; taking event 4 leaves four (half)
        assert seen == [True] * 4 + [False] * 5
    finally:
        d.stop(time.monotonic() + T)


def test_block_policy_never_yields_nor_turns_slow() -> None:
    sub = bare_sub(4, OverflowPolicy.BLOCK)
    assert sub._low == 3  # BLOCK: the producer is signalled after each take, as before
    stop = threading.Event()
    stop.set()
    fill(sub, 0, 4)
    assert sub.offer(4, stop) >= 0.0  # full BLOCK buffer with its stop set: dropped, counted, no yield
    assert sub.dropped == 1 and not sub._slow


# ---------------------------------------------------------------------------------------------- real threads
@pytest.fixture
def generous(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounds far above any scheduling hiccup: whether a worker keeps up is then not a matter of timing."""
    monkeypatch.setattr(subscribers, "YIELD_WAIT", T)


@pytest.fixture
def disp() -> Iterator[Dispatcher]:
    d = Dispatcher(name="burst")
    yield d
    d.stop(time.monotonic() + 1.0)


class CountingSpace:
    """Wraps the real ``_space`` Event and counts the producer's waits on it."""

    def __init__(self, inner: threading.Event) -> None:
        self.inner = inner
        self.waits = 0

    def clear(self) -> None:
        self.inner.clear()

    def set(self) -> None:
        self.inner.set()

    def is_set(self) -> bool:
        return self.inner.is_set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        self.waits += 1
        return self.inner.wait(timeout)


def test_producer_outpacing_a_keeping_up_worker_loses_nothing(disp: Dispatcher, generous: None) -> None:
    got: List[int] = []
    sub = disp.subscribe("t", got.append, buffer=64)
    disp.start()
    n = 20_000
    for i in range(n):  # a tight loop outpaces the worker: the buffer fills many times
        disp.publish("t", i)
    assert wait_for(lambda: len(got) == n)
    assert got == list(range(n)) and sub.dropped == 0 and sub.delivered == n


def test_stuck_worker_costs_the_producer_one_bounded_wait(disp: Dispatcher) -> None:
    gate, entered = threading.Event(), threading.Event()
    fast: List[int] = []

    def stuck(ev: int) -> None:
        entered.set()
        gate.wait(T)

    slow_sub = disp.subscribe("t", stuck, buffer=8)
    fast_sub = disp.subscribe("t", fast.append, buffer=100_000)
    assert isinstance(slow_sub, CallbackSubscription)
    space = slow_sub._space = CountingSpace(slow_sub._space)  # type: ignore[assignment]
    disp.start()
    disp.publish("t", 0)
    assert entered.wait(T)
    n = 5_000
    started = time.monotonic()
    for i in range(1, n):
        disp.publish("t", i)
    elapsed = time.monotonic() - started
    assert space.waits == 1 and slow_sub._slow
    assert elapsed < 1.0 + subscribers.YIELD_WAIT  # one bounded wait, then drops at once (generous bound)
    assert slow_sub.dropped == n - 1 - 8  # exact: one in the callback, eight queued, the rest dropped
    assert wait_for(lambda: len(fast) == n) and fast == list(range(n)) and fast_sub.dropped == 0
    gate.set()
    assert wait_for(lambda: slow_sub.delivered == 9 and not slow_sub._slow)
    assert slow_sub.dropped == n - 1 - 8


@pytest.mark.parametrize("how", ["stop", "unsubscribe"])
def test_stop_releases_a_yielding_producer_at_once(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    monkeypatch.setattr(subscribers, "YIELD_WAIT", 60.0)
    d = Dispatcher(name="burst")
    gate, entered = threading.Event(), threading.Event()

    def stuck(ev: int) -> None:
        entered.set()
        gate.wait(T)

    sub = d.subscribe("t", stuck, buffer=4)
    d.start()
    d.publish("t", 0)
    assert entered.wait(T)
    for i in range(1, 5):
        d.publish("t", i)
    producer = threading.Thread(target=d.publish, args=("t", 5), daemon=True)
    producer.start()
    assert wait_for(lambda: sub._producer_waiting)  # type: ignore[attr-defined]
    started = time.monotonic()
    if how == "stop":
        d.stop(time.monotonic() + 0.1)
    else:
        sub()
    producer.join(T)
    assert not producer.is_alive() and time.monotonic() - started < T
    gate.set()
    d.stop(time.monotonic() + T)


def test_callback_publishing_to_its_own_full_buffer_never_waits(disp: Dispatcher, generous: None) -> None:
    done = threading.Event()
    state = {"first": True}

    def cb(ev: int) -> None:
        if state["first"]:
            state["first"] = False
            for i in range(1, 4 + 5 + 1):  # four fit, five overflow
                disp.publish("t", i)
            done.set()

    sub = disp.subscribe("t", cb, buffer=4)
    disp.start()
    started = time.monotonic()
    disp.publish("t", 0)
    assert done.wait(T) and time.monotonic() - started < T / 2  # no wait for itself (bounds are T here)
    assert wait_for(lambda: sub.delivered == 5) and sub.dropped == 5


def test_block_subscriber_still_waits_for_room(disp: Dispatcher) -> None:
    gate, entered = threading.Event(), threading.Event()
    got: List[int] = []

    def cb(ev: int) -> None:
        entered.set()
        gate.wait(T)
        got.append(ev)

    sub = disp.subscribe("t", cb, buffer=2, overflow=OverflowPolicy.BLOCK)
    disp.start()
    disp.publish("t", 0)
    assert entered.wait(T)
    disp.publish("t", 1)
    disp.publish("t", 2)
    producer = threading.Thread(target=disp.publish, args=("t", 3), daemon=True)
    producer.start()
    assert wait_for(lambda: sub.blocked_since is not None)
    assert producer.is_alive()  # BLOCK waits for as long as it takes, it does not turn slow
    gate.set()
    producer.join(T)
    assert wait_for(lambda: got == [0, 1, 2, 3]) and sub.dropped == 0
    assert not sub._slow  # type: ignore[attr-defined]
