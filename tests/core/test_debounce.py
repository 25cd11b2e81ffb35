from __future__ import annotations

import pytest

from binance_conn._core.debounce import Debouncer
from binance_conn.enums import ConnectionState as S


def test_first_connected_immediately() -> None:
    d = Debouncer(1.0)
    assert d.feed(S.CONNECTING, 0.0) == []
    assert d.feed(S.CONNECTED, 0.5, "up") == [(S.CONNECTED, "up")]
    assert d.next_deadline() is None


def test_blip_inside_window_emits_nothing() -> None:
    d = Debouncer(1.0)
    d.feed(S.CONNECTED, 0.0)
    assert d.feed(S.DISCONNECTED, 10.0, "reset") == []
    assert d.next_deadline() == 11.0
    assert d.feed(S.RECONNECTING, 10.2) == []
    assert d.poll(10.9) == []
    assert d.feed(S.CONNECTED, 10.95) == []
    assert d.next_deadline() is None
    assert d.poll(20.0) == []


def test_real_outage() -> None:
    d = Debouncer(1.0)
    d.feed(S.CONNECTED, 0.0)
    d.feed(S.DISCONNECTED, 10.0, "pong timeout")
    d.feed(S.RECONNECTING, 10.1, "retry 1")
    assert d.poll(11.0) == [(S.DISCONNECTED, "pong timeout"), (S.RECONNECTING, "retry 1")]
    assert d.feed(S.RECONNECTING, 12.0) == []  # no duplicates
    assert d.feed(S.CONNECTED, 15.0, "up") == [(S.CONNECTED, "up")]


def test_outage_still_disconnected_at_deadline() -> None:
    d = Debouncer(1.0)
    d.feed(S.CONNECTED, 0.0)
    d.feed(S.DISCONNECTED, 1.0, "lost")
    assert d.poll(2.0) == [(S.DISCONNECTED, "lost")]
    assert d.feed(S.RECONNECTING, 3.0, "r") == [(S.RECONNECTING, "r")]
    assert d.feed(S.CONNECTED, 4.0) == [(S.CONNECTED, "")]


def test_expired_window_counts_even_without_poll() -> None:
    d = Debouncer(1.0)
    d.feed(S.CONNECTED, 0.0)
    d.feed(S.DISCONNECTED, 1.0, "lost")
    d.feed(S.RECONNECTING, 1.1, "r")
    out = d.feed(S.CONNECTED, 5.0, "up")  # the caller overslept: the outage was still real
    assert out == [(S.DISCONNECTED, "lost"), (S.RECONNECTING, "r"), (S.CONNECTED, "up")]


def test_settle_zero_passes_through() -> None:
    d = Debouncer(0)
    assert d.feed(S.CONNECTED, 0.0) == [(S.CONNECTED, "")]
    assert d.feed(S.DISCONNECTED, 0.1) == [(S.DISCONNECTED, "")]
    assert d.feed(S.RECONNECTING, 0.1) == [(S.RECONNECTING, "")]
    assert d.feed(S.RECONNECTING, 0.2) == []
    assert d.feed(S.CONNECTED, 0.3) == [(S.CONNECTED, "")]
    assert d.next_deadline() is None


def test_stop() -> None:
    d = Debouncer(1.0)
    d.feed(S.CONNECTED, 0.0)
    d.feed(S.DISCONNECTED, 1.0)
    assert d.feed(S.STOPPED, 1.2, "stop()") == [(S.DISCONNECTED, "stop()")]
    assert d.next_deadline() is None and d.shown is None
    assert d.feed(S.CONNECTED, 5.0) == [(S.CONNECTED, "")]  # fresh start
    with pytest.raises(ValueError):
        Debouncer(-1)
