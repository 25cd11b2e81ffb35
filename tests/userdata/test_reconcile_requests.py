"""A reconciliation asked for while a pass ends (or crashes) is never lost (an old CI flake).

The thread decides to end under the lock; a request made between that decision and the
thread's exit used to see a live thread, set "again" and be dropped with it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, List

from _helpers import wait_until

from binance_conn._core.userdata import OrderTracker
from binance_conn._io.guard import ThreadGuard
from binance_conn._userdata import reconcile as reconcile_mod


def _reconciler(errors: List[Any], crashes: List[BaseException]) -> Any:
    cls = reconcile_mod.GapReconciler
    guard = ThreadGuard(logging.getLogger("test.reconcile"), "binance", errors.append)
    return cls(OrderTracker("binance"), threading.Lock(), threading.RLock(), lambda: None, lambda e: None,
               lambda: False, guard, crashes.append)


def test_a_request_while_the_thread_is_on_its_way_out_runs() -> None:
    errors: List[Any] = []
    rec = _reconciler(errors, [])
    passes: List[int] = []
    rec._once = lambda: passes.append(1)
    leaving, release = threading.Event(), threading.Event()
    real_more = rec._more

    def more() -> bool:
        out = real_more()
        if not out and len(passes) == 1:  # decided to end: hold the thread alive here
            leaving.set()
            release.wait(5)
        return out

    rec._more = more
    rec.start()
    assert leaving.wait(5)
    rec.start()  # the old thread is alive but will not look again: a new pass must still run
    assert wait_until(lambda: len(passes) == 2, timeout=5)
    release.set()
    assert wait_until(lambda: rec.thread is None or not rec.thread.is_alive(), timeout=5)


def test_a_request_made_while_a_pass_crashes_runs_after_it() -> None:
    errors: List[Any] = []
    crashes: List[BaseException] = []
    rec = _reconciler(errors, crashes)
    passes: List[int] = []
    inside, go_on = threading.Event(), threading.Event()

    def once() -> None:
        passes.append(1)
        if len(passes) == 1:
            inside.set()
            go_on.wait(5)
            raise RuntimeError("injected reconcile")

    rec._once = once
    rec.start()
    assert inside.wait(5)
    rec.start()  # e.g. the reconnect the crash's teardown causes asks for a pass
    go_on.set()
    assert wait_until(lambda: len(passes) == 2, timeout=5)
    assert len(crashes) == 1 and errors  # the crash was reported
    assert wait_until(lambda: rec.thread is None or not rec.thread.is_alive(), timeout=5)
