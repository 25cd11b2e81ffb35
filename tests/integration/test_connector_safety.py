"""Safety nets end to end: an injected fault in the market reader of a real Connector (FakeBinance, real
sockets) is reported on on_error as InternalError, shows on on_connection, and the stream recovers."""

from __future__ import annotations

import threading
from typing import Any, Iterator, List

import pytest
from _connector_helpers import FakeBinance, Recorder, fake, fast_builder, scaled, wait_live, wait_until  # noqa: F401

import binance_conn as bc
from binance_conn._core.frames import FrameParser
from binance_conn._io.transport import WsTransport

S = bc.ConnectionState


@pytest.fixture
def conn(fake: FakeBinance) -> Iterator[bc.Connector]:  # noqa: F811
    c = bc.Connector(fast_builder(fake).build())
    yield c
    c.stop(timeout=2.0)


def _inject_once(monkeypatch: Any, name: str) -> threading.Event:
    armed = threading.Event()
    owner: Any = FrameParser if name == "feed" else WsTransport
    original = getattr(owner, name)

    def wrapper(self: Any, *args: Any, **kw: Any) -> Any:
        if armed.is_set():
            armed.clear()
            raise RuntimeError(f"injected fault in {name}")
        return original(self, *args, **kw)

    monkeypatch.setattr(owner, name, wrapper)
    return armed


@pytest.mark.parametrize("where", ["read_frames", "feed"])  # socket read; frame parse (_core.frames)
def test_injected_reader_fault_recovers_end_to_end(fake: FakeBinance, conn: bc.Connector,  # noqa: F811
                                                   monkeypatch: Any, where: str) -> None:
    trades, errors, states = Recorder(), Recorder(), Recorder()
    conn.on_trade("BTCUSDT", trades)
    conn.on_error(errors)
    conn.on_connection(states)
    conn.start()
    wait_live(conn, fake)
    armed = _inject_once(monkeypatch, where)
    fake.refuse_handshakes(1.0)  # hold the reconnect long enough for the outage to be seen on any machine
    armed.set()
    fake.publish_trade("BTCUSDT", "100", "1")  # wakes the reader: the injected fault fires
    assert errors.wait_for(lambda items: any(isinstance(e, bc.InternalError) for e in items)), errors.items
    err = next(e for e in errors.items if isinstance(e, bc.InternalError))
    assert "market stream reader" in str(err) and isinstance(err.__cause__, RuntimeError)
    assert states.wait_for(lambda items: any(e.state is S.DISCONNECTED and "internal error" in e.reason
                                             for e in items)), states.items
    assert wait_until(lambda: len(fake.connection_log) >= 2, scaled(5))
    wait_live(conn, fake)
    assert conn.state is S.CONNECTED and conn.ready.is_set()
    tid = fake.publish_trade("BTCUSDT", "101", "1")
    assert trades.wait_for(lambda items: any(e.trade_id == tid for e in items)), trades.items
    assert conn.stats()["market"]["internal_errors"] == 1
    assert not armed.is_set()


def test_stop_sends_close_frames_to_stream_sockets(fake: FakeBinance, conn: bc.Connector) -> None:  # noqa: F811
    conn.on_trade("BTCUSDT", lambda e: None)
    conn.start()
    wait_live(conn, fake)
    closes: List[WsTransport] = []
    original = WsTransport.close

    def spy(self: WsTransport) -> None:
        closes.append(self)
        original(self)

    WsTransport.close = spy  # type: ignore[method-assign]
    try:
        assert conn.stop(timeout=scaled(5))
    finally:
        WsTransport.close = original  # type: ignore[method-assign]
    assert closes, "stop() closed the stream socket with a close frame (not only abort)"
