"""TLS trust and proxies reach REST and WebSocket alike (issue 10), against FakeBinance(tls=True).

Loopback only: the fake serves https/wss with a throwaway CA; tests/io/_loopback.py's CONNECT
proxy checks the (decoded) credentials.  Environment variables are set with monkeypatch and
every proxy/CA variable is cleared first, so the machine's own settings never leak in.
"""

from __future__ import annotations

import importlib.util
import ssl
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
from _connector_helpers import Recorder, fast_builder, scaled

import binance_conn as bc
from binance_conn._io.netenv import WsTransportFactory, env_proxy, proxy_bypassed, resolve_trust
from binance_conn.testing import FakeBinance


def _load_loopback() -> Any:
    if "_loopback" in sys.modules:
        return sys.modules["_loopback"]
    spec = importlib.util.spec_from_file_location("_loopback", Path(__file__).parents[1] / "io" / "_loopback.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_loopback"] = module
    spec.loader.exec_module(module)
    return module


loopback = _load_loopback()


ENV_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY",
            "ALL_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "all_proxy", "no_proxy", "REQUEST_METHOD")
PASSWORD = "P@ss:w0rd"
ENCODED = "P%40ss%3Aw0rd"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def tls_fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=7, tls=True) as f:
        yield f


def _bare_builder(fake: FakeBinance) -> Any:
    """Like fast_builder but WITHOUT the CA (config_builder() of a TLS fake adds it)."""
    return (bc.Config.builder().with_rest_url(fake.rest_url).with_ws_url(fake.ws_url)
            .with_ws_api_url(fake.ws_api_url).with_api_key(fake.api_key).with_api_secret(fake.api_secret)
            .with_backoff(base=0.05, max=0.5, jitter=0.0).with_health_check(1.0).with_debounce(0.0)
            .with_websocket(handshake_timeout=2.0).with_retry(1))


def _place_and_fill(fake: FakeBinance, conn: bc.Connector) -> int:
    order = conn.rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="100", time_in_force="GTC")
    fake.fill_order("BTCUSDT", order["orderId"])
    return int(order["orderId"])


def _check_user_data(fake: FakeBinance, conn: bc.Connector, orders: Recorder) -> None:
    assert conn.wait_ready(scaled(10.0)), conn.state
    assert fake.wait_for_user_subscriptions(1, timeout=scaled(5.0))
    assert conn.rest.server_time() > 0
    oid = _place_and_fill(fake, conn)
    assert orders.wait_for(lambda items: any(e.order_id == oid and e.status == "FILLED" for e in items))


def _check_stream(fake: FakeBinance, conn: bc.Connector, trades: Recorder) -> None:
    assert conn.wait_ready(scaled(10.0)), conn.state
    assert fake.wait_for_subscriptions(["btcusdt@trade"], timeout=scaled(5.0))
    fake.publish_trade("BTCUSDT", "101.5", "0.25")
    assert trades.wait_for(lambda items: any(t.price == Decimal("101.5") for t in items))


# ------------------------------------------------------------------------------------------ CA bundles
def _trust_by(how: str, fake: FakeBinance, monkeypatch: pytest.MonkeyPatch) -> Any:
    builder = _bare_builder(fake)
    if how == "with_ca_bundle":
        return builder.with_ca_bundle(fake.ca_file)
    if how == "SSL_CERT_DIR":
        folder = Path(fake.ca_file).parent / "hashed"
        folder.mkdir()
        _hash_dir(folder, Path(fake.ca_file))
        monkeypatch.setenv(how, str(folder))
        return builder
    monkeypatch.setenv(how, fake.ca_file)
    return builder


def _hash_dir(folder: Path, ca_file: Path) -> None:
    """An OpenSSL CA directory: ``<subject hash>.0`` (the hash as ``openssl x509 -hash`` prints it)."""
    import subprocess
    out = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(ca_file)], capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        pytest.skip("openssl command not available to hash a CA directory")
    (folder / f"{out.stdout.strip()}.0").write_bytes(ca_file.read_bytes())


