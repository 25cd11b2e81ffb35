"""WsTransport.connect() against real loopback servers: every failure typed, with a reason and clean text.

TLS servers use a throwaway CA made with ``cryptography``; the HTTP CONNECT proxy checks the
decoded Basic credentials; refused ports are bound-then-closed ports on 127.0.0.1.  Nothing
leaves the machine (DNS failure is simulated).
"""

from __future__ import annotations

import logging
import pathlib
import socket
import ssl
import threading
import time
from types import SimpleNamespace
from typing import Any, Callable, Iterator, List, Optional

import pytest
from _helpers import scaled
from _loopback import (
    Blackhole,
    ConnectProxy,
    WsServer,
    _Listener,
    make_ca,
    make_server_cert,
    refused_port,
)

from binance_conn._core.backoff import Backoff
from binance_conn._io.connect_report import ConnectFailureReporter
from binance_conn._io.reconnect import Stopped, connect_forever
from binance_conn._io.transport import OP_TEXT, WsTransport
from binance_conn.errors import (
    AuthenticationError,
    BinanceError,
    ConnectionError,
    ProxyError,
    TLSError,
)

PASSWORD = "P@ss:w0rd"
PROXY_USERINFO = "user:P%40ss%3Aw0rd"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    folder: pathlib.Path = tmp_path_factory.mktemp("pki")
    ca = make_ca(folder)
    return SimpleNamespace(
        ca=ca,
        good=make_server_cert(folder, ca, ["127.0.0.1", "localhost"], "good"),
        other=make_server_cert(folder, ca, ["other.example"], "other"),
    )


def connect_error(t: WsTransport) -> ConnectionError:
    with pytest.raises(ConnectionError) as info:
        t.connect()
    err = info.value
    assert not isinstance(err, AuthenticationError)
    assert err.code != "malformed_response"
    text = str(err)
    assert "{" not in text and "-+-+-" not in text, f"raw header dict in {text!r}"
    assert PASSWORD not in text and "P%40ss" not in text and PASSWORD not in repr(err)
    return err


def assert_no_password(t: WsTransport) -> None:
    assert PASSWORD not in repr(t) and "P%40ss" not in repr(t)


# ---------------------------------------------------------------------------------------------- TLS
def test_untrusted_certificate(pki: SimpleNamespace) -> None:
    with WsServer(tls=pki.good.server_context()) as server:
        err = connect_error(WsTransport(server.url, handshake_timeout=scaled(5)))
    assert isinstance(err, TLSError) and err.details["reason"] == "certificate" and err.reason == "certificate"
    assert not err.is_temporary()
    assert "not trusted" in str(err) and "127.0.0.1" in str(err)


def test_hostname_mismatch_with_a_trusted_ca(pki: SimpleNamespace) -> None:
    with WsServer(tls=pki.other.server_context()) as server:
        err = connect_error(WsTransport(server.url, handshake_timeout=scaled(5), ca_file=str(pki.ca.cert_file)))
    assert isinstance(err, TLSError) and err.details["reason"] == "hostname"
    assert "does not match 127.0.0.1" in str(err)


def test_hostname_mismatch_by_name(pki: SimpleNamespace) -> None:
    with WsServer(tls=pki.other.server_context()) as server:
        url = server.url.replace("127.0.0.1", "localhost")
        t = WsTransport(url, handshake_timeout=scaled(5), ca_file=str(pki.ca.cert_file))
        err = connect_error(t)
    assert isinstance(err, TLSError) and err.details["reason"] == "hostname"


@pytest.mark.parametrize("how", ["ca_file", "ssl_context"])
def test_trusted_tls_connects_and_closes_with_1000(pki: SimpleNamespace, how: str) -> None:
    kw: Any = ({"ca_file": str(pki.ca.cert_file)} if how == "ca_file"
               else {"ssl_context": ssl.create_default_context(cafile=str(pki.ca.cert_file))})
    with WsServer(tls=pki.good.server_context()) as server:
        t = WsTransport(server.url, handshake_timeout=scaled(5), **kw)
        t.connect()
        conn = server.wait_conn(scaled(5))
        t.send_text("hello")
        t.close()
        assert conn.wait_frame(0x8, scaled(5)) == (1000).to_bytes(2, "big")
        assert (OP_TEXT, b"hello") in conn.frames
        t.release()


class _NotTls(_Listener):
    """Answers anything with a plain HTTP 400 (a TLS client sees "wrong version number")."""

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        conn.recv(1024)


def test_other_tls_failure() -> None:
    with _NotTls() as server:
        err = connect_error(WsTransport(f"wss://127.0.0.1:{server.port}/x", handshake_timeout=scaled(5)))
    assert isinstance(err, TLSError) and err.details["reason"] == "tls"


