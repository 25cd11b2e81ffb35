"""binance_conn.metrics misused: registering a connector again under another name is refused (the label
never changes under a dashboard), a port in use is a ValidationError naming ``port`` and leaves nothing behind."""

from __future__ import annotations

import errno
import socket
from typing import Iterator

import prometheus_client
import pytest
from _metrics_helpers import conn_threads, fast_conn

import binance_conn.metrics as bcm
from binance_conn.errors import ValidationError
from binance_conn.testing import FakeBinance


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=5) as f:
        yield f


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other socket listens on."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        yield int(s.getsockname()[1])
    finally:
        s.close()


def test_registering_again_under_another_name_is_refused(fake: FakeBinance) -> None:
    c1, c2 = fast_conn(fake), fast_conn(fake)
    registry = prometheus_client.CollectorRegistry()
    col = bcm.register(c1, registry, name="spot")
    assert bcm.register(c1, registry) is col and bcm.register(c1, registry, name="spot") is col  # no-ops
    with pytest.raises(ValidationError) as info:
        bcm.register(c1, registry, name="x")
    assert info.value.field == "conn" and "already registered in this registry as 'spot'" in str(info.value)
    assert col.names() == ["spot"]
    assert registry.get_sample_value("binance_conn_up", {"connector": "spot"}) == 0.0
    assert registry.get_sample_value("binance_conn_up", {"connector": "x"}) is None
    assert col.remove(c1) and bcm.register(c1, registry, name="x") is col  # the way to rename
    assert bcm.register(c2, registry, name="spot") is col and col.names() == ["spot", "x"]
    other = prometheus_client.CollectorRegistry()
    assert bcm.register(c1, other, name="y").names() == ["y"]  # another registry: its own name


def test_serve_on_a_port_in_use(fake: FakeBinance, busy_port: int) -> None:
    conn = fast_conn(fake)
    before = set(conn_threads())
    with pytest.raises(ValidationError) as info:
        bcm.serve(conn, port=busy_port)
    err = info.value
    assert err.field == "port" and str(err).startswith(f"invalid port: port {busy_port} on 127.0.0.1 is in use")
    assert isinstance(err.__cause__, OSError) and err.__cause__.errno == errno.EADDRINUSE
    assert set(conn_threads()) == before  # no server thread
    # into a registry of the caller's: the failed serve leaves conn unregistered there ...
    registry = prometheus_client.CollectorRegistry()
    with pytest.raises(ValidationError):
        bcm.serve(conn, port=busy_port, registry=registry)
    assert registry.get_sample_value("binance_conn_up", {"connector": "binance"}) is None
    # ... and registered when it was before
    col = bcm.register(conn, registry, name="spot")
    with pytest.raises(ValidationError):
        bcm.serve(conn, port=busy_port, registry=registry)
    assert col.names() == ["spot"]
    server = bcm.serve(conn, port=0, registry=registry)
    try:
        assert server.port != busy_port
    finally:
        assert server.stop(5.0)
    assert set(conn_threads()) == before


def test_serve_on_an_address_not_of_this_host(fake: FakeBinance) -> None:
    with pytest.raises(ValidationError) as info:
        bcm.serve(fast_conn(fake), port=0, addr="192.0.2.1")  # TEST-NET-1: no interface has it
    assert info.value.field == "addr" and isinstance(info.value.__cause__, OSError)