TRUST_WAYS = ["with_ca_bundle", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"]


@pytest.mark.parametrize("how", TRUST_WAYS)
def test_ca_reaches_rest_and_user_data(how: str, tls_fake: FakeBinance, monkeypatch: pytest.MonkeyPatch,
                                       no_conn_threads: None) -> None:
    conn = bc.Connector(_trust_by(how, tls_fake, monkeypatch).build())
    orders = Recorder()
    conn.on_order(orders)
    with conn:
        _check_user_data(tls_fake, conn, orders)


@pytest.mark.parametrize("how", TRUST_WAYS)
def test_ca_reaches_streams(how: str, tls_fake: FakeBinance, monkeypatch: pytest.MonkeyPatch,
                            no_conn_threads: None) -> None:
    conn = bc.Connector(_trust_by(how, tls_fake, monkeypatch).build())
    trades = Recorder()
    conn.on_trade("BTCUSDT", trades)
    with conn:
        _check_stream(tls_fake, conn, trades)


def test_explicit_ca_bundle_wins_over_environment(tls_fake: FakeBinance, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch, no_conn_threads: None) -> None:
    other = loopback.make_ca(tmp_path, "other")  # a CA that did not sign the fake's certificate
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other.cert_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(other.cert_file))
    cfg = _bare_builder(tls_fake).with_ca_bundle(tls_fake.ca_file).build()
    assert resolve_trust(cfg.tls).source == "ca_bundle"
    conn = bc.Connector(cfg)
    orders = Recorder()
    conn.on_order(orders)
    with conn:
        _check_user_data(tls_fake, conn, orders)
    # ... and without it the environment's (wrong) CA is what both transports use
    with pytest.raises(bc.TLSError):
        bc.RestClient(_bare_builder(tls_fake).build()).server_time()


def test_ssl_context_reaches_both(tls_fake: FakeBinance, no_conn_threads: None) -> None:
    ctx = ssl.create_default_context(cafile=tls_fake.ca_file)
    conn = bc.Connector(_bare_builder(tls_fake).with_ssl_context(ctx).build())
    orders = Recorder()
    conn.on_order(orders)
    with conn:
        _check_user_data(tls_fake, conn, orders)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname


# ------------------------------------------------------------------------------------- refused TLS
def _first(recorder: Recorder, cls: type, timeout: float = 10.0) -> Any:
    assert recorder.wait_for(lambda items: any(isinstance(e, cls) for e in items), scaled(timeout)), \
        recorder.snapshot()
    return next(e for e in recorder.snapshot() if isinstance(e, cls))


def test_untrusted_certificate_rest_raises_tls_error(tls_fake: FakeBinance) -> None:
    with bc.RestClient(_bare_builder(tls_fake).build()) as rest:
        with pytest.raises(bc.TLSError) as info:
            rest.server_time()
    err = info.value
    assert err.details["reason"] == "certificate" and err.is_temporary() is False
    assert "not trusted" in err.message and isinstance(err, bc.ConnectionError)


def _assert_reported(conn: bc.Connector, errors: Recorder, events: Recorder, reason: str) -> None:
    err = _first(errors, bc.TLSError)
    assert err.details["reason"] == reason, err.details
    assert events.wait_for(lambda items: any(reason in (e.reason or "") for e in items), scaled(10.0)), \
        [(e.state, e.reason) for e in events.snapshot()]
    assert not conn.is_connected()


def test_untrusted_certificate_user_data_reported(tls_fake: FakeBinance, no_conn_threads: None) -> None:
    conn = bc.Connector(_bare_builder(tls_fake).with_ca_bundle(_certifi_bundle()).build())
    errors, events = Recorder(), Recorder()
    conn.on_error(errors)
    conn.on_connection(events)
    conn.on_order(lambda e: None)
    with conn:
        _assert_reported(conn, errors, events, "certificate")


def test_untrusted_certificate_stream_reported(tls_fake: FakeBinance, no_conn_threads: None) -> None:
    conn = bc.Connector(_bare_builder(tls_fake).build())
    errors, events = Recorder(), Recorder()
    conn.on_error(errors)
    conn.on_connection(events)
    conn.on_trade("BTCUSDT", lambda e: None)
    with conn:
        _assert_reported(conn, errors, events, "certificate")


def _certifi_bundle() -> str:
    """certifi's bundle: a real CA bundle that does not hold the fake's CA."""
    import certifi
    return str(certifi.where())


