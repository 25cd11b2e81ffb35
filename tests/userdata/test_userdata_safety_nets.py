"""An unexpected exception in any user-data thread is logged, reported and recovered from (issue 9).

One test per injection point: socket read, frame parse, event parse (the reader), the
ticker, the reconciliation thread.  Each sees an ``InternalError`` on the error topic, an
ERROR log record with the traceback, the outage in ``ready`` and the connection events,
and then the session reconnecting, resubscribing and delivering again.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator

import pytest
from _harness import Harness, balance_event, make_harness
from _helpers import scaled

import binance_conn as bc
from binance_conn._core import wsapi as core_wsapi
from binance_conn._userdata import delivery as delivery_mod

S = bc.ConnectionState


@pytest.fixture
def h() -> Iterator[Harness]:
    for harness in make_harness():
        harness.expected_crashes = 1
        yield harness


def _once(exc: BaseException, real: Any) -> Any:
    state = {"armed": True}

    def wrapper(*args: Any, **kw: Any) -> Any:
        if state["armed"]:
            state["armed"] = False
            raise exc
        return real(*args, **kw)

    return wrapper


def _recovered(h: Harness, component: str, caplog: pytest.LogCaptureFixture, first_count: int = 1) -> None:
    err = h.error()
    assert isinstance(err, bc.InternalError), err
    assert component in str(err) and isinstance(err.__cause__, RuntimeError)
    records = [r for r in caplog.records if r.levelno == logging.ERROR and component in r.getMessage()]
    assert records and records[0].exc_info is not None, "logged with its traceback"
    down = h.conn_event(lambda e: e.state in (S.DISCONNECTED, S.RECONNECTING) and "internal error" in e.reason)
    assert down.session == "user_data"
    # the normal path: a new connection, subscribed, delivering
    t = h.net.wait_for_connection(scaled(10))
    # by identity: events are values, and two CONNECTED events within one millisecond compare equal
    def position(ev: object) -> int:
        return next(i for i, seen in enumerate(h._seen_conn) if seen is ev)

    h.conn_event(lambda e: e.state is S.CONNECTED and position(e) > position(down))
    assert h.link.ready.wait(scaled(10))
    assert h.link.stats()["subscribed"] and h.link.stats()["internal_errors"] >= 1
    t.feed_text(balance_event(7, h.api.sub_id(t)))
    assert h.wait_deltas(1) == [7]


def test_socket_read_crash_reconnects(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    t = h.start()
    t.fail_read(RuntimeError("injected read"))
    _recovered(h, "user-data reader", caplog)
    assert t.aborted and t.released


def test_frame_parse_crash_reconnects(h: Harness, caplog: pytest.LogCaptureFixture,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    t = h.start()
    real = core_wsapi.WsApiProtocol.receive_text
    monkeypatch.setattr(core_wsapi.WsApiProtocol, "receive_text", _once(RuntimeError("injected parse"), real))
    t.feed_text(balance_event(1, h.api.sub_id(t)))
    _recovered(h, "user-data reader", caplog)


def test_event_parse_crash_reconnects(h: Harness, caplog: pytest.LogCaptureFixture,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    t = h.start()
    monkeypatch.setattr(delivery_mod, "parse_user_event",
                        _once(RuntimeError("injected event parse"), delivery_mod.parse_user_event))
    t.feed_text(balance_event(1, h.api.sub_id(t)))
    _recovered(h, "user-data reader", caplog)


def test_ticker_crash_tears_down_and_reconnects(h: Harness, caplog: pytest.LogCaptureFixture,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    t = h.start()
    monkeypatch.setattr(h.link, "_tick", _once(RuntimeError("injected tick"), h.link._tick))
    h.link.wake()
    _recovered(h, "user-data ticker", caplog)
    assert t.aborted
    assert h.link.threads()  # the ticker runs again (it rescheduled the reconnect path)


def test_reconciliation_crash_tears_down_and_reconciles_again(h: Harness, caplog: pytest.LogCaptureFixture,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    t = h.start()
    from _helpers import wait_until
    rec = h.link.reconciler  # a pass the first subscribe started must not be the one that crashes
    assert wait_until(lambda: rec.thread is None or not rec.thread.is_alive(), timeout=10)
    tracker = h.link.tracker
    monkeypatch.setattr(tracker, "begin_reconcile", _once(RuntimeError("injected reconcile"),
                                                          tracker.begin_reconcile))
    t.drop()  # a gap: the resubscribe reconciles, and that pass crashes
    h.net.wait_for_connection(scaled(10))  # the reconnect after the drop
    _recovered(h, "user-data reconciliation", caplog)
    assert wait_until(lambda: h.link.reconciler.reconciliations >= 1, timeout=10)
    assert len(h.net.transports) >= 3  # first, after the drop, after the crash


def test_crash_while_already_shown_down_still_publishes_its_reason(h: Harness, caplog: pytest.LogCaptureFixture,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The race behind an old flake: a reconciliation crash tears down a link whose reconnect
    was not yet reported up, so folding the state emits nothing; the crash must still show."""
    h.start()
    monkeypatch.setattr(h.link, "_update_state", lambda now: False)  # the status already shows it down
    h.link._reconcile_crashed(RuntimeError("injected reconcile"))
    down = h.conn_event(lambda e: e.state is S.RECONNECTING and "internal error in reconciliation" in e.reason)
    assert down.session == "user_data"
    h.expected_crashes = 0  # torn down directly, no thread crashed
