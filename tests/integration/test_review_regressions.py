"""Regression tests for bugs found in review (one test per bug; each failed before its fix)."""

from __future__ import annotations

import re
import threading
import time
from typing import Any, List

import pytest
import requests
from _connector_helpers import FakeBinance, fast_builder, scaled, wait_until

import binance_conn as bc
from binance_conn._core.lifecycle import LinkInput
from binance_conn._io.transport import WsTransport
from binance_conn._market.link import ShardLink, StreamConn
from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn.config import Config, WebSocketConfig
from binance_conn.rest import RestClient

S = bc.ConnectionState


def test_ready_is_clear_after_stop_even_when_the_supervisor_set_it_during_stop(fake: FakeBinance) -> None:
    # The supervisor computes "up" and sets ready; begin_stop() clears ready once, so a tick
    # that was already past its checks set ready again after stop() had cleared it.
    conn = bc.Connector(fast_builder(fake).build())
    try:
        conn.start()
        assert conn.wait_ready(scaled(5))
        entered = threading.Event()

        def late_extra_ready() -> bool:
            entered.set()
            conn._rest_stop.wait(scaled(5))  # hold this tick until stop() has cut both sessions
            return True

        conn._market.extra_ready = late_extra_ready
        assert entered.wait(scaled(5))
        assert conn.stop(timeout=scaled(5))
        assert conn.state is S.STOPPED
        assert not conn.ready.is_set()
        assert not conn.wait_ready(0)
    finally:
        conn.stop(timeout=2.0)


def test_user_data_socket_is_closed_when_stop_lands_right_after_connect(fake: FakeBinance,
                                                                         monkeypatch: Any) -> None:
    # A stop between the handshake and the session lock left the socket shut down but never
    # closed (abort() only shuts down; the reader thread owns the close).
    conn = bc.Connector(fast_builder(fake).build())
    made: List[WsTransport] = []

    class StopAfterConnect(WsTransport):
        def connect(self) -> None:
            super().connect()
            made.append(self)
            conn._user.begin_stop()

    conn._user.transport_factory = StopAfterConnect  # the injected transport (issue 9)
    conn.on_order(lambda ev: None)
    try:
        conn.start()
        assert wait_until(lambda: bool(made)), "the user-data link never connected"
        assert wait_until(lambda: not conn._user.threads()[0].is_alive())
        assert conn.stop(timeout=scaled(5))
        for transport in made:
            sock = transport._sock
            assert sock is not None and sock.fileno() == -1, "socket left open"
    finally:
        conn.stop(timeout=2.0)


class _Session:
    name = "market"
    exchange = "binance"
    stopping = False
    ws_config = WebSocketConfig()

    def wake(self) -> None:
        pass

    def publish_error(self, err: Any) -> None:
        pass

    def count(self, what: str) -> None:
        pass