def test_hostname_mismatch_reported_for_both(no_conn_threads: None) -> None:
    with FakeBinance(seed=7, tls=True, tls_hosts=("binance.invalid",)) as fake:
        cfg = _bare_builder(fake).with_ca_bundle(fake.ca_file).build()
        with bc.RestClient(cfg) as rest:
            with pytest.raises(bc.TLSError) as info:
                rest.server_time()
        assert info.value.details["reason"] == "hostname"
        conn = bc.Connector(cfg)
        errors, events = Recorder(), Recorder()
        conn.on_error(errors)
        conn.on_connection(events)
        conn.on_order(lambda e: None)
        with conn:
            _assert_reported(conn, errors, events, "hostname")


def test_hostname_mismatch_stream_reported(no_conn_threads: None) -> None:
    with FakeBinance(seed=7, tls=True, tls_hosts=("binance.invalid",)) as fake:
        conn = bc.Connector(_bare_builder(fake).with_ca_bundle(fake.ca_file).build())
        errors, events = Recorder(), Recorder()
        conn.on_error(errors)
        conn.on_connection(events)
        conn.on_trade("BTCUSDT", lambda e: None)
        with conn:
            _assert_reported(conn, errors, events, "hostname")


# ------------------------------------------------------------------------------------------ proxies
def _proxy_env(monkeypatch: pytest.MonkeyPatch, proxy: Any, name: str = "HTTPS_PROXY",
               password: str = ENCODED) -> str:
    url = f"http://trader:{password}@127.0.0.1:{proxy.port}"
    monkeypatch.setenv(name, url)
    return url


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1]


def test_env_proxy_with_encoded_credentials_carries_rest_and_ws(tls_fake: FakeBinance,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                no_conn_threads: None) -> None:
    with loopback.ConnectProxy(credentials=("trader", PASSWORD)) as proxy:
        _proxy_env(monkeypatch, proxy)
        conn = bc.Connector(_bare_builder(tls_fake).with_ca_bundle(tls_fake.ca_file).build())
        orders = Recorder()
        conn.on_order(orders)
        with conn:
            _check_user_data(tls_fake, conn, orders)
        targets = list(proxy.targets)
        assert f"127.0.0.1:{_port(tls_fake.rest_url)}" in targets  # REST tunnelled
        assert f"127.0.0.1:{_port(tls_fake.ws_url)}" in targets  # WebSocket API tunnelled
        assert ("trader", PASSWORD) in proxy.seen_auth and all(a == ("trader", PASSWORD) for a in proxy.seen_auth)


def test_env_proxy_carries_streams(tls_fake: FakeBinance, monkeypatch: pytest.MonkeyPatch,
                                   no_conn_threads: None) -> None:
    with loopback.ConnectProxy(credentials=("trader", PASSWORD)) as proxy:
        _proxy_env(monkeypatch, proxy)
        conn = bc.Connector(_bare_builder(tls_fake).with_ca_bundle(tls_fake.ca_file).build())
        trades = Recorder()
        conn.on_trade("BTCUSDT", trades)
        with conn:
            _check_stream(tls_fake, conn, trades)
        assert f"127.0.0.1:{_port(tls_fake.ws_url)}" in proxy.targets


def test_no_proxy_bypasses_for_both(tls_fake: FakeBinance, monkeypatch: pytest.MonkeyPatch,
                                    no_conn_threads: None) -> None:
    with loopback.ConnectProxy(credentials=("trader", PASSWORD)) as proxy:
        _proxy_env(monkeypatch, proxy)
        monkeypatch.setenv("NO_PROXY", "example.com,127.0.0.1")
        conn = bc.Connector(_bare_builder(tls_fake).with_ca_bundle(tls_fake.ca_file).build())
        orders = Recorder()
        conn.on_order(orders)
        with conn:
            _check_user_data(tls_fake, conn, orders)
        assert proxy.targets == []


