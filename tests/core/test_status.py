"""_core.status: state machine + debouncer folded per tick, with made-up timestamps."""

from __future__ import annotations

from binance_conn._core.status import SessionStatus
from binance_conn.enums import ConnectionState as S


def test_first_connect_then_blip_then_outage_then_reconnect() -> None:
    st = SessionStatus(1.0)
    st.start(0.0)
    assert st.state is S.CONNECTING
    assert st.update(False, False, "connecting", 0.1) == ([], False)
    assert st.update(True, False, "up", 0.2) == ([(S.CONNECTED, "up")], False)
    # A blip shorter than the settle window: nothing published.
    assert st.update(False, True, "lost", 1.0) == ([], False)
    assert st.state is S.RECONNECTING
    assert st.next_deadline() == 2.0
    assert st.update(True, False, "up", 1.5) == ([], True)
    # An outage that outlasts the window.
    assert st.update(False, True, "gone", 3.0) == ([], False)
    emitted, _ = st.update(False, False, "gone", 4.0)
    assert emitted == [(S.DISCONNECTED, "gone"), (S.RECONNECTING, "gone")]
    assert st.update(True, False, "back", 5.0) == ([(S.CONNECTED, "back")], True)
    assert st.stop("bye", 6.0) == [(S.DISCONNECTED, "bye")]
    assert st.state is S.STOPPED


def test_not_up_but_not_lost_stays_connected() -> None:
    st = SessionStatus(0.0)
    st.start(0.0)
    st.update(True, False, "up", 0.0)
    assert st.update(False, False, "subscribing", 1.0) == ([], False)
    assert st.state is S.CONNECTED


def test_fail_tells_once_and_stops_debouncing() -> None:
    st = SessionStatus(5.0)
    assert not st.fail()  # never started: nothing to tell
    st.start(0.0)
    st.update(True, False, "up", 0.0)
    assert st.fail()
    assert st.state is S.DISCONNECTED
    assert st.debouncer.settle == 0.0


def test_connect_failure_before_the_first_connection_is_announced_after_settle() -> None:
    st = SessionStatus(1.0)
    st.start(0.0)
    assert st.update(False, False, "connect failed: certificate: bad", 0.5, "certificate") == ([], False)
    assert st.update(False, False, "connect failed: certificate: bad", 1.0, "certificate") == (
        [(S.DISCONNECTED, "connect failed: certificate: bad")], False)
    assert st.update(False, False, "connect failed: certificate: bad", 1.5, "certificate") == ([], False)
    assert st.update(False, False, "connect failed: proxy_auth: 407", 2.0, "proxy_auth") == (
        [(S.DISCONNECTED, "connect failed: proxy_auth: 407")], False)
    assert st.update(True, False, "up", 3.0) == ([(S.CONNECTED, "up")], False)


def test_connect_failure_cause_is_restated_during_a_public_outage() -> None:
    st = SessionStatus(0.0)
    st.start(0.0)
    st.update(True, False, "up", 0.1)
    out, _ = st.update(False, True, "lost: reset", 1.0)
    assert [s for s, _ in out] == [S.DISCONNECTED, S.RECONNECTING]
    assert st.update(False, True, "connect failed: refused", 1.1, "refused") == (
        [(S.RECONNECTING, "connect failed: refused")], False)
    assert st.update(False, True, "connect failed: refused", 1.2, "refused") == ([], False)  # same cause: quiet
    assert st.update(False, True, "connect failed: http_429", 1.3, "http_429") == (
        [(S.RECONNECTING, "connect failed: http_429")], False)
    assert st.update(True, False, "up", 2.0) == ([(S.CONNECTED, "up")], True)