class _MeetingLock:
    """Stands in for ``ShardLink.lock``: the first two callers meet before either takes it,
    which forces the interleaving of a supervisor swap and a reader's loss report."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(2, timeout=scaled(5))
        self.armed = True

    def __enter__(self) -> "_MeetingLock":
        if self.armed:
            self._barrier.wait()
        self._lock.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()


def test_rollover_switch_and_old_link_loss_at_once_never_retire_the_new_primary() -> None:
    # The supervisor switches to a subscribed replacement while the old primary's reader reports
    # its loss (which also promotes the replacement): both used to read `replacement` before the
    # lock, so the second switch retired the connection the first had just promoted (shard dead).
    # (Rewritten for the lifecycle table: the switch is ShardLink.tick, the loss ShardLink.on_lost.)
    link = ShardLink(_Session(), 0)  # type: ignore[arg-type]
    lock = _MeetingLock()
    link.lock = lock  # type: ignore[assignment]
    lock.armed = False
    old = StreamConn(link)
    new = StreamConn(link, replacement=True)
    for c in (old, new):
        for inp in (LinkInput.START, LinkInput.CONNECTED, LinkInput.SUBSCRIBED):
            c.life.handle(inp, 0.0)
    link.links.set_primary(old)
    assert link.links.begin(new, 0.0, "max lifetime")
    link.links.subscribed(new, 0.0)
    link.links.data_seen(new, 0.0)  # the switch is due
    lock.armed = True
    supervisor = threading.Thread(target=link.tick, args=(time.monotonic(), []))
    reader = threading.Thread(target=link.on_lost, args=(old, "old link died"))
    supervisor.start()
    reader.start()
    supervisor.join(scaled(5))
    reader.join(scaled(5))
    lock.armed = False
    assert not supervisor.is_alive() and not reader.is_alive()
    assert link.primary is new and link.replacement is None
    assert not new.retired and old.retired
    assert link.retiring == [old]


def test_unexpected_request_error_keeps_no_signed_url_in_its_exception_chain() -> None:
    # A requests error outside the network families (here RetryError, whose text carries the
    # signed URL) became BinanceError "from" a scrubbed copy, but raised inside the except block:
    # the original stayed reachable as __context__ (signature in its text and prepared request).
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

    class Adapter(requests.adapters.BaseAdapter):
        def send(self, request: Any, **kw: Any) -> requests.Response:  # type: ignore[override]
            if request.path_url.startswith("/api/v3/time"):
                resp = requests.Response()
                resp.status_code = 200
                resp._content = b'{"serverTime": %d}' % int(time.time() * 1000)
                resp.request, resp.url = request, request.url
                return resp
            raise requests.exceptions.RetryError(f"too many retries for url: {request.url}")

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("https://", Adapter())
    cfg = (Config.builder().with_rest_url("https://api.test.invalid").with_api_key("k" * 64)
           .with_api_secret(secret).build())
    client = RestClient(cfg, session, limiter_registry=WeightLimiterRegistry())
    with pytest.raises(bc.BinanceError) as info:
        client.account()
    seen: List[BaseException] = []
    todo: List[BaseException] = [info.value]
    while todo:
        e = todo.pop()
        if any(e is x for x in seen):
            continue
        seen.append(e)
        todo.extend(x for x in (e.__cause__, e.__context__) if x is not None)
    assert len(seen) >= 2  # the scrubbed cause is kept
    for e in seen:
        text = f"{e} {e!r} {getattr(e, 'request', None) and e.request.url}"  # type: ignore[attr-defined]
        assert re.search(r"signature=(?!\*\*\*)", text) is None, text


def test_stop_never_hangs_on_a_full_block_connection_subscriber(fake: FakeBinance) -> None:
    # stop() publishes the final DISCONNECTED event from the caller's thread before it stops the
    # dispatcher; with no stop event a full BLOCK subscriber made that publish wait for room that
    # only the dispatcher's stop (after it) could make: stop() hung forever.
    conn = bc.Connector(fast_builder(fake).build())
    release = threading.Event()
    got = threading.Event()

    def stuck(ev: Any) -> None:
        got.set()
        release.wait(scaled(30))

    conn.on_connection(stuck, overflow="BLOCK", buffer=1)
    stopper = threading.Thread(target=conn.stop, kwargs={"timeout": scaled(1)}, daemon=True)
    try:
        conn.start()
        assert conn.wait_ready(scaled(5))
        assert got.wait(scaled(5))  # the callback holds CONNECTED
        conn._dispatcher.publish("__connection__", "filler")  # its one buffer slot is now taken
        stopper.start()
        stopper.join(scaled(5))
        assert not stopper.is_alive(), "stop() hung on a full BLOCK subscriber"
    finally:
        release.set()
        conn.stop(timeout=2.0)
        if stopper.ident is not None:
            stopper.join(scaled(5))


def test_last_unsubscribe_of_a_shard_closes_its_socket_outside_the_session_lock(fake: FakeBinance,
                                                                               monkeypatch: Any) -> None:
    # remove_stream() closed the emptied shard's socket (a blocking send of a close frame on a
    # socket with no timeout) while holding the session lock that the supervisor, stats() and
    # stop() need: a wedged peer froze them all.
    conn = bc.Connector(fast_builder(fake).build())
    sub = conn.on_trade("BTCUSDT", lambda ev: None)
    try:
        conn.start()
        assert conn.wait_ready(scaled(5))
        market = conn._market
        under_lock: List[bool] = []
        close = WsTransport.close

        def spy(self: WsTransport) -> None:
            under_lock.append(market._lock._is_owned())  # type: ignore[attr-defined]
            close(self)

        monkeypatch.setattr(WsTransport, "close", spy)
        sub()
        assert wait_until(lambda: bool(under_lock))
        assert under_lock == [False]
    finally:
        conn.stop(timeout=2.0)