def test_plain_ws_follows_http_proxy(no_conn_threads: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeBinance(seed=7) as fake, loopback.ConnectProxy(credentials=("trader", PASSWORD)) as proxy:
        _proxy_env(monkeypatch, proxy, name="http_proxy")
        # The loopback proxy only tunnels (CONNECT): plain-http REST goes to "localhost", exempted.
        monkeypatch.setenv("no_proxy", "localhost")
        factory = WsTransportFactory(fake.config_builder().build(), (fake.ws_url,))
        assert factory.proxy_for(fake.ws_url) == f"http://trader:{ENCODED}@127.0.0.1:{proxy.port}"
        assert PASSWORD not in repr(factory) and ENCODED not in repr(factory)
        conn = bc.Connector(fast_builder(fake).with_rest_url(fake.url_for("localhost")[0]).build())
        orders = Recorder()
        conn.on_order(orders)
        with conn:
            _check_user_data(fake, conn, orders)
        assert set(proxy.targets) == {f"127.0.0.1:{_port(fake.ws_url)}"}


def test_proxy_407_is_a_proxy_error_for_both(tls_fake: FakeBinance, monkeypatch: pytest.MonkeyPatch,
                                             no_conn_threads: None) -> None:
    with loopback.ConnectProxy(credentials=("trader", "something else")) as proxy:
        _proxy_env(monkeypatch, proxy)
        cfg = _bare_builder(tls_fake).with_ca_bundle(tls_fake.ca_file).build()
        with bc.RestClient(cfg) as rest:
            with pytest.raises(bc.ProxyError) as info:
                rest.server_time()
        assert info.value.details["reason"] == "proxy_auth"
        conn = bc.Connector(cfg)
        errors, events = Recorder(), Recorder()
        conn.on_error(errors)
        conn.on_connection(events)
        conn.on_order(lambda e: None)
        with conn:
            err = _first(errors, bc.ProxyError)
            assert err.details["reason"] == "proxy_auth"
            assert events.wait_for(lambda items: any("proxy" in (e.reason or "") for e in items), scaled(10.0))
        texts = [str(info.value), repr(info.value), str(err)] + [str(e.reason) for e in events.snapshot()]
        assert not any(PASSWORD in t or ENCODED in t for t in texts), texts


def test_configured_proxy_wins_over_environment(tls_fake: FakeBinance, monkeypatch: pytest.MonkeyPatch,
                                                no_conn_threads: None) -> None:
    with loopback.ConnectProxy() as env_proxy_srv, loopback.ConnectProxy(credentials=("trader", PASSWORD)) as mine:
        monkeypatch.setenv("HTTPS_PROXY", env_proxy_srv.url)
        cfg = (_bare_builder(tls_fake).with_ca_bundle(tls_fake.ca_file)
               .with_proxy(f"http://trader:{ENCODED}@127.0.0.1:{mine.port}").build())
        assert ENCODED not in repr(cfg) and PASSWORD not in repr(cfg)
        conn = bc.Connector(cfg)
        orders = Recorder()
        conn.on_order(orders)
        with conn:
            _check_user_data(tls_fake, conn, orders)
        assert env_proxy_srv.targets == [] and len(mine.targets) >= 2


# ------------------------------------------------------------------------------------- config checks
def test_with_ca_bundle_validated(tmp_path: Path) -> None:
    with pytest.raises(bc.ValidationError) as info:
        bc.Config.builder().with_ca_bundle(str(tmp_path / "missing.pem")).build()
    assert info.value.field == "tls.ca_bundle"
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(bc.ValidationError) as info:
        bc.Config.builder().with_ca_bundle(str(junk)).build()
    assert info.value.field == "tls.ca_bundle"
    ca = loopback.make_ca(tmp_path)
    assert bc.Config.builder().with_ca_bundle(ca.cert_file).build().tls.ca_bundle == str(ca.cert_file)
    assert bc.Config.builder().with_ca_bundle(str(tmp_path)).build().tls.ca_bundle == str(tmp_path)


def test_ssl_context_must_verify() -> None:
    off = ssl.create_default_context()
    off.check_hostname = False
    with pytest.raises(bc.ValidationError) as info:
        bc.Config.builder().with_ssl_context(off).build()
    assert info.value.field == "tls.ssl_context" and "check_hostname" in info.value.constraint
    off.verify_mode = ssl.CERT_NONE
    with pytest.raises(bc.ValidationError) as info:
        bc.Config.builder().with_ssl_context(off).build()
    assert info.value.field == "tls.ssl_context" and "verif" in info.value.constraint
    with pytest.raises(bc.ValidationError):
        bc.Config.builder().with_ssl_context("not a context").build()  # type: ignore[arg-type]
    good = ssl.create_default_context()
    assert bc.Config.builder().with_ssl_context(good).build().tls.ssl_context is good


def test_socks_proxy_without_its_packages_names_the_extra() -> None:
    from binance_conn.config import socks_missing

    if not socks_missing():
        pytest.skip("PySocks and python-socks are installed")
    with pytest.raises(bc.ValidationError) as info:
        bc.Config.builder().with_proxy(f"socks5://u:{ENCODED}@127.0.0.1:1080").build()
    assert info.value.field == "rest.proxy" and "pip install" in info.value.constraint
    assert ENCODED not in str(info.value) and PASSWORD not in str(info.value)


def test_bad_environment_bundle_is_ignored_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    env = {"REQUESTS_CA_BUNDLE": str(tmp_path / "gone.pem"), "SSL_CERT_FILE": str(loopback.make_ca(tmp_path).cert_file)}
    with caplog.at_level("WARNING", logger="binance_conn.tls"):
        trust = resolve_trust(None, env)
    assert trust.source == "SSL_CERT_FILE" and "REQUESTS_CA_BUNDLE" in caplog.text
    assert resolve_trust(None, {}).source == "default" and resolve_trust(None, {}).context is None


# ------------------------------------------------------------------------------ environment proxies
@pytest.mark.parametrize("env, url, expected", [
    ({"HTTPS_PROXY": "http://p:1"}, "wss://h.example:443/ws", "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1"}, "ws://h.example:80/ws", None),
    ({"HTTP_PROXY": "http://p:2"}, "ws://h.example/ws", "http://p:2"),
    ({"ALL_PROXY": "http://p:3"}, "wss://h.example/ws", "http://p:3"),
    ({"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:1"}, "wss://h.example", "http://lower:1"),
    ({"HTTPS_PROXY": "p:4"}, "wss://h.example", "http://p:4"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example"}, "wss://h.example", None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.example"}, "wss://h.example", "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".example"}, "wss://h.example", None),
    ({"HTTPS_PROXY": "http://p:1", "no_proxy": "h.example:443"}, "wss://h.example", None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "h.example:9443"}, "wss://h.example", "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "wss://h.example", None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "wss://10.1.2.3", None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "wss://11.1.2.3", "http://p:1"),
    ({"HTTP_PROXY": "http://p:2", "REQUEST_METHOD": "GET"}, "ws://h.example", None),
])
def test_env_proxy_selection(env: Any, url: str, expected: Optional[str]) -> None:
    assert env_proxy(url, env) == expected


def test_proxy_resolved_once_per_host(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = bc.Config.builder().with_ws_url("wss://stream.example:9443").build()
    monkeypatch.setenv("HTTPS_PROXY", f"http://u:{ENCODED}@proxy.example:3128")
    factory = WsTransportFactory(cfg, (cfg.exchange.ws_url,))
    monkeypatch.setenv("HTTPS_PROXY", "http://changed.example:1")  # read at build time only
    assert factory.proxy_for("wss://stream.example:9443/stream?streams=a") == \
        f"http://u:{ENCODED}@proxy.example:3128"
    transport: Any = factory("wss://stream.example:9443/ws")
    assert transport.proxy == f"http://u:{ENCODED}@proxy.example:3128"
    assert ENCODED not in repr(transport) and ENCODED not in repr(factory)
    assert transport.ssl_context is None  # nothing configured: the transport's default trust
    assert proxy_bypassed("127.0.0.1", 443, "localhost,127.0.0.1") is True
    assert proxy_bypassed("::1", 443, "[::1]:443") is True and proxy_bypassed("::1", 80, "[::1]:443") is False
    assert proxy_bypassed("::1", 80, "::1") is True and proxy_bypassed("a.b.example", 1, "*.example") is True
    assert proxy_bypassed("notexample", 1, "example") is False


def test_ca_context_loaded_once_per_bundle(tmp_path: Path) -> None:
    ca = loopback.make_ca(tmp_path)
    env = {"SSL_CERT_FILE": str(ca.cert_file)}
    first, second = resolve_trust(None, env), resolve_trust(None, env)
    assert first.context is not None and first.context is second.context  # shared, not re-read
    other = loopback.make_ca(tmp_path, "other")
    ca.cert_file.write_bytes(other.cert_file.read_bytes() + b"\n")  # the file changed: loaded again
    assert resolve_trust(None, env).context is not first.context