# ---------------------------------------------------------------------------------------------- proxy
def test_proxy_sends_percent_decoded_credentials_and_tunnels() -> None:
    with WsServer() as server, ConnectProxy(credentials=("user", PASSWORD)) as proxy:
        t = WsTransport(server.url, handshake_timeout=scaled(5),
                        proxy=f"http://{PROXY_USERINFO}@127.0.0.1:{proxy.port}")
        assert_no_password(t)
        t.connect()
        conn = server.wait_conn(scaled(5))
        t.send_text("through")
        t.close()
        assert conn.wait_frame(0x8, scaled(5)) is not None
        t.release()
    assert proxy.seen_auth == [("user", PASSWORD)]
    assert proxy.targets == [f"127.0.0.1:{server.port}"]


def test_wss_through_the_proxy(pki: SimpleNamespace) -> None:
    with WsServer(tls=pki.good.server_context()) as server, ConnectProxy() as proxy:
        t = WsTransport(server.url, handshake_timeout=scaled(5), proxy=proxy.url, ca_file=str(pki.ca.cert_file))
        t.connect()
        server.wait_conn(scaled(5))
        t.close()
        t.release()
    assert proxy.seen_auth == [None]


def test_proxy_407_is_proxy_auth() -> None:
    with WsServer() as server, ConnectProxy(credentials=("user", "other")) as proxy:
        t = WsTransport(server.url, handshake_timeout=scaled(5),
                        proxy=f"http://{PROXY_USERINFO}@127.0.0.1:{proxy.port}")
        err = connect_error(t)
    assert isinstance(err, ProxyError) and err.details["reason"] == "proxy_auth"
    assert err.http_status is None, "a proxy status is not the server's HTTP status"
    assert err.details["proxy_status"] == 407 and "407" in str(err)
    assert not server.attempts, "nothing reached the server"


def test_proxy_407_without_credentials() -> None:
    with ConnectProxy(credentials=("user", PASSWORD)) as proxy:
        err = connect_error(WsTransport("ws://127.0.0.1:9/x", handshake_timeout=scaled(5), proxy=proxy.url))
    assert isinstance(err, ProxyError) and err.details["reason"] == "proxy_auth"
    assert "credentials required" in str(err)


@pytest.mark.parametrize("status", [403, 502])
def test_other_proxy_status(status: int) -> None:
    with ConnectProxy(status=status) as proxy:
        err = connect_error(WsTransport("ws://127.0.0.1:9/x", handshake_timeout=scaled(5), proxy=proxy.url))
    assert isinstance(err, ProxyError) and err.details["reason"] == "proxy_status"
    assert str(status) in str(err) and err.http_status is None


def test_refused_proxy_is_proxy_down() -> None:
    port = refused_port()
    t = WsTransport("ws://127.0.0.1:9/x", handshake_timeout=scaled(5),
                    proxy=f"http://{PROXY_USERINFO}@127.0.0.1:{port}")
    err = connect_error(t)
    assert isinstance(err, ProxyError) and err.details["reason"] == "proxy_down"
    assert f"127.0.0.1:{port}" in str(err)


def test_socks_without_python_socks_is_a_proxy_error() -> None:
    pytest.importorskip("websocket")
    try:
        import python_socks  # noqa: F401
    except ImportError:
        pass
    else:  # pragma: no cover - not installed here
        pytest.skip("python-socks is installed")
    err = connect_error(WsTransport("ws://127.0.0.1:9/x", handshake_timeout=scaled(5),
                                    proxy=f"socks5://{PROXY_USERINFO}@127.0.0.1:1080"))
    assert isinstance(err, ProxyError)


# ---------------------------------------------------------------------------------------------- plain failures
def test_refused() -> None:
    err = connect_error(WsTransport(f"ws://127.0.0.1:{refused_port()}/x", handshake_timeout=scaled(5)))
    assert type(err) is ConnectionError and err.details["reason"] == "refused" and err.is_temporary()


def test_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    err = connect_error(WsTransport("wss://stream.example.invalid:9443/ws", handshake_timeout=scaled(5)))
    assert err.details["reason"] == "dns" and "stream.example.invalid" in str(err)


def test_handshake_429_carries_retry_after() -> None:
    with WsServer(status_first=[(429, {"Retry-After": "1"})]) as server:
        err = connect_error(WsTransport(server.url, handshake_timeout=scaled(5)))
    assert type(err) is ConnectionError
    assert err.details["reason"] == "http_status" and err.http_status == 429
    assert err.retry_after == 1.0 and err.details["retry_after"] == 1.0
    assert "HTTP 429" in str(err)


def test_handshake_503_has_no_retry_after() -> None:
    with WsServer(status_first=[(503, {"Retry-After": "7"})]) as server:
        err = connect_error(WsTransport(server.url, handshake_timeout=scaled(5)))
    assert err.http_status == 503 and err.retry_after is None


