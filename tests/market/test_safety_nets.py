"""An unexpected exception in any market thread: logged, reported as InternalError, the connection
torn down and reconnected through the normal path, and events flow again (one test per place)."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, List

import pytest
from _market_helpers import Market, make_market, refused, scaled, start, stop, wait_until

from binance_conn._core.protocol import StreamProtocol
from binance_conn._core.wire import WireParser
from binance_conn._market.session import MarketSession
from binance_conn.enums import ConnectionState
from binance_conn.errors import InternalError

S = ConnectionState


def _up(m: Market) -> bool:
    return m.session.ready.is_set() and m.session.status.state is S.CONNECTED


def _once(original: Callable[..., Any], armed: threading.Event, when: Callable[..., bool] = lambda *a: True
          ) -> Callable[..., Any]:
    def wrapper(*args: Any, **kw: Any) -> Any:
        if armed.is_set() and when(*args):
            armed.clear()
            raise RuntimeError("injected fault")
        return original(*args, **kw)

    return wrapper


def _recovered(m: Market, component: str, *, reconnect: bool, first_id: int = 100) -> None:
    err = m.wait_error(lambda e: isinstance(e, InternalError))
    assert component in str(err) and isinstance(err.__cause__, RuntimeError), str(err)
    if reconnect:
        events: List[Any] = []
        assert wait_until(lambda: bool(events.extend(m.drain(m.connection)) or any(
            e.state is S.DISCONNECTED for e in events)), 3), "the teardown is visible on on_connection"
        assert not m.session.ready.is_set() and m.session.status.state is not S.CONNECTED
        m.net.refuse_all = None  # (the test held the reconnect until it saw the outage)
        link = m.link()
    else:
        link = m.net.transports[-1]
    assert wait_until(lambda: _up(m), 4)
    assert m.flows(link, first_id), "events flow again"
    assert m.session.stats()["internal_errors"] >= 1


@pytest.fixture
def up(market: Market) -> Market:
    market.subscribe()
    start(market)
    market.first = market.link()  # type: ignore[attr-defined]
    assert wait_until(lambda: _up(market))
    market.drain(market.connection)
    return market


def test_socket_read_crash(up: Market, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="binance_conn")
    up.net.refuse_all = refused()
    up.first.fail_read(RuntimeError("injected fault"))  # type: ignore[attr-defined]
    _recovered(up, "market stream reader", reconnect=True)
    crash = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert crash and crash[0].exc_info is not None and "injected fault" in crash[0].getMessage()


def test_frame_parse_crash(up: Market, monkeypatch: Any) -> None:
    armed = threading.Event()
    monkeypatch.setattr(StreamProtocol, "receive_bad", _once(StreamProtocol.receive_bad, armed))
    armed.set()
    up.net.refuse_all = refused()
    up.first.feed_frame(2, b"\x00binary")  # type: ignore[attr-defined]
    _recovered(up, "market stream reader", reconnect=True)


def test_event_parse_crash(monkeypatch: Any) -> None:
    armed = threading.Event()
    monkeypatch.setattr(WireParser, "parse", _once(WireParser.parse, armed, lambda self, text: "boom" in text))
    m = make_market()
    try:
        m.subscribe()
        start(m)
        link = m.link()
        assert wait_until(lambda: _up(m))
        m.drain(m.connection)
        armed.set()
        m.net.refuse_all = refused()
        link.feed_text('{"stream":"btcusdt@trade","data":{"boom":1}}')
        _recovered(m, "market stream reader", reconnect=True)
    finally:
        stop(m)


def test_health_check_crash(up: Market, monkeypatch: Any) -> None:
    armed = threading.Event()
    monkeypatch.setattr(StreamProtocol, "is_zombie", _once(StreamProtocol.is_zombie, armed))
    up.net.refuse_all = refused()
    armed.set()
    up.session.wake()
    _recovered(up, "market health check", reconnect=True)


def test_supervisor_tick_crash_restarts_the_loop(up: Market, monkeypatch: Any) -> None:
    armed = threading.Event()
    monkeypatch.setattr(MarketSession, "_tick", _once(MarketSession._tick, armed))
    armed.set()
    up.session.wake()
    _recovered(up, "market supervisor", reconnect=False)
    # the restarted supervisor still drives the link: a new stream is subscribed
    up.subscribe("ethusdt@trade")
    assert up.first.wait_sent(lambda sent: any("ethusdt@trade" in t for t in sent), scaled(10))  # type: ignore


def test_prober_crash_restarts_it() -> None:
    pings: List[float] = []
    m = make_market(rest_ping=pings.append, health=0.2)
    armed = threading.Event()
    original = MarketSession._probe_once
    MarketSession._probe_once = _once(original, armed)  # type: ignore[method-assign]
    try:
        m.subscribe()
        start(m)
        link = m.link()
        assert wait_until(lambda: _up(m))
        armed.set()
        err = m.wait_error(lambda e: isinstance(e, InternalError))
        assert "market REST prober" in str(err)
        n = len(pings)
        assert wait_until(lambda: len(pings) > n + 1, 3), "the prober runs again"
        assert m.flows(link, 7)
        assert m.session._prober is not None and m.session._prober.is_alive()
    finally:
        MarketSession._probe_once = original  # type: ignore[method-assign]
        stop(m)