class _Silent(_Listener):
    """Accepts, then says nothing (or trickles one byte every ``every`` seconds)."""

    def __init__(self, every: Optional[float] = None) -> None:
        super().__init__()
        self.every = every

    def handle(self, conn: socket.socket) -> None:
        if self.every is None:
            conn.recv(65536)
            while not self._stop.wait(0.05):
                pass
            return
        for byte in b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" * 100:
            if self._stop.wait(self.every):
                return
            conn.sendall(bytes([byte]))


class _Resetting(_Listener):
    def handle(self, conn: socket.socket) -> None:
        conn.recv(65536)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()


def test_timeout_bounds_the_whole_connect_even_when_bytes_trickle() -> None:
    for server_cls, kw in ((_Silent, {}), (_Silent, {"every": 0.05})):
        with server_cls(**kw) as server:
            t = WsTransport(f"ws://127.0.0.1:{server.port}/x", handshake_timeout=0.5)
            started = time.monotonic()
            err = connect_error(t)
            elapsed = time.monotonic() - started
        assert err.details["reason"] == "timeout", kw
        assert 0.45 <= elapsed < 0.5 + scaled(1.0), (kw, elapsed)


def test_reset_during_handshake() -> None:
    with _Resetting() as server:
        err = connect_error(WsTransport(f"ws://127.0.0.1:{server.port}/x", handshake_timeout=scaled(5)))
    assert err.details["reason"] == "reset"


def _abort_soon(t: WsTransport, after: Callable[[], bool]) -> threading.Thread:
    def run() -> None:
        deadline = time.monotonic() + scaled(5)
        while not after() and time.monotonic() < deadline:
            time.sleep(0.01)
        t.abort()

    th = threading.Thread(target=run)
    th.start()
    return th


class _SilentProxy(_Listener):
    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def handle(self, conn: socket.socket) -> None:
        conn.recv(65536)
        self.requests += 1
        while not self._stop.wait(0.05):
            pass


@pytest.mark.parametrize("step", ["handshake", "tls", "proxy"])
def test_abort_cuts_every_step(step: str) -> None:
    """abort() from another thread ends a stalled connect at once with reason "aborted"."""
    with _Silent() as server, _SilentProxy() as proxy:
        url = f"{'wss' if step == 'tls' else 'ws'}://127.0.0.1:{server.port}/x"
        proxy_url = f"http://127.0.0.1:{proxy.port}" if step == "proxy" else None
        t = WsTransport(url, handshake_timeout=scaled(30), proxy=proxy_url)
        if step == "proxy":
            th = _abort_soon(t, lambda: proxy.requests > 0)
        else:
            th = _abort_soon(t, lambda: len(server._threads) > 0)
        started = time.monotonic()
        err = connect_error(t)
        elapsed = time.monotonic() - started
        th.join()
    assert err.details["reason"] == "aborted" and type(err) is ConnectionError
    assert elapsed < scaled(5)


def test_abort_cuts_a_hanging_tcp_connect() -> None:
    with Blackhole() as hole:
        t = WsTransport(f"ws://127.0.0.1:{hole.port}/x", handshake_timeout=scaled(30))
        timer = threading.Timer(0.3, t.abort)
        timer.start()
        started = time.monotonic()
        err = connect_error(t)
        elapsed = time.monotonic() - started
        timer.join()
    assert err.details["reason"] == "aborted" and elapsed < scaled(3)


def test_hanging_tcp_connect_times_out_at_the_deadline() -> None:
    with Blackhole() as hole:
        started = time.monotonic()
        err = connect_error(WsTransport(f"ws://127.0.0.1:{hole.port}/x", handshake_timeout=0.5))
        elapsed = time.monotonic() - started
    assert err.details["reason"] == "timeout" and 0.45 <= elapsed < 0.5 + scaled(1)


def test_hanging_proxy_is_proxy_down() -> None:
    with Blackhole() as hole:
        err = connect_error(WsTransport("ws://127.0.0.1:9/x", handshake_timeout=0.5,
                                        proxy=f"http://127.0.0.1:{hole.port}"))
    assert isinstance(err, ProxyError) and err.details["reason"] == "proxy_down" and "timed out" in str(err)


def test_abort_before_connect() -> None:
    with _Silent() as server:
        t = WsTransport(f"ws://127.0.0.1:{server.port}/x", handshake_timeout=scaled(5))
        t.abort()
        started = time.monotonic()
        assert connect_error(t).details["reason"] == "aborted"
        assert time.monotonic() - started < 1.0, "an aborted transport does not even start connecting"
        assert not server._threads, "no TCP connection was made"


# ---------------------------------------------------------------------------------------------- Retry-After in the loop
def test_connect_forever_waits_for_retry_after() -> None:
    """After a handshake 429 with Retry-After: 1 the next attempt waits >= 1 s (the backoff says 0.05 s)."""
    with WsServer(status_first=[(429, {"Retry-After": "1"})]) as server:
        counter = SimpleNamespace(retry=0)
        stop = threading.Event()
        waits: List[Optional[float]] = []
        made: List[WsTransport] = []

        def attempt() -> WsTransport:
            if len(made) >= 3:
                raise Stopped()
            t = WsTransport(server.url, handshake_timeout=scaled(5))
            made.append(t)
            t.connect()
            return t

        t = connect_forever(attempt, backoff=Backoff(0.05, 0.1, 0.0), counter=counter, stop_event=stop,
                            on_retry=lambda err, delay: waits.append(delay))
        t.close()
        t.release()
        attempts = list(server.attempts)
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] >= 1.0
    assert waits == [1.0]


def test_connect_forever_keeps_the_backoff_when_it_is_longer() -> None:
    err = ConnectionError("429", http_status=429, details={"reason": "http_status", "retry_after": 0.01})
    calls: List[float] = []

    def attempt() -> str:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise err
        return "ok"

    waits: List[Optional[float]] = []
    assert connect_forever(attempt, backoff=Backoff(0.2, 0.2, 0.0), counter=SimpleNamespace(retry=0),
                           stop_event=threading.Event(), on_retry=lambda e, d: waits.append(d)) == "ok"
    assert waits == [0.2]


# ---------------------------------------------------------------------------------------------- reporter
def _errors_of_every_kind(pki: SimpleNamespace) -> Iterator[ConnectionError]:
    with WsServer(tls=pki.good.server_context()) as server:
        yield connect_error(WsTransport(server.url, handshake_timeout=scaled(5)))
        yield connect_error(WsTransport(server.url, handshake_timeout=scaled(5)))
    with ConnectProxy(credentials=("user", "x")) as proxy:
        yield connect_error(WsTransport("ws://127.0.0.1:9/x", handshake_timeout=scaled(5),
                                        proxy=f"http://{PROXY_USERINFO}@127.0.0.1:{proxy.port}"))
    yield connect_error(WsTransport("ws://127.0.0.1:9/x", handshake_timeout=scaled(5),
                                    proxy=f"http://127.0.0.1:{refused_port()}"))
    with WsServer(status_first=[(429, {"Retry-After": "1"})]) as server:
        yield connect_error(WsTransport(server.url, handshake_timeout=scaled(5)))
    yield connect_error(WsTransport(f"ws://127.0.0.1:{refused_port()}/x", handshake_timeout=scaled(5)))
    yield connect_error(WsTransport(f"ws://127.0.0.1:{refused_port()}/x", handshake_timeout=scaled(5)))


def test_reporter_warns_with_the_reason_and_reports_each_kind_change(
        pki: SimpleNamespace, caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("binance_conn.test_connect_errors")
    reported: List[BinanceError] = []
    reporter = ConnectFailureReporter(log, "market stream (shard 0)", reported.append)
    kinds = []
    with caplog.at_level(logging.INFO, logger=log.name):
        for err in _errors_of_every_kind(pki):
            kinds.append(err.details["reason"])
            reason = reporter.failed(err, 1.5)
            assert err.details["reason"] in reason
    assert kinds == ["certificate", "certificate", "proxy_auth", "proxy_down", "http_status", "refused", "refused"]
    assert [e.details["reason"] for e in reported] == ["certificate", "proxy_auth", "proxy_down", "http_status",
                                                        "refused"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 7
    for record, kind in zip(warnings, kinds):
        text = record.getMessage()
        assert f"({kind})" in text and "market stream (shard 0) connect failed" in text
        assert "retrying in 1.5 s" in text and PASSWORD not in text and "{" not in text
    assert reporter.last_reason is not None and reporter.last_reason.startswith("refused")


def test_connector_waits_for_retry_after_of_a_handshake_429() -> None:
    """End to end: FakeBinance answers the market stream's first handshake 429 + Retry-After: 1; with
    a 50 ms backoff the connector's next attempt still comes >= 1 s later."""
    import binance_conn as bc
    from binance_conn.testing import FakeBinance

    with FakeBinance() as fake:
        cfg = fake.config_builder().with_backoff(base=0.05, max=0.1, jitter=0.0).build()
        conn = bc.Connector(cfg)
        conn.on_trade("BTCUSDT", lambda ev: None)
        fake.refuse_handshakes(0.3, status=429)
        try:
            conn.start()

            def accepted() -> bool:
                return any(h["status"] == 101 for h in fake.handshake_log)

            assert fake.wait_until(accepted, scaled(10))
        finally:
            conn.stop(timeout=5.0)
        log = [h for h in fake.handshake_log if h["path"] and not h["path"].startswith("/ws-api")]
    assert log[0]["status"] == 429
    assert log[1]["time"] - log[0]["time"] >= 1.0, log[:3]
